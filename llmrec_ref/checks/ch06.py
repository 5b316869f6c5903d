"""Checks for exercises/06_evaluation: NDCG@K with graded relevance, a buggy recall@K, the expected
rank under sampled ranking, a seeded simulation of sampled HR@10, and a graded question on how
sampled ranking can reorder two models.

List answers take ``ranked`` (item ids, best first) and ``k``; the sampled-ranking answers take
the full rank ``r`` (1 = best) of the held-out item among itself and ``n_negatives`` unseen items
and ``m`` sampled negatives. Every case is drawn afresh inside the check; expected values come
from a different formulation (a torch dot product of gains and discounts, an enumeration of
every sample, the hypergeometric probabilities) or a definition. No hint prints an expected value.
"""

from __future__ import annotations

import itertools
import math
import random

import torch

from llmrec_ref.checks._common import ExerciseFailed, call, expect, passed, require


def _close(a, b, tol: float = 1e-6) -> bool:
    try:
        return abs(float(a) - float(b)) <= tol
    except (TypeError, ValueError):
        return False


def _rng() -> random.Random:
    return random.Random(int(torch.randint(0, 2**31 - 1, ()).item()))


def p_sampled_hit_reference(r: int, n_negatives: int, m: int = 100, k: int = 10) -> float:
    """P(fewer than k of the r - 1 items above are among m negatives drawn without replacement)."""
    above = r - 1
    return sum(math.comb(above, j) * math.comb(n_negatives - above, m - j) for j in range(k)) / math.comb(n_negatives, m)


# ----------------------------------------------------------------------------- exercise 1


def _dcg(gains: list[float], k: int) -> float:
    """sum_j gains[j] / log2(j + 1) over the first k slots, as a torch dot product."""
    g = torch.tensor(gains[:k], dtype=torch.float64)
    return float(g @ (1 / torch.log2(torch.arange(2, len(g) + 2, dtype=torch.float64))))


def _graded_case(rng: random.Random, n: int, n_graded: int, list_len: int):
    items = rng.sample(range(100, 200), n)
    grades = {i: rng.randint(1, 3) for i in rng.sample(items, n_graded)}
    ranked = rng.sample(items, list_len)  # some graded items may be missing from the list
    return ranked, grades


def ex1(ns: dict) -> None:
    """``ndcg_graded(ranked, grades, k) -> float``: gains 2^grade - 1, log2(j + 1) discounts, over
    the DCG of the ideal order of *all* graded items; 0.0 when no item is graded."""
    name = "Exercise 1"
    fn = require(ns, "ndcg_graded", name, callable)
    rng = _rng()
    cases = [_graded_case(rng, 12, 5, 10) + (3,), _graded_case(rng, 8, 6, 6) + (4,),
             _graded_case(rng, 15, 4, 15) + (1,), _graded_case(rng, 10, 7, 5) + (8,)]  # k past the list's end
    ranked, grades, _ = cases[0]
    cases.append((ranked[:3] + [i for i in ranked[3:] if i not in grades], dict(grades), 3))  # misses graded items
    hints = {
        "binary": "with graded relevance the gain of an item is 2^grade - 1, not 1 per relevant item.",
        "linear": "the gain is 2^grade - 1, not the grade itself: a grade-3 item is worth seven grade-1 items, "
                  "not three.",
        "own": "the ideal DCG sorts *all* graded items by gain, including those your ranked list missed, not "
               "only the items in the list.",
        "uncut": "the ideal DCG keeps the best K gains only (the ideal list is K long).",
        "dcg": "you returned the DCG; NDCG divides it by the DCG of the ideal order.",
    }
    consistent, failed_k = set(hints), None
    for ranked, grades, k in cases:
        given_ranked, given_grades = list(ranked), dict(grades)
        got = call(fn, name, given_ranked, given_grades, k)
        expect(given_ranked == ranked and given_grades == grades, name,
               "your function changed `ranked` or `grades`; leave its inputs as they are.")
        gain = [2.0 ** grades.get(i, 0) - 1 for i in ranked]
        ideal = sorted((2.0 ** g - 1 for g in grades.values()), reverse=True)
        want = _dcg(gain, k) / _dcg(ideal, k)
        if _close(got, want):
            continue
        failed_k = failed_k or k
        mistakes = {
            "binary": _dcg([float(i in grades) for i in ranked], k) / _dcg([1.0] * len(grades), k),
            "linear": _dcg([float(grades.get(i, 0)) for i in ranked], k) / _dcg(sorted(grades.values(), reverse=True), k),
            "own": _dcg(gain, k) / max(_dcg(sorted(gain, reverse=True), k), 1e-12),
            "uncut": _dcg(gain, k) / _dcg(ideal, len(ideal)),
            "dcg": _dcg(gain, k),
        }
        consistent &= {key for key, value in mistakes.items() if _close(got, value)}
    if failed_k is not None:  # name a mistake only when it explains every case that failed
        if len(consistent) == 1:
            expect(False, name, hints[consistent.pop()])
        expect(False, name, f"NDCG@{failed_k} differs on a fresh case: DCG = sum over the first K slots of "
               "(2^grade - 1) / log2(j + 1), j = 1 for the first slot, items without a grade have gain 0.")
    try:
        empty = call(fn, name, [1, 2, 3], {}, 2)
    except ExerciseFailed as err:
        raise ExerciseFailed(f"{name}: a user without any graded item has NDCG 0.0 (by convention), not an error: "
                             f"{err}") from err
    expect(_close(empty, 0.0), name, "a user without any graded item has NDCG 0.0 (by convention), not nan.")
    ranked, grades = _graded_case(rng, 9, 5, 9)
    perfect = sorted(ranked, key=lambda i: -grades.get(i, 0))
    expect(_close(call(fn, name, perfect, dict(grades), 4), 1.0), name, "a list in the ideal order has NDCG 1.")
    passed(name, "graded NDCG@K (gains 2^grade - 1, ideal over all graded items, cut at K) on fresh cases")


