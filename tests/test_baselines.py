"""baselines: formulas against direct numpy versions, the interface, tuning on valid, quality."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
import pytest
import torch

from llmrec_ref.baselines import EASE, ItemKNN, Popularity, RandomScorer
from llmrec_ref.evaluation import full_ranking


class Split(NamedTuple):  # same fields as llmrec_ref.split.Split
    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame


def _log(x: np.ndarray) -> pd.DataFrame:
    """Interaction frame of a binary (n_users, n_items) matrix; ids start at 1."""
    u, i = np.nonzero(x)
    return pd.DataFrame({"user_id": u + 1, "item_id": i + 1, "timestamp": np.arange(len(u), dtype=np.int64)})


X = (np.random.default_rng(0).random((12, 8)) < 0.4).astype(np.float64)
X[:, 7] = 0.0  # an item nobody interacted with
X[0, 7] = 1.0


def test_ease_matches_numpy_formula():
    lam = 3.0
    p = np.linalg.inv(X.T @ X + lam * np.eye(8))
    b = np.eye(8) - p @ np.diag(1 / np.diag(p))
    model = EASE(lam=lam).fit(_log(X))
    assert model.n_items_ == 8 and model.n_items is None  # learned, the setting untouched
    assert np.allclose(model.B_.numpy(), b, atol=1e-5) and np.allclose(np.diag(b), 0.0)
    scores = model.score([1, 5, 12], _log(X))
    assert scores.shape == (3, 9) and scores.dtype == torch.float32
    assert torch.isneginf(scores[:, 0]).all()
    assert np.allclose(scores[:, 1:].numpy(), X[[0, 4, 11]] @ b, atol=1e-5)


def test_itemknn_matches_loops():
    k, shrink = 3, 2.0
    n = X.shape[1]
    sim = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            if i != j:
                sim[i, j] = X[:, i] @ X[:, j] / (np.linalg.norm(X[:, i]) * np.linalg.norm(X[:, j]) + shrink)
    keep = np.zeros_like(sim)
    for j in range(n):  # each target item keeps its k most similar source items
        for i in np.argsort(-sim[:, j], kind="stable")[:k]:
            keep[i, j] = sim[i, j]
    model = ItemKNN(k=k, shrink=shrink).fit(_log(X))
    assert np.allclose(model.B_.numpy(), keep, atol=1e-6)
    assert np.allclose(model.score([2, 3], _log(X))[:, 1:].numpy(), X[[1, 2]] @ keep, atol=1e-5)


def test_popularity_and_random():
    train = _log(X)
    pop = Popularity().fit(train).score(torch.tensor([1, 2]), train)
    assert pop.shape == (2, 9) and torch.isneginf(pop[:, 0]).all()
    assert pop[0, 1:].tolist() == X.sum(0).tolist() and torch.equal(pop[0], pop[1])
    r = RandomScorer(n_items=20, seed=3).fit(train)
    assert r.score([1, 2, 3], train).shape == (3, 21)
    assert torch.equal(r.score([1, 2, 3], train), RandomScorer(n_items=20, seed=3).fit(train).score([1, 2, 3], train))


def test_history_drives_the_scores():
    model = EASE(lam=1.0).fit(_log(X))
    empty = pd.DataFrame({"user_id": [99], "item_id": [1], "timestamp": [0]})  # user 1 has no history here
    assert torch.equal(model.score([1], empty)[:, 1:], torch.zeros(1, 8))


def _clustered_log(n_users=120, n_items=60, n_groups=4, seed=0):
    """Users of a group mostly pick items of their group's block; item popularity is skewed."""
    rng = np.random.default_rng(seed)
    block = n_items // n_groups
    x = np.zeros((n_users, n_items))
    for u in range(n_users):
        g = u % n_groups
        own = np.arange(g * block, (g + 1) * block)
        weights = 1.0 / np.arange(1, block + 1)
        x[u, rng.choice(own, 8, replace=False, p=weights / weights.sum())] = 1
        x[u, rng.choice(n_items, 2, replace=False)] = 1
    return x


def _split(x, seed=0):
    rng = np.random.default_rng(seed)
    log = _log(x)
    part = rng.choice(3, len(log), p=[0.7, 0.15, 0.15])
    return Split(*(log[part == p].reset_index(drop=True) for p in range(3)))


