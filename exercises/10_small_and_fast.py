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
# # Exercises 10 · Small and fast
#
# Two exercises on `notebooks/10_small_and_fast.ipynb`. Write your answer in the cell marked
# `# your code here`, run it, then run the check below it: the check says "passed", or
# explains what is wrong. The checks live in `llmrec_ref.checks.ch10`; each one draws new
# random cases every time it runs.
#
# Use plain torch (not `torch.quantize_per_channel` or `torch.nn.utils.prune`: the checks
# compare your answer with them).

# %%
import torch

from llmrec_ref.checks import ch10

# %% [markdown]
# ## Exercise 1 ★ · Asymmetric uint8 with an exact zero (15 min)
#
# The chapter stored the item table as int8 with a *symmetric* scale, $s_i = \max_j |e_{ij}| / 127$.
# A row whose values are all positive then wastes half of the codes. The *asymmetric* scheme
# maps each row's range onto all 256 codes of a uint8, with a per-row **zero point** $z_i$:
#
# $$q_{ij} = \mathrm{clamp}\big(\mathrm{round}(x_{ij} / s_i) + z_i,\ 0,\ 255\big), \qquad \hat x_{ij} = (q_{ij} - z_i)\, s_i .$$
#
# Write `quantize_uint8(x)` for a (rows, d) float tensor returning `(q, scale, zero_point)`:
# `q` uint8 of x's shape, `scale` (rows,) and `zero_point` (rows,) integers in 0..255, such that
#
# - every value comes back within half a step, $|\hat x - x| \le s_i / 2$;
# - the whole range 0..255 is used: $s_i = (\max - \min) / 255$ over the row's range **widened to
#   include 0**;
# - a 0 comes back as exactly 0 (padding rows, ReLU outputs): which value of $z_i$ makes that so?
# - a row of equal values (all zeros, say) does not divide by zero.

# %% tags=["solution"]
def quantize_uint8(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    lo = torch.clamp(x.amin(1), max=0.0)  # (rows,) the range widened to include 0
    hi = torch.clamp(x.amax(1), min=0.0)
    scale = (hi - lo) / 255
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))  # a constant row: any positive scale
    zero_point = torch.round(-lo / scale).clamp(0, 255)  # an integer code for the real 0
    q = torch.clamp(torch.round(x / scale[:, None]) + zero_point[:, None], 0, 255).to(torch.uint8)
    return q, scale, zero_point.long()


# %%
ch10.ex1(globals())

# %% [markdown]
# ## Exercise 2 ★★ · Global magnitude pruning (20 min)
#
# The chapter pruned every matrix by its *own* threshold. **Global** pruning ranks the weights
# of all matrices together and removes the `round(amount × total)` smallest magnitudes overall,
# so a matrix of small weights loses more of them than a matrix of large ones.
#
# Write `global_prune_masks(weights, amount)` for a list of tensors (any shapes) and a fraction
# `amount` in [0, 1), returning one boolean mask per tensor (same shape, **True = kept**)
# without changing the tensors.
#
# Before you run the check, write down your prediction: on the chapter's model, would global
# pruning take more from the attention's weights or from the MLP's? (Hint: compare their typical
# magnitudes; you can look at `teacher.network_.encoder` in the chapter.)

# %% tags=["solution"]
def global_prune_masks(weights: list[torch.Tensor], amount: float) -> list[torch.Tensor]:
    flat = torch.cat([w.detach().abs().flatten() for w in weights])  # (total,) every magnitude together
    keep = torch.ones(flat.numel(), dtype=torch.bool)
    keep[flat.argsort()[:round(amount * flat.numel())]] = False  # the smallest go
    pieces = keep.split([w.numel() for w in weights])
    return [m.view_as(w) for m, w in zip(pieces, weights, strict=True)]


# %%
ch10.ex2(globals())
