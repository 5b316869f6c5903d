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
# Three exercises on `notebooks/10_small_and_fast.ipynb`. Write your answer in the cell marked
# `# your code here`, run it, then run the check below it: the check says "passed", or
# explains what is wrong. The checks live in `llmrec_ref.checks.ch10`; each one draws new
# random cases every time it runs.
#
# Use plain torch (not `torch.quantize_per_channel`, `torch.nn.utils.prune` or autograd: the
# checks compare your answer with them).

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

# %% tags=["stub"]
# your code here

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

# %% tags=["stub"]
# your code here

# %%
ch10.ex2(globals())

# %% [markdown]
# ## Exercise 3 ★★ · The whole distillation gradient, by hand (15 min)
#
# The chapter derived the gradient of the soft term alone. The student trains on the mix
#
# $$L = (1-\alpha)\,\frac{1}{N}\sum_n \mathrm{CE}(z_{s,n}, y_n) \;+\; \alpha\,\frac{T^2}{N}\sum_n \mathrm{KL}\big(p_n \,\|\, q_n\big),$$
#
# where the cross-entropy with the true item $y_n$ uses the plain softmax of $z_s$ (temperature 1) and
# $p, q$ are the softened distributions of the chapter. Write `kd_gradient(z_s, z_t, y, T, alpha)`
# returning $\partial L / \partial z_s$, shape (N, V), **without autograd**: `z_s`, `z_t` are
# (N, V) float tensors, `y` (N,) item indices. What is $\partial\,\mathrm{CE} / \partial z_s$
# (chapter 05)? Which factor of $T$ is left in the soft term?

# %% tags=["stub"]
# your code here

# %%
ch10.ex3(globals())
