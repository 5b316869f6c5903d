"""Student versions of the exercise notebooks, generated from the solution versions.

Each exercise notebook in ``exercises/`` is the *solution* version: the cells that answer
an exercise are tagged ``solution``. :func:`build_student_versions` writes copies where
nbconvert's ``TagRemovePreprocessor`` has removed those cells, a ``# your code here`` stub
stands in their place, and every output is cleared. The checks that follow each
exercise live in :mod:`llmrec_ref.checks`, so they fail with a hint in the student
version until the learner writes the answer.

Student versions are generated, never edited by hand.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["STUB", "build_student_version", "build_student_versions", "exercise_notebooks"]

STUB = "# your code here"
SOLUTION_TAG = "solution"
REPO_EXERCISES = Path(__file__).resolve().parents[1] / "exercises"


def exercise_notebooks(source: str | os.PathLike | None = None) -> list[Path]:
    """The solution notebooks (``NN_*.ipynb``) in ``source`` (default: the repo's ``exercises/``)."""
    folder = Path(source) if source is not None else REPO_EXERCISES
    if not folder.is_dir():
        raise FileNotFoundError(
            f"exercise folder {folder} does not exist; pass the path of the course's exercises/ folder"
        )
    return sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))


def build_student_version(notebook: str | os.PathLike, out_dir: str | os.PathLike) -> Path:
    """Write the student version of one solution notebook into ``out_dir``; returns its path."""
    import nbformat
    from nbconvert.preprocessors import ClearOutputPreprocessor, TagRemovePreprocessor

    nb = nbformat.read(notebook, as_version=4)
    n_solutions = sum(SOLUTION_TAG in c.get("metadata", {}).get("tags", []) for c in nb.cells)
    if n_solutions == 0:
        raise ValueError(f"{notebook} has no cell tagged '{SOLUTION_TAG}': nothing to remove")
    # A stub cell goes right after each solution cell, so the learner writes in the same place.
    cells = []
    for cell in nb.cells:
        cells.append(cell)
        if SOLUTION_TAG in cell.get("metadata", {}).get("tags", []):
            cells.append(nbformat.v4.new_code_cell(STUB, metadata={"tags": ["stub"]}))
    nb.cells = cells
    remove = TagRemovePreprocessor(enabled=True, remove_cell_tags={SOLUTION_TAG})
    nb, _ = remove.preprocess(nb, {})
    nb, _ = ClearOutputPreprocessor().preprocess(nb, {})
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = out / Path(notebook).name
    tmp = target.with_name(".tmp-" + target.name)
    nbformat.write(nb, tmp)
    os.replace(tmp, target)
    return target


def build_student_versions(
    out_dir: str | os.PathLike, source: str | os.PathLike | None = None
) -> list[Path]:
    """Write the student version of every exercise notebook in ``source`` into ``out_dir``."""
    notebooks = exercise_notebooks(source)
    if not notebooks:
        raise FileNotFoundError(f"no NN_*.ipynb exercise notebooks in {source or REPO_EXERCISES}")
    if Path(out_dir).resolve() == Path(notebooks[0]).parent.resolve():
        raise ValueError("out_dir is the exercises folder itself; choose another folder")
    return [build_student_version(nb, out_dir) for nb in notebooks]
