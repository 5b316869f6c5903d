"""Checks for exercises/01_data_preprocessing: implicit feedback, k-core, leave-one-out, negatives."""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd

from llmrec_ref.checks._common import call, expect, passed, require


def _log() -> pd.DataFrame:
    # user 1: items 10, 11, 12 at t = 5, 1, 3; user 2: items 10, 13 at t = 2, 2; user 3: item 11.
    return pd.DataFrame({
        "user_id": [1, 1, 1, 2, 2, 3],
        "item_id": [10, 11, 12, 10, 13, 11],
        "rating": [5.0, 4.0, 2.0, 3.0, 4.5, 1.0],
        "timestamp": [5, 1, 3, 2, 2, 9],
    })


def ex1(ns: dict) -> None:
    """``to_implicit(df, threshold)`` keeps rows with rating >= threshold, all columns, new index."""
    name = "Exercise 1"
    fn = require(ns, "to_implicit", name, callable)
    df = _log()
    out = call(fn, name, df.copy(), 4)
    expect(isinstance(out, pd.DataFrame), name, "return a DataFrame (the kept rows), not "
           f"{type(out).__name__}.")
    expect(list(out.columns) == list(df.columns), name,
           "keep every column of the input frame (the split and the features need them).")
    got = sorted(zip(out["user_id"], out["item_id"], strict=False))
    if got == [(1, 10), (2, 13)]:
        expect(False, name, "a rating equal to the threshold counts as positive: use >=, not >.")
    expect(got == [(1, 10), (1, 11), (2, 13)], name,
           f"with threshold 4 the positives are (1,10), (1,11), (2,13); you kept {got}.")
    expect(list(out.index) == list(range(len(out))), name,
           "reset the index (reset_index(drop=True)) so rows are numbered 0..n-1.")
    passed(name, "ratings >= threshold kept as implicit positives")


def _k_core(df: pd.DataFrame, k_user: int, k_item: int, passes: int | None = None) -> list[tuple]:
    """Reference (user, item) pairs of the (k_user, k_item)-core; ``passes=1`` is the one-pass mistake."""
    for _ in range(passes or len(df) + 1):
        users = df["user_id"].map(df["user_id"].value_counts())
        items = df["item_id"].map(df["item_id"].value_counts())
        keep = (users >= k_user) & (items >= k_item)
        if keep.all():
            break
        df = df[keep]
    return sorted(zip(df["user_id"], df["item_id"], strict=True))


def ex2(ns: dict) -> None:
    """``k_core(df, k_user, k_item)`` repeats the filter until every user has >= k_user and every
    item >= k_item interactions."""
    name = "Exercise 2"
    fn = require(ns, "k_core", name, callable)
    try:
        inspect.signature(fn).bind(None, 1, 1)
    except TypeError:
        expect(False, name, "k_core takes three arguments, (df, k_user, k_item): one threshold for the "
               "users' counts and one for the items'.")
    # Users 1-3 have 3 interactions, users 4-5 two; items 10-13 have 4, 3, 3, 3.
    pairs = [(1, 10), (1, 11), (1, 12), (2, 10), (2, 11), (2, 12), (3, 10), (3, 11), (3, 13),
             (4, 12), (4, 13), (5, 10), (5, 13)]
    df = pd.DataFrame(pairs, columns=["user_id", "item_id"]).assign(timestamp=range(len(pairs)))
    out = call(fn, name, df.copy(), 3, 2)
    expect(isinstance(out, pd.DataFrame) and list(out.columns) == list(df.columns), name,
           "return a DataFrame with the input's columns (the kept rows).")
    got = sorted(zip(out["user_id"], out["item_id"], strict=True))
    if got == _k_core(df, 3, 2, passes=1):
        expect(False, name, "one pass is not enough: dropping users 4 and 5 leaves item 13 with one "
               "interaction, dropping it leaves user 3 with two. Repeat the filter until nothing changes.")
    if got == _k_core(df, 2, 3):
        expect(False, name, "the thresholds are swapped: k_user applies to each user's number of "
                            "interactions, k_item to each item's.")
    truth = _k_core(df, 3, 2)
    expect(got == truth, name, f"with k_user = 3, k_item = 2 the core is {truth}; you returned {got}.")
    out2 = call(fn, name, df.copy(), 2, 4)
    expect(len(out2) == 0, name, "with k_item = 4 only item 10 qualifies at first, and then no user "
           "keeps two interactions: the core is empty. Keep filtering until nothing changes, even to zero rows.")
    expect(len(call(fn, name, df.copy(), 1, 1)) == len(df), name, "with k_user = k_item = 1 nothing should be removed.")
    passed(name, "a (k_user, k_item)-core, filtered until stable")


