"""Checks for exercises/06_evaluation: NDCG@K, a buggy recall@K, sampled HR@10 from the full rank.

Every list-based answer takes ``ranked`` (item ids, best first), ``relevant`` (a set of ids)
and ``k``; the sampled-ranking answers take the full rank ``r`` (1 = best) of the held-out item
among itself and ``n_negatives`` unseen items, ``m`` sampled negatives and the cut-off ``k``.
"""

from __future__ import annotations

import math

from llmrec_ref.checks._common import call, expect, passed, require

# The chapter's toy user: five items ranked 1, 3, 4, 2, 0; items 3, 2 and 0 are relevant.
RANKED, RELEVANT = [1, 3, 4, 2, 0], {3, 2, 0}


def _close(a, b, tol: float = 1e-6) -> bool:
    try:
        return abs(float(a) - float(b)) <= tol
    except (TypeError, ValueError):
        return False


def ndcg_reference(ranked, relevant, k: int) -> float:
    """NDCG@K = sum_{j<=K} h_j / log2(j + 1) divided by the same sum over min(|R|, K) hits."""
    dcg = sum(1 / math.log2(j + 2) for j, i in enumerate(ranked[:k]) if i in relevant)
    idcg = sum(1 / math.log2(j + 2) for j in range(min(len(relevant), k)))
    return dcg / idcg


def p_sampled_hit_reference(r: int, n_negatives: int, m: int = 100, k: int = 10) -> float:
    """P(fewer than k of the r - 1 items above are among m negatives drawn without replacement)."""
    above = r - 1
    return sum(math.comb(above, j) * math.comb(n_negatives - above, m - j) for j in range(k)) / math.comb(n_negatives, m)


def ex1(ns: dict) -> None:
    """``ndcg_at_k(ranked, relevant, k) -> float`` with binary relevance and log2(j + 1) discounts."""
    name = "Exercise 1"
    fn = require(ns, "ndcg_at_k", name, callable)
    got = call(fn, name, list(RANKED), set(RELEVANT), 3)
    want = ndcg_reference(RANKED, RELEVANT, 3)                       # 0.2961
    expect(not _close(got, 1 / math.log2(3)), name,
           "you returned the DCG (0.631); NDCG divides it by the ideal DCG, the DCG of a perfect list.")
    expect(not _close(got, 0.5 / (1 + 0.5 + 1 / 3)), name,
           "the discount of slot j is 1 / log2(j + 1) (1, 0.631, 0.5, ...), not 1 / j.")
    late = call(fn, name, [1, 2, 3, 9], {9}, 3)
    expect(_close(late, 0.0), name, "only the first K slots count: a relevant item at slot 4 gives NDCG@3 = 0.")
    expect(_close(got, want), name,
           f"on ranked={RANKED}, relevant={sorted(RELEVANT)}, k=3 NDCG@3 = 0.2961 "
           f"(DCG 0.631 / IDCG 2.131); you returned {got!r}.")
    # five relevant items, all in the first three slots: a perfect top-3 list
    perfect = call(fn, name, [5, 6, 7, 8, 9, 1], {5, 6, 7, 8, 9}, 3)
    disc = [1 / math.log2(j + 2) for j in range(5)]
    expect(not _close(perfect, sum(disc[:3]) / sum(disc)), name,
           "the ideal DCG has min(|R|, K) hits, not |R|: a list whose K slots are all relevant scores 1.")
    expect(_close(perfect, 1.0), name, f"a top-3 list of three relevant items has NDCG@3 = 1; you returned {perfect!r}.")
    passed(name, "NDCG@K with log2 discounts and the ideal DCG of min(|R|, K) hits")


