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
# # Exercises 07 · A pretrained language model
#
# Five exercises on `notebooks/07_llm_context.ipynb` (about 55 min in all). Write your answer in
# the cell marked `# your code here`, run it, then run the check below it: the check says
# "passed", or explains what is wrong. The checks live in `llmrec_ref.checks.ch07`; they try your
# answer on fresh random cases each time.
#
# Use Python, pandas, numpy and torch (not `llmrec_ref.text`: the point is to write them
# yourself). No language model is loaded here, so every cell runs in a moment. Do not modify
# the inputs.

# %%
import numpy as np
import pandas as pd
import torch

from llmrec_ref.checks import ch07
from llmrec_ref.coldstart import AttributePopularity, cold_start_split
from llmrec_ref.datasets import load_movielens_100k

# %% [markdown]
# ## Exercise 1 · ★ Max pooling with an attention mask (10 min)
#
# Section 2 averages the real tokens. Another common sentence vector takes, in each dimension,
# the **largest** value over the real tokens:
#
# $$e_{bk} = \max_{t:\, m_{bt} = 1} h_{btk}.$$
#
# Write `max_pool(token_embeddings, attention_mask)`: `(B, T, d)` floats and a `(B, T)` int64
# mask (1 = real token, 0 = padding) give a `(B, d)` tensor; a text without any real token gives
# a zero vector. Token values can be negative: what must a padding position hold so that it never
# wins the max? (Multiplying by the mask, as the mean does, is not it.)

# %% tags=["stub"]
# your code here

# %%
ch07.ex1(globals())

# %% [markdown]
# ## Exercise 2 · ★ Item sentences from a frame (10 min)
#
# The chapter's item text is `"Toy Story (1995). Genres: Animation, Children's, Comedy."`. Try a
# more natural sentence: write `movie_sentences(items)` that returns one string per row of the
# frame, in its order, from `title`, `year` (nullable `Int64`) and `genres` (a list of strings):
#
# - `"Toy Story (1995): Animation, Children's and Comedy."` (the last two genres joined by "and")
# - two genres: `"Casino (1995): Crime and Drama."`; one: `"Heat (1995): Crime."`
# - no year (`pd.NA`): `"Unknown Film: Drama."`; no genres: `"Heat (1995)."`

# %% tags=["stub"]
# your code here

# %%
ch07.ex2(globals())

# %% tags=["uses-answer"]
# Uncomment this cell (select it, Ctrl+/) and run it once your answer passes its check.
# ml = load_movielens_100k()
# print(movie_sentences(ml.items.head(3)))

# %% [markdown]
# ## Exercise 3 · ★★★ Cold-start HR@K for a given scorer (15 min)
#
# A `ColdStartSplit` (`train`, `test`, `cold_items`, `n_items`) holds every interaction with a
# cold item in `test` only. Write `cold_start_hr(model, split, k)` that returns the hit rate
# at K over the cold items:
#
# 1. the users are those who have at least one interaction in `split.test`;
# 2. `scores = model.score(users, split.train)` is `(len(users), n_items + 1)`: column `j` is
#    item id `j`, column 0 is padding;
# 3. rank **only the cold items** (every warm item and the padding column are out);
# 4. HR@K = the share of these users with at least one of their cold items in their top K.

# %% tags=["stub"]
# your code here

# %%
ch07.ex3(globals())

# %% [markdown]
# The genre-popularity baseline of the chapter, on MovieLens with 10 % of the films held out:

# %% tags=["uses-answer"]
# Uncomment this cell (select it, Ctrl+/) and run it once your answer passes its check.
# split = cold_start_split(ml.ratings, frac=0.1, seed=0, n_items=len(ml.items))
# print(f"genre popularity, cold-start HR@10: {cold_start_hr(AttributePopularity(ml.items).fit(split.train), split, 10):.3f}")

# %% [markdown]
# ## Exercise 4 · ★★ Quantise a weight matrix to int8 (15 min)
#
# Section 8 quantises every `Linear` weight to int8 with one scale per output channel. Do it
# yourself for a weight `W` of shape `(out_features, in_features)`: for each row $i$,
# $s_i = \max_j |W_{ij}| / 127$ and $q_{ij} = \mathrm{round}(W_{ij} / s_i)$, an integer in
# $-127..127$; the weight is then read back as $q_{ij} s_i$. Write `quantize_rows(W)` returning
# `(q, scale)`: `q` an int8 tensor of W's shape, `scale` a float tensor of `out_features`
# values. A row of zeros must not divide by zero. The check measures the cost: how far
# $q_{ij} s_i$ may be from $W_{ij}$.

# %% tags=["stub"]
# your code here

# %%
ch07.ex4(globals())

# %% [markdown]
# The cost in numbers: on a random `(1536, 384)` weight (the shape of MiniLM's feed-forward
# layers), the worst error is half a step of each row's grid, and a matrix product moves a little:

# %% tags=["uses-answer"]
# Uncomment this cell (select it, Ctrl+/) and run it once your answer passes its check.
# W = torch.randn(1536, 384, generator=torch.Generator().manual_seed(0)) / 384**0.5
# q, scale = quantize_rows(W)
# W8 = q.float() * scale[:, None]  # (1536, 384) what the int8 layer computes with
# x = torch.randn(64, 384, generator=torch.Generator().manual_seed(1))
# rel = ((x @ W8.T - x @ W.T).norm() / (x @ W.T).norm()).item()
# print(f"max |W - q s| / s = {((W - W8).abs() / scale[:, None]).max():.3f}; relative error of x W^T: {rel:.4f}")

# %% [markdown]
# ## Exercise 5 · ★ What does int8 save? (5 min)
#
# An output layer that scores 1,000 items from a 384-dimensional text vector, `Linear(384, 1000)`,
# is stored as in Exercise 4: int8 weights and one float32 scale per output channel. How many
# bytes does its weight take (leave the bias out)? Answer with a number, `INT8_BYTES = ...`,
# worked out by hand, and compare it with float32.

# %% tags=["stub"]
# your code here

# %%
ch07.ex5(globals())
