"""ContextRec, the estimator: its config, what fit learns (never changing what it was given), the
training rows and loss, scoring, fallbacks; and MF."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from llmrec_ref.baselines import Popularity
from llmrec_ref.context import encode_context
from llmrec_ref.decode import greedy_sequence
from llmrec_ref.evaluation import full_ranking
from llmrec_ref.mf import MF, MFConfig
from llmrec_ref.models import ContextRec, ContextRecConfig
from llmrec_ref.split import leave_one_out

N_ITEMS = 30


pytestmark = pytest.mark.usefixtures("one_thread")


def chain_log(n_users: int = 80, length: int = 12, seed: int = 0) -> pd.DataFrame:
    """Each user walks the chain i -> i + 1 (mod N_ITEMS) from a random start, with 10 % random jumps."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(1, n_users + 1):
        item = int(rng.integers(1, N_ITEMS + 1))
        for t in range(length):
            rows.append((u, item, 1_700_000_000 + 3600 * t + u, ["browse", "cart", "purchase"][t % 3],
                         ["mobile", "desktop"][u % 2]))
            item = item % N_ITEMS + 1 if rng.random() < 0.9 else int(rng.integers(1, N_ITEMS + 1))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp", "behavior", "device"])


def small(**kw) -> ContextRec:
    base = dict(n_items=N_ITEMS, d_model=16, n_heads=2, n_layers=1, max_len=8, features=[], verbose=False)
    return ContextRec(**(base | kw))


def test_config_validates_its_fields_where_it_is_made():
    for bad, match in [(dict(encoder="lstm2"), "encoder must be one of"), (dict(loss="mse"), "loss must be one of"),
                       (dict(d_model=10, n_heads=3), "multiple of n_heads"), (dict(windows="some"), "windows"),
                       (dict(epochs=0), "epochs"), (dict(lr=-1.0), "lr"), (dict(features="hour"), "features"),
                       (dict(device="gpu"), "device"), (dict(n_negatives=0), "n_negatives")]:
        with pytest.raises(ValueError, match=match):
            ContextRecConfig(**bad)
    with pytest.raises(ValueError, match="'softmax', 'sampled_softmax', 'bpr', 'bce'"):  # names the allowed values
        ContextRec(loss="foo")
    with pytest.raises(ValueError, match="no setting 'layers'"):
        ContextRec(layers=2)
    with pytest.raises(ValueError, match="no setting 'loss'"):
        MF(loss="softmax")
    with pytest.raises(ValueError, match="ContextRecConfig"):
        ContextRec(MFConfig())


def test_fit_learns_into_a_new_config_and_never_changes_the_given_one():
    log = chain_log(n_users=20)
    config = ContextRecConfig(d_model=16, max_len=8, epochs=1, verbose=False)
    first = ContextRec(config).fit(log)
    assert config == ContextRecConfig(d_model=16, max_len=8, epochs=1, verbose=False) and first.config == config
    assert first.net_config_.features == (("behavior_code", 5), ("hour", 25), ("weekday", 8), ("gap_bucket", 33),
                                          ("device", 4))
    assert first.vocab_ == {"device": ["desktop", "mobile"]}
    # a second model from the same config object learns its own vocabulary (no shared dict)
    second = ContextRec(config).fit(log.assign(device=log["device"].map({"mobile": "tv", "desktop": "watch"})))
    assert second.vocab_ == {"device": ["tv", "watch"]} and first.vocab_ == {"device": ["desktop", "mobile"]}
    assert dataclasses.replace(config, features=["hour"]).features == ("hour",)


def test_fit_starts_over_unless_warm_start():
    split = leave_one_out(chain_log(n_users=30))
    model = small(epochs=2).fit(split.train)
    once = {k: v.clone() for k, v in model.network_.state_dict().items()}
    model.fit(split.train)
    assert all(torch.equal(v, once[k]) for k, v in model.network_.state_dict().items())  # refit = same weights
    warm = small(epochs=2, warm_start=True).fit(split.train)
    warm.fit(split.train)  # two more epochs from where it was
    assert not all(torch.equal(v, once[k]) for k, v in warm.network_.state_dict().items())
    assert warm.train_log_[0]["loss"] < model.train_log_[0]["loss"]


