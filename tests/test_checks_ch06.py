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


def ndcg_at_k(ranked, relevant, k):
    dcg = sum(1 / math.log2(j + 1) for j, i in enumerate(ranked[:k], start=1) if i in relevant)
    idcg = sum(1 / math.log2(j + 1) for j in range(1, min(len(relevant), k) + 1))
    return dcg / idcg


def dcg_only(ranked, relevant, k):
    return sum(1 / math.log2(j + 1) for j, i in enumerate(ranked[:k], start=1) if i in relevant)


def ndcg_ideal_over_all_relevant(ranked, relevant, k):
    dcg = dcg_only(ranked, relevant, k)
    return dcg / sum(1 / math.log2(j + 1) for j in range(1, len(relevant) + 1))


def ndcg_reciprocal_discount(ranked, relevant, k):
    dcg = sum(1 / j for j, i in enumerate(ranked[:k], start=1) if i in relevant)
    return dcg / sum(1 / j for j in range(1, min(len(relevant), k) + 1))


def ndcg_whole_list(ranked, relevant, k):
    return ndcg_at_k(ranked, relevant, len(ranked))


def recall_at_k(ranked, relevant, k):
    return len(set(ranked[:k]) & set(relevant)) / len(relevant)


def recall_divides_by_k(ranked, relevant, k):
    return len(set(ranked[:k]) & set(relevant)) / k


def recall_missed_share(ranked, relevant, k):
    return 1 - recall_at_k(ranked, relevant, k)


def p_sampled_hit(r, n_negatives, m=100, k=10):
    above = r - 1
    return sum(math.comb(above, j) * math.comb(n_negatives - above, m - j) for j in range(k)) / math.comb(n_negatives, m)


def p_sampled_hit_binomial(r, n_negatives, m=100, k=10):
    p = (r - 1) / n_negatives
    return sum(math.comb(m, j) * p ** j * (1 - p) ** (m - j) for j in range(k))


def p_sampled_hit_off_by_one(r, n_negatives, m=100, k=10):
    return p_sampled_hit(r + 1, n_negatives, m, k)


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
    """Ignores ``seed``: every call draws differently (a fresh seed each time; with seed=None two runs
    would agree by chance about once in a hundred, which made this test flaky)."""
    return simulate_sampled_hit(r, n_negatives, m, k, n_trials, 10_000 + next(_draws))


RIGHT = {
    ch06.ex1: {"ndcg_at_k": ndcg_at_k},
    ch06.ex2: {"recall_at_k": recall_at_k},
    ch06.ex3: {"p_sampled_hit": p_sampled_hit},
    ch06.ex4: {"simulate_sampled_hit": simulate_sampled_hit},
}
WRONG = [
    (ch06.ex1, {"ndcg_at_k": dcg_only}, "you returned the DCG"),
    (ch06.ex1, {"ndcg_at_k": ndcg_ideal_over_all_relevant}, r"min\(\|R\|, K\) hits, not \|R\|"),
    (ch06.ex1, {"ndcg_at_k": ndcg_reciprocal_discount}, "not 1 / j"),
    (ch06.ex1, {"ndcg_at_k": ndcg_whole_list}, "only the first K slots count"),
    (ch06.ex2, {"recall_at_k": recall_divides_by_k}, "divides by K; recall divides by the number of relevant"),
    (ch06.ex2, {"recall_at_k": recall_missed_share}, "share of relevant items that were missed"),
    (ch06.ex3, {"p_sampled_hit": p_sampled_hit_binomial}, "without replacement"),
    (ch06.ex3, {"p_sampled_hit": p_sampled_hit_off_by_one}, "r - 1 items score above"),
    (ch06.ex4, {"simulate_sampled_hit": simulate_with_replacement}, "without replacement"),
    (ch06.ex4, {"simulate_sampled_hit": simulate_unseeded}, "same seed must give the same estimate"),
]


def test_an_answer_that_raises_is_reported_not_crashed():
    def broken(ranked, relevant, k):
        raise ZeroDivisionError("float division by zero")

    with pytest.raises(ExerciseFailed, match="raised ZeroDivisionError"):
        ch06.ex1({"ndcg_at_k": broken})


def test_reference_ndcg_agrees_with_the_package():
    scores = torch.tensor([[0.1, 0.9, 0.3, 0.8, 0.5]])                # ranks items 1, 3, 4, 2, 0
    truth = torch.tensor([[True, False, True, True, False]])
    for k in (1, 2, 3, 5):
        want = metrics.ndcg_at_k(scores, truth, k).item()
        assert ch06.ndcg_reference(ch06.RANKED, ch06.RELEVANT, k) == pytest.approx(want, abs=1e-6)


def test_reference_formula_agrees_with_brute_force_enumeration():
    # N = 6 negatives, m = 3 drawn, k = 2: count the subsets by hand
    import itertools

    for r in range(1, 8):
        subsets = list(itertools.combinations(range(6), 3))
        hits = sum(sum(i < r - 1 for i in s) < 2 for s in subsets)
        assert ch06.p_sampled_hit_reference(r, 6, 3, 2) == pytest.approx(hits / len(subsets))
