"""The chapter 01 exercise checks accept right answers and explain typical wrong ones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from chapter_code import chapter_function
from check_contract import (  # noqa: F401 - the generic tests, run on RIGHT / WRONG below
    test_missing_answer_fails_with_a_hint,
    test_right_answer_passes,
    test_typical_wrong_answer_fails_with_its_hint,
)

from llmrec_ref.checks import ExerciseFailed, ch01


# ------------------------------------------------------------------ exercise 1
def to_implicit_per_user(df):
    mean = df.groupby("user_id")["rating"].transform("mean")
    return df[df["rating"] >= mean].reset_index(drop=True)


def per_user_strict(df):
    mean = df.groupby("user_id")["rating"].transform("mean")
    return df[df["rating"] > mean].reset_index(drop=True)


def global_mean(df):
    return df[df["rating"] >= df["rating"].mean()].reset_index(drop=True)


def per_user_mutating(df):
    df["mean"] = df.groupby("user_id")["rating"].transform("mean")
    return df[df["rating"] >= df["mean"]].drop(columns="mean").reset_index(drop=True)


def per_user_old_index(df):
    return df[df["rating"] >= df.groupby("user_id")["rating"].transform("mean")]


def per_user_threshold_4(df):
    return df[df["rating"] >= 4].reset_index(drop=True)


# ------------------------------------------------------------------ exercise 2
def k_core_distinct(df, k):
    while True:
        n_items = df["user_id"].map(df.groupby("user_id")["item_id"].nunique())
        n_users = df["item_id"].map(df.groupby("item_id")["user_id"].nunique())
        keep = (n_items >= k) & (n_users >= k)
        if keep.all():
            return df.reset_index(drop=True)
        df = df[keep]


k_core_rows = chapter_function("01", "k_core_inline")  # the chapter's k-core: counts rows


def k_core_one_pass(df, k):
    n_items = df["user_id"].map(df.groupby("user_id")["item_id"].nunique())
    n_users = df["item_id"].map(df.groupby("item_id")["user_id"].nunique())
    return df[(n_items >= k) & (n_users >= k)].reset_index(drop=True)


def k_core_dedup(df, k):
    return k_core_distinct(df.drop_duplicates(["user_id", "item_id"]), k)


def k_core_strict(df, k):
    return k_core_distinct(df, k + 1)


def k_core_mutating(df, k):
    df.sort_values("event", inplace=True)
    return k_core_distinct(df, k)


# ------------------------------------------------------------------ exercise 3
def leaky_users(train, test):
    first_test = train["user_id"].map(test.groupby("user_id")["timestamp"].min())
    return sorted(train.loc[train["timestamp"] > first_test, "user_id"].unique().tolist())


def leaky_users_ties(train, test):
    first_test = train["user_id"].map(test.groupby("user_id")["timestamp"].min())
    return sorted(train.loc[train["timestamp"] >= first_test, "user_id"].unique().tolist())


def leaky_users_latest_test(train, test):
    last_test = train["user_id"].map(test.groupby("user_id")["timestamp"].max())
    return sorted(train.loc[train["timestamp"] > last_test, "user_id"].unique().tolist())


def leaky_users_global(train, test):
    return sorted(train.loc[train["timestamp"] > test["timestamp"].min(), "user_id"].unique().tolist())


def leaky_users_rows(train, test):
    first_test = train["user_id"].map(test.groupby("user_id")["timestamp"].min())
    return train.loc[train["timestamp"] > first_test, "user_id"].tolist()


def leaky_users_mutating(train, test):
    train["first_test"] = train["user_id"].map(test.groupby("user_id")["timestamp"].min())
    return sorted(train.loc[train["timestamp"] > train["first_test"], "user_id"].unique().tolist())


# ------------------------------------------------------------------ exercise 5
def popularity_negatives(counts, positives, n, alpha, seed):
    weight = counts[1:].astype(float) ** alpha
    weight[[i - 1 for i in positives]] = 0.0
    return np.random.default_rng(seed).choice(np.arange(1, len(counts)), size=n, p=weight / weight.sum())


def negatives_uniform(counts, positives, n, alpha, seed):
    allowed = np.setdiff1d(np.arange(1, len(counts)), sorted(positives))
    return np.random.default_rng(seed).choice(allowed, size=n)


def negatives_with_padding(counts, positives, n, alpha, seed):
    weight = counts.astype(float) ** alpha
    weight[sorted(positives)] = 0.0
    return np.random.default_rng(seed).choice(np.arange(len(counts)), size=n, p=weight / weight.sum())


def negatives_dropped_after(counts, positives, n, alpha, seed):
    weight = counts[1:].astype(float) ** alpha
    draw = np.random.default_rng(seed).choice(np.arange(1, len(counts)), size=n, p=weight / weight.sum())
    return draw[~np.isin(draw, sorted(positives))]


def negatives_global_rng(counts, positives, n, alpha, seed):
    weight = counts[1:].astype(float) ** alpha
    weight[[i - 1 for i in positives]] = 0.0
    return np.random.choice(np.arange(1, len(counts)), size=n, p=weight / weight.sum())


def negatives_fixed_seed(counts, positives, n, alpha, seed):
    return popularity_negatives(counts, positives, n, alpha, 0)


def negatives_mutating(counts, positives, n, alpha, seed):
    counts[0] = 0
    return popularity_negatives(counts, positives, n, alpha, seed)


def negatives_zero_count_excluded(counts, positives, n, alpha, seed):  # alpha = 0 should keep unseen items
    weight = np.where(counts[1:] > 0, counts[1:].astype(float) ** alpha, 0.0)
    weight[[i - 1 for i in positives]] = 0.0
    return np.random.default_rng(seed).choice(np.arange(1, len(counts)), size=n, p=weight / weight.sum())


RIGHT = {
    ch01.ex1: {"to_implicit_per_user": to_implicit_per_user},
    ch01.ex2: {"k_core_distinct": k_core_distinct},
    ch01.ex3: {"leaky_users": leaky_users},
    ch01.ex4: {"leaking_protocols": "c, d, e"},
    ch01.ex5: {"popularity_negatives": popularity_negatives},
}
WRONG = [
    (ch01.ex1, {"to_implicit_per_user": per_user_strict}, "use >=, not >"),
    (ch01.ex1, {"to_implicit_per_user": global_mean}, "its own user's mean"),
    (ch01.ex1, {"to_implicit_per_user": per_user_mutating}, "modified its input"),
    (ch01.ex1, {"to_implicit_per_user": per_user_old_index}, "reset the index"),
    (ch01.ex1, {"to_implicit_per_user": per_user_threshold_4}, "one number for everybody"),
    (ch01.ex2, {"k_core_distinct": k_core_rows}, "distinct item"),
    (ch01.ex2, {"k_core_distinct": k_core_one_pass}, "one pass is not enough"),
    (ch01.ex2, {"k_core_distinct": k_core_dedup}, "repeated events included"),
    (ch01.ex2, {"k_core_distinct": k_core_strict}, "smaller than it must be"),
    (ch01.ex2, {"k_core_distinct": k_core_mutating}, "modified its input"),
    (ch01.ex3, {"leaky_users": leaky_users_ties}, "strictly"),
    (ch01.ex3, {"leaky_users": leaky_users_latest_test}, r"\*earliest\*"),
    (ch01.ex3, {"leaky_users": leaky_users_global}, "their own test interactions"),
    (ch01.ex3, {"leaky_users": leaky_users_rows}, "each user once"),
    (ch01.ex3, {"leaky_users": leaky_users_mutating}, "modified its input"),
    (ch01.ex4, {"leaking_protocols": "d"}, "missed a protocol that leaks"),
    (ch01.ex4, {"leaking_protocols": "cd"}, "row order is not necessarily its time order"),
    (ch01.ex4, {"leaking_protocols": "acde"}, "included a protocol that cannot leak"),
    (ch01.ex4, {"leaking_protocols": "c, d, f"}, "letters among a-e"),
    (ch01.ex5, {"popularity_negatives": negatives_uniform}, "your draw is uniform"),
    (ch01.ex5, {"popularity_negatives": negatives_with_padding}, "id 0 is padding"),
    (ch01.ex5, {"popularity_negatives": negatives_dropped_after}, "exclude them before drawing"),
    (ch01.ex5, {"popularity_negatives": negatives_global_rng}, "same seed must give the same draw"),
    (ch01.ex5, {"popularity_negatives": negatives_fixed_seed}, "another seed must give another draw"),
    (ch01.ex5, {"popularity_negatives": negatives_mutating}, "modified `counts`"),
    (ch01.ex5, {"popularity_negatives": negatives_zero_count_excluded}, "0 \\*\\* 0 = 1"),
]


def test_an_answer_that_raises_is_reported_not_crashed():
    def broken(df):
        raise KeyError("rating")

    with pytest.raises(ExerciseFailed, match="raised KeyError"):
        ch01.ex1({"to_implicit_per_user": broken})


def test_checks_draw_fresh_cases_so_a_hard_coded_answer_fails():
    seen = []

    def remember(df):
        seen.append(sorted(df["event"].tolist()))
        return to_implicit_per_user(df)

    ch01.ex1({"to_implicit_per_user": remember})
    ch01.ex1({"to_implicit_per_user": remember})
    assert seen[:3] != seen[3:]
    frozen = pd.DataFrame(seen[:1])  # an answer that returns one remembered frame fails
    with pytest.raises(ExerciseFailed):
        ch01.ex1({"to_implicit_per_user": lambda df: frozen})