def ex3(ns: dict) -> None:
    """``leave_one_out(df) -> (train, valid, test)``: per user, last by time -> test, second last -> valid."""
    name = "Exercise 3"
    fn = require(ns, "leave_one_out", name, callable)
    df = pd.DataFrame({
        "user_id": [1, 1, 1, 1, 2, 2, 2],
        "item_id": [10, 11, 12, 13, 10, 12, 14],
        "timestamp": [40, 10, 30, 20, 3, 1, 2],
    })
    out = call(fn, name, df.copy())
    expect(isinstance(out, tuple) and len(out) == 3, name, "return a tuple (train, valid, test).")
    train, valid, test = out
    test_pairs = sorted(zip(test["user_id"], test["item_id"], strict=False))
    valid_pairs = sorted(zip(valid["user_id"], valid["item_id"], strict=False))
    if test_pairs == [(1, 13), (2, 14)]:
        expect(False, name, "you took each user's last *row*; sort by timestamp first - the "
               "log is not in time order.")
    expect(test_pairs == [(1, 10), (2, 10)], name,
           f"test must hold each user's latest interaction, (1,10) and (2,10); you have {test_pairs}.")
    expect(valid_pairs == [(1, 12), (2, 14)], name,
           f"valid must hold each user's second latest interaction; you have {valid_pairs}.")
    expect(len(train) + len(valid) + len(test) == len(df), name,
           "every interaction must land in exactly one of train, valid, test.")
    for user, group in train.groupby("user_id"):
        later = test.loc[test["user_id"] == user, "timestamp"].min()
        expect(bool((group["timestamp"] < later).all()), name,
               f"user {user} has a training interaction later than its test one: that is leakage.")
    passed(name, "time-ordered leave-one-out without leakage")


def ex4(ns: dict) -> None:
    """``sample_negatives(positives, n_items, n, seed)``: n ids in 1..n_items, none a positive."""
    name = "Exercise 4"
    fn = require(ns, "sample_negatives", name, callable)
    positives = {1, 2, 3, 5, 8}
    draws = [call(fn, name, set(positives), 10, 200, seed) for seed in (0, 1)]
    for draw in draws:
        arr = np.asarray(draw)
        expect(arr.shape == (200,), name, f"return n = 200 ids, got shape {arr.shape}.")
        expect(not (arr == 0).any(), name, "id 0 is the padding id, never an item: sample from 1..n_items.")
        expect(bool(((arr >= 1) & (arr <= 10)).all()), name, "ids must lie in 1..n_items (inclusive).")
        hit = sorted(set(arr.tolist()) & positives)
        expect(not hit, name, f"negatives must exclude the user's positives; you sampled {hit}.")
        expect(set(arr.tolist()) == {4, 6, 7, 9, 10}, name,
               "with 200 draws every non-positive item (4, 6, 7, 9, 10) should appear: sample "
               "uniformly over the allowed ids.")
    again = np.asarray(call(fn, name, set(positives), 10, 200, 0))
    expect(bool((again == np.asarray(draws[0])).all()), name,
           "the same seed must give the same negatives: use np.random.default_rng(seed).")
    passed(name, "uniform negatives that exclude positives and padding")
