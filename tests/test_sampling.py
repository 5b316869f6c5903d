"""Tests of llmrec_ref.sampling: negatives exclude positives, padded next-item batches by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader

from llmrec_ref.preprocess import add_context_features, user_sequences
from llmrec_ref.sampling import SequenceDataset, collate, sample_negatives


def random_log(seed: int = 0, n_users: int = 50, n_items: int = 30) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 20, n_users)
    return pd.DataFrame({
        "user_id": np.repeat(np.arange(1, n_users + 1), sizes),
        "item_id": rng.integers(1, n_items + 1, sizes.sum()),
        "timestamp": rng.integers(0, 10**6, sizes.sum()),
    })


# ----------------------------------------------------------------------------- negatives
@pytest.mark.parametrize("method", ["uniform", "popularity"])
def test_negatives_are_never_positives(method):
    df = random_log()
    neg = sample_negatives(df, n_items=30, n=5, method=method, seed=1)
    assert neg.shape == (len(df), 5) and neg.dtype == np.int64
    assert neg.min() >= 1 and neg.max() <= 30
    positives = df.groupby("user_id")["item_id"].agg(set)
    for user, row in zip(df["user_id"], neg, strict=True):
        assert not positives[user] & set(row.tolist())
    assert (sample_negatives(df, 30, n=5, method=method, seed=1) == neg).all()
    assert (sample_negatives(df, 30, n=5, method=method, seed=2) != neg).any()


def test_negatives_exclude_extra_positives():
    train = pd.DataFrame({"user_id": [1], "item_id": [1], "timestamp": [0]})
    everything = pd.DataFrame({"user_id": [1, 1, 1], "item_id": [1, 2, 3], "timestamp": [0, 1, 2]})
    neg = sample_negatives(train, n_items=4, n=50, seed=0, positives=everything)
    assert set(neg.ravel().tolist()) == {4}
    assert set(sample_negatives(train, n_items=4, n=200, seed=0).ravel().tolist()) == {2, 3, 4}


def test_popularity_negatives_follow_counts():
    # item 2 seen 30 times, item 3 10 times, item 1 once (by user 41), items 4..9 never
    users = list(range(1, 42))
    items = [2] * 30 + [3] * 10 + [1]
    df = pd.DataFrame({"user_id": users, "item_id": items, "timestamp": range(41)})
    # popularity is counted on the frame passed: only item 1 is seen there, and user 41 owns it
    with pytest.raises(ValueError, match="every item"):
        sample_negatives(df.tail(1), n_items=9, n=1, method="popularity")
    neg = sample_negatives(df, n_items=9, n=4000, method="popularity", seed=0)[-1]  # user 41's row
    assert set(neg.tolist()) == {2, 3}
    assert 0.72 < (neg == 2).mean() < 0.78  # p(2) = 30 / (30 + 10) after excluding item 1
    squashed = sample_negatives(df, n_items=9, n=4000, method="popularity", seed=0, power=0.0)[-1]
    assert 0.45 < (squashed == 2).mean() < 0.55  # power 0: every seen item equally likely


def test_negatives_reject_bad_arguments():
    df = random_log()
    with pytest.raises(ValueError, match="n_items=10"):
        sample_negatives(df, n_items=10)
    with pytest.raises(ValueError, match="n must be an int >= 1"):
        sample_negatives(df, n_items=30, n=0)
    with pytest.raises(ValueError, match="method"):
        sample_negatives(df, n_items=30, method="hard")
    with pytest.raises(ValueError, match=r"missing column\(s\) \['item_id'\]"):
        sample_negatives(df.drop(columns="item_id"), n_items=30)
    with pytest.raises(ValueError, match="empty"):
        sample_negatives(df.iloc[:0], n_items=30)
    full = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [1, 2, 1], "timestamp": [0, 1, 2]})
    with pytest.raises(ValueError, match=r"users \[1\]"):
        sample_negatives(full, n_items=2)


# ----------------------------------------------------------------------------- sequences
def shop_log() -> pd.DataFrame:
    """User 1 in time order: items 3, 1, 2, 5 (rows shuffled); user 2: one interaction; user 3: 2, 4."""
    return pd.DataFrame({
        "user_id": [1, 3, 1, 2, 1, 1, 3],
        "item_id": [2, 4, 3, 7, 5, 1, 2],
        "timestamp": [30, 9, 10, 5, 40, 20, 8],
        "behavior": ["cart", "browse", "browse", "browse", "purchase", "favorite", "browse"],
    })


def test_sequence_dataset_by_hand():
    ds = SequenceDataset(add_context_features(shop_log()), max_len=3)
    assert ds.users.tolist() == [1, 3]  # user 2 has nothing to predict
    ex = ds[0]
    assert ex["items"].tolist() == [3, 1, 2] and ex["targets"].tolist() == [1, 2, 5]
    assert ex["behavior_code"].tolist() == [1, 2, 3]  # browse, favorite, cart: codes, not shifted
    assert ex["hour"].tolist() == [1, 1, 1]  # hour 0 stored as 1: 0 is padding
    long = SequenceDataset(shop_log(), max_len=5)
    assert ds.features == ["behavior_code", "hour", "weekday", "gap_bucket"] and long.features == []
    assert long[0]["items"].tolist() == [0, 0, 3, 1, 2]
    assert long[0]["targets"].tolist() == [0, 0, 1, 2, 5]  # no target where the input is padding
    assert long[1]["items"].tolist() == [0, 0, 0, 0, 2] and long[1]["targets"].tolist() == [0, 0, 0, 0, 4]
    assert ds.vocab_sizes == {"item_id": 6, "behavior_code": 5, "hour": 25, "weekday": 8, "gap_bucket": 33}


def test_sequence_dataset_for_scoring():
    ds = SequenceDataset(shop_log(), max_len=3, users=[3, 99, 1], train=False)
    batch = collate([ds[i] for i in range(len(ds))])
    assert batch["user"].tolist() == [3, 99, 1] and "targets" not in batch
    assert batch["items"].tolist() == [[0, 2, 4], [0, 0, 0], [1, 2, 5]]


def test_sequence_dataset_matches_user_sequences():
    df = random_log(3)
    seqs = user_sequences(df)
    ds = SequenceDataset(df, max_len=8)
    for i, user in enumerate(ds.users.tolist()):
        s = seqs[user][-9:]
        ex = ds[i]
        real = ex["targets"] > 0
        assert ex["items"][ex["items"] > 0].tolist() == s[:-1]
        assert ex["targets"][real].tolist() == s[1:] and (ex["items"][real] > 0).all()


def test_collate_shapes_padding_and_dataloader():
    ds = SequenceDataset(add_context_features(random_log(5)), max_len=6)
    loader = DataLoader(ds, batch_size=16, shuffle=True, collate_fn=collate, generator=torch.Generator().manual_seed(0))
    batch = next(iter(loader))
    assert batch["user"].shape == (16,)
    for key in ("items", "targets", "hour", "weekday", "gap_bucket"):
        assert batch[key].shape == (16, 6) and batch[key].dtype == torch.int64
    padded = batch["items"] == 0
    assert (batch["hour"][padded] == 0).all() and (batch["hour"][~padded] > 0).all()
    # collate left-pads examples of different lengths
    ragged = collate([{"u": torch.tensor(1), "x": torch.tensor([4, 5])}, {"u": torch.tensor(2), "x": torch.tensor([6])}])
    assert ragged["x"].tolist() == [[4, 5], [0, 6]] and ragged["u"].tolist() == [1, 2]
    with pytest.raises(ValueError, match="batch is empty"):
        collate([])


def test_sequence_dataset_rejects_bad_input():
    with pytest.raises(ValueError, match="max_len"):
        SequenceDataset(shop_log(), max_len=0)
    with pytest.raises(ValueError, match="'behavior' must hold non-negative ints"):
        SequenceDataset(shop_log(), features=["behavior"])
    with pytest.raises(ValueError, match=r"missing column\(s\) \['hour'\]"):
        SequenceDataset(shop_log(), features=["hour"])
    with pytest.raises(ValueError, match="empty"):
        SequenceDataset(shop_log().iloc[:0])
    with pytest.raises(ValueError, match="remap_ids"):
        SequenceDataset(shop_log().assign(item_id=0))
    with pytest.raises(ValueError, match="repeat"):
        SequenceDataset(shop_log(), users=[1, 1], train=False)
