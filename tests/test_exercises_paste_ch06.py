"""Pasting chapter 06's own code (or the package's) into an exercise's answer does not pass."""

from __future__ import annotations

import math

import pytest
from chapter_code import assert_paste_fails, chapter_function

from llmrec_ref import metrics
from llmrec_ref.checks import ch06

CHAPTER = "06_evaluation"


def chapter_ndcg(ranked, relevant, k):
    """Section 1's NDCG cell, made a function (binary relevance: an item with a grade is relevant)."""
    hits = [int(i in relevant) for i in ranked[:k]]
    dcg = sum(h / math.log2(j + 1) for j, h in enumerate(hits, start=1))
    idcg = sum(1 / math.log2(j + 1) for j in range(1, min(len(relevant), k) + 1))
    return dcg / idcg


PASTES = [  # (check, the answer's name, the closest function the chapter or the package has)
    (ch06.ex1, "ndcg_graded", lambda: chapter_ndcg),
    (ch06.ex1, "ndcg_graded", lambda: metrics.ndcg_at_k),
    (ch06.ex3, "expected_sampled_rank", lambda: chapter_function(CHAPTER, "p_sampled_hit")),
    (ch06.ex3, "expected_sampled_rank", lambda: chapter_function(CHAPTER, "full_ranks")),
    (ch06.ex4, "simulate_sampled_hit", lambda: lambda r, n, m, k, trials, seed:
     chapter_function(CHAPTER, "p_sampled_hit")(r, n, m, k)),
]


@pytest.mark.parametrize("check, answer, pasted", PASTES, ids=[f"{c.__name__}-{a}-{i}" for i, (c, a, _) in enumerate(PASTES)])
def test_pasting_the_chapters_function_does_not_pass(check, answer, pasted):
    assert_paste_fails(check, answer, pasted())


def test_the_packages_recall_does_not_fit_the_answer():
    """metrics.recall_at_k takes a score tensor and a truth mask: pasted, it fails (the exercise's
    point is the bug, which the chapter states in prose and never as a function)."""
    assert_paste_fails(ch06.ex2, "recall_at_k", metrics.recall_at_k)
