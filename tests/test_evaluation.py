"""evaluation: full ranking plumbing, sampled ranking, paired bootstrap."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
import pytest
import torch

from llmrec_ref import metrics
from llmrec_ref.evaluation import (
    _sample_negatives,
    full_ranking,
    interaction_matrix,
    paired_bootstrap,
    rank_heldout,
    sampled_ranking,
)


class Split(NamedTuple):  # same fields as llmrec_ref.split.Split
    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame


def _frame(pairs):
    return pd.DataFrame({"user_id": [u for u, _ in pairs], "item_id": [i for _, i in pairs],
                         "timestamp": np.arange(len(pairs), dtype=np.int64)})


class FixedScores:
    """Scores from a fixed (n_users + 1, n_items + 1) table; remembers the history it was given."""

    def __init__(self, table: torch.Tensor) -> None:
        self.table, self.n_items = table, table.shape[1] - 1

    def score(self, users, history):
        self.history = history
        out = self.table[torch.as_tensor(users)].clone()
        out[:, 0] = float("-inf")
        return out


def _random_split(n_users=30, n_items=40, seed=0):
    """Every user: 8 distinct items; 6 train, 1 valid, 1 test. Every item appears in train."""
    rng = np.random.default_rng(seed)
    parts = [[], [], []]
    for u in range(1, n_users + 1):
        items = rng.choice(np.arange(1, n_items + 1), 8, replace=False)
        for j, i in enumerate(items):
            parts[0 if j < 6 else j - 5].append((u, int(i)))
    parts[0] += [(1, i) for i in range(1, n_items + 1) if (1, i) not in parts[1] + parts[2]]
    parts[0] = list(dict.fromkeys(parts[0]))
    return Split(*(_frame(p) for p in parts))


def test_interaction_matrix():
    x = interaction_matrix(_frame([(1, 2), (1, 2), (3, 1), (9, 3)]), torch.tensor([3, 1, 5]), 3)
    assert x.tolist() == [[False, True, False, False], [False, False, True, False], [False] * 4]
    with pytest.raises(ValueError, match="item ids must lie in 1..n_items=2"):
        interaction_matrix(_frame([(1, 3)]), torch.tensor([1]), 2)


def test_full_ranking_builds_history_truth_and_mask():
    split = _random_split()
    gen = torch.Generator().manual_seed(0)
    model = FixedScores(torch.randn(31, 41, generator=gen))
    res = full_ranking(model, split, ks=(5, 10), n_boot=100)
    assert len(model.history) == len(split.train) + len(split.valid)  # test stage: train + valid
    users = torch.arange(1, 31)
    assert torch.equal(res.users, users) and res.stage == "test" and res.ranking == "full"
    history = pd.concat([split.train, split.valid])
    ref = metrics.evaluate(model.table[1:, 1:], interaction_matrix(split.test, users, 40)[:, 1:],
                           interaction_matrix(history, users, 40)[:, 1:], ks=(5, 10), n_boot=100)
    for name in ("ndcg@10", "recall@5", "mrr@10"):
        assert res[name] == ref[name]
    # validation stage: history = train only, truth = valid
    res_v = full_ranking(model, split, stage="valid", ks=(10,), n_boot=0)
    assert len(model.history) == len(split.train)
    ref_v = metrics.evaluate(model.table[1:, 1:], interaction_matrix(split.valid, users, 40)[:, 1:],
                             interaction_matrix(split.train, users, 40)[:, 1:], ks=(10,), n_boot=0)
    assert res_v["ndcg@10"] == ref_v["ndcg@10"]


def test_exclude_seen_matters_for_a_model_that_scores_history_highest():
    split = _random_split()
    history = pd.concat([split.train, split.valid])
    users = torch.arange(0, 31)
    table = interaction_matrix(history, users, 40).float() * 10 + torch.rand(31, 41, generator=torch.Generator().manual_seed(1))
    model = FixedScores(table)
    masked = full_ranking(model, split, ks=(5,), n_boot=0)["hr@5"].mean
    unmasked = full_ranking(model, split, ks=(5,), n_boot=0, exclude_seen=False)["hr@5"].mean
    assert unmasked == 0.0 and masked > 0.0  # unmasked top-5 is all history


def test_repeated_item_in_history_is_counted():
    split = Split(_frame([(1, 1), (1, 2), (2, 3)]), _frame([(1, 3)]), _frame([(1, 2), (2, 1)]))
    res = rank_heldout(FixedScores(torch.rand(3, 4)), split.train, split.test, ks=(2,), n_boot=0)
    assert res.n_truth_excluded == 1 and res.n_users == 2


def test_sampled_with_all_negatives_equals_full_ranking():
    split = _random_split()
    model = FixedScores(torch.randn(31, 41, generator=torch.Generator().manual_seed(2)))
    full = full_ranking(model, split, ks=(1, 5, 10), n_boot=50)
    for sampler in ("uniform", "popularity"):
        sampled = sampled_ranking(model, split, n_negatives=40, sampler=sampler, ks=(1, 5, 10), n_boot=50)
        assert sampled.ranking == f"sampled-{sampler}-40"
        for name in ("hr@10", "ndcg@5", "mrr@10", "recall@1"):
            assert sampled[name] == full[name]


def test_sampled_ranking_inflates_and_is_seeded():
    split = _random_split(n_users=40, n_items=300)
    model = FixedScores(torch.randn(41, 301, generator=torch.Generator().manual_seed(3)))
    full = full_ranking(model, split, ks=(10,), n_boot=0).per_user["hr@10"]
    a = sampled_ranking(model, split, n_negatives=20, ks=(10,), n_boot=0, seed=5).per_user["hr@10"]
    b = sampled_ranking(model, split, n_negatives=20, ks=(10,), n_boot=0, seed=5).per_user["hr@10"]
    assert torch.equal(a, b) and (a >= full).all() and a.mean() > full.mean()


def test_sample_negatives_respects_never_seen_and_weights():
    gen = torch.Generator().manual_seed(0)
    never = torch.rand(50, 30, generator=gen) < 0.5
    weight = torch.ones(30)
    weight[:5] = 0.0  # never drawn
    draw = _sample_negatives(never, weight, 8, torch.Generator().manual_seed(1))
    assert not (draw & ~never).any() and not draw[:, :5].any()
    available = (never & (weight > 0)).sum(1)
    assert torch.equal(draw.sum(1), torch.clamp(available, max=8))
    # popular items are drawn more often
    weight = torch.linspace(0.1, 10, 30)
    draw = _sample_negatives(torch.ones(2000, 30, dtype=torch.bool), weight, 3, torch.Generator().manual_seed(2))
    counts = draw.sum(0).float()
    assert counts[-5:].mean() > 3 * counts[:5].mean()


def test_paired_bootstrap():
    gen = torch.Generator().manual_seed(0)
    b = torch.rand(200, generator=gen)
    same = paired_bootstrap(b, b)
    assert same["mean_diff"] == 0 and same["low"] == 0 and same["high"] == 0 and same["p_a_better"] == 0
    a = b + 0.1 * torch.rand(200, generator=gen)
    res = paired_bootstrap(a, b, n_boot=500, seed=3)
    diff = (a - b).double()
    idx = torch.randint(200, (500, 200), generator=torch.Generator().manual_seed(3))
    direct = diff[idx].mean(1)
    assert res["mean_diff"] == pytest.approx(diff.mean().item())
    assert res["low"] == pytest.approx(direct.quantile(0.025).item()) and res["high"] == pytest.approx(direct.quantile(0.975).item())
    assert res["p_a_better"] == 1.0 and res["n_users"] == 200
    with pytest.raises(ValueError, match="same length"):
        paired_bootstrap(a, b[:-1])
    with pytest.raises(ValueError, match="NaN"):
        paired_bootstrap(a, torch.full((200,), float("nan")))


def test_bad_inputs():
    split = _random_split()
    model = FixedScores(torch.randn(31, 41))
    with pytest.raises(ValueError, match="stage must be"):
        full_ranking(model, split, stage="train")
    with pytest.raises(ValueError, match="n_negatives must be"):
        sampled_ranking(model, split, n_negatives=0)
    with pytest.raises(ValueError, match="sampler must be"):
        sampled_ranking(model, split, sampler="zipf")
    with pytest.raises(ValueError, match=r"model.score returned shape \(30, 41\), expected .* \(30, 51\)"):
        full_ranking(model, split, n_items=50)
    with pytest.raises(ValueError, match="k must be a positive int"):
        full_ranking(model, split, ks=(0,))
