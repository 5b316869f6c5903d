"""The chapter's own code, as a learner would paste it into an exercise: a function defined in a
chapter notebook (``notebooks/NN_*.py``), executed with the names the chapter imported."""

from __future__ import annotations

import ast
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def chapter_function(chapter: str, name: str):
    """Define ``name`` from the chapter notebook ``notebooks/<chapter>*.py`` ("05" or
    "05_loss_derivation") with the notebook's import lines run first."""
    (path,) = NOTEBOOKS.glob(f"{chapter}*.py")
    tree = ast.parse(path.read_text())
    imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    defs = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name]
    if not defs:
        raise LookupError(f"{path.name} defines no function {name!r}")
    namespace: dict = {}
    for node in [*imports, defs[-1]]:
        exec(compile(ast.Module(body=[node], type_ignores=[]), str(path), "exec"), namespace)  # noqa: S102
    return namespace[name]


def assert_paste_fails(check, answer_name: str, pasted) -> None:
    """``check`` must reject ``pasted`` put in the namespace under ``answer_name``."""
    import pytest

    from llmrec_ref.checks import ExerciseFailed

    with pytest.raises(ExerciseFailed):
        check({answer_name: pasted})


def paste_test(pastes: list[tuple]):
    """A test, parametrised over ``pastes = [(check, answer name, () -> chapter function)]``, that
    puts each chapter function in the namespace under the answer's name and expects the check to fail."""
    import pytest

    from llmrec_ref.checks import ExerciseFailed

    @pytest.mark.parametrize(("check", "answer", "pasted"), pastes,
                             ids=[f"{c.__name__}-{a}-{i}" for i, (c, a, _) in enumerate(pastes)])
    def test_the_chapters_code_pasted_as_the_answer_fails(check, answer, pasted):
        with pytest.raises(ExerciseFailed):
            check({answer: pasted()})

    return test_the_chapters_code_pasted_as_the_answer_fails
