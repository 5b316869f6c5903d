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
# Five exercises on `notebooks/04_attention.ipynb`, each a variation the chapter does not write
# out (about 50 min in all). Write your answer in the cell marked `# your code here`, run it,
# then run the check below it: the check says "passed", or explains what is wrong. The checks
# (`llmrec_ref.checks.ch04`) draw fresh random cases every time they run.
#
# Use plain torch (not `F.scaled_dot_product_attention` or `llmrec_ref.attention`: the point
# is to write them yourself). None of the functions may modify its inputs.

# %%
import math

import torch

from llmrec_ref.checks import ch04

# %% [markdown]
# ## Exercise 1 · ★★ Padded keys get zero weight (10 min)
#
# The chapter's `attention` fills forbidden scores with $-\infty$; a query whose keys are all
# padding then gets NaN. Write `masked_attention(q, k, v, key_mask)` returning
# `(out, weights)` for `q` (B, T_q, d), `k` (B, T_k, d), `v` (B, T_k, d_v) and a bool
# `key_mask` (B, T_k) that is True for real items and False for padding:
#
# - weights = softmax($q k^\top / \sqrt{d}$) over the keys, with **exactly 0** on padded keys;
# - a query whose keys are *all* padding gets all-zero weights and a zero output (not NaN);
# - out = weights @ v, shape (B, T_q, d_v).

# %% tags=["solution"]
def masked_attention(q, k, v, key_mask):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, T_q, T_k)
    mask = key_mask[:, None, :]  # (B, 1, T_k)
    weights = scores.masked_fill(~mask, torch.finfo(scores.dtype).min).softmax(-1) * mask
    return weights @ v, weights


# %%
ch04.ex1(globals())

# %% [markdown]
# ## Exercise 2 · ★★ Grouped-query attention (10 min)
#
# Section 5 gives every head its own queries, keys and values. To shrink the keys and values a
# model must keep (the "KV cache" of a language model, or the item memory of a recommender),
# **grouped-query attention** keeps $H$ query heads but only $G$ key/value heads, $G$ dividing
# $H$: consecutive query heads form $G$ groups of $H/G$, and query head $i$ attends with
# key/value head $g = \lfloor i / (H/G) \rfloor$. Write `grouped_query_attention(q, k, v)` for
# `q` (B, H, T, d_head) and `k`, `v` (B, G, T, d_head), returning (B, H, T, d_head):
# $\mathrm{softmax}(q_i k_g^\top / \sqrt{d_{head}})\, v_g$ for every query head $i$. No mask.
#
# Think first: with $H = 8$ and $G = 2$, which key/value head does query head 5 use? And what are
# the cases $G = H$ and $G = 1$ called?

# %% tags=["solution"]
def grouped_query_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    per_group = q.shape[1] // k.shape[1]  # H / G query heads share one key/value head
    k, v = k.repeat_interleave(per_group, dim=1), v.repeat_interleave(per_group, dim=1)  # (B, H, T, d_head)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, H, T, T)
    return scores.softmax(-1) @ v


# %%
ch04.ex2(globals())

# %% [markdown]
# ## Exercise 3 · ★★ Fix the target attention (10 min)
#
# Section 7's target attention gives each **candidate** $c$ its own summary of the user's
# history: $a_t(c) = \mathrm{softmax}_t(h_t \cdot c / \sqrt{d})$ over the user's *real* history
# items, and $u(c) = \sum_t a_t(c)\, h_t$ (here with a dot-product score instead of DIN's MLP).
# A colleague wrote the version below. Run it on a batch with padding: it returns NaN, and even
# where it does not, the weights are wrong. Find both bugs and write the corrected version as
# `target_attention(history, cands, key_mask)` returning `(users, weights)` of shapes
# (B, N, d) and (B, N, T); a user with no real history item gets zero weights and a zero vector.

# %%
def buggy_target_attention(history, cands, key_mask):
    # history (B, T, d), cands (B, N, d), key_mask (B, T): True = a real item
    scores = cands @ history.transpose(1, 2) / math.sqrt(history.shape[-1])  # (B, N, T)
    scores = scores.masked_fill(~key_mask[:, None, :], -torch.inf)
    weights = scores.softmax(1)
    return weights @ history, weights