# ----------------------------------------------------------------------------- exercise 2


def ex2(ns: dict) -> None:
    """``recall_at_k(ranked, relevant, k) -> float``: hits in the top K divided by |relevant|."""
    name = "Exercise 2"
    fn = require(ns, "recall_at_k", name, callable)
    rng = _rng()
    for n, n_rel, k in ((10, 3, 2), (20, 6, 5), (8, 1, 8), (12, 4, 1)):
        ranked = rng.sample(range(50), n)
        relevant = set(rng.sample(ranked[: max(k, 2)], min(n_rel, max(k, 2))))  # at least one hit in the top k
        relevant |= set(rng.sample(range(50, 60), n_rel - len(relevant)))     # and some never recommended
        given_ranked, given_rel = list(ranked), set(relevant)
        got = call(fn, name, given_ranked, given_rel, k)
        expect(given_ranked == ranked and given_rel == relevant, name,
               "your function changed `ranked` or `relevant`; leave its inputs as they are.")
        hits = sum(i in relevant for i in ranked[:k])
        if _close(got, hits / len(relevant)):
            continue
        expect(not _close(got, hits / k), name, "your recall@K divides by K; recall divides by the number of "
               "relevant items |R| (dividing by K is precision).")
        expect(not _close(got, 1 - hits / len(relevant)), name, "you returned the share of relevant items that were "
               "missed (1 - recall); recall is the share of relevant items that were recommended.")
        expect(False, name, "recall@K = (relevant items among the first K) / (number of relevant items).")
    passed(name, "recall@K = hits / |relevant items|, on fresh cases")


# ----------------------------------------------------------------------------- exercise 3


def _mean_rank_by_enumeration(r: int, n: int, m: int) -> float:
    """1 + the mean number of sampled negatives above, over every m-subset of the n negatives."""
    subsets = list(itertools.combinations(range(n), m))
    return 1 + sum(sum(i < r - 1 for i in s) for s in subsets) / len(subsets)


def _mean_rank_by_pmf(r: int, n: int, m: int) -> float:
    above = r - 1
    return 1 + sum(j * math.comb(above, j) * math.comb(n - above, m - j) for j in range(m + 1)) / math.comb(n, m)


