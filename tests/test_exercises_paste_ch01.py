"""Pasting chapter 01's own code (the notebook's inline functions, the package's versions) into an
exercise's answer does not pass its check: every exercise asks for a variation the chapter does
not write out."""

from __future__ import annotations

from chapter_code import chapter_function, paste_test

from llmrec_ref import preprocess, sampling, split
from llmrec_ref.checks import ch01

PASTES = [
    (ch01.ex1, "to_implicit_per_user", lambda: preprocess.to_implicit),
    (ch01.ex1, "to_implicit_per_user", lambda: chapter_function("01", "clean_inline")),
    (ch01.ex2, "k_core_distinct", lambda: chapter_function("01", "k_core_inline")),
    (ch01.ex2, "k_core_distinct", lambda: preprocess.k_core),
    (ch01.ex3, "leaky_users", lambda: split.check_no_leakage),
    (ch01.ex3, "leaky_users", lambda: chapter_function("01", "leave_one_out_inline")),
    (ch01.ex5, "popularity_negatives", lambda: chapter_function("01", "negatives_inline")),
    (ch01.ex5, "popularity_negatives", lambda: sampling.sample_negatives),
]

test_the_chapters_code_pasted_as_the_answer_fails = paste_test(PASTES)
