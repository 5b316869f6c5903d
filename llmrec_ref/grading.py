"""Grade learners' exercise notebooks: run the learner's code in a boxed kernel, judge it here.

``python -m llmrec_ref exercises grade SUBMISSION.ipynb [...] [--json OUT] [--timeout 60]``
(see ``exercises/README.md``). For each submission:

1. a copy of it goes into a fresh temporary folder, the only thing the kernel's working folder
   holds; the kernel starts boxed (:mod:`llmrec_ref.gradekernel`: its own user, mount and pid
   namespaces, rlimits on memory, CPU and processes, the solution notebooks and every
   submission of the batch hidden);
2. its cells run one by one, each within ``--timeout`` seconds, the whole run within a budget
   of ``10 x timeout``; a cell that loops is interrupted, a kernel that dies is restarted (at
   most three times) and the finished cells run again;
3. each check ``exK`` of ``llmrec_ref.checks.chNN`` runs **in this process**, on a namespace
   whose names and functions live in the kernel (:mod:`llmrec_ref.graderemote`): the check draws
   its inputs, the kernel only runs the learner's function on them and sends back plain data,
   and the comparison with the reference happens here. Patching ``json``, import hooks, input
   transformers or printed "passed" lines in the kernel change nothing but what the learner's
   function returns;
4. everything the kernel started is killed (its pid namespace ends with it; its process group,
   and every process that carries the submission's token or descends from the grader).

A failure of any kind is that submission's zero, with a reason; the batch always finishes.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import math
import os
import re
import secrets
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from llmrec_ref.gradebox import Box, GradingStopped, box_for
from llmrec_ref.tables import markdown_table

__all__ = ["ExerciseResult", "Grade", "GradingStopped", "check_names", "chapter_of", "grade_command",
           "grade_notebook", "positive_seconds", "score_table"]

CHAPTER_IN_NAME = re.compile(r"(?<!\d)(\d{2})_")
CHECK_NAME = re.compile(r"^ex(\d+)$")


@dataclass
class ExerciseResult:
    """One exercise of one submission: ``exercise`` is the check's name (``"ex1"``)."""

    exercise: str
    passed: bool
    message: str


@dataclass
class Grade:
    """The result of grading one submission: one row per exercise, plus notes on its cells."""

    submission: str
    chapter: str
    exercises: list[ExerciseResult]
    notes: list[str] = field(default_factory=list)

    @property
    def score(self) -> int:
        return sum(r.passed for r in self.exercises)

    @property
    def total(self) -> int:
        return len(self.exercises)

    def to_dict(self) -> dict:
        return {"submission": self.submission, "chapter": self.chapter, "score": self.score,
                "total": self.total, "exercises": [asdict(r) for r in self.exercises],
                "notes": list(self.notes)}


def positive_seconds(value) -> float:
    """``value`` as a positive, finite number of seconds, else a ValueError that says so."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if isinstance(value, bool) or not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"timeout must be a positive, finite number of seconds (e.g. 60 or 2.5), got {value!r}")
    return seconds


def chapter_of(path: str | os.PathLike, chapter: str | int | None = None) -> str:
    """The two-digit chapter of a submission: ``chapter`` if given, else the ``NN_`` in its name."""
    if chapter is not None:
        text = f"{int(chapter):02d}"
    else:
        match = CHAPTER_IN_NAME.search(Path(path).name)
        if match is None:
            raise ValueError(f"cannot tell the chapter of {Path(path).name}: name it like "
                             "'01_data_preprocessing.ipynb' or pass --chapter NN")
        text = match.group(1)
    check_names(text)  # fails early, with a clear message, for a chapter without checks
    return text


def _checks(chapter: str):
    import importlib

    try:
        return importlib.import_module(f"llmrec_ref.checks.ch{chapter}")
    except ModuleNotFoundError as err:
        raise ValueError(f"chapter {chapter} has no checks (llmrec_ref.checks.ch{chapter} "
                         "does not exist); pass the right --chapter NN") from err


def check_names(chapter: str) -> list[str]:
    """The checks of a chapter: every function ``ex<digits>`` in ``llmrec_ref.checks.chNN``, in order."""
    module = _checks(chapter)
    names = [n for n in vars(module) if CHECK_NAME.match(n) and callable(getattr(module, n))]
    return sorted(names, key=lambda n: int(CHECK_NAME.match(n).group(1)))


def _read_cells(path: Path) -> tuple[list, list[str]]:
    """The submission's code cells as (number, source, tags), and notes on cells that were skipped.

    Raises ValueError when the file is not a notebook at all."""
    import json

    try:
        nb = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError) as err:
        raise ValueError(f"the notebook could not be read: {type(err).__name__}: {str(err)[:200]}") from err
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        raise ValueError("the notebook could not be read: it has no list of cells")
    out, notes = [], []
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source")
        if isinstance(source, list) and all(isinstance(s, str) for s in source):
            source = "".join(source)
        if not isinstance(source, str):
            notes.append(f"cell {number} has a source that is not text ({type(source).__name__}); it was skipped")
            continue
        metadata = cell.get("metadata")
        tags = metadata.get("tags") if isinstance(metadata, dict) else None
        tags = [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []
        if source.strip():
            out.append((number, source, tags))
    return out, notes


def _run_check(chapter: str, name: str, ns) -> ExerciseResult:
    """Run one check here, on the kernel-backed namespace (called in a worker thread)."""
    from llmrec_ref.checks import ExerciseFailed
    from llmrec_ref.graderemote import KernelLost

    check = getattr(_checks(chapter), name)
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            check(ns)
    except ExerciseFailed as err:
        return ExerciseResult(name, False, str(err))
    except KernelLost as err:
        return ExerciseResult(name, False, str(err))
    except Exception as err:  # noqa: BLE001 - the learner's answer made the check itself fail
        return ExerciseResult(name, False, f"the check could not use your answer: {type(err).__name__}: "
                                           f"{str(err)[:300]}")
    lines = printed.getvalue().strip().splitlines()
    return ExerciseResult(name, True, lines[-1] if lines else "passed")


async def _grade(path: Path, chapter: str, timeout: float, box: Box) -> Grade:
    names = check_names(chapter)
    try:
        cells, notes = _read_cells(path)
    except ValueError as err:
        return Grade(str(path), chapter, [ExerciseResult(n, False, str(err)) for n in names], [str(err)])
    results: list[ExerciseResult] = []
    with tempfile.TemporaryDirectory(prefix="llmrec-grade-") as tmp:
        work = Path(tmp) / "work"
        work.mkdir()
        shutil.copyfile(path, work / path.name)
        kernel = box.kernel(work, token=secrets.token_hex(16), timeout=timeout)
        try:
            started = await kernel.start()
            if started is not None:
                return Grade(str(path), chapter, [ExerciseResult(n, False, started) for n in names], notes + [started])
            notes += await kernel.run_cells(cells)
            ns = kernel.namespace(asyncio.get_running_loop())
            with ThreadPoolExecutor(1) as pool:
                for name in names:
                    gone = await kernel.ensure_alive()
                    if gone is not None:
                        results.append(ExerciseResult(name, False, gone))
                        continue
                    results.append(await asyncio.get_running_loop().run_in_executor(
                        pool, _run_check, chapter, name, ns))
        finally:
            notes += await kernel.close()
    return Grade(str(path), chapter, results, notes)


def grade_notebook(path: str | os.PathLike, timeout: float = 60.0, chapter: str | int | None = None,
                   box: Box | None = None) -> Grade:
    """Execute a submission in a fresh, boxed kernel and judge its answers with the chapter's checks.

    ``timeout`` (seconds, positive and finite) limits each cell and each call of a learner's
    function; ``chapter`` overrides the ``NN_`` in the file name; ``box`` sets the limits and the
    files to hide (default: :func:`llmrec_ref.gradebox.box_for` of this one submission).
    Returns a :class:`Grade` with one result per ``exK`` check.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"submission {path} does not exist")
    timeout = positive_seconds(timeout)
    chapter = chapter_of(path, chapter)
    box = box or box_for([path])
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_grade(path, chapter, timeout, box))
    with ThreadPoolExecutor(1) as pool:  # called from a notebook: its loop is already running
        return pool.submit(asyncio.run, _grade(path, chapter, timeout, box)).result()


