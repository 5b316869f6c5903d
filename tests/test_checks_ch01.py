"""The chapter 01 exercise checks accept right answers and explain typical wrong ones."""

from __future__ import annotations

import numpy as np
import pytest
from check_contract import (  # noqa: F401 - the generic tests, run on RIGHT / WRONG below
    test_missing_answer_fails_with_a_hint,
    test_right_answer_passes,
    test_typical_wrong_answer_fails_with_its_hint,
)

from llmrec_ref.checks import ExerciseFailed, ch01


def to_implicit(df, threshold):
    return df[df["rating"] >= threshold].reset_index(drop=True)


def to_implicit_strict(df, threshold):
    return df[df["rating"] > threshold].reset_index(drop=True)


def k_core(df, k_user, k_item):
    while True:
        users = df["user_id"].map(df["user_id"].value_counts())
        items = df["item_id"].map(df["item_id"].value_counts())
        keep = (users >= k_user) & (items >= k_item)
        if keep.all():
            return df.reset_index(drop=True)
        df = df[keep]


def k_core_one_pass(df, k_user, k_item):
    users = df["user_id"].map(df["user_id"].value_counts())
    items = df["item_id"].map(df["item_id"].value_counts())
    return df[(users >= k_user) & (items >= k_item)].reset_index(drop=True)


def k_core_swapped(df, k_user, k_item):
    return k_core(df, k_item, k_user)


def k_core_single_k(df, k):
    return k_core(df, k, k)


def leave_one_out(df):
    df = df.sort_values(["user_id", "timestamp"], kind="stable")
    rank = df.groupby("user_id").cumcount(ascending=False)
    return df[rank >= 2], df[rank == 1], df[rank == 0]


def leave_one_out_unsorted(df):
    rank = df.groupby("user_id").cumcount(ascending=False)
    return df[rank >= 2], df[rank == 1], df[rank == 0]


def sample_negatives(positives, n_items, n, seed):
    allowed = np.array(sorted(set(range(1, n_items + 1)) - set(positives)))
    return np.random.default_rng(seed).choice(allowed, size=n)


def sample_negatives_with_padding(positives, n_items, n, seed):
    allowed = np.array(sorted(set(range(0, n_items + 1)) - set(positives)))
    return np.random.default_rng(seed).choice(allowed, size=n)


RIGHT = {
    ch01.ex1: {"to_implicit": to_implicit},
    ch01.ex2: {"k_core": k_core},
    ch01.ex3: {"leave_one_out": leave_one_out},
    ch01.ex4: {"sample_negatives": sample_negatives},
}
WRONG = [
    (ch01.ex1, {"to_implicit": to_implicit_strict}, "use >=, not >"),
    (ch01.ex2, {"k_core": k_core_one_pass}, "one pass is not enough"),
    (ch01.ex2, {"k_core": k_core_swapped}, "thresholds are swapped"),
    (ch01.ex2, {"k_core": k_core_single_k}, r"three arguments, \(df, k_user, k_item\)"),
    (ch01.ex3, {"leave_one_out": leave_one_out_unsorted}, "sort by timestamp first"),
    (ch01.ex4, {"sample_negatives": sample_negatives_with_padding}, "padding id"),
]


def test_an_answer_that_raises_is_reported_not_crashed():
    def broken(df, threshold):
        raise KeyError("rating")

    with pytest.raises(ExerciseFailed, match="raised KeyError"):
        ch01.ex1({"to_implicit": broken})