def ex2(ns: dict) -> None:
    """``recall_at_k(ranked, relevant, k) -> float``: hits in the top K divided by |relevant|."""
    name = "Exercise 2"
    fn = require(ns, "recall_at_k", name, callable)
    got = call(fn, name, list(RANKED), set(RELEVANT), 2)             # top 2 = [1, 3]: one hit of three
    expect(not _close(got, 0.5), name,
           "your recall@K divides by K; recall divides by the number of relevant items |R| "
           "(dividing by K is precision).")
    expect(not _close(got, 2 / 3), name,
           "you returned the share of relevant items that were missed (1 - recall); recall is the "
           "share of relevant items that were recommended.")
    expect(_close(got, 1 / 3), name, f"top 2 = [1, 3] holds 1 of the 3 relevant items: recall@2 = 1/3; you returned {got!r}.")
    one = call(fn, name, list(RANKED), {3}, 5)
    expect(_close(one, 1.0), name, f"the only relevant item is in the top 5, so recall@5 = 1; you returned {one!r}.")
    passed(name, "recall@K = hits / |relevant items|")


def ex3(ns: dict) -> None:
    """``p_sampled_hit(r, n_negatives, m=100, k=10)``: the hypergeometric tail."""
    name = "Exercise 3"
    fn = require(ns, "p_sampled_hit", name, callable)
    got = call(fn, name, 30, 200, 100, 10)
    want = p_sampled_hit_reference(30, 200, 100, 10)                 # 0.0216
    p = 29 / 200
    binomial = sum(math.comb(100, j) * p ** j * (1 - p) ** (100 - j) for j in range(10))
    expect(not _close(got, binomial), name,
           "negatives are drawn without replacement: the number of sampled items above the held-out "
           "one is hypergeometric, not binomial (math.comb counts the ways).")
    expect(not _close(got, p_sampled_hit_reference(31, 200, 100, 10)), name,
           "full rank r means r - 1 items score above the held-out item (rank 1 = best), not r.")
    expect(_close(got, want, 1e-9), name,
           f"r=30, n_negatives=200, m=100, k=10 gives P = {want:.6f}; you returned {got!r}.")
    for r in (1, 10):
        top = call(fn, name, r, 200, 100, 10)
        expect(_close(top, 1.0), name, f"with full rank r = {r} <= k at most {r - 1} items can beat it: "
               f"the probability is 1; you returned {top!r}.")
    ml = call(fn, name, 150, 1681)
    expect(_close(ml, p_sampled_hit_reference(150, 1681), 1e-9), name,
           f"check the defaults m=100, k=10: r=150 among 1681 negatives gives {p_sampled_hit_reference(150, 1681):.4f}.")
    passed(name, "P(sampled hit) = sum_{j<k} C(r-1, j) C(N-r+1, m-j) / C(N, m)")


def ex4(ns: dict) -> None:
    """``simulate_sampled_hit(r, n_negatives, m, k, n_trials, seed)``: a Monte Carlo estimate."""
    name = "Exercise 4"
    fn = require(ns, "simulate_sampled_hit", name, callable)
    got = call(fn, name, 30, 200, 100, 10, 20000, 0)
    again = call(fn, name, 30, 200, 100, 10, 20000, 0)
    expect(_close(got, again, 0.0), name, "the same seed must give the same estimate: draw from a generator "
           "seeded with `seed` (np.random.default_rng(seed)).")
    want = p_sampled_hit_reference(30, 200, 100, 10)
    se = math.sqrt(want * (1 - want) / 20000)
    expect(abs(float(got) - 0.0717) > 6 * se or abs(float(got) - want) <= 5 * se, name,
           "your estimate is near the binomial value 0.072: draw the m negatives without replacement "
           "(rng.choice(..., replace=False) or a permutation).")
    expect(abs(float(got) - want) <= 5 * se, name,
           f"r=30, n_negatives=200 should give about {want:.4f} (the exact value), you estimated {got!r}.")
    easy = call(fn, name, 150, 1681, 100, 10, 4000, 1)
    want2 = p_sampled_hit_reference(150, 1681)
    expect(abs(float(easy) - want2) <= 5 * math.sqrt(want2 * (1 - want2) / 4000), name,
           f"r=150, n_negatives=1681 should give about {want2:.3f}; you estimated {easy!r}.")
    passed(name, "the simulation agrees with the exact formula")
