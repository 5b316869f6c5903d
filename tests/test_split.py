"""Tests of llmrec_ref.split: membership by hand, no leakage on random logs with ties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from llmrec_ref.split import (
    Split,
    check_no_leakage,
    leave_one_out,
    next_session_split,
    random_split,
    temporal_split,
)

KEYS = ["user_id", "item_id", "timestamp"]


def toy() -> pd.DataFrame:
    """User 1: four rows, the last two tied at t=20 (item 3 before item 9); user 2: two rows."""
    return pd.DataFrame({
        "user_id": [1, 2, 1, 1, 2, 1],
        "item_id": [9, 4, 1, 3, 8, 5],
        "timestamp": [20, 7, 5, 20, 9, 10],
        "rating": [1.0, 2.0, 3.0, 4.0, 5.0, 4.5],
        "behavior": pd.array(["cart", "browse", "browse", "purchase", "cart", "favorite"], dtype="str"),
    })


def random_log(seed: int, n_users: int = 60) -> pd.DataFrame:
    """Users with 1..25 rows, timestamps drawn from only 8 values: ties everywhere (no exact duplicates)."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 26, n_users)
    return pd.DataFrame({
        "user_id": np.repeat(np.arange(1, n_users + 1), sizes),
        "item_id": rng.integers(1, 40, sizes.sum()),
        "timestamp": rng.integers(0, 8, sizes.sum()) * 1000,
    }).drop_duplicates(KEYS).sample(frac=1.0, random_state=seed, ignore_index=True)


def rows(frame: pd.DataFrame) -> list[tuple]:
    return sorted(map(tuple, frame[KEYS].to_numpy().tolist()))


def assert_same_schema(split: Split, df: pd.DataFrame) -> None:
    for part in split:
        assert list(part.columns) == list(df.columns)
        assert part.dtypes.equals(df.dtypes)
        assert list(part.index) == list(range(len(part)))


# ----------------------------------------------------------------------------- leave-one-out
def test_leave_one_out_membership_by_hand():
    df = toy()
    split = leave_one_out(df)
    assert split.train[["user_id", "item_id"]].to_numpy().tolist() == [[1, 1], [1, 5], [2, 4], [2, 8]]
    assert split.valid["item_id"].tolist() == [3] and split.test["item_id"].tolist() == [9]
    assert split.test["behavior"].tolist() == ["cart"]  # the whole row travels
    assert_same_schema(split, df)
    assert isinstance(split, Split) and split.train is split[0]


def test_leave_one_out_does_not_depend_on_row_order():
    df = random_log(1)
    a, b = leave_one_out(df), leave_one_out(df.sample(frac=1.0, random_state=7))
    for x, y in zip(a, b, strict=True):
        assert x.equals(y)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_leave_one_out_no_leakage_on_random_logs_with_ties(seed):
    df = random_log(seed)
    split = leave_one_out(df)
    assert rows(pd.concat(split)) == rows(df)  # a partition of the rows
    sizes = df.groupby("user_id").size()
    assert set(split.test["user_id"]) == set(sizes.index[sizes >= 3])
    assert split.test["user_id"].is_unique and split.valid["user_id"].is_unique
    for user, test_row in split.test.set_index("user_id").iterrows():
        train = split.train[split.train["user_id"] == user]
        valid = split.valid[split.valid["user_id"] == user]
        earlier = pd.concat([train, valid])
        assert test_row["timestamp"] >= earlier["timestamp"].max()
        assert valid["timestamp"].iloc[0] >= train["timestamp"].max()
        # among ties the test item is the largest item id of the last timestamp
        last = earlier[earlier["timestamp"] == test_row["timestamp"]]
        assert (last["item_id"] <= test_row["item_id"]).all()
    report = check_no_leakage(split)
    assert report.ok and bool(report) and report.late_users == 0 and str(report).startswith("leakage check: True")
    assert report.tied_users > 0  # the log really has ties to order


# ----------------------------------------------------------------------------- random split
def test_random_split_sizes_per_user():
    df = pd.DataFrame({"user_id": [1] * 10 + [2] * 5 + [3], "item_id": list(range(1, 11)) + list(range(1, 6)) + [1],
                       "timestamp": range(16)})
    split = random_split(df, seed=3)
    count = [part.groupby("user_id").size().reindex([1, 2, 3], fill_value=0).tolist() for part in split]
    assert count == [[8, 4, 1], [1, 1, 0], [1, 0, 0]]
    assert rows(pd.concat(split)) == rows(df)
    assert_same_schema(split, df)
    assert [len(p) for p in random_split(df, ratios=(1, 0, 0))] == [16, 0, 0]


def test_random_split_is_seeded_and_ignores_row_order():
    df = random_log(4)
    a, b = random_split(df, seed=11), random_split(df.sample(frac=1.0, random_state=1), seed=11)
    assert all(x.equals(y) for x, y in zip(a, b, strict=True))
    c = random_split(df, seed=12)
    assert not a.test.equals(c.test)
    report = check_no_leakage(a, temporal=False)
    assert report.ok and report.shared_rows == 0 and report.late_users > 0  # random splits see the future
    assert not check_no_leakage(a).ok


@pytest.mark.parametrize("ratios", [(0.8, 0.2), (0.5, 0.5, 0.5), (0.0, 0.5, 0.5), (1.1, -0.05, -0.05), "abc", 0.8])
def test_random_split_rejects_bad_ratios(ratios):
    with pytest.raises(ValueError, match="ratios must be 3 non-negative numbers"):
        random_split(toy(), ratios=ratios)


