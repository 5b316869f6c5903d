"""Pasting chapter 03's own code (the notebook's inline functions, the package's versions) into an
exercise's answer does not pass its check. The rotation of exercise 2 has no chapter function (the
chapter computes the encoding inline); left padding (exercise 3) is done by the package's
``SequenceDataset``, which has no function to paste."""

from __future__ import annotations

from chapter_code import chapter_function, paste_test

from llmrec_ref import encoders
from llmrec_ref.checks import ch03

PASTES = [
    (ch03.ex1, "rms_block", lambda: chapter_function("03", "encoder_layer")),
    (ch03.ex1, "rms_block", lambda: chapter_function("03", "self_attention")),
    (ch03.ex1, "rms_block", lambda: encoders.TransformerEncoderLayer),
    (ch03.ex2, "shift_rotation", lambda: encoders.PositionalEncoding),
]

test_the_chapters_code_pasted_as_the_answer_fails = paste_test(PASTES)