def test_baselines_beat_random_on_structured_log():
    split = _split(_clustered_log())
    n = 60
    ndcg = {}
    for model in (RandomScorer(n_items=n), Popularity(n_items=n), ItemKNN(k=20, n_items=n), EASE(lam=20.0, n_items=n)):
        model.fit(split.train, split.valid)
        ndcg[type(model).__name__] = full_ranking(model, split, ks=(10,), n_boot=0)["ndcg@10"].mean
    assert ndcg["Popularity"] > ndcg["RandomScorer"] + 0.02
    assert ndcg["ItemKNN"] > ndcg["Popularity"] and ndcg["EASE"] > ndcg["Popularity"]


def test_grid_search_on_valid_and_refit():
    split = _split(_clustered_log())
    model = EASE(n_items=60, grid={"lam": (1.0, 30.0, 1000.0)}, refit=False).fit(split.train, split.valid)
    assert [row["lam"] for row in model.train_log_] == [1.0, 30.0, 1000.0]
    best = max(model.train_log_, key=lambda r: r["valid_ndcg@10"])["lam"]
    assert model.hyperparameters() == {"lam": best} and model.lam == 400.0  # chosen into params_, setting kept
    for row in model.train_log_:  # each row is the valid NDCG@10 of a model fitted on train only
        again = EASE(lam=row["lam"], n_items=60).fit(split.train)
        got = full_ranking(again, split, stage="valid", ks=(10,), n_boot=0)["ndcg@10"].mean
        assert got == pytest.approx(row["valid_ndcg@10"])
    assert torch.allclose(model.B_, EASE(lam=best, n_items=60).fit(split.train).B_)
    refit = EASE(n_items=60, grid={"lam": (1.0, 30.0, 1000.0)}, refit=True).fit(split.train, split.valid)
    both = pd.concat([split.train, split.valid], ignore_index=True)
    assert torch.allclose(refit.B_, EASE(lam=best, n_items=60).fit(both).B_)
    knn = ItemKNN(n_items=60, grid={"k": (5, 20), "shrink": (0.0, 10.0)}).fit(split.train, split.valid)
    assert len(knn.train_log_) == 4 and {"k", "shrink"} == set(knn.hyperparameters())


def test_bad_arguments():
    with pytest.raises(ValueError, match="grid=None"):
        EASE(grid={"lam": (1.0, 2.0)}).fit(_log(X))
    with pytest.raises(ValueError, match="lam"):
        EASE(lam=0.0)
    with pytest.raises(ValueError, match="k"):
        ItemKNN(k=0)
    with pytest.raises(ValueError, match="grid must be"):
        ItemKNN(grid={"alpha": (1,)})
    with pytest.raises(ValueError, match="not fitted"):
        EASE().score([1], _log(X))
    with pytest.raises(KeyError, match=r"item id 9 is unknown to this model \(it knows ids 1..8\)"):  # as ContextRec
        EASE(lam=1.0).fit(_log(X)).score([1], pd.DataFrame({"user_id": [1], "item_id": [9], "timestamp": [0]}))


@pytest.mark.slow
def test_baselines_beat_random_on_movielens():
    datasets = pytest.importorskip("llmrec_ref.datasets")
    split_mod = pytest.importorskip("llmrec_ref.split")
    try:
        ml = datasets.load_movielens_100k(download=False)
    except (FileNotFoundError, ValueError) as err:
        pytest.skip(f"MovieLens-100k not available: {err}")
    split = split_mod.random_split(ml.ratings, seed=0)
    ndcg = {}
    for model in (RandomScorer(n_items=1682), Popularity(n_items=1682), ItemKNN(k=200, shrink=0.0, n_items=1682),
                  EASE(lam=500.0, n_items=1682)):
        model.fit(split.train, split.valid)
        ndcg[type(model).__name__] = full_ranking(model, split, ks=(10,), n_boot=0)["ndcg@10"].mean
    assert ndcg["RandomScorer"] < 0.02 < 0.1 < ndcg["Popularity"] < ndcg["ItemKNN"] < ndcg["EASE"]
    assert ndcg["ItemKNN"] > 0.25 and ndcg["EASE"] > 0.3
