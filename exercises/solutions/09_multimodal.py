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
# # Exercises 09 · More than one modality
#
# Three exercises on `notebooks/09_multimodal.ipynb`. Write your answer in the cell marked
# `# your code here`, run it, then run the check below it: the check says "passed", or explains
# what is wrong. The checks live in `llmrec_ref.checks.ch09`; each one draws fresh random cases.
#
# Use torch only (not `llmrec_ref.align` or `llmrec_ref.vbpr`).

# %%
import torch

from llmrec_ref.checks import ch09

# %% [markdown]
# ## Exercise 1 · InfoNCE when captions repeat ★ (10 min)
#
# In the chapter, each picture had exactly one right caption in the batch. In the shop, about 16
# of 2,000 items share a category and a colour, so two items in a batch can have the *same*
# caption, and the loss then punishes the model for a "wrong" match that is just as right.
# Write `multi_positive_nce(a, b, labels, tau)` for the **image -> text direction only**: `a`, `b`
# are `(B, d)` unit vectors, `labels` a `(B,)` int tensor (equal labels = interchangeable
# captions), and with $S = a b^\top / \tau$ and $p_{ij} = \mathrm{softmax}_j(S_{i\cdot})$:
#
# $$ L = \frac{1}{B}\sum_i -\log \sum_{j:\, l_j = l_i} p_{ij}. $$
#
# With all labels different it is the row term of the chapter's loss. Return a scalar tensor
# that autograd can differentiate.

# %% tags=["solution"]
def multi_positive_nce(a: torch.Tensor, b: torch.Tensor, labels: torch.Tensor, tau: float) -> torch.Tensor:
    log_p = (a @ b.T / tau).log_softmax(dim=1)                     # (B, B) log p_ij
    positive = labels[:, None] == labels[None, :]                  # (B, B) same caption
    return -torch.logsumexp(log_p.masked_fill(~positive, float("-inf")), dim=1).mean()


# %%
ch09.ex1(globals())

# %% [markdown]
# ## Exercise 2 · Late fusion when a modality is missing ★★ (15 min)
#
# Late fusion adds per-modality scores. Raw scores of different modalities live on different
# scales, and some items lack a modality (no picture yet). Write
# `late_fusion(scores, present, weights)`:
#
# - `scores`: `{modality: (n_users, n_items) float tensor}`, `present`: `{modality: (n_items,)
#   bool}`, `weights`: `{modality: float > 0}`, the same keys in all three;
# - for each modality m and user u, **standardise** the scores over the items that have m:
#   $z_{ui}^m = (s_{ui}^m - \mu_u^m) / \sigma_u^m$ (mean and standard deviation over those items);
# - fuse with the weights of the modalities **the item has**:
#   $s_{ui} = \sum_{m \ni i} w_m z_{ui}^m \,/\, \sum_{m \ni i} w_m$;
# - an item with none of the modalities gets `-inf`.
#
# Whatever sits in the score column of an item that lacks a modality must not matter.

# %% tags=["solution"]
def late_fusion(scores: dict, present: dict, weights: dict) -> torch.Tensor:
    total, weight = 0.0, 0.0
    for m, s in scores.items():
        has = present[m]
        mu = s[:, has].mean(1, keepdim=True)
        sd = s[:, has].std(1, keepdim=True)
        z = ((s - mu) / sd).masked_fill(~has, 0.0)                  # (U, I), 0 where the item lacks m
        total = total + weights[m] * z
        weight = weight + weights[m] * has.double()                 # (I,) weights the item has
    out = total / torch.as_tensor(weight).clamp(min=1e-12)
    return out.masked_fill(torch.as_tensor(weight) == 0, float("-inf"))


# %%
ch09.ex2(globals())

# %% [markdown]
# ## Exercise 3 · What one unit of a CNN sees ★ (10 min)
#
# The chapter says the three convolutions of `ImageEncoder` see 3, 8 and 18 pixels. Write
# `receptive_field(layers)`: `layers` is a list of `(kernel, stride)` pairs, bottom layer first
# (a 3 x 3 convolution with stride 1 is `(3, 1)`, a 2 x 2 max-pool is `(2, 2)`); return how many
# input pixels (along one axis) a single unit of the top layer depends on. Work it out on paper
# for two layers first. The check builds each stack in torch and asks autograd which input
# pixels a unit's gradient touches.

# %% tags=["solution"]
def receptive_field(layers: list) -> int:
    field, jump = 1, 1                      # jump: input pixels between two neighbouring units
    for kernel, stride in layers:
        field += (kernel - 1) * jump
        jump *= stride
    return field


# %%
ch09.ex3(globals())
