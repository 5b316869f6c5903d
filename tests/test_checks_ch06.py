"""The chapter 06 exercise checks accept right answers and explain typical wrong ones."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from check_contract import (  # noqa: F401 - the generic tests, run on RIGHT / WRONG below
    test_missing_answer_fails_with_a_hint,
    test_right_answer_passes,
    test_typical_wrong_answer_fails_with_its_hint,
)

from llmrec_ref import metrics
from llmrec_ref.checks import ExerciseFailed, ch06

# ----------------------------------------------------------------------------- exercise 1


def _dcg(gains, k):
    return sum(g / math.log2(j + 1) for j, g in enumerate(gains[:k], start=1))


def _ndcg(ranked, grades, k, gain=lambda g: 2**g - 1, ideal_from_list=False, cut=True, divide=True):
    mine = [gain(grades.get(i, 0)) for i in ranked]
    pool = mine if ideal_from_list else [gain(g) for g in grades.values()]
    ideal = _dcg(sorted(pool, reverse=True), k if cut else len(pool))
    if not divide:
        return _dcg(mine, k)
    return 0.0 if ideal == 0 else _dcg(mine, k) / ideal


def ndcg_graded(ranked, grades, k):
    return _ndcg(ranked, grades, k)


def ndcg_divides_by_zero(ranked, grades, k):
    ideal = _dcg(sorted((2**g - 1 for g in grades.values()), reverse=True), k)
    return _dcg([2 ** grades.get(i, 0) - 1 for i in ranked], k) / ideal


def ndcg_mutates(ranked, grades, k):
    out = _ndcg(ranked, grades, k)
    ranked.sort()
    return out


# ----------------------------------------------------------------------------- exercise 2


def recall_at_k(ranked, relevant, k):
    return len(set(ranked[:k]) & set(relevant)) / len(relevant)


# ----------------------------------------------------------------------------- exercise 4


def simulate_sampled_hit(r, n_negatives, m, k, n_trials, seed):
    rng = np.random.default_rng(seed)
    above = np.array([rng.choice(n_negatives, m, replace=False) < r - 1 for _ in range(n_trials)]).sum(1)
    return float((above < k).mean())


def simulate_with_replacement(r, n_negatives, m, k, n_trials, seed):
    rng = np.random.default_rng(seed)
    above = (rng.integers(0, n_negatives, (n_trials, m)) < r - 1).sum(1)
    return float((above < k).mean())


_draws = itertools.count(1)


def simulate_unseeded(r, n_negatives, m, k, n_trials, seed):
    """Ignores ``seed``: every call draws differently."""
    return simulate_sampled_hit(r, n_negatives, m, k, n_trials, 10_000 + next(_draws))


RIGHT = {
    ch06.ex1: {"ndcg_graded": ndcg_graded},
    ch06.ex2: {"recall_at_k": recall_at_k},
    ch06.ex3: {"expected_sampled_rank": lambda r, n, m: 1 + (r - 1) * m / n},
    ch06.ex4: {"simulate_sampled_hit": simulate_sampled_hit},
    ch06.ex5: {"TRAP_ANSWER": ("A", "B")},
}
WRONG = [
    (ch06.ex1, {"ndcg_graded": lambda r, g, k: _ndcg(r, g, k, gain=lambda x: float(x > 0))}, "2\\^grade - 1, not 1"),
    (ch06.ex1, {"ndcg_graded": lambda r, g, k: _ndcg(r, g, k, gain=float)}, "not the grade itself"),
    (ch06.ex1, {"ndcg_graded": lambda r, g, k: _ndcg(r, g, k, ideal_from_list=True)}, "\\*all\\* graded items"),
    (ch06.ex1, {"ndcg_graded": lambda r, g, k: _ndcg(r, g, k, cut=False)}, "best K gains only"),
    (ch06.ex1, {"ndcg_graded": lambda r, g, k: _ndcg(r, g, k, divide=False)}, "you returned the DCG"),
    (ch06.ex1, {"ndcg_graded": lambda r, g, k: _ndcg(r, g, len(r))}, "differs on a fresh case|best K gains"),
    (ch06.ex1, {"ndcg_graded": ndcg_divides_by_zero}, "without any graded item has NDCG 0.0"),
    (ch06.ex1, {"ndcg_graded": ndcg_mutates}, "changed `ranked` or `grades`"),
    (ch06.ex1, {"ndcg_graded": lambda r, g, k: 0.2961}, "NDCG@|2\\^grade|not the grade|DCG"),
    (ch06.ex2, {"recall_at_k": lambda r, rel, k: len(set(r[:k]) & set(rel)) / k}, "divides by K"),
    (ch06.ex2, {"recall_at_k": lambda r, rel, k: 1 - recall_at_k(r, rel, k)}, "missed"),
    (ch06.ex2, {"recall_at_k": lambda r, rel, k: 1 / 3}, "recall|divides by K|missed"),
    (ch06.ex3, {"expected_sampled_rank": lambda r, n, m: (r - 1) * m / n}, "a rank starts at 1"),
    (ch06.ex3, {"expected_sampled_rank": lambda r, n, m: 1 + r * m / n}, "r - 1 items score above"),
    (ch06.ex3, {"expected_sampled_rank": lambda r, n, m: r}, "not the full rank"),
    (ch06.ex3, {"expected_sampled_rank": lambda r, n, m: 1 + (r - 1) * m / (n + 1)}, "differs from the mean"),
    (ch06.ex4, {"simulate_sampled_hit": simulate_with_replacement}, "with\\* replacement"),
    (ch06.ex4, {"simulate_sampled_hit": simulate_unseeded}, "same seed must give the same estimate"),
    (ch06.ex4, {"simulate_sampled_hit": lambda r, n, m, k, t, s: ch06.p_sampled_hit_reference(r, n, m, k)},
     "another seed must give another estimate"),
    (ch06.ex5, {"TRAP_ANSWER": ("A", "A")}, "B's sampled HR@10"),
    (ch06.ex5, {"TRAP_ANSWER": ("B", "B")}, "never there"),
    (ch06.ex5, {"TRAP_ANSWER": "A"}, "two letters"),
]


def test_an_answer_that_raises_is_reported_not_crashed():
    def broken(ranked, grades, k):
        raise KeyError("x")

    with pytest.raises(ExerciseFailed, match="raised KeyError"):
        ch06.ex1({"ndcg_graded": broken})


def test_graded_ndcg_with_grade_one_is_the_packages_binary_ndcg():
    """The check's formulation (gains 2^g - 1) reduces to metrics.ndcg_at_k when every grade is 1."""
    scores = torch.tensor([[0.1, 0.9, 0.3, 0.8, 0.5]])                # ranks items 1, 3, 4, 2, 0
    truth = torch.tensor([[True, False, True, True, False]])
    for k in (1, 2, 3, 5):
        gains = [2.0 ** int(truth[0, i]) - 1 for i in (1, 3, 4, 2, 0)]
        mine = ch06._dcg(gains, k) / ch06._dcg([1.0, 1.0, 1.0], k)
        assert mine == pytest.approx(metrics.ndcg_at_k(scores, truth, k).item(), abs=1e-6)


def test_mean_rank_by_pmf_agrees_with_enumeration():
    for r in range(1, 8):
        assert ch06._mean_rank_by_pmf(r, 6, 3) == pytest.approx(ch06._mean_rank_by_enumeration(r, 6, 3))


def test_reference_formula_agrees_with_brute_force_enumeration():
    for r in range(1, 8):
        subsets = list(itertools.combinations(range(6), 3))
        hits = sum(sum(i < r - 1 for i in s) < 2 for s in subsets)
        assert ch06.p_sampled_hit_reference(r, 6, 3, 2) == pytest.approx(hits / len(subsets))


def test_checks_draw_fresh_cases_each_run():
    seen = []

    def spy(ranked, grades, k):
        seen.append(list(ranked))
        return ndcg_graded(ranked, grades, k)

    ch06.ex1({"ndcg_graded": spy})
    ch06.ex1({"ndcg_graded": spy})
    assert seen[0] != seen[len(seen) // 2]