def ex3(ns: dict) -> None:
    """``expected_sampled_rank(r, n_negatives, m) -> float``: E[rank among m sampled negatives]."""
    name = "Exercise 3"
    fn = require(ns, "expected_sampled_rank", name, callable)
    rng = _rng()
    small = [(rng.randint(1, n + 1), n, rng.randint(1, n)) for n in (5, 7, 9)] + [(1, 6, 3), (7, 6, 6)]
    large = [(rng.randint(2, 1600), 1600, 100), (rng.randint(2, 400), 400, rng.randint(10, 300))]
    hints = {
        "plus one": "a rank starts at 1: the held-out item with nobody above it has rank 1, so add 1 to the "
                    "expected number of items above it.",
        "r above": "full rank r means r - 1 items score above the held-out one, not r.",
        "full rank": "the rank among the sample is not the full rank: each item above is in the sample with some "
                     "probability. What is it?",
    }
    consistent, failed = set(hints), None
    for r, n, m in small + large:
        got = call(fn, name, r, n, m)
        want = _mean_rank_by_enumeration(r, n, m) if n < 10 else _mean_rank_by_pmf(r, n, m)
        if _close(got, want, 1e-9 * max(1.0, want)):
            continue
        failed = failed or (r, n, m)
        mistakes = {"plus one": want - 1, "r above": 1 + r * m / n, "full rank": r}
        consistent &= {key for key, value in mistakes.items() if _close(got, value, 1e-9 * max(1.0, want))}
    if failed is not None:  # name a mistake only when it explains every case that failed
        if len(consistent) == 1:
            expect(False, name, hints[consistent.pop()])
        r, n, m = failed
        expect(False, name, f"E[rank] differs from the mean over every possible sample (r={r}, n_negatives={n}, "
               f"m={m}): write the number of sampled items above as a sum of indicators, one per item above.")
    passed(name, "E[sampled rank] = 1 + (r - 1) m / N, checked by enumerating every sample")


# ----------------------------------------------------------------------------- exercise 4


def ex4(ns: dict) -> None:
    """``simulate_sampled_hit(r, n_negatives, m, k, n_trials, seed)``: a seeded Monte Carlo estimate."""
    name = "Exercise 4"
    fn = require(ns, "simulate_sampled_hit", name, callable)
    rng = _rng()
    r, n = rng.randint(25, 32), rng.randint(180, 220)
    seed = rng.randint(0, 10_000)
    got = call(fn, name, r, n, 100, 10, 20000, seed)
    again = call(fn, name, r, n, 100, 10, 20000, seed)
    expect(_close(got, again, 0.0), name, "the same seed must give the same estimate: draw from a generator "
           "seeded with `seed` (np.random.default_rng(seed)).")
    others = [call(fn, name, r, n, 100, 10, 20000, seed + i) for i in (1, 2, 3)]  # two may agree by chance
    expect(any(not _close(got, other, 0.0) for other in others), name, "another seed must give another estimate: an estimate that does not "
           "depend on the seed is not a simulation.")
    want = p_sampled_hit_reference(r, n, 100, 10)
    se = math.sqrt(want * (1 - want) / 20000) + 1e-4
    p = (r - 1) / n
    binomial = sum(math.comb(100, j) * p**j * (1 - p) ** (100 - j) for j in range(10))
    se_binomial = math.sqrt(binomial * (1 - binomial) / 20000) + 1e-4
    expect(abs(float(got) - binomial) > 5 * se_binomial or abs(float(got) - want) <= 5 * se, name,
           "your estimate is near the value for draws *with* replacement: draw the m negatives without "
           "replacement (rng.choice(..., replace=False) or a permutation).")
    expect(abs(float(got) - want) <= 5 * se, name,
           f"r={r}, n_negatives={n}, m=100, k=10: your estimate is far from the exact probability "
           "(the formula of chapter 06, section 3).")
    r2 = rng.randint(120, 180)
    easy = call(fn, name, r2, 1681, 100, 10, 4000, seed)
    want2 = p_sampled_hit_reference(r2, 1681)
    expect(abs(float(easy) - want2) <= 5 * math.sqrt(want2 * (1 - want2) / 4000) + 1e-4, name,
           f"r={r2}, n_negatives=1681: your estimate is far from the exact probability.")
    passed(name, "the seeded simulation agrees with the exact formula, and another seed draws anew")


# ----------------------------------------------------------------------------- exercise 5


def ex5(ns: dict) -> None:
    """``TRAP_ANSWER``: (the model full ranking prefers, the model sampled ranking prefers)."""
    name = "Exercise 5"
    answer = require(ns, "TRAP_ANSWER", name)
    letters = [str(c).strip().upper() for c in (answer if isinstance(answer, (tuple, list)) else str(answer))]
    letters = [c for c in letters if c]
    expect(len(letters) == 2 and set(letters) <= {"A", "B"}, name,
           "answer with two letters, e.g. ('A', 'B'): the model full ranking prefers, then the one sampled "
           "ranking prefers.")
    expect(letters[0] == "A", name, "full HR@10 counts the users whose film is in the top 10 of all ~1,000: "
           "a film always at rank 40 is never there.")
    expect(letters[1] == "B", name, "work out B's sampled HR@10 first: with 39 films above it, how many of them "
           "land in 100 draws from 1,000 on average (Exercise 3), and how likely are 10 or more?")
    passed(name, "full ranking prefers A, sampled ranking B: the sampled protocol reorders the two models")