# ----------------------------------------------------------------------------- temporal split
def test_temporal_split_by_timestamp_and_quantile():
    df = toy()  # timestamps 5, 7, 9, 10, 20, 20
    split = temporal_split(df, cut=20, valid_cut=9)
    assert split.train["timestamp"].tolist() == [5, 7]
    assert split.valid["timestamp"].tolist() == [10, 9]  # time order within each user (user 1 first)
    assert split.test["item_id"].tolist() == [3, 9]
    assert_same_schema(split, df)
    default = temporal_split(df, cut=20)  # validation: the last stretch before the cut, as many rows as test
    assert default.valid["timestamp"].tolist() == [10, 9]
    assert [len(p) for p in temporal_split(df, cut=0.5, valid_cut=0.2)] == [2, 1, 3]  # sorted t[ceil(q n)]: cut t=10, valid t=9


@pytest.mark.parametrize("seed", [0, 1])
def test_temporal_split_test_is_strictly_later(seed):
    df = random_log(seed)
    split = temporal_split(df, cut=0.8)
    assert rows(pd.concat(split)) == rows(df)
    assert split.test["timestamp"].min() > pd.concat([split.train, split.valid])["timestamp"].max()
    assert split.valid["timestamp"].min() > split.train["timestamp"].max()
    report = check_no_leakage(split)
    assert report.ok and report.tied_users == 0


@pytest.mark.parametrize("cut, match", [(1.5, "quantile"), (0.0, "quantile"), (True, "int timestamp"),
                                        ("2020", "int timestamp"), (10**9, "no row"), (0, "every row")])
def test_temporal_split_rejects_bad_cuts(cut, match):
    with pytest.raises(ValueError, match=match):
        temporal_split(toy(), cut=cut)


def test_temporal_split_rejects_a_valid_cut_after_the_cut():
    with pytest.raises(ValueError, match="valid_cut"):
        temporal_split(toy(), cut=10, valid_cut=20)
    with pytest.raises(ValueError, match="valid_cut"):
        temporal_split(toy(), cut=10, valid_cut=5)  # train would be empty


# ----------------------------------------------------------------------------- checking
def test_check_no_leakage_catches_leaks():
    split = leave_one_out(toy())
    # swap user 1's earliest train row with its test row: the test now precedes training
    train, test = split.train.copy(), split.test.copy()
    first = train.index[0]
    leaky = Split(pd.concat([train.drop(index=first), test]), split.valid, train.loc[[first]])
    report = check_no_leakage(leaky)
    assert not report.ok and report.late_users == 1
    with pytest.raises(ValueError, match="leaks"):
        check_no_leakage(leaky, raise_on_leak=True)
    shared = Split(split.train, split.valid, pd.concat([split.test, split.train.iloc[[0]]]))
    assert check_no_leakage(shared, temporal=False).shared_rows == 1
    with pytest.raises(ValueError, match="Split"):
        check_no_leakage(split.train)
    with pytest.raises(ValueError, match="split.valid"):
        check_no_leakage(Split(split.train, split.valid.drop(columns="timestamp"), split.test))


@pytest.mark.parametrize("fn", [leave_one_out, random_split, temporal_split])
def test_splits_reject_bad_frames(fn):
    with pytest.raises(ValueError, match=r"missing column\(s\) \['timestamp'\]"):
        fn(toy().drop(columns="timestamp"))
    with pytest.raises(ValueError, match="empty"):
        fn(toy().iloc[:0])


@pytest.mark.slow
def test_leave_one_out_movielens(movielens):
    ratings = movielens.ratings
    split = leave_one_out(ratings)
    assert [len(p) for p in split] == [98_114, 943, 943]
    report = check_no_leakage(split)
    assert report.ok and report.shared_rows == 0
    assert_same_schema(split, ratings)


def session_log() -> pd.DataFrame:
    """User 1: sessions 10 (t 0, 60), 11 (t 5000), 12 (t 9000, 9030); user 2: two sessions only."""
    return pd.DataFrame({
        "user_id": [1, 1, 1, 1, 1, 2, 2],
        "item_id": [4, 5, 6, 7, 8, 1, 2],
        "timestamp": [60, 0, 5000, 9030, 9000, 0, 90000],
        "session_id": [10, 10, 11, 12, 12, 20, 21],
    })


def test_next_session_split_membership_by_hand():
    train, valid, test = next_session_split(session_log())
    assert list(zip(train["user_id"], train["item_id"], strict=True)) == [(1, 5), (1, 4), (2, 1), (2, 2)]
    assert list(zip(valid["user_id"], valid["item_id"], strict=True)) == [(1, 6)]
    assert list(zip(test["user_id"], test["item_id"], strict=True)) == [(1, 8), (1, 7)]
    # without a session column, a pause longer than `gap` starts a session: the same parts here
    by_gap = next_session_split(session_log().drop(columns="session_id"), gap=1800)
    assert [len(p) for p in by_gap] == [4, 1, 2]
    assert [len(p) for p in next_session_split(session_log().drop(columns="session_id"), gap=10_000)] == [7, 0, 0]


@pytest.mark.parametrize("seed", [0, 1])
def test_next_session_split_has_no_leakage_and_keeps_every_row(seed):
    log = random_log(seed)
    split = next_session_split(log, gap=1)  # timestamps 0..7 apart by at least 1: sessions by pause
    assert sum(len(p) for p in split) == len(log)
    assert check_no_leakage(split).ok
    with pytest.raises(ValueError, match="gap"):
        next_session_split(log, gap=0)
