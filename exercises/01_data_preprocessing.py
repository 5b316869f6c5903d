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
# Five exercises on `notebooks/01_data_preprocessing.ipynb`, each a variation the chapter does
# not write out (about 55 min in all). Write your answer in the cell marked `# your code here`,
# run it, then run the check below it: the check says "passed", or explains what is wrong. The
# checks (`llmrec_ref.checks.ch01`) draw fresh random cases every time they run, so an answer
# has to work in general, not on one example.
#
# Use pandas and numpy only (not `llmrec_ref.preprocess` or `llmrec_ref.split`: the point is
# to write them yourself).

# %%
import numpy as np
import pandas as pd

from llmrec_ref.checks import ch01

# %% [markdown]
# ## Exercise 1 · ★ Positives against each user's own scale (10 min)
#
# Section 4 turns ratings into positives with one threshold for everybody ($r_{ui} \ge 4$), and
# notes that a harsh rater's 3 may mean "liked it". Write `to_implicit_per_user(df)` that keeps
# the rows whose `rating` is **at least that user's mean rating** $\bar r_u$ (the mean over all of
# the user's rows in `df`), keeps every column, and returns a frame with a fresh index `0..n-1`.
# **Do not modify `df`** (the check fingerprints it before and after your call).

# %% tags=["stub"]
# your code here

# %%
ch01.ex1(globals())

# %% [markdown]
# ## Exercise 2 · ★★ A k-core over distinct items and users (15 min)
#
# The chapter's k-core counts **rows**. Logs of views or plays repeat events: a user who played
# the same film three times has three rows but one item. Write `k_core_distinct(df, k)` that
# returns the rows of the largest sub-log in which every user has at least `k` **distinct**
# items and every item at least `k` **distinct** users. Keep every row of the users and items
# that survive (repeats included), every column, a fresh index; do not modify `df`.
#
# Think first: on the log below (k = 2), which users survive the chapter's row-count k-core, and
# which survive yours? Run the cell under the check to compare.

# %% tags=["stub"]
# your code here

# %%
ch01.ex2(globals())

# %% tags=["uses-answer"]
# Uncomment this cell (select it, Ctrl+/) and run it once your answer passes its check.
# plays = pd.DataFrame({"user_id": [1, 1, 1, 2, 2, 3, 3, 3, 4, 4],
#                       "item_id": [10, 11, 12, 10, 10, 10, 11, 12, 11, 12]})
# print("users kept (distinct counts, k = 2):", sorted(k_core_distinct(plays, 2)["user_id"].unique().tolist()))

# %% [markdown]
# User 2 has two rows, but they are the same film: one distinct item, so a row-count 2-core keeps
# them and yours drops them. Item 10 still has two distinct users (1 and 3), items 11 and 12
# three each, so nothing else goes.
#
# ## Exercise 3 · ★★ Which users does a split leak? (10 min)
#
# For next-item prediction a split leaks a user when the model trains on something that user did
# **after** something it is asked to predict. Write `leaky_users(train, test)` returning the
# sorted list of user ids that have at least one `train` row **strictly later** (`timestamp`)
# than their **own earliest** `test` row. A user with no test row cannot leak; a train row at
# the same second as the test row is not later. Do not modify `train` or `test`.

# %% tags=["stub"]
# your code here

# %%
ch01.ex3(globals())

# %% [markdown]
# ## Exercise 4 · ★ Which protocols leak? (5 min, answer before running anything)
#
# For a next-item task, which of these splits can give a user a training interaction later than
# one of their held-out ones?
#
# - (a) leave-one-out by time: each user's latest interaction is the test item, the one before
#   it the validation item;
# - (b) a temporal split: everything before one global moment is train, everything after is test;
# - (c) a per-user random 80/10/10 split (each user's rows shuffled, then cut);
# - (d) the naive 80/10/10 split of all rows of section 6;
# - (e) leave-one-out by position: each user's last *row* of a log sorted by `item_id`.
#
# Set `leaking_protocols` to a string of the letters, e.g. `"ab"`.

# %% tags=["stub"]
# your code here

# %%
ch01.ex4(globals())

# %% [markdown]
# ## Exercise 5 · ★★★ Popularity negatives (15 min)
#
# Section 7 draws negatives uniformly and mentions popularity sampling,
# $p(i) \propto \text{count}(i)^{\alpha}$, without writing it. Write
# `popularity_negatives(counts, positives, n, alpha, seed)`: `counts` is an int numpy array of
# length `n_items + 1` where `counts[i]` is item `i`'s number of interactions, and `counts[0]`
# counts **padding slots** (it came from a `bincount` of padded histories: it is not an item).
# Return a numpy array of `n` item ids drawn **with replacement** from the items `1..n_items`
# that are not in the set `positives`, with $p(i) \propto \text{counts}[i]^{\alpha}$ among them.
# `alpha = 0` is uniform sampling; with `alpha > 0` an item nobody has seen is never drawn.
# The same `seed` must give the same draw and another seed another one. Do not modify `counts`
# or `positives`.

# %% tags=["stub"]
# your code here

# %%
ch01.ex5(globals())
