"""Notebook hygiene that nbval's lax mode does not check.

nbval --nbval-lax passes a notebook that was never executed (there is nothing stored to
compare), so these tests fail when a committed notebook has no outputs, when a
``# NBVAL_CHECK_OUTPUT`` cell has none, or when a notebook and its paired ``.py`` drifted.
"""

from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "exercises" / "solutions"  # exercises/ itself holds the generated student versions
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted(SOLUTIONS.glob("*.ipynb"))
CHECK = "# NBVAL_CHECK_OUTPUT"


def ids(paths):
    return [str(p.relative_to(ROOT)) for p in paths]


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found under notebooks/ or exercises/solutions/"


def test_every_paired_py_has_its_notebook():
    scripts = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py")) + sorted(SOLUTIONS.glob("[0-9][0-9]_*.py"))
    missing = [str(p.relative_to(ROOT)) for p in scripts if not p.with_suffix(".ipynb").exists()]
    assert not missing, f"{missing} have no .ipynb: run `jupytext --set-formats ipynb,py:percent` and execute them"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_paired_py_exists_and_has_not_drifted(path):
    py = path.with_suffix(".py")
    assert py.exists(), f"{path.name} has no paired {py.name}: run `jupytext --set-formats ipynb,py:percent {path}`"
    from_py = jupytext.read(py)
    stored = nbformat.read(path, as_version=4)

    def shape(nb):
        return [
            (c.cell_type, c.source.strip(), sorted(c.get("metadata", {}).get("tags", [])))
            for c in nb.cells
        ]

    assert shape(from_py) == shape(stored), (
        f"{path.name} and {py.name} have drifted apart: edit the .py, then run "
        f"`jupytext --sync {py}` and re-execute the notebook"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_notebook_was_executed_in_order(path):
    cells = code_cells(nbformat.read(path, as_version=4))
    counts = [c.get("execution_count") for c in cells]
    assert None not in counts, (
        f"{path.name} has unexecuted code cells: run "
        f"`jupyter nbconvert --execute --to notebook --inplace {path}`"
    )
    assert counts == list(range(1, len(cells) + 1)), f"{path.name} was not executed top to bottom in one go"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_checked_cells_have_outputs(path):
    cells = code_cells(nbformat.read(path, as_version=4))
    checked = [c for c in cells if c.source.lstrip().startswith(CHECK)]
    if path.parent.name == "notebooks":
        assert len(checked) >= 3, f"{path.name} needs several '{CHECK}' cells (has {len(checked)})"
    for cell in checked:
        assert cell.get("outputs"), f"a '{CHECK}' cell in {path.name} has no stored output:\n{cell.source[:200]}"
        errors = [o for o in cell.outputs if o.get("output_type") == "error"]
        assert not errors, f"a '{CHECK}' cell in {path.name} stored an error"
