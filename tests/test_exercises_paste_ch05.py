"""Pasting chapter 05's own code (or the package's) into an exercise's answer does not pass."""

from __future__ import annotations

import pytest
from chapter_code import assert_paste_fails, chapter_function

from llmrec_ref import decode, losses, metrics
from llmrec_ref.checks import ch05

CHAPTER = "05_loss_derivation"

PASTES = [  # (check, the answer's name, the closest function the chapter or the package has)
    (ch05.ex1, "bpr_embedding_grads", lambda: chapter_function(CHAPTER, "bpr_grad_inline")),
    (ch05.ex1, "bpr_embedding_grads", lambda: losses.bpr_grad),
    (ch05.ex2, "top_k_fill", lambda: decode.top_k),
    (ch05.ex2, "top_k_fill", lambda: metrics.topk_items),
    (ch05.ex2, "top_k_fill", lambda: lambda scores, k, seen: decode.top_k(scores, k, exclude=seen)),
    (ch05.ex3, "train_ridge", lambda: chapter_function(CHAPTER, "gradient_descent")),
    (ch05.ex3, "train_ridge", lambda: chapter_function(CHAPTER, "run")),
]


@pytest.mark.parametrize("check, answer, pasted", PASTES, ids=[f"{c.__name__}-{a}-{i}" for i, (c, a, _) in enumerate(PASTES)])
def test_pasting_the_chapters_function_does_not_pass(check, answer, pasted):
    assert_paste_fails(check, answer, pasted())
