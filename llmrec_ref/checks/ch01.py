"""Checks for exercises/01_data_preprocessing: implicit feedback, k-core, leave-one-out, negatives."""

from __future__ import annotations

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


def ex2(ns: dict) -> None:
    """``k_core(df, k)`` repeats the filter until every user and item has >= k interactions."""
    name = "Exercise 2"
    fn = require(ns, "k_core", name, callable)
    # First a log where one pass suffices: user 3 and item 13 (one interaction each) go.
    df = pd.DataFrame({
        "user_id": [1, 1, 1, 2, 2, 3, 4, 4],
        "item_id": [10, 11, 12, 11, 12, 13, 10, 11],
        "timestamp": range(8),
    })
    out = call(fn, name, df.copy(), 2)
    got = sorted(zip(out["user_id"], out["item_id"], strict=False))
    truth = [(1, 10), (1, 11), (1, 12), (2, 11), (2, 12), (4, 10), (4, 11)]
    expect(got == truth, name, f"on the first example the 2-core is {truth}; you returned {got}.")
    df2 = pd.DataFrame({
        "user_id": [1, 1, 2, 2, 3, 3, 4],
        "item_id": [10, 11, 10, 11, 11, 12, 12],
        "timestamp": range(7),
    })
    # Then a chain: user 4 has 1 interaction -> removed; item 12 then has 1 -> removed; user 3
    # then has 1 -> removed. The 2-core is users 1, 2 with items 10, 11.
    out2 = call(fn, name, df2.copy(), 2)
    got2 = sorted(zip(out2["user_id"], out2["item_id"], strict=False))
    if got2 == [(1, 10), (1, 11), (2, 10), (2, 11), (3, 11), (3, 12)]:
        expect(False, name, "one pass is not enough: removing a user can push an item below k "
               "(and back). Repeat the filter until nothing changes.")
    expect(got2 == [(1, 10), (1, 11), (2, 10), (2, 11)], name,
           f"the 2-core of the second example is users 1-2 x items 10-11; you returned {got2}.")
    out3 = call(fn, name, df2.copy(), 1)
    expect(len(out3) == len(df2), name, "with k = 1 nothing should be removed.")
    passed(name, "k-core filtering repeats until stable")


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
