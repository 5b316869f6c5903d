"""``python -m llmrec_ref bench course``: how long the whole course takes to run.

Executes every chapter notebook (``notebooks/NN_*.ipynb``) and every exercise notebook
(``exercises/NN_*.ipynb``) top to bottom with nbclient, each in a fresh kernel started from
its own folder (kernel start-up included), and prints the seconds each took against the
course's targets: a notebook under 60 s (chapter 07, which loads a pretrained Transformer,
under 90 s) and the whole course under 5 minutes. Nothing is written back to the notebooks.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from llmrec_ref.bench import markdown_table, timed

__all__ = ["add_arguments", "course_notebooks", "run"]

REPO = Path(__file__).resolve().parents[2]
TARGET_S = {"07": 90}  # per chapter number; every other notebook: DEFAULT_TARGET_S
DEFAULT_TARGET_S = 60
COURSE_TARGET_S = 300


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``bench course``."""
    parser.add_argument("--root", default=str(REPO), help="the course folder (default: this repo)")
    parser.add_argument("--no-exercises", dest="exercises", action="store_false",
                        help="time the chapter notebooks only")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per cell (default 600)")


def course_notebooks(root: str | os.PathLike = REPO, exercises: bool = True) -> list[Path]:
    """The chapter notebooks, then the exercise notebooks, each in ``NN_`` order."""
    root = Path(root)
    folders = ["notebooks", "exercises"] if exercises else ["notebooks"]
    paths = [p for folder in folders for p in sorted((root / folder).glob("[0-9][0-9]_*.ipynb"))]
    if not paths:
        raise FileNotFoundError(f"no NN_*.ipynb notebooks under {root}/notebooks or {root}/exercises")
    return paths


def _execute(path: Path, timeout: float) -> str:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as err:
        return f"failed: {type(err).__name__}"
    return "ok"


def run(root: str | os.PathLike = REPO, exercises: bool = True, timeout: float = 600.0) -> list[dict]:
    """Execute every notebook of the course; one row per notebook, then the total.

    Each row: ``notebook`` (path under ``root``), ``seconds`` (wall clock, kernel start-up
    included, as text with one decimal), ``target_s``, ``within`` (``yes``/``NO``) and ``status`` (``ok`` or the error).
    """
    if timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    rows, total = [], 0.0
    for path in course_notebooks(root, exercises):
        with timed() as t:
            status = _execute(path, timeout)
        target = TARGET_S.get(path.name[:2], DEFAULT_TARGET_S)
        total += t["seconds"]
        rows.append({"notebook": str(path.relative_to(Path(root))), "seconds": f"{t['seconds']:.1f}",
                     "target_s": target, "within": "yes" if t["seconds"] < target else "NO",
                     "status": status})
    rows.append({"notebook": "whole course", "seconds": f"{total:.1f}", "target_s": COURSE_TARGET_S,
                 "within": "yes" if total < COURSE_TARGET_S else "NO",
                 "status": "ok" if all(r["status"] == "ok" for r in rows) else "failed"})
    return rows


if __name__ == "__main__":
    print(markdown_table(run()))