def test_mask_seen_loss_equals_a_reference_softmax_without_seen_items():
    model = small(mask_seen=True, epochs=1).fit(chain_log(n_users=5))
    items = torch.tensor([[0, 0, 1, 2, 1, 3, 4, 5]])
    targets = torch.tensor([[0, 0, 2, 1, 3, 4, 5, 6]])  # position 3 repeats item 1 as its target
    loss = model.batch_loss({"items": items, "targets": targets})
    logits = model.network_(items)[0]
    terms = []
    for t in range(2, 8):
        keep = torch.ones(N_ITEMS + 1, dtype=torch.bool)
        keep[0] = False
        keep[items[0, : t + 1]] = False
        keep[targets[0, t]] = True
        terms.append(-(logits[t][keep].log_softmax(0)[keep.nonzero()[:, 0] == targets[0, t]]))
    assert torch.allclose(loss, torch.cat(terms).mean(), atol=1e-6)


def test_all_windows_make_every_transition_a_target_exactly_once():
    split = leave_one_out(chain_log(n_users=3, length=12))
    last = small(max_len=4, windows="last", epochs=1).fit(split.train)
    every = small(max_len=4, windows="all", epochs=1).fit(split.train)
    rows_last, rows_all = last.training_rows(split.train), every.training_rows(split.train)
    assert rows_last["items"].shape == (3, 4) and rows_all["items"].shape == (9, 4)
    keep = rows_all["targets"] > 0
    pairs = sorted(zip(rows_all["items"][keep].tolist(), rows_all["targets"][keep].tolist(), strict=True))
    expected = []
    for _, seq in split.train.groupby("user_id")["item_id"]:
        expected += list(zip(seq.tolist()[:-1], seq.tolist()[1:], strict=True))
    assert pairs == sorted(expected)


def test_encode_context_codes_known_and_categorical_features():
    log = chain_log(n_users=2, length=3).assign(device=["mobile", "desktop", "tv", "mobile", "mobile", "desktop"])
    out = encode_context(log, ["behavior_code", "hour", "device"], {"device": ["desktop", "mobile"]})
    assert out["behavior_code"].tolist() == [1, 3, 4] * 2
    assert out["device"].tolist() == [1, 0, 2, 1, 1, 0]  # unknown "tv" -> len(vocabulary)
    with pytest.warns(UserWarning, match="no 'device' column"):
        out = encode_context(log.drop(columns="device"), ["device"], {"device": ["desktop", "mobile"]})
    assert (out["device"] == 2).all()


def test_a_feature_missing_from_the_log_is_a_clear_error():
    with pytest.raises(ValueError, match="feature 'colour' is not a column"):
        small(features=["colour"], epochs=1).fit(chain_log(n_users=3))


def test_fit_score_interface_and_beats_popularity():
    split = leave_one_out(chain_log())
    model = small(epochs=12, lr=1e-2, features=None, patience=12).fit(split.train, split.valid)
    assert [f for f, _ in model.net_config_.features] == ["behavior_code", "hour", "weekday", "gap_bucket", "device"]
    assert model.config.features is None  # what the user chose is kept as it was
    scores = model.score([1, 2, 3], split.train)
    assert scores.shape == (3, N_ITEMS + 1) and torch.isinf(scores[:, 0]).all()
    ours = full_ranking(model, split, n_boot=0)["ndcg@10"].mean
    pop = full_ranking(Popularity().fit(split.train), split, n_boot=0)["ndcg@10"].mean
    assert ours > 2 * pop and ours > 0.3
    # decoding a list from the trained network: the chain, without repeats or seen items
    listed = greedy_sequence(model.network_, torch.tensor([[0, 0, 5, 6, 7]]), steps=4)
    assert len(set(listed[0].tolist())) == 4 and not {0, 5, 6, 7} & set(listed[0].tolist())
    # inputs(): what score feeds the network, left padded
    x = model.inputs([1], split.train)
    assert x["item_id"].shape == (1, 8) and set(x) == {"item_id", "behavior_code", "hour", "weekday", "gap_bucket",
                                                       "device"}


