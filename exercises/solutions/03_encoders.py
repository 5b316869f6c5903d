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
# Four exercises on `notebooks/03_encoders.ipynb`. Write your answer in the cell marked
# `# your code here`, run it, then run the check below it: the check says "passed", or
# explains what is wrong. The checks live in `llmrec_ref.checks.ch03`.
#
# Use plain torch (not `torch.nn.GRU`, `llmrec_ref.encoders` or `llmrec_ref.sampling`: the
# point is to write them yourself).

# %%
import torch
from torch.nn import functional as F

from llmrec_ref.checks import ch03

# %% [markdown]
# ## Exercise 1 · One GRU step (10 min)
#
# Write `gru_step(x, h, W_ih, W_hh, b_ih, b_hh)` returning the new state $h_t$ (B, H) from
# the input $x_t$ (B, d_in) and the previous state $h_{t-1}$ (B, H). The weights are laid out
# as in `torch.nn.GRUCell`: `W_ih` (3H, d_in) stacks $[W_{ir}; W_{iz}; W_{in}]$, `W_hh` (3H, H)
# stacks $[W_{hr}; W_{hz}; W_{hn}]$, and the biases likewise.
#
# $$r = \sigma(W_{ir}x + b_{ir} + W_{hr}h + b_{hr}),\quad z = \sigma(W_{iz}x + b_{iz} + W_{hz}h + b_{hz})$$
# $$n = \tanh\big(W_{in}x + b_{in} + r \odot (W_{hn}h + b_{hn})\big),\quad h_t = (1 - z)\odot n + z\odot h$$

# %% tags=["solution"]
def gru_step(x, h, W_ih, W_hh, b_ih, b_hh):
    xr, xz, xn = F.linear(x, W_ih, b_ih).chunk(3, dim=-1)  # 3 x (B, H)
    hr, hz, hn = F.linear(h, W_hh, b_hh).chunk(3, dim=-1)  # 3 x (B, H)
    r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
    n = torch.tanh(xn + r * hn)
    return (1 - z) * n + z * h


# %%
ch03.ex1(globals())

# %% [markdown]
# ## Exercise 2 · Sinusoidal positions (5 min)
#
# Write `sinusoidal_positions(T, d)` returning a float (T, d) tensor with
# $PE_{p,2i} = \sin(p / 10000^{2i/d})$ and $PE_{p,2i+1} = \cos(p / 10000^{2i/d})$ for
# positions $p = 0..T-1$ and pairs $i = 0..d/2-1$ ($d$ is even).

# %% tags=["solution"]
def sinusoidal_positions(T: int, d: int) -> torch.Tensor:
    p = torch.arange(T, dtype=torch.float32)[:, None]  # (T, 1)
    freq = 10000 ** (-torch.arange(0, d, 2, dtype=torch.float32) / d)  # (d/2,)
    pe = torch.zeros(T, d)
    pe[:, 0::2] = torch.sin(p * freq)
    pe[:, 1::2] = torch.cos(p * freq)
    return pe


# %%
ch03.ex2(globals())

# %% [markdown]
# ## Exercise 3 · The causal mask (5 min)
#
# Write `causal_mask(T)` returning a bool (T, T) tensor where entry $[t, s]$ is True when
# query position $t$ may attend to key position $s$, i.e. when $s \le t$ (the course's and
# `F.scaled_dot_product_attention`'s convention: True = may attend).

# %% tags=["solution"]
def causal_mask(T: int) -> torch.Tensor:
    return torch.ones(T, T, dtype=torch.bool).tril()


# %%
ch03.ex3(globals())

# %% [markdown]
# ## Exercise 4 · Left padding (10 min)
#
# Write `left_pad(histories, max_len)`: `histories` is a list of lists of item ids (oldest
# first). Return an int64 (B, max_len) tensor holding each history's **last** `max_len`
# items, right-aligned, with 0 (padding) on the left. An empty history is a row of zeros.

# %% tags=["solution"]
def left_pad(histories: list[list[int]], max_len: int) -> torch.Tensor:
    out = torch.zeros(len(histories), max_len, dtype=torch.long)
    for row, items in zip(out, histories, strict=True):
        items = items[-max_len:]
        if items:
            row[max_len - len(items):] = torch.tensor(items)
    return out


# %%
ch03.ex4(globals())
