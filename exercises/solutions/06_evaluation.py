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
# Five exercises on `notebooks/06_evaluation.ipynb` (about 55 min in all). Write your answer in
# the cell marked `# your code here`, run it, then run the check below it: the check says
# "passed", or explains what is wrong. The checks live in `llmrec_ref.checks.ch06`; they try your
# answer on fresh random cases each time.
#
# Plain Python (and numpy for Exercise 4) only: not `llmrec_ref.metrics`. Lists follow one
# convention: `ranked` holds item ids, best first; `k` is the cut-off. Do not modify the inputs.

# %%
import math

import numpy as np

from llmrec_ref.checks import ch06

# %% [markdown]
# ## Exercise 1 · ★★ NDCG@K with graded relevance (15 min)
#
# The chapter's NDCG has binary relevance: an item is relevant or not. Ratings give *grades*:
# a user loved one film (grade 3) and found another fine (grade 1). Graded NDCG gives the item in
# slot $j$ the gain $2^{g_j} - 1$ ($g_j$ its grade, 0 for an item without one):
#
# $$\mathrm{DCG@K} = \sum_{j=1}^{K} \frac{2^{g_j} - 1}{\log_2(j+1)}, \qquad
# \mathrm{NDCG@K} = \frac{\mathrm{DCG@K}}{\mathrm{IDCG@K}},$$
#
# where IDCG@K is the DCG of the best possible list. Write `ndcg_graded(ranked, grades, k)`:
# `grades` is a dict `{item_id: grade}` (grades 1, 2, 3). Which items does the best possible list
# hold: only those of `ranked`? How long is it? A user with no graded item gets 0.0.

# %% tags=["solution"]
def ndcg_graded(ranked: list, grades: dict, k: int) -> float:
    def dcg(gains):
        return sum(g / math.log2(j + 1) for j, g in enumerate(gains[:k], start=1))

    ideal = dcg(sorted((2**g - 1 for g in grades.values()), reverse=True))  # every graded item, best K
    if ideal == 0:
        return 0.0
    return dcg([2 ** grades.get(i, 0) - 1 for i in ranked]) / ideal


# %%
ch06.ex1(globals())

# %% [markdown]
# ## Exercise 2 · ★ Spot the bug in recall@K (5 min)
#
# A colleague wrote the function below. Its numbers looked plausible, but they shrink as K
# grows even when every relevant item is already in the list. Find the bug, then write a
# correct `recall_at_k(ranked, relevant, k)` (`relevant` is the set of held-out item ids).

# %%
def recall_at_k_buggy(ranked: list, relevant: set, k: int) -> float:
    hits = len(set(ranked[:k]) & set(relevant))
    return hits / k


print(recall_at_k_buggy([1, 3, 4, 2, 0], {3}, 2), recall_at_k_buggy([1, 3, 4, 2, 0], {3}, 5))  # item 3 was found both times


# %% tags=["solution"]
def recall_at_k(ranked: list, relevant: set, k: int) -> float:
    # the bug: dividing by K gives precision@K; recall divides by the number of relevant items
    hits = len(set(ranked[:k]) & set(relevant))
    return hits / len(relevant)


# %%
ch06.ex2(globals())

# %% [markdown]
# ## Exercise 3 · ★★ The expected rank under sampled ranking (15 min)
#
# Section 3 gives the probability of a sampled *hit*. Here is a simpler number that shows the
# trap as well. The held-out item has full rank $r$ among itself and $N$ unseen items
# (`n_negatives`); sampled ranking draws $m$ of the $N$ uniformly without replacement and
# ranks the held-out item among them. Derive its **expected** rank among the sample (hint: write
# the number of sampled items above it as a sum of $r - 1$ indicators, and use linearity of
# expectation), then write `expected_sampled_rank(r, n_negatives, m)`. The check compares it
# with the mean over every possible sample.

# %% tags=["solution"]
def expected_sampled_rank(r: int, n_negatives: int, m: int) -> float:
    # each of the r - 1 items above is in the sample with probability m / N
    return 1 + (r - 1) * m / n_negatives


# %%
ch06.ex3(globals())

# %% [markdown]
# On MovieLens ($N \approx 1{,}600$, $m = 100$) a film at full rank 150 is expected at rank
# about 10 of the sample: at the edge of the top 10.

# %% tags=["uses-answer"]
print({r: round(expected_sampled_rank(r, 1600, 100), 1) for r in (10, 50, 150, 300, 1600)})

# %% [markdown]
# ## Exercise 4 · ★★ Check the formula by simulation (10 min)
#
# Write `simulate_sampled_hit(r, n_negatives, m, k, n_trials, seed)`: number the negatives
# $0..N-1$ so that $0..r-2$ are the ones scoring above the held-out item; in each of `n_trials`
# trials draw `m` of them without replacement with `np.random.default_rng(seed)`, and return the
# share of trials with fewer than `k` drawn items above. The same seed must give the same
# estimate, another seed another one.

# %% tags=["solution"]
def simulate_sampled_hit(r: int, n_negatives: int, m: int, k: int, n_trials: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    keys = rng.random((n_trials, n_negatives))                        # (T, N) random order per trial
    drawn = np.argsort(keys, axis=1)[:, :m]                           # (T, m) m distinct negatives
    above = (drawn < r - 1).sum(axis=1)                               # (T,)
    return float((above < k).mean())


# %%
ch06.ex4(globals())

# %% [markdown]
# ## Exercise 5 · ★ Which model wins? (10 min)
#
# Users have $N = 1{,}000$ unseen films each. Model **A** puts the held-out film first for 20%
# of users and at rank 500 for the others; model **B** puts it at rank 40 for everyone. Which
# model has the higher HR@10 under full ranking, and which under sampled ranking with $m = 100$
# uniform negatives? Answer `TRAP_ANSWER = (full, sampled)`, e.g. `("B", "A")`. Reason it out
# with Exercise 3 before you compute anything.

# %% tags=["solution"]
TRAP_ANSWER = ("A", "B")  # full: A 0.2, B 0; sampled: B's film has ~3.9 sampled films above it on average

# %%
ch06.ex5(globals())
