"""Tests of llmrec_ref.preprocess against hand-computed results."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from llmrec_ref.preprocess import (
    IdMaps,
    add_context_features,
    clean,
    deduplicate,
    impute_missing,
    k_core,
    normalize_ratings,
    preprocess,
    remap_ids,
    time_order,
    to_implicit,
    user_sequences,
)


def log(rows, columns=("user_id", "item_id", "timestamp")) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(columns))


# ----------------------------------------------------------------------------- bad input
FULL = {"user_id": [1], "item_id": [1], "timestamp": [1], "rating": [3.0]}


@pytest.mark.parametrize(
    "fn, missing",
    [(clean, "timestamp"), (deduplicate, "timestamp"), (to_implicit, "item_id"), (k_core, "user_id"),
     (remap_ids, "timestamp"), (add_context_features, "timestamp"), (user_sequences, "item_id"),
     (preprocess, "user_id"), (normalize_ratings, "rating"), (lambda df: impute_missing(df, "rating"), "rating")],
)
def test_bad_frames_raise_clear_errors(fn, missing):
    with pytest.raises(ValueError, match=rf"missing column\(s\) \['{missing}'\].*rename"):
        fn(pd.DataFrame(FULL).drop(columns=missing))
    with pytest.raises(ValueError, match="interactions is empty"):
        fn(pd.DataFrame(FULL).iloc[:0])
    with pytest.raises(ValueError, match="must be a pandas DataFrame"):
        fn([(1, 2, 3)])


# ----------------------------------------------------------------------------- cleaning
def test_clean_applies_each_rule_and_reports_it():
    df = pd.DataFrame({
        "user_id": [1, 1, None, 0, 2.5, "u7", 3, 4, 5],
        "item_id": [10, 11, 12, 13, 14, 15, -1, 16, 17],
        "timestamp": [100, 200, 300, 400, 500, 600, 700, 10**12, 800],
        "rating": [5.0, 4.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 7.0],
    })
    out, report = clean(df, rating_range=(1, 5), now=10**10, return_report=True)
    assert out["item_id"].tolist() == [10, 11]
    assert (report.n_in, report.missing, report.invalid_id, report.rating_out_of_range, report.future) == (9, 1, 4, 1, 1)
    assert report.n_out == 2 and "7 removed" in str(report)
    assert all(out[c].dtype == np.int64 for c in ("user_id", "item_id", "timestamp"))
    assert list(out.index) == [0, 1]
    assert clean(df, now=10**10).shape[0] == 3  # without rating_range the 7.0 survives


def test_clean_keeps_null_ratings_and_needs_a_rating_column_for_a_range():
    df = pd.DataFrame({"user_id": [1, 2], "item_id": [1, 2], "timestamp": [1, 2], "rating": [np.nan, 9.0]})
    assert clean(df, rating_range=(1, 5), now=10)["user_id"].tolist() == [1]
    with pytest.raises(ValueError, match="rating_range"):
        clean(df.drop(columns="rating"), rating_range=(1, 5))


def test_clean_turns_datetimes_into_seconds_and_ratings_into_floats():
    when = pd.to_datetime(["1970-01-02 01:00", "2020-01-01 00:00", None], utc=True)
    df = pd.DataFrame({"user_id": [1, 2, 3], "item_id": [1, 2, 3], "timestamp": when, "rating": [3, 4, 5]})
    out, report = clean(df, now=2_000_000_000, return_report=True)
    assert out["timestamp"].tolist() == [90_000, 1_577_836_800] and report.missing == 1
    assert out["timestamp"].dtype == np.int64 and out["rating"].dtype == np.float64


def test_deduplicate_events_and_pairs():
    df = pd.DataFrame({
        "user_id": [1, 1, 1, 2, 1], "item_id": [5, 5, 5, 5, 6],
        "timestamp": [10, 10, 30, 10, 10], "rating": [1.0, 2.0, 4.0, 3.0, 5.0],
    })
    assert deduplicate(df)["rating"].tolist() == [1.0, 4.0, 3.0, 5.0]
    assert deduplicate(df, keep="last")["rating"].tolist() == [2.0, 4.0, 3.0, 5.0]
    # one row per (user, item): the latest in time, whatever the row order
    assert deduplicate(df, per="pair", keep="last")["rating"].tolist() == [4.0, 3.0, 5.0]
    assert deduplicate(df.iloc[::-1], per="pair", keep="last")["rating"].tolist() == [5.0, 3.0, 4.0]
    assert deduplicate(df, per="pair", keep="first")["rating"].tolist() == [1.0, 3.0, 5.0]
    with pytest.raises(ValueError, match="per"):
        deduplicate(df, per="user")
    with pytest.raises(ValueError, match="keep"):
        deduplicate(df, keep="middle")


def test_impute_missing_strategies():
    df = pd.DataFrame({"user_id": [1, 1, 1, 2, 3], "item_id": [1, 2, 3, 4, 5], "timestamp": [1, 2, 3, 4, 5],
                       "rating": [1.0, 2.0, np.nan, 6.0, np.nan], "device": ["app", None, "app", "web", "web"]})
    assert impute_missing(df, "rating")["item_id"].tolist() == [1, 2, 4]
    assert impute_missing(df, "rating", "mean")["rating"].tolist() == [1.0, 2.0, 3.0, 6.0, 3.0]
    assert impute_missing(df, "rating", "median")["rating"].tolist() == [1.0, 2.0, 2.0, 6.0, 2.0]
    # per user: user 1's mean is 1.5; user 3 has none, so the global mean 3.0
    assert impute_missing(df, "rating", "mean", by="user_id")["rating"].tolist() == [1.0, 2.0, 1.5, 6.0, 3.0]
    assert impute_missing(df, "device", "mode")["device"].tolist() == ["app", "app", "app", "web", "web"]
    assert impute_missing(df, "rating", 0.0)["rating"].tolist() == [1.0, 2.0, 0.0, 6.0, 0.0]
    assert impute_missing(df, "device", "constant", fill_value="?")["device"].tolist()[1] == "?"
    assert df["rating"].isna().sum() == 2  # the input is untouched
    with pytest.raises(ValueError, match="fill_value='unknown'"):
        impute_missing(df, "device", "unknown")
    with pytest.raises(ValueError, match="numeric"):
        impute_missing(df, "device", "mean")
    with pytest.raises(ValueError, match="fill_value"):
        impute_missing(df, "rating", "constant")


# ----------------------------------------------------------------------------- feedback
def test_normalize_ratings_center_and_minmax():
    df = pd.DataFrame({"user_id": [1, 1, 1, 2, 2, 3], "item_id": [1, 2, 3, 1, 2, 1], "timestamp": range(6),
                       "rating": [1.0, 3.0, 5.0, 4.0, 4.0, np.nan]})
    center = normalize_ratings(df)["rating_norm"].tolist()
    assert center[:5] == [-2.0, 0.0, 2.0, 0.0, 0.0] and np.isnan(center[5])
    minmax = normalize_ratings(df, "minmax", out="rating")["rating"].tolist()
    assert minmax[:5] == [0.0, 0.5, 1.0, 0.5, 0.5] and np.isnan(minmax[5])  # constant user -> 0.5
    with pytest.raises(ValueError, match="method"):
        normalize_ratings(df, "zscore")


def test_to_implicit():
    df = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [1, 2, 3], "timestamp": [1, 2, 3], "rating": [4.0, 3.5, 5.0]})
    out = to_implicit(df)
    assert out["item_id"].tolist() == [1, 3] and "rating" not in out.columns
    assert to_implicit(df, threshold=3.5, keep_rating=True)["rating"].tolist() == [4.0, 3.5, 5.0]
    assert len(to_implicit(df, threshold=None)) == 3
    with pytest.raises(ValueError, match="'rating'"):
        to_implicit(df.drop(columns="rating"))


def test_k_core_removes_a_chain():
    # k=2: user 4 has one row -> item 12 drops to one -> user 3 drops to one -> (3, 11) goes.
    # A single pass would keep users 3's rows; only the fixed point leaves users 1, 2 x items 10, 11.
    df = log([(1, 10, 1), (1, 11, 2), (2, 10, 3), (2, 11, 4), (3, 11, 5), (3, 12, 6), (4, 12, 7)])
    out = k_core(df, k=2)
    assert list(map(tuple, out[["user_id", "item_id"]].to_numpy())) == [(1, 10), (1, 11), (2, 10), (2, 11)]
    assert len(k_core(df, k=1)) == 7
    assert len(k_core(df, k=2, item_k=1)) == 6  # only user 4 goes
    assert len(k_core(df, k=3)) == 0
    for bad in (0, 2.5, True, "5"):
        with pytest.raises(ValueError, match="k must be an int >= 1"):
            k_core(df, k=bad)


# ----------------------------------------------------------------------------- ids
def test_remap_ids_contiguous_from_one_with_inverse():
    df = log([(100, "b", 1), (7, "a", 2), (7, "c", 3), (55, "b", 4)])
    items = pd.DataFrame({"item_id": ["a", "b", "c", "z"], "title": ["A", "B", "C", "Z"]})
    out, maps = remap_ids(df, items=items)
    assert out["user_id"].tolist() == [3, 1, 1, 2] and out["item_id"].tolist() == [2, 1, 3, 2]
    assert out["user_id"].dtype == np.int64 and out["item_id"].dtype == np.int64
    assert (maps.n_users, maps.n_items) == (3, 4)
    assert maps.user2idx == {7: 1, 55: 2, 100: 3} and maps.idx2item == {1: "a", 2: "b", 3: "c", 4: "z"}
    assert maps.apply(items)["item_id"].tolist() == [1, 2, 3, 4]  # the cold-start item z gets 4
    assert maps.invert(out).equals(df)
    with pytest.raises(ValueError, match="not in the maps"):
        maps.apply(log([(999, "a", 1)]))
    assert maps.apply(log([(999, "a", 1), (7, "q", 1), (7, "a", 5)]), unknown="drop")["timestamp"].tolist() == [5]
    with pytest.raises(ValueError, match="padding"):
        maps.invert(pd.DataFrame({"item_id": [0]}))
    assert isinstance(maps, IdMaps)


def test_remap_ids_keeps_movielens_style_ids():
    df = log([(2, 3, 1), (1, 1, 2), (3, 2, 3)])
    out, maps = remap_ids(df)
    assert out.equals(df) and maps.n_items == 3


# ----------------------------------------------------------------------------- context and sequences
def test_context_features_hand_values():
    day, hour = 86400, 3600
    df = pd.DataFrame({
        "user_id": [1, 1, 1, 1, 2],
        "item_id": [1, 2, 3, 4, 1],
        # user 1 in row order: t=day+hour+7, t=0, t=day+hour (tie), t=day+hour; user 2 at t=4 days
        "timestamp": [day + hour + 7, 0, day + hour, day + hour, 4 * day],
        "behavior": ["purchase", "browse", "cart", "favorite", "browse"],
    })
    out = add_context_features(df)
    assert out["hour"].tolist() == [1, 0, 1, 1, 0]
    assert out["weekday"].tolist() == [4, 3, 4, 4, 0]  # 1970-01-01 Thursday, 01-02 Friday, 01-05 Monday
    # time order of user 1: t=0 (item 2), day+hour (item 3), day+hour (item 4, tie), day+hour+7 (item 1)
    assert out["gap"].tolist() == [7, 0, day + hour, 0, 0]
    assert out["gap_bucket"].tolist() == [3, 0, 16, 0, 0]  # floor(log2(8)) = 3, floor(log2(90001)) = 16
    assert out["behavior_code"].tolist() == [4, 1, 3, 2, 1]
    assert all(out[c].dtype == np.int64 for c in ("hour", "weekday", "gap", "gap_bucket", "behavior_code"))


def test_context_features_agree_with_pandas_datetimes():
    rng = np.random.default_rng(0)
    ts = rng.integers(0, 2_000_000_000, size=500)
    df = pd.DataFrame({"user_id": rng.integers(1, 20, 500), "item_id": rng.integers(1, 50, 500), "timestamp": ts})
    out = add_context_features(df)
    when = pd.to_datetime(ts, unit="s", utc=True)
    assert (out["hour"].to_numpy() == when.hour).all() and (out["weekday"].to_numpy() == when.weekday).all()
    gap = out["gap"].to_numpy()
    assert (out["gap_bucket"].to_numpy() == np.minimum(np.floor(np.log2(gap + 1)), 31)).all()
    # gaps recomputed from the sorted log, one user at a time
    sorted_ = out.sort_values(["user_id", "timestamp", "item_id"])
    expected = sorted_.groupby("user_id")["timestamp"].diff().fillna(0).astype(np.int64)
    assert (sorted_["gap"] == expected).all()


def test_context_features_keep_existing_columns_and_reject_unknown_behaviours():
    df = pd.DataFrame({"user_id": [1], "item_id": [1], "timestamp": [0], "hour": [20], "behavior": ["click"]})
    with pytest.raises(ValueError, match="behaviors="):
        add_context_features(df)
    ok = add_context_features(df, behaviors=("click",))
    assert ok["hour"].tolist() == [20] and ok["behavior_code"].tolist() == [1]
    assert add_context_features(df, behaviors=("click",), overwrite=True)["hour"].tolist() == [0]


def test_user_sequences_break_ties_by_item_id_whatever_the_row_order():
    df = pd.DataFrame({"user_id": [2, 1, 1, 1, 1, 2], "item_id": [7, 9, 3, 5, 3, 4],
                       "timestamp": [5, 20, 20, 10, 20, 1], "rating": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]})
    expected = {1: [5, 3, 3, 9], 2: [4, 7]}
    assert user_sequences(df) == expected
    assert user_sequences(df.sample(frac=1.0, random_state=3)) == expected
    # exact duplicates (user 1, item 3, t=20) keep their row order
    assert user_sequences(df, column="rating") == {1: [4.0, 3.0, 5.0, 2.0], 2: [6.0, 1.0]}
    assert list(time_order(df)) == [3, 2, 4, 1, 5, 0]


# ----------------------------------------------------------------------------- the pipeline
def test_preprocess_pipeline():
    df = pd.DataFrame({
        "user_id": [10, 10, 10, 20, 20, 20, 30, 0],
        "item_id": [5, 5, 6, 5, 6, 6, 5, 5],
        "timestamp": [1, 1, 2, 3, 4, 5, 6, 7],
        "rating": [5.0, 5.0, 4.0, 4.0, 2.0, 5.0, 5.0, 5.0],
    })
    out = preprocess(df, rating_range=(1, 5), now=100, k=2, context=True)
    assert out.report.invalid_id == 1
    # duplicates go, user 30 (one row) goes; users 10 and 20 become 1 and 2, items 5 and 6 become 1 and 2
    assert out.interactions[["user_id", "item_id", "timestamp"]].to_numpy().tolist() == [
        [1, 1, 1], [1, 2, 2], [2, 1, 3], [2, 2, 4], [2, 2, 5]]
    assert out.maps.idx2user == {1: 10, 2: 20} and "gap" in out.interactions
    implicit = preprocess(df, now=100, implicit_threshold=4, remap=False)
    assert implicit.maps is None and implicit.interactions["user_id"].tolist() == [10, 10, 20, 20, 30]


@pytest.mark.slow
def test_preprocess_movielens(movielens):
    ratings = movielens.ratings
    out = preprocess(ratings, rating_range=(1, 5), k=5, context=True)
    assert out.report.n_removed == 0
    assert (out.maps.n_users, out.maps.n_items) == (943, 1349)  # 5-core of ML-100k
    assert out.interactions["user_id"].max() == 943 and out.interactions["item_id"].min() == 1
    full = preprocess(ratings)
    assert len(full.interactions) == 100_000 and full.interactions[["user_id", "item_id"]].equals(ratings[["user_id", "item_id"]])
    assert sum(map(len, user_sequences(full.interactions).values())) == 100_000
