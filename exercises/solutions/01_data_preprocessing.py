# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Exercises 01 · Data preprocessing
#
# Four exercises on the steps of `notebooks/01_data_preprocessing.ipynb`. Write your answer in
# the cell marked `# your code here`, run it, then run the check below it: the check says
# "passed", or explains what is wrong. The checks live in `llmrec_ref.checks.ch01`.
#
# Use pandas and numpy only (not `llmrec_ref.preprocess` or `llmrec_ref.split`: the point is
# to write them yourself).

# %%
import numpy as np
import pandas as pd

from llmrec_ref.checks import ch01

# %% [markdown]
# ## Exercise 1 · Implicit feedback (5 min)
#
# Write `to_implicit(df, threshold)` that keeps the rows whose `rating` is **at least**
# `threshold` (they become positives), keeps every column, and returns a frame with a fresh
# index `0..n-1`. Do not modify `df`.

# %% tags=["solution"]
def to_implicit(df: pd.DataFrame, threshold: float) -> pd.DataFrame:
    return df[df["rating"] >= threshold].reset_index(drop=True)


# %%
ch01.ex1(globals())

# %% [markdown]
# ## Exercise 2 · A k-core with two thresholds (15 min)
#
# The chapter's k-core asks the same $k$ of users and items. Real pipelines often ask more of
# one side, e.g. users with at least 5 interactions (so that a history exists) but items with
# at least 2. Write `k_core(df, k_user, k_item)` that returns the rows of the largest sub-log in
# which every user has at least `k_user` interactions and every item at least `k_item`.
# Think first: on the check's log, why does dropping two users with `k_user = 3` end up
# removing a third one?

# %% tags=["solution"]
def k_core(df: pd.DataFrame, k_user: int, k_item: int) -> pd.DataFrame:
    while True:
        user_n = df["user_id"].map(df["user_id"].value_counts())
        item_n = df["item_id"].map(df["item_id"].value_counts())
        keep = (user_n >= k_user) & (item_n >= k_item)
        if keep.all():
            return df.reset_index(drop=True)
        df = df[keep]


# %%
ch01.ex2(globals())

# %% [markdown]
# ## Exercise 3 · A leakage-free leave-one-out split (10 min)
#
# Write `leave_one_out(df)` returning a tuple `(train, valid, test)`: per user, the latest
# interaction (by `timestamp`) goes to `test`, the second latest to `valid`, the rest to
# `train`. The log is **not** sorted by time. Every row must land in exactly one part.

# %% tags=["solution"]
def leave_one_out(df: pd.DataFrame):
    df = df.sort_values(["user_id", "timestamp"], kind="stable")
    from_end = df.groupby("user_id").cumcount(ascending=False)
    return df[from_end >= 2], df[from_end == 1], df[from_end == 0]


# %%
ch01.ex3(globals())

# %% [markdown]
# ## Exercise 4 · Negative sampling (10 min)
#
# Write `sample_negatives(positives, n_items, n, seed)` returning a numpy array of `n` item ids
# drawn uniformly (with replacement) from the items `1..n_items` that are **not** in the set
# `positives`. Id 0 is padding, never an item. The same `seed` must give the same draw.

# %% tags=["solution"]
def sample_negatives(positives: set, n_items: int, n: int, seed: int) -> np.ndarray:
    allowed = np.setdiff1d(np.arange(1, n_items + 1), sorted(positives))
    return np.random.default_rng(seed).choice(allowed, size=n)


# %%
ch01.ex4(globals())
