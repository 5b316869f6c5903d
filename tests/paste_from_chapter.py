"""Paste a chapter's own function into an exercise's answer: the helper the
``tests/test_exercises_paste_chNN.py`` modules share. A good exercise cannot be passed that way."""

from __future__ import annotations

import ast
import math
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest
import torch

from llmrec_ref.checks import ExerciseFailed

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def chapter_function(chapter: str, name: str) -> Callable:
    """The function ``name`` as the chapter notebook (``notebooks/<chapter>.py``) defines it,
    executed alone with the chapter's usual imports (it may still need the notebook's globals:
    a learner who pastes it gets the same NameError)."""
    tree = ast.parse((NOTEBOOKS / f"{chapter}.py").read_text())
    nodes = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name]
    assert nodes, f"notebooks/{chapter}.py defines no function {name}: update the paste test"
    namespace = {"math": math, "np": np, "pd": pd, "torch": torch, "F": torch.nn.functional}
    exec(compile(ast.Module(body=nodes, type_ignores=[]), f"{chapter}.py", "exec"), namespace)  # noqa: S102
    return namespace[name]


def assert_paste_fails(check: Callable, answer_name: str, pasted: Callable) -> None:
    """``check`` must reject ``pasted`` put in the namespace under ``answer_name``."""
    with pytest.raises(ExerciseFailed):
        check({answer_name: pasted})
