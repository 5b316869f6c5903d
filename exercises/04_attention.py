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
# # Exercises 04 · Attention
#
# Four exercises on `notebooks/04_attention.ipynb`. Write your answer in the cell marked
# `# your code here`, run it, then run the check below it: the check says "passed", or
# explains what is wrong. The checks live in `llmrec_ref.checks.ch04`.
#
# Use plain torch (not `F.scaled_dot_product_attention` or `llmrec_ref.attention`: the point
# is to write them yourself).

# %%
import math

import torch

from llmrec_ref.checks import ch04

# %% [markdown]
# ## Exercise 1 · Padded keys get zero weight (10 min)
#
# Write `masked_attention(q, k, v, key_mask)` returning `(out, weights)` for
# `q` (B, T_q, d), `k` (B, T_k, d), `v` (B, T_k, d_v) and a bool `key_mask` (B, T_k) that is
# True for real items and False for padding:
#
# - weights = softmax($q k^\top / \sqrt{d}$) over the keys, with **exactly 0** on padded keys;
# - a query whose keys are *all* padding gets all-zero weights and a zero output (not NaN);
# - out = weights @ v, shape (B, T_q, d_v).

# %% tags=["stub"]
# your code here

# %%
ch04.ex1(globals())

# %% [markdown]
# ## Exercise 2 · Split and merge heads (10 min)
#
# Multi-head attention with $h$ heads gives head $i$ the features $i\,d/h \dots (i+1)\,d/h - 1$
# of every position (the layout of `torch.nn.MultiheadAttention`). Write
# `split_heads(x, n_heads)`: (B, T, d) -> (B, h, T, d/h), and `merge_heads(x)`:
# (B, h, T, d/h) -> (B, T, d), its inverse.

# %% tags=["stub"]
# your code here

# %%
ch04.ex2(globals())

# %% [markdown]
# ## Exercise 3 · Find the bug (5 min)
#
# A colleague's attention function trains badly when the model gets wider. Run the cell
# below, find what is missing, and write the corrected version as `fixed_attention(q, k, v)`.

# %%
def buggy_attention(q, k, v):
    scores = q @ k.transpose(-2, -1)
    return scores.softmax(-1) @ v


g = torch.Generator().manual_seed(0)
for d in (4, 64, 1024):
    q, k = torch.randn(1, 1, d, generator=g), torch.randn(1, 8, d, generator=g)
    w = (q @ k.transpose(-2, -1)).softmax(-1)
    print(f"d = {d:4d}: largest of 8 weights = {w.max().item():.2f}")

# %% tags=["stub"]
# your code here

# %%
ch04.ex3(globals())

# %% [markdown]
# ## Exercise 4 · Pairwise sigmoid gates over a padded history (15 min)
#
# Write `pairwise_gates(h, w, b, key_mask)` for item vectors `h` (B, T, d), a weight vector
# `w` (2d,), a scalar bias `b` and a boolean `key_mask` (B, T) (True = a real item, False =
# padding), returning the (B, T, T) tensor
# $a_{ij} = \sigma(w^\top [h_i; h_j] + b)$ for real keys $j$ and exactly 0 for padded ones.
#
# Two things to work out, not copy: the chapter's additive attention avoids building the
# (B, T, T, 2d) tensor of every concatenation $[h_i; h_j]$ — which two (B, T) quantities does
# $w^\top [h_i; h_j]$ split into? And a sigmoid gate does not renormalise like a softmax: what
# does that change about how padding must be removed?

# %% tags=["stub"]
# your code here

# %%
ch04.ex4(globals())

# %% [markdown]
# ### Before you move on: look at what your gates prefer
#
# The cell below draws one history of 6 items and asks your `pairwise_gates`, for each query
# $i$, which key $j$ gets the largest gate. Run it with a few seeds.

# %% tags=["uses-answer"]
# Uncomment this cell (select it, Ctrl+/) and run it once your answer passes its check.
# g = torch.Generator().manual_seed(0)
# h, w = torch.randn(1, 6, 8, generator=g), torch.randn(16, generator=g)
# gates = pairwise_gates(h, w, 0.0, torch.ones(1, 6, dtype=torch.bool))  # (1, 6, 6)
# print("largest gate of each query i is on key j =", gates[0].argmax(1).tolist())

# %% [markdown]
# **Question.** Every query picks the same key — with any seed, any $w$. Why? Write
# $w^\top[h_i; h_j] + b$ as the two terms of your function: which one can change the *order*
# of the keys $j$ from one query to the next, and what does the sigmoid (a monotone function)
# do to that order? So what is such a layer unable to express about a user's history, and what
# did chapter 04 (section 6) add to $e_{ij}$ so that different queries can prefer different keys?
