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
# # Exercises 03 · Encoders
#
# Four exercises on `notebooks/03_encoders.ipynb`, each a variation the chapter does not write
# out (about 45 min in all). Write your answer in the cell marked `# your code here`, run it,
# then run the check below it: the check says "passed", or explains what is wrong. The checks
# (`llmrec_ref.checks.ch03`) draw fresh random cases every time they run.
#
# Use plain torch (not `torch.nn.TransformerEncoderLayer`, `F.scaled_dot_product_attention`,
# `F.rms_norm` or `llmrec_ref.encoders`: the point is to write them yourself).

# %%
import math

import torch

from llmrec_ref.checks import ch03

# %% [markdown]
# ## Exercise 1 · ★★★ A pre-norm Transformer block with RMSNorm (20 min)
#
# Section 4 builds torch's layer from its modules, with LayerNorm. Many recent models (LLaMA,
# and recommenders built on them) use **RMSNorm** instead, which does not subtract the mean:
#
# $$\mathrm{RMS}(z) = g \odot \frac{z}{\sqrt{\frac{1}{d}\sum_j z_j^2 + 10^{-6}}}.$$
#
# Write `rms_block(x, params, mask)` for `x` of shape `(B, T, d)`: one **pre-norm** block,
# $x \leftarrow x + \mathrm{SA}(\mathrm{RMS}_1(x))$, then $x \leftarrow x + \mathrm{FF}(\mathrm{RMS}_2(x))$,
# with
#
# - single-head self-attention $\mathrm{SA}(z) = \mathrm{softmax}\big(q k^\top / \sqrt{d} + \text{mask}\big)\, v\; W_o^\top$,
#   $q = z W_q^\top$, $k = z W_k^\top$, $v = z W_v^\top$, where `mask` is a bool `(T, T)` tensor,
#   **True = query t may attend to key s**, and every query may attend to at least one key;
# - $\mathrm{FF}(z) = \mathrm{ReLU}(z W_1^\top) W_2^\top$; no biases anywhere.
#
# `params` is a dict of tensors: `Wq`, `Wk`, `Wv`, `Wo` `(d, d)`, `W1` `(d_ff, d)`, `W2`
# `(d, d_ff)`, `g1`, `g2` `(d,)`. Do not modify the inputs.

# %% tags=["stub"]
# your code here

# %%
ch03.ex1(globals())

# %% [markdown]
# ## Exercise 2 · ★★ Moving a position by k is a rotation (10 min)
#
# Section 5 says that $PE_{p+k}$ is a fixed rotation of $PE_p$. Derive it: with
# $w_i = 10000^{-2i/d}$, the pair $(PE_{p,2i}, PE_{p,2i+1}) = (\sin p w_i, \cos p w_i)$. Use
# $\sin(a + b)$ and $\cos(a + b)$ to write $(\sin (p+k) w_i, \cos (p+k) w_i)$ as a 2 x 2
# matrix times $(\sin p w_i, \cos p w_i)$. Then write `shift_rotation(k, d)` returning the
# `(d, d)` matrix $M_k$ with $M_k\,PE_p = PE_{p+k}$ for **every** position $p$ ($d$ even,
# $k$ any integer, negative too). Note that $M_k$ does not depend on $p$: that is what lets
# attention learn "k positions back" once for all positions.

# %% tags=["stub"]
# your code here

# %%
ch03.ex2(globals())

# %% [markdown]
# ## Exercise 3 · ★ Left padding (10 min)
#
# Write `left_pad(histories, max_len)`: `histories` is a list of lists of item ids (oldest
# first). Return an int64 `(B, max_len)` tensor holding each history's **last** `max_len`
# items, right-aligned, with 0 (padding) on the left. An empty history is a row of zeros. Do
# not modify `histories`.

# %% tags=["stub"]
# your code here

# %%
ch03.ex3(globals())

# %% [markdown]
# ## Exercise 4 · ★ How much may attend? (5 min, answer before running anything)
#
# A history of 5 films is left-padded to $T = 8$ slots. The encoder combines the causal mask
# (query $t$ may attend to key $s$ when $s \le t$) with the key-padding mask (no query may
# attend to a padded slot). How many of the $8 \times 8 = 64$ entries of the combined mask are
# True (may attend)? Set `n_allowed` to that int.

# %% tags=["stub"]
# your code here

# %%
ch03.ex4(globals())
