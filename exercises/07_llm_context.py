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
# Three exercises on `notebooks/07_llm_context.ipynb`. Write your answer in the cell marked
# `# your code here`, run it, then run the check below it: the check says "passed", or
# explains what is wrong. The checks live in `llmrec_ref.checks.ch07`.
#
# Use Python, pandas, numpy and torch (not `llmrec_ref.text`: the point is to write them
# yourself). No language model is loaded here, so every cell runs in a moment.

# %%
import numpy as np
import pandas as pd
import torch

from llmrec_ref.checks import ch07
from llmrec_ref.coldstart import AttributePopularity, cold_start_split
from llmrec_ref.datasets import load_movielens_100k

# %% [markdown]
# ## Exercise 1 · Mean pooling with an attention mask (10 min)
#
# A Transformer returns one vector per token, `token_embeddings` of shape `(B, T, d)`; the
# tokenizer's `attention_mask` `(B, T)` holds 1 for real tokens and 0 for padding (as int64).
# Write `mean_pool(token_embeddings, attention_mask)` that returns the `(B, d)` mean over the
# real tokens of each text:
#
# $$e_b = \frac{\sum_t m_{bt}\, h_{bt}}{\sum_t m_{bt}}$$
#
# A row whose mask is all zeros must give a zero vector, not NaN.

# %% tags=["stub"]
# your code here

# %%
ch07.ex1(globals())

# %% [markdown]
# ## Exercise 2 · Item texts from a frame (10 min)
#
# The encoder needs one sentence per item. Write `movie_texts(items)` that returns a list of
# strings, one per row of the frame and in its order, from the columns `title`, `year`
# (nullable `Int64`) and `genres` (a list of strings):
#
# - `"Toy Story (1995). Genres: Animation, Children's, Comedy."`
# - no year (`pd.NA`): `"Unknown Film. Genres: Drama."`
# - no genres: `"Heat (1995)."`

# %% tags=["stub"]
# your code here

# %%
ch07.ex2(globals())

# %% tags=["uses-answer"]
# Uncomment this cell (select it, Ctrl+/) and run it once your answer passes its check.
# ml = load_movielens_100k()
# print(movie_texts(ml.items.head(3)))
# print("same as the data set's text column:", movie_texts(ml.items) == ml.items["text"].tolist())

# %% [markdown]
# ## Exercise 3 · Cold-start HR@K for a given scorer (15 min)
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
