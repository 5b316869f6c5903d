# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
# ---

# %% [markdown]
# # Exercises 05 · Losses, gradients and decoding
#
# Four exercises on `notebooks/05_loss_derivation.ipynb`. Write your answer in the cell marked
# `# your code here`, run it, then run the check below it: the check says "passed", or explains
# what is wrong. The checks live in `llmrec_ref.checks.ch05`.
#
# Use torch only (not `llmrec_ref.losses` or `llmrec_ref.decode`: the point is to write them
# yourself, then compare).

# %%
import pandas as pd
import torch

from llmrec_ref.checks import ch05

# %% [markdown]
# ## Exercise 1 · The BPR gradient by hand (10 min)
#
# BPR scores a positive item against a negative one: for B pairs,
# $L = \frac{1}{B}\sum_b -\log\sigma(s^+_b - s^-_b)$.
# Derive $\partial L/\partial s^+_b$ and $\partial L/\partial s^-_b$ on paper (use
# $\sigma'(x) = \sigma(x)(1-\sigma(x))$ and $1 - \sigma(x) = \sigma(-x)$), then write
# `bpr_grad(pos, neg)` returning the tuple `(grad_pos, grad_neg)` for `(B,)` tensors, **without**
# autograd. The check compares it with `torch.autograd`.

# %% tags=["stub"]
# your code here

# %%
ch05.ex1(globals())

# %% [markdown]
# ## Exercise 2 · Top-K without the items the user has seen (5 min)
#
# Write `top_k_unseen(scores, k, seen)`: `scores` is a float `(n_users, n_items)` tensor, `seen`
# a boolean tensor of the same shape (True = the user already interacted with the item). Return
# the `(n_users, k)` indices of the k best **unseen** items, best first; on equal scores the lower
# index comes first (that is the rule `llmrec_ref.metrics` uses).

# %% tags=["stub"]
# your code here

# %%
ch05.ex2(globals())

# %% [markdown]
# ## Exercise 3 · Find the leak (10 min)
#
# This evaluation loop reports a suspiciously good test score. Read it, find the line that
# lets the model see the answer, and write `history_for_test(train, valid, test)` returning the
# frame the model may condition on when it is scored on `test` (the fixed version of the
# `history = ...` line).
#
# ```python
# split = leave_one_out(log)
# model.fit(split.train, split.valid)
# history = pd.concat([split.train, split.valid, split.test])   # <- ?
# scores = model.score(users, history)
# hits = top_k(scores, 10, exclude=None) == test_items[:, None]
# ```

# %% tags=["stub"]
# your code here

# %%
ch05.ex3(globals())

# %% [markdown]
# ## Exercise 4 · The softmax gradient (10 min)
#
# For logits $z \in \mathbb{R}^{N\times C}$ and targets $y$, the mean cross-entropy is
# $L = \frac{1}{N}\sum_n -\log \mathrm{softmax}(z_n)_{y_n}$. Show that
# $\partial L/\partial z_n = (\mathrm{softmax}(z_n) - e_{y_n}) / N$, then write
# `softmax_grad(logits, target)` (no autograd).

# %% tags=["stub"]
# your code here

# %%
ch05.ex4(globals())
