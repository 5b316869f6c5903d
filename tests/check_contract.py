"""The contract every exercise check keeps, written once; a ``tests/test_checks_chNN.py`` module
imports these tests and defines the cases they run on (``conftest.pytest_generate_tests``):

- ``RIGHT = {check: namespace}``: a correct answer for each check;
- ``WRONG = [(check, namespace, hint regex)]``: typical wrong answers and the hint each must get.
"""

from __future__ import annotations

import pytest

from llmrec_ref.checks import ExerciseFailed


def test_right_answer_passes(right_case, capsys):
    check, ns = right_case
    check(ns)
    assert "passed" in capsys.readouterr().out


def test_missing_answer_fails_with_a_hint(right_case):
    check, _ = right_case
    with pytest.raises(ExerciseFailed, match="is not defined yet"):
        check({})


def test_typical_wrong_answer_fails_with_its_hint(wrong_case):
    check, ns, hint = wrong_case
    with pytest.raises(ExerciseFailed, match=hint):
        check(ns)
