"""Pasting chapter 02's own code (the notebook's inline functions, the package's versions) into an
exercise's answer does not pass its check. Exercise 3 (the negative-sampling gradients) has no
chapter function to paste: the chapter lets autograd compute them."""

from __future__ import annotations

from chapter_code import chapter_function, paste_test

from llmrec_ref import embeddings
from llmrec_ref.checks import ch02

PASTES = [
    (ch02.ex1, "forward_pairs", lambda: chapter_function("02", "skipgram_pairs")),
    (ch02.ex2, "cosine_neighbours", lambda: chapter_function("02", "top_words")),
    (ch02.ex2, "cosine_neighbours", lambda: chapter_function("02", "cosine")),
    (ch02.ex2, "cosine_neighbours", lambda: embeddings.nearest),
]

test_the_chapters_code_pasted_as_the_answer_fails = paste_test(PASTES)
