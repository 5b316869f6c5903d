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
# # Exercises 02 · Word embeddings
#
# Three exercises on `notebooks/02_word_embeddings.ipynb`. Write your answer in the cell
# marked `# your code here`, run it, then run the check below it: the check says "passed",
# or explains what is wrong. The checks live in `llmrec_ref.checks.ch02`.
#
# Use Python, numpy and torch only (not `llmrec_ref.embeddings`: the point is to write them
# yourself).

# %%
import numpy as np
import torch

from llmrec_ref.checks import ch02

# %% [markdown]
# ## Exercise 1 · Skip-gram pairs (5 min)
#
# Write `skipgram_pairs(sentence, window)` that returns every `(centre, context)` pair of a
# tokenised sentence: for each position `i`, the words at positions `j` with
# `0 < |i - j| <= window`. Example: `skipgram_pairs(["a", "b", "c"], 1)` gives
# `[("a", "b"), ("b", "a"), ("b", "c"), ("c", "b")]`. A word that occurs twice in the window
# is a context of itself (positions differ); a word is never the context of its own position.

# %% tags=["stub"]
# your code here

# %%
ch02.ex1(globals())

# %% [markdown]
# ## Exercise 2 · Cosine nearest neighbours (10 min)
#
# Write `cosine_neighbours(matrix, query, k)`: `matrix` is an `(n, d)` numpy array or torch
# tensor whose row 0 is padding (all zeros); return the ids of the `k` rows with the highest
# cosine similarity $\cos(a, b) = \frac{a \cdot b}{\lVert a\rVert\,\lVert b\rVert}$ to row
# `query`, best first, never the query itself and never a row of zeros.

# %% tags=["stub"]
# your code here

# %%
ch02.ex2(globals())

# %% [markdown]
# ## Exercise 3 · The embedding matrix in id order (10 min)
#
# gensim stores item vectors in its own order (most frequent first). Write
# `embedding_matrix(kv, n_items, std, seed)` that returns a float32 tensor of shape
# `(n_items + 1, kv.vector_size)` for item ids `1..n_items`:
#
# - row 0 is padding: zeros;
# - row `i` is `kv[i]` when item `i` has a vector;
# - otherwise row `i` is drawn from $\mathcal{N}(0, \text{std}^2)$ with a generator seeded by `seed`.
#
# Careful: for an int key gensim's `i in kv` is also true when `i` is merely a valid *row
# position*. Ask `kv.key_to_index` instead.

# %% tags=["stub"]
# your code here

# %%
ch02.ex3(globals())

# %% [markdown]
# `torch.nn.Embedding.from_pretrained(embedding_matrix(kv, n_items, 0.02, 0), freeze=False,
# padding_idx=0)` is then the first layer of a model, exactly what
# `llmrec_ref.embeddings.to_embedding` builds.
