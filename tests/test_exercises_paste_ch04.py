"""Pasting chapter 04's own code (the notebook's inline functions, the package's versions) into an
exercise's answer does not pass its check. The gates of exercise 4 are computed inline in the
chapter (no function); the package's ``AdditiveAttention`` is the closest."""

from __future__ import annotations

from chapter_code import chapter_function, paste_test

from llmrec_ref import attention
from llmrec_ref.checks import ch04

PASTES = [
    (ch04.ex1, "masked_attention", lambda: chapter_function("04", "attention")),
    (ch04.ex1, "masked_attention", lambda: attention.scaled_dot_product_attention),
    (ch04.ex2, "grouped_query_attention", lambda: chapter_function("04", "attention")),
    (ch04.ex2, "grouped_query_attention", lambda: chapter_function("04", "multi_head")),
    (ch04.ex3, "target_attention", lambda: chapter_function("04", "attention")),
    (ch04.ex3, "target_attention", lambda: attention.TargetAttention),
    (ch04.ex4, "pairwise_gates", lambda: attention.AdditiveAttention),
]

test_the_chapters_code_pasted_as_the_answer_fails = paste_test(PASTES)
