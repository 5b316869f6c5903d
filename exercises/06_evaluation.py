# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Exercises 06 · Honest evaluation
#
# Four exercises on `notebooks/06_evaluation.ipynb`. Write your answer in the cell marked
# `# your code here`, run it, then run the check below it: the check says "passed", or
# explains what is wrong. The checks live in `llmrec_ref.checks.ch06`.
#
# Plain Python (and numpy for Exercise 4) only: not `llmrec_ref.metrics`, the point is to
# write the formulas yourself. Lists follow one convention: `ranked` holds item ids, best
# first; `relevant` is the set of held-out item ids; `k` is the cut-off.

# %%
import math

import numpy as np

from llmrec_ref.checks import ch06

# %% [markdown]
# ## Exercise 1 · NDCG@K (10 min)
#
# Write `ndcg_at_k(ranked, relevant, k)` returning a float, with binary relevance:
#
# $$\mathrm{DCG@K} = \sum_{j=1}^{K} \frac{h_j}{\log_2(j+1)}, \qquad
# \mathrm{NDCG@K} = \frac{\mathrm{DCG@K}}{\mathrm{IDCG@K}},$$
#
# where $h_j = 1$ if the item in slot $j$ is relevant and IDCG@K is the DCG of a perfect list,
# which holds $\min(|R|, K)$ relevant items. On the chapter's toy user
# (`ranked = [1, 3, 4, 2, 0]`, `relevant = {0, 2, 3}`) NDCG@3 is 0.2961.

# %% tags=["stub"]
# your code here

# %%
ch06.ex1(globals())

# %% [markdown]
# ## Exercise 2 · Spot the bug in recall@K (5 min)
#
# A colleague wrote the function below. Its numbers looked plausible, but they shrink as K
# grows even when every relevant item is already in the list. Find the bug, then write a
# correct `recall_at_k(ranked, relevant, k)`: the **share of relevant items that were
# recommended** (not the share that was missed).

# %%
def recall_at_k_buggy(ranked: list, relevant: set, k: int) -> float:
    hits = len(set(ranked[:k]) & set(relevant))
    return hits / k


print(recall_at_k_buggy([1, 3, 4, 2, 0], {3}, 2), recall_at_k_buggy([1, 3, 4, 2, 0], {3}, 5))  # 0.5, 0.2: item 3 was found both times

# %% tags=["stub"]
# your code here

# %%
ch06.ex2(globals())

# %% [markdown]
# ## Exercise 3 · Sampled HR@10 from the full rank (15 min)
#
# Under full ranking the held-out item has rank $r$ among itself and $N$ unseen items
# (`n_negatives`), so $r - 1$ of those items score above it. Sampled ranking draws $m$ of the
# $N$ items uniformly **without replacement** and ranks the held-out item among them only. It
# is a hit at $k$ when fewer than $k$ of the sampled items are among the $r - 1$ above it:
#
# $$P(\text{hit@}k \mid r) = \sum_{j=0}^{k-1} \frac{\binom{r-1}{j}\binom{N-r+1}{m-j}}{\binom{N}{m}}.$$
#
# Write `p_sampled_hit(r, n_negatives, m=100, k=10)` (use `math.comb`).

# %% tags=["stub"]
# your code here

# %%
ch06.ex3(globals())

# %% [markdown]
# On MovieLens-100k a user has about $N = 1{,}600$ unseen films. An item at full rank 100,
# far outside the top 10, is still a sampled hit most of the time:

# %% tags=["uses-answer"]
# Uncomment this cell (select it, Ctrl+/) and run it once your answer passes its check.
# print([round(p_sampled_hit(r, 1600), 3) for r in (10, 50, 100, 150, 200, 300)])

# %% [markdown]
# ## Exercise 4 · Check the formula by simulation (10 min)
#
# Write `simulate_sampled_hit(r, n_negatives, m, k, n_trials, seed)`: number the negatives
# $0..N-1$ so that $0..r-2$ are the ones scoring above the held-out item; in each of `n_trials`
# trials draw `m` of them without replacement with `np.random.default_rng(seed)`, and return the
# share of trials with fewer than `k` drawn items above.

# %% tags=["stub"]
# your code here

# %%
ch06.ex4(globals())

# %% tags=["uses-answer"]
# Uncomment this cell (select it, Ctrl+/) and run it once your answer passes its check.
# for r in (30, 60, 150):
#     print(r, round(p_sampled_hit(r, 500), 4), simulate_sampled_hit(r, 500, 100, 10, 5000, 0))
