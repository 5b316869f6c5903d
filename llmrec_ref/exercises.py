"""Student versions of the exercise notebooks, generated from the solution versions.

The solutions live in the repository's ``exercises/solutions/NN_name.{ipynb,py}`` (never in the
installed package): the cells that answer an exercise are tagged ``solution``.
:func:`build_student_versions` writes ``exercises/NN_name.{ipynb,py}``, copies where nbconvert's
``TagRemovePreprocessor`` has removed those cells, a ``# your code here`` stub stands in their
place, every output is cleared, and a cell tagged ``uses-answer`` (one that runs the learner's
answer, after its check) is commented out until the learner has an answer to run. The checks that follow each exercise live in
:mod:`llmrec_ref.checks`, so they fail with a hint in the student version until the learner
writes the answer. The grader hides ``exercises/solutions/`` from the kernels it grades in.

Student versions are generated, never edited by hand; a test fails when they differ from what
the build produces.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["STUB", "build_student_version", "build_student_versions", "exercise_notebooks"]

STUB = "# your code here"
SOLUTION_TAG = "solution"
USES_ANSWER_TAG = "uses-answer"
USES_ANSWER_NOTE = "# Uncomment this cell (select it, Ctrl+/) and run it once your answer passes its check.\n"
REPO_EXERCISES = Path(__file__).resolve().parents[1] / "exercises"  # student versions (a checkout)
REPO_SOLUTIONS = REPO_EXERCISES / "solutions"


def exercise_notebooks(source: str | os.PathLike | None = None) -> list[Path]:
    """The solution notebooks (``NN_*.ipynb``) in ``source`` (default: ``exercises/solutions/``)."""
    folder = Path(source) if source is not None else REPO_SOLUTIONS
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
    for number, cell in enumerate(nb.cells):
        cells.append(cell)
        if SOLUTION_TAG in cell.get("metadata", {}).get("tags", []):
            stub = nbformat.v4.new_code_cell(STUB, metadata={"tags": ["stub"]})
            stub.id = f"stub-{number}"  # the same build gives the same bytes
            cells.append(stub)
    nb.cells = cells
    for cell in nb.cells:  # a cell that runs the learner's answer waits, commented out, until it exists
        if USES_ANSWER_TAG in cell.get("metadata", {}).get("tags", []):
            cell.source = USES_ANSWER_NOTE + "\n".join(f"# {line}".rstrip() for line in cell.source.splitlines())
    remove = TagRemovePreprocessor(enabled=True, remove_cell_tags={SOLUTION_TAG})
    nb, _ = remove.preprocess(nb, {})
    nb, _ = ClearOutputPreprocessor().preprocess(nb, {})
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = out / Path(notebook).name
    tmp = target.with_name(".tmp-" + target.name)
    nbformat.write(nb, tmp)
    os.replace(tmp, target)
    if "jupytext" in nb.metadata:  # the paired .py, as `jupytext --sync` would write it
        import jupytext

        script = target.with_suffix(".py")
        tmp = script.with_name(".tmp-" + script.name)
        jupytext.write(nb, tmp, fmt="py:percent")
        os.replace(tmp, script)
    return target


def build_student_versions(
    out_dir: str | os.PathLike | None = None, source: str | os.PathLike | None = None
) -> list[Path]:
    """Write the student version of every solution notebook in ``source`` (default
    ``exercises/solutions/``) into ``out_dir`` (default: the repo's ``exercises/``)."""
    notebooks = exercise_notebooks(source)
    if not notebooks:
        raise FileNotFoundError(f"no NN_*.ipynb exercise notebooks in {source or REPO_SOLUTIONS}")
    out_dir = Path(out_dir) if out_dir is not None else REPO_EXERCISES
    if out_dir.resolve() == Path(notebooks[0]).parent.resolve():
        raise ValueError("out_dir is the solutions folder itself; choose another folder "
                         "(the student versions would overwrite the solutions)")
    return [build_student_version(nb, out_dir) for nb in notebooks]