def score_table(grade: Grade) -> str:
    """A submission's score as a heading, a markdown table (exercise, result, hint) and notes."""
    rows = [{"exercise": r.exercise, "result": "passed" if r.passed else "FAILED",
             "hint": r.message.replace("|", "\\|").replace("\n", " ")} for r in grade.exercises]
    lines = [f"## {Path(grade.submission).name} (chapter {grade.chapter}): "
             f"{grade.score}/{grade.total} passed", "", markdown_table(rows)]
    lines += [""] + [f"- note: {n}" for n in grade.notes] if grade.notes else []
    return "\n".join(lines)


def _write_json(json_path: str, grades: list[Grade]) -> None:
    import json

    target = Path(json_path)
    tmp = target.with_name(f".tmp-{target.name}")
    tmp.write_text(json.dumps([g.to_dict() for g in grades], indent=2) + "\n", "utf-8")
    os.replace(tmp, target)


def grade_command(submissions: list[str], timeout: float = 60.0, json_path: str | None = None,
                  chapter: str | None = None) -> int:
    """``exercises grade``: grade each submission, print its table, optionally write JSON.

    Every submission gets a grade, whatever it does; the JSON is written after each one, so a
    batch stopped by SIGTERM or Ctrl-C leaves the grades so far (and exit status 143 / 130)."""
    timeout = positive_seconds(timeout)
    paths = [Path(s) for s in submissions]
    for path in paths:  # the instructor's mistakes fail before any kernel starts
        if not path.is_file():
            raise FileNotFoundError(f"submission {path} does not exist")
        chapter_of(path, chapter)
    if json_path is not None and not Path(json_path).resolve().parent.is_dir():
        raise FileNotFoundError(f"--json {json_path}: its folder does not exist")
    box = box_for(paths)
    grades: list[Grade] = []
    with box.stop_on_signals():
        try:
            for path in paths:
                try:
                    grades.append(grade_notebook(path, timeout=timeout, chapter=chapter, box=box))
                except Exception as err:  # noqa: BLE001 - one submission never stops the batch
                    reason = f"the grader failed on this submission: {type(err).__name__}: {str(err)[:300]}"
                    chapter_nn = chapter_of(path, chapter)
                    grades.append(Grade(str(path), chapter_nn, [ExerciseResult(n, False, reason)
                                                                for n in check_names(chapter_nn)], [reason]))
                print(score_table(grades[-1]) + "\n", flush=True)
                if json_path is not None:
                    _write_json(json_path, grades)
        except GradingStopped as stop:
            print(f"grading stopped by {stop} after {len(grades)} of {len(paths)} submissions", flush=True)
            return stop.status
        finally:
            if json_path is not None:
                _write_json(json_path, grades)
    if json_path is not None:
        print(f"wrote {json_path}")
    return 0