def test_new_user_gets_popularity_with_a_warning_and_unknown_items_raise():
    split = leave_one_out(chain_log())
    model = small(epochs=1).fit(split.train)
    with pytest.warns(UserWarning, match="popularity"):
        scores = model.score([999], split.train)
    counts = torch.bincount(torch.tensor(split.train["item_id"].to_numpy()), minlength=N_ITEMS + 1)
    assert torch.equal(scores[0, 1:].argsort(descending=True, stable=True)[:3],
                       counts[1:].argsort(descending=True, stable=True)[:3])
    bad = split.train.assign(item_id=split.train["item_id"].where(split.train.index != 5, 4242))
    with pytest.raises(KeyError, match="4242"):
        model.score([1], bad)
    with pytest.raises(ValueError, match="not fitted"):
        small().score([1], split.train)


def test_init_item_embeddings_copies_and_rescales():
    model = small(init_std=0.03, epochs=1, lr=1e-9)
    w = torch.randn(N_ITEMS + 1, 16) * 5
    assert model.init_item_embeddings(w) is model
    model.fit(chain_log(n_users=4))
    got = model.network_.item_emb.weight.detach()
    assert torch.allclose(got[1:].std(), torch.tensor(0.03), atol=1e-4) and (got[0] == 0).all()
    assert torch.allclose(torch.nn.functional.cosine_similarity(got[1:], w[1:]), torch.ones(N_ITEMS), atol=1e-5)
    with pytest.raises(ValueError, match="n_items \\+ 1, d_model=16"):
        model.init_item_embeddings(torch.zeros(3, 8))
    with pytest.raises(ValueError, match="must have n_items \\+ 1 = 31 rows"):
        small().init_item_embeddings(torch.zeros(3, 16)).fit(chain_log(n_users=4))


def group_log(seed: int = 0) -> pd.DataFrame:
    """Two taste groups: odd users pick items 1..15, even users 16..30 (popularity cannot tell them apart)."""
    rng = np.random.default_rng(seed)
    rows = [(u, int(rng.integers(1, 16)) + 15 * (u % 2 == 0), 1_700_000_000 + t) for u in range(1, 101) for t in range(10)]
    return pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"]).drop_duplicates(["user_id", "item_id"])


def test_mf_learns_taste_groups_and_keeps_the_interface():
    split = leave_one_out(group_log())
    mf = MF(d_model=8, epochs=15, lr=0.05, verbose=False, patience=15).fit(split.train, split.valid)
    scores = mf.score([1, 2], split.train)
    assert scores.shape == (2, N_ITEMS + 1) and torch.isinf(scores[:, 0]).all()
    assert scores[0, 1:16].mean() > scores[0, 16:].mean() and scores[1, 16:].mean() > scores[1, 1:16].mean()
    with pytest.warns(UserWarning, match="popularity"):
        mf.score([500], split.train)
    assert (mf.n_users_, mf.n_items_) == (100, N_ITEMS) and MF().config == MFConfig()


def test_mf_negatives_are_never_the_users_positives():
    log = group_log()
    mf = MF(n_negatives=50, d_model=4, epochs=1, verbose=False).fit(log)
    users, items = torch.tensor(log["user_id"].to_numpy()), torch.tensor(log["item_id"].to_numpy())
    positive = torch.zeros(mf.n_users_ + 1, mf.n_items_ + 1, dtype=torch.bool)
    positive[users, items] = True
    neg = mf._negatives(users, positive, torch.Generator().manual_seed(0))  # (N, 50)
    assert neg.shape == (len(log), 50)
    assert not positive[users[:, None], neg].any()
