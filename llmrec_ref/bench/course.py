"""``python -m llmrec_ref bench course``: how long each notebook takes, run the way a learner runs it.

Every chapter notebook (``notebooks/NN_*.ipynb``) and every exercise notebook
(the solutions, ``exercises/solutions/NN_*.ipynb``) is run by ``python -m pytest --nbval-lax NB`` in a fresh process
started in the course folder, so the repository's pytest settings apply and the time includes
what a learner waits for: Python and pytest starting, the kernel starting, the imports, every
cell. The environment is passed through unchanged, except that ``--capability`` sets
``ATEN_CPU_CAPABILITY`` (``default``, ``avx2``, ``avx512``) for the children: PyTorch's override
of its kernel dispatch, which makes a faster machine run the vectorised code an older CPU gets.

Targets (docs/design.md, section 7; promises to learners on ordinary laptops): a chapter under 60 s, an
exercise notebook under 20 s, the whole course under 5 minutes. Beside the times, each row
states the CPU capability PyTorch uses in such a child (``torch.backends.cpu.get_cpu_capability()``,
honouring the variable) and its default number of torch threads (chapters 02-07 set one thread
themselves). Nothing is written back to the notebooks.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from llmrec_ref.bench import markdown_table, positive_float, timed

__all__ = ["CAPABILITIES", "add_arguments", "child_machine", "course_notebooks", "run"]

REPO = Path(__file__).resolve().parents[2]
CHAPTER_TARGET_S = 60
EXERCISE_TARGET_S = 20
COURSE_TARGET_S = 300
CAPABILITIES = ("default", "avx2", "avx512")  # ATEN_CPU_CAPABILITY on x86 CPUs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``bench course``."""
    parser.add_argument("--root", default=str(REPO), help="the course folder (default: this repo)")
    parser.add_argument("--no-exercises", dest="exercises", action="store_false",
                        help="time the chapter notebooks only")
    parser.add_argument("--timeout", type=positive_float, default=600.0, help="seconds per notebook (default 600)")
    parser.add_argument("--capability", choices=CAPABILITIES, default=None,
                        help="set ATEN_CPU_CAPABILITY for the notebooks, e.g. avx2 to approximate an "
                             "AVX2 laptop on an AVX-512 machine (default: as the environment says)")


def course_notebooks(root: str | os.PathLike = REPO, exercises: bool = True) -> list[Path]:
    """The chapter notebooks, then the exercise notebooks, each in ``NN_`` order."""
    root = Path(root)
    folders = ["notebooks", "exercises/solutions"] if exercises else ["notebooks"]
    paths = [p for folder in folders for p in sorted((root / folder).glob("[0-9][0-9]_*.ipynb"))]
    if not paths:
        raise FileNotFoundError(f"no NN_*.ipynb notebooks under {root}/notebooks or {root}/exercises/solutions")
    return paths


def _environment(capability: str | None) -> dict:
    if capability is not None and capability not in CAPABILITIES:
        raise ValueError(f"capability must be one of {', '.join(CAPABILITIES)} (ATEN_CPU_CAPABILITY), "
                         f"got {capability!r}")
    env = dict(os.environ)
    if capability is not None:
        env["ATEN_CPU_CAPABILITY"] = capability
    return env


def child_machine(capability: str | None = None) -> dict:
    """What a child process with this environment runs on: torch's CPU capability and threads."""
    code = "import torch; print(torch.backends.cpu.get_cpu_capability(), torch.get_num_threads())"
    out = subprocess.run([sys.executable, "-c", code], env=_environment(capability), capture_output=True,
                         text=True, check=True)
    cpu, threads = out.stdout.split()
    return {"capability": cpu, "threads": int(threads)}


def _status(returncode: int, stdout: str) -> str:
    """``ok``, or why not, from pytest's exit code and its last summary line."""
    if returncode == 0:
        return "ok"
    summary = next((line.strip("= ") for line in reversed(stdout.splitlines()) if line.strip()), "")
    return f"failed (pytest exit {returncode}: {summary})" if summary else f"failed (pytest exit {returncode})"


def _run_one(path: Path, root: Path, env: dict, timeout: float) -> str:
    cmd = [sys.executable, "-m", "pytest", "--nbval-lax", "-q", "-p", "no:cacheprovider",
           str(path.relative_to(root))]
    try:
        out = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"timed out after {timeout:g} s"
    return _status(out.returncode, out.stdout)


def run(root: str | os.PathLike = REPO, exercises: bool = True, timeout: float = 600.0,
        capability: str | None = None) -> list[dict]:
    """Run every notebook of the course as ``python -m pytest --nbval-lax NB``; one row per
    notebook, then the total.

    Each row: ``notebook`` (path under ``root``), ``seconds`` (wall clock of the whole pytest
    process, as text with one decimal), ``target_s``, ``within`` (``yes``/``NO``), ``status``
    (``ok`` or why not), and ``capability`` / ``threads`` of such a child (``child_machine``).
    """
    if not (isinstance(timeout, (int, float)) and 0 < timeout < float("inf")):
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    root = Path(root).resolve()
    notebooks = course_notebooks(root, exercises)  # a wrong root fails before anything runs
    env = _environment(capability)
    machine = child_machine(capability)
    rows, total = [], 0.0
    for path in notebooks:
        with timed() as t:
            status = _run_one(path, root, env, timeout)
        target = EXERCISE_TARGET_S if path.parent.name != "notebooks" else CHAPTER_TARGET_S
        total += t["seconds"]
        rows.append({"notebook": path.relative_to(root).as_posix(), "seconds": f"{t['seconds']:.1f}",
                     "target_s": target, "within": "yes" if t["seconds"] < target else "NO",
                     "status": status, **machine})
    rows.append({"notebook": "whole course" if exercises else "all chapters", "seconds": f"{total:.1f}", "target_s": COURSE_TARGET_S,
                 "within": "yes" if total < COURSE_TARGET_S else "NO",
                 "status": "ok" if all(r["status"] == "ok" for r in rows) else "failed", **machine})
    return rows


if __name__ == "__main__":
    _parser = argparse.ArgumentParser(prog="python -m llmrec_ref.bench.course")
    add_arguments(_parser)
    print(markdown_table(run(**vars(_parser.parse_args()))))
