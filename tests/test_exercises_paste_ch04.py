"""Pasting chapter 04's own code (the notebook's inline functions, the package's versions) into an
exercise's answer does not pass its check. The gates of exercise 4 are computed inline in the
chapter (no function); the package's ``AdditiveAttention`` is the closest."""

from __future__ import annotations

import pytest
from chapter_code import chapter_function

from llmrec_ref import attention
from llmrec_ref.checks import ExerciseFailed, ch04

PASTES = [
    (ch04.ex1, "masked_attention", lambda: chapter_function("04", "attention")),
    (ch04.ex1, "masked_attention", lambda: attention.scaled_dot_product_attention),
    (ch04.ex2, "grouped_query_attention", lambda: chapter_function("04", "attention")),
    (ch04.ex2, "grouped_query_attention", lambda: chapter_function("04", "multi_head")),
    (ch04.ex3, "target_attention", lambda: chapter_function("04", "attention")),
    (ch04.ex3, "target_attention", lambda: attention.TargetAttention),
    (ch04.ex4, "pairwise_gates", lambda: attention.AdditiveAttention),
]


@pytest.mark.parametrize(("check", "answer", "pasted"), PASTES,
                         ids=[f"{c.__name__}-{a}-{i}" for i, (c, a, _) in enumerate(PASTES)])
def test_the_chapters_code_pasted_as_the_answer_fails(check, answer, pasted):
    with pytest.raises(ExerciseFailed):
        check({answer: pasted()})