g = torch.Generator().manual_seed(0)
hist, cands = torch.randn(2, 4, 3, generator=g), torch.randn(2, 3, 3, generator=g)
key_mask = torch.tensor([[False, True, True, True], [True, True, True, True]])
users, weights = buggy_target_attention(hist, cands, key_mask)
print("NaN in the weights:", bool(weights.isnan().any()))
print("sum of each candidate's weights, user 2:", [round(x, 3) for x in weights[1].sum(-1).tolist()])

# %% tags=["solution"]
def target_attention(history, cands, key_mask):
    scores = cands @ history.transpose(1, 2) / math.sqrt(history.shape[-1])  # (B, N, T)
    mask = key_mask[:, None, :]  # (B, 1, T)
    # bug 1: -inf turns a column (or a user) with no real item into 0/0 -> finite fill, then zero it
    # bug 2: softmax(1) normalised over the candidates; a candidate's weights sum over the history
    weights = scores.masked_fill(~mask, torch.finfo(scores.dtype).min).softmax(-1) * mask
    return weights @ history, weights


# %%
ch04.ex3(globals())

# %% [markdown]
# ## Exercise 4 · ★★ Pairwise sigmoid gates over a padded history (15 min)
#
# Write `pairwise_gates(h, w, b, key_mask)` for item vectors `h` (B, T, d), a weight vector
# `w` (2d,), a scalar bias `b` and a boolean `key_mask` (B, T) (True = a real item, False =
# padding), returning the (B, T, T) tensor
# $a_{ij} = \sigma(w^\top [h_i; h_j] + b)$ for real keys $j$ and exactly 0 for padded ones.
#
# Two things to work out, not copy: the chapter's additive attention avoids building the
# (B, T, T, 2d) tensor of every concatenation $[h_i; h_j]$ — which two (B, T) quantities does
# $w^\top [h_i; h_j]$ split into? And a sigmoid gate does not renormalise like a softmax: what
# does that change about how padding must be removed? (Padded slots may hold any vector.) Do
# not modify the inputs.

# %% tags=["solution"]
def pairwise_gates(h: torch.Tensor, w: torch.Tensor, b: float, key_mask: torch.Tensor) -> torch.Tensor:
    d = h.shape[-1]
    left, right = h @ w[:d], h @ w[d:]  # (B, T) the parts that depend on i and on j
    gates = torch.sigmoid(left[:, :, None] + right[:, None, :] + b)  # (B, T, T)
    return gates * key_mask[:, None, :]  # padded keys: exactly 0 (no renormalisation to undo)


# %%
ch04.ex4(globals())

# %% [markdown]
# ### Before you move on: look at what your gates prefer
#
# The cell below draws one history of 6 items and asks your `pairwise_gates`, for each query
# $i$, which key $j$ gets the largest gate. Run it with a few seeds.

# %% tags=["uses-answer"]
g = torch.Generator().manual_seed(0)
h, w = torch.randn(1, 6, 8, generator=g), torch.randn(16, generator=g)
gates = pairwise_gates(h, w, 0.0, torch.ones(1, 6, dtype=torch.bool))  # (1, 6, 6)
print("largest gate of each query i is on key j =", gates[0].argmax(1).tolist())

# %% [markdown]
# ## Exercise 5 · ★ Why the same order for every query? (5 min)
#
# Every query picks the same key, with any seed and any $w$. Why? Choose one:
#
# - (a) the sigmoid saturates, so every gate is close to 1 and the largest is arbitrary;
# - (b) $w^\top[h_i; h_j] + b = w_{1}^\top h_i + w_{2}^\top h_j + b$: the query's term shifts the
#   scores of all keys by the same amount, and the sigmoid is monotone, so the keys are ranked
#   by $w_2^\top h_j$ alone, the same order for every query;
# - (c) the bias $b$ is shared by all pairs, which makes the gates equal;
# - (d) the sigmoid is symmetric, $\sigma(-x) = 1 - \sigma(x)$, so $a_{ij}$ and $a_{ji}$ are tied.
#
# Set `why_same_order` to one letter. Then think about what such a layer cannot express about a
# user's history, and what chapter 04 (section 6) puts between the pair and the gate (a
# nonlinearity, $\tanh(W_q h_i + W_k h_j + b)$) so that different queries can prefer different keys.

# %% tags=["solution"]
why_same_order = "b"

# %%
ch04.ex5(globals())
