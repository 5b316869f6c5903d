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
# Four exercises on `notebooks/02_word_embeddings.ipynb`, each a variation the chapter does not
# write out (about 35 min in all). Write your answer in the cell marked `# your code here`, run
# it, then run the check below it: the check says "passed", or explains what is wrong. The
# checks (`llmrec_ref.checks.ch02`) draw fresh random cases every time they run.
#
# Use Python, numpy and torch only (not `llmrec_ref.embeddings`: the point is to write them
# yourself).

# %%
import numpy as np
import torch

from llmrec_ref.checks import ch02

# %% [markdown]
# ## Exercise 1 · ★ Forward-only skip-gram pairs (5 min)
#
# The chapter's window looks both ways. A model of *what comes next* (item2vec on watch orders,
# say) may only use the words **after** the centre. Write `forward_pairs(sentences, window)`:
# for every sentence and every position `i`, the pairs `(s[i], s[j])` with
# `i < j <= i + window`. A window stops at the end of its sentence; a pair that occurs twice
# counts twice. Do not modify `sentences`. Example: `forward_pairs([["a", "b", "c"]], 1)` gives
# `[("a", "b"), ("b", "c")]`.

# %% tags=["stub"]
# your code here

# %%
ch02.ex1(globals())

# %% [markdown]
# ## Exercise 2 · ★★ Cosine neighbours over a padded matrix (10 min)
#
# Write `cosine_neighbours(matrix, query, k)`: `matrix` is an `(n, d)` numpy array or torch
# tensor in which some rows are all zeros (row 0 is padding; items without a vector may be
# zeros too). Return the ids of the `k` rows with the highest cosine similarity
# $\cos(a, b) = \frac{a \cdot b}{\lVert a\rVert\,\lVert b\rVert}$ to row `query`, best first;
# rows of equal similarity in increasing id order; never the query itself, never a row of
# zeros (it has no direction); fewer than `k` ids when fewer rows qualify. Do not modify
# `matrix`.
#
# Think first: the similarities can be negative. What goes wrong if you give the excluded rows a
# similarity of 0?

# %% tags=["stub"]
# your code here

# %%
ch02.ex2(globals())

# %% [markdown]
# ## Exercise 3 · ★★★ The negative-sampling gradients by hand (15 min)
#
# For a batch of $B$ pairs, centre vectors $v_b$, true-context vectors $u_b$ and $K$ noise
# vectors $u_{b,1..K}$, the chapter's loss is
#
# $$\mathcal{L} = \frac{1}{B}\sum_{b=1}^{B}\Big[-\log\sigma(u_b^\top v_b) - \sum_{k=1}^{K}\log\sigma(-u_{b,k}^\top v_b)\Big].$$
#
# Derive $\partial\mathcal{L}/\partial v_b$, $\partial\mathcal{L}/\partial u_b$ and
# $\partial\mathcal{L}/\partial u_{b,k}$ (hint: $\frac{d}{ds}\log\sigma(s) = 1 - \sigma(s)$), then
# write `sgns_grads(v, u_pos, u_neg)` for tensors of shapes `(B, d)`, `(B, d)`, `(B, K, d)`
# returning the three gradients, of the same shapes, **without autograd**. Scores can be large
# (±1000): keep it finite. Do not modify the inputs. The check compares with autograd.

# %% tags=["stub"]
# your code here

# %%
ch02.ex3(globals())

# %% [markdown]
# ## Exercise 4 · ★ Which vectors move first? (5 min, answer before running anything)
#
# word2vec (and the chapter's `SkipGramNS`) starts the centre vectors $v$ small and random and
# the context vectors $u$ at **zero**. On the very first gradient step, which vectors get a
# non-zero gradient?
#
# - (a) only the centre vectors $v$;
# - (b) only the context vectors $u$ (the true contexts and the noise words);
# - (c) both;
# - (d) neither: every score is 0, so nothing moves.
#
# Set `first_step_moves` to one letter.

# %% tags=["stub"]
# your code here

# %%
ch02.ex4(globals())
