"""Checks for the exercise notebooks, one module per chapter (``ch01``, ``ch02``, ...).

They live in the package, not in the notebooks, so a learner cannot weaken a
check by editing it, and a grader can run them against any submission. Each
check takes the notebook's namespace (``globals()``), looks up the name the
exercise asks for, and raises :class:`ExerciseFailed` (an ``AssertionError``)
with a hint that says what is wrong, or prints a one-line "passed" message.
"""

from llmrec_ref.checks._common import ExerciseFailed, expect, passed, require

__all__ = ["ExerciseFailed", "expect", "passed", "require"]
