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
# # Exercises 08 · Knowledge graphs
#
# Three exercises on `notebooks/08_knowledge_graph.ipynb`. Write your answer in the cell marked
# `# your code here`, run it, then run the check below it: the check says "passed", or explains
# what is wrong. The checks live in `llmrec_ref.checks.ch08` and draw fresh random cases each run.
#
# Use numpy and torch only (not `llmrec_ref.kg` or `llmrec_ref.knowledge`).

# %%
import numpy as np
import torch

from llmrec_ref.checks import ch08

# %% [markdown]
# ## Exercise 1 · ★ Another score: DistMult (5 min)
#
# TransE scores a triple by a translation. DistMult (Yang et al., 2015) scores it by a
# trilinear product, $s(h, r, t) = \sum_k e_{h,k}\, w_{r,k}\, e_{t,k}$ (higher = more
# plausible). Write `distmult_score(h, r, t)` for `(B, d)` tensors returning `(B,)`; a single
# relation vector of shape `(d,)` must broadcast over the batch. Then think: why can DistMult not
# tell `directed_by` from its inverse? (The check tests the property behind the answer.)

# %% tags=["stub"]
# your code here

# %%
ch08.ex1(globals())

# %% [markdown]
# ## Exercise 2 · ★★ TransE's gradient when the head is corrupted (15 min)
#
# The chapter derived the gradient of the margin loss
# $L = \frac{1}{B}\sum_b \max(0, \gamma + \lVert u_b \rVert - \lVert u'_b \rVert)$ when the
# **tail** was corrupted. Now the **head** is: the negative triple is $(h', r, t)$, so
# $u = e_h + w_r - e_t$ and $u' = e_{h'} + w_r - e_t$ share $w_r$ *and* $e_t$. Derive
# $\partial L/\partial e_h$, $\partial L/\partial w_r$, $\partial L/\partial e_t$ and
# $\partial L/\partial e_{h'}$ on paper, then write `transe_head_grads(h, r, t, h_bad, gamma)`
# returning the tuple of the four `(B, d)` gradients, **without** autograd.

# %% tags=["stub"]
# your code here

# %%
ch08.ex2(globals())

# %% [markdown]
# ## Exercise 3 · ★★ "Liked films sharing a director" from triples (15 min)
#
# A graph feature a knowledge-aware recommender uses: for a candidate film, how many of the
# user's liked films share a director with it? Write `shared_counts(triples, item_entity,
# relation, liked)`:
#
# - `triples`: `(N, 3)` int array of (head, relation, tail) codes, films as heads (film → director);
# - `item_entity`: `(n_items + 1,)` the entity code of each item id, `-1` if not linked (row 0 is padding);
#   two ids may share an entity (the repaired link gives a film that ML-100k lists twice one entity);
# - `relation`: the relation code to follow; `liked`: a list of item ids.
#
# Return an int array of shape `(n_items + 1,)`: for each item id i, the number of liked items
# j ≠ i that share **at least one** tail of `relation` with i (a film with two directors, or a
# duplicate triple, still counts a liked film once); 0 for padding and unlinked items.

# %% tags=["stub"]
# your code here

# %%
ch08.ex3(globals())
