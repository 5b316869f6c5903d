"""Grade learners' exercise notebooks against the checks that live in the package.

The instructors' half of the exercises (see ``exercises/README.md``):
``python -m llmrec_ref exercises grade SUBMISSION.ipynb [...] [--json OUT] [--timeout 60]``.
A submission runs cell by cell in a fresh kernel with a time limit per cell. Then, in the
same kernel, a grader cell per exercise loads ``llmrec_ref.checks.chNN`` afresh from the
package and calls its ``exK(globals())``: a learner who deletes or edits a check cell, or
rebinds ``ch01.ex1`` or ``ExerciseFailed``, grades exactly like one who did not.

A cell that raises is noted and grading goes on. A cell (or a check) that runs past the
limit is interrupted; a kernel that ignores the interrupt or dies is restarted and the cells
that had finished are run again, so every exercise still gets a result. The checks run in
the learner's process, so this guards against edits to the notebook, not against code that
sets out to patch numpy or the interpreter: grade untrusted work in a container.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from llmrec_ref.tables import markdown_table

__all__ = ["ExerciseResult", "Grade", "check_names", "chapter_of", "grade_command",
           "grade_notebook", "score_table"]

CHAPTER_IN_NAME = re.compile(r"(?<!\d)(\d{2})_")
CHECK_NAME = re.compile(r"^ex(\d+)$")

# One grader cell per exercise. The names it leaves behind are deleted again; the result
# goes to a file chosen by the grader, so a learner's print/stdout tricks cannot forge it.
GRADER_CELL = '''\
def _llmrec_grade():
    import contextlib, importlib, io, json, sys
    ns = sys._getframe().f_globals
    for name in [m for m in sys.modules if m == "llmrec_ref.checks" or m.startswith("llmrec_ref.checks.")]:
        del sys.modules[name]
    check = getattr(importlib.import_module("llmrec_ref.checks.ch{chapter}"), "{exercise}")
    failed = importlib.import_module("llmrec_ref.checks._common").ExerciseFailed
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            check(ns)
        lines = printed.getvalue().strip().splitlines()
        result = {{"passed": True, "message": lines[-1] if lines else "passed"}}
    except failed as err:
        result = {{"passed": False, "message": str(err)}}
    except BaseException as err:
        result = {{"passed": False, "message": f"the check raised {{type(err).__name__}}: {{err}}"}}
    with open({out!r}, "w", encoding="utf-8") as f:
        json.dump(result, f)
_llmrec_grade()
del _llmrec_grade
'''


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


def check_names(chapter: str) -> list[str]:
    """The checks of a chapter: every function ``ex<digits>`` in ``llmrec_ref.checks.chNN``, in order."""
    import importlib

    try:
        module = importlib.import_module(f"llmrec_ref.checks.ch{chapter}")
    except ModuleNotFoundError as err:
        raise ValueError(f"chapter {chapter} has no checks (llmrec_ref.checks.ch{chapter} "
                         "does not exist); pass the right --chapter NN") from err
    names = [n for n in vars(module) if CHECK_NAME.match(n) and callable(getattr(module, n))]
    return sorted(names, key=lambda n: int(CHECK_NAME.match(n).group(1)))


def _first_line(source: str) -> str:
    line = next((s.strip() for s in source.splitlines() if s.strip()), "")
    return line if len(line) <= 40 else line[:37] + "..."


class _Kernel:
    """An nbclient kernel that survives cells which loop forever or kill it.

    ``run`` executes one cell and returns ``"ok"``, ``"error"``, ``"timeout"`` or ``"died"``.
    After a timeout the kernel is interrupted; if it does not answer within a grace
    period (or it died), it is restarted and every cell that had finished is run again.
    """

    def __init__(self, client, timeout: float):
        self.client = client
        self.timeout = timeout
        self.grace = min(10.0, max(2.0, timeout / 4))
        self.finished: list = []  # cells to replay after a restart, in order

    async def run(self, cell, replay: bool = True) -> str:
        from nbclient.exceptions import CellTimeoutError, DeadKernelError

        try:
            await self.client.async_execute_cell(cell, 0)
        except CellTimeoutError:
            await self._stop_runaway()
            return "timeout"
        except DeadKernelError:
            _cancel_stale_tasks()
            await self._restart()
            return "died"
        if replay:
            self.finished.append(cell)
        return "error" if any(o.output_type == "error" for o in cell.outputs) else "ok"

    async def _stop_runaway(self) -> None:
        import nbformat
        from nbclient.exceptions import CellTimeoutError, DeadKernelError

        _cancel_stale_tasks()
        await self.client.km.interrupt_kernel()
        self.client.timeout = self.grace
        try:
            await self.client.async_execute_cell(nbformat.v4.new_code_cell("pass"), 0)
        except (CellTimeoutError, DeadKernelError):
            _cancel_stale_tasks()
            await self._restart()
        finally:
            self.client.timeout = self.timeout

    async def _restart(self) -> None:
        await self.client.km.restart_kernel(now=True)
        await self.client.kc.wait_for_ready(timeout=self.client.startup_timeout)
        cells, self.finished = self.finished, []
        for cell in cells:  # a cell that now times out or dies is dropped (run() restarts)
            await self.run(cell)


def _cancel_stale_tasks() -> None:
    # nbclient leaves its output poller of a timed-out cell running; it would eat later output.
    for task in asyncio.all_tasks():
        if task is not asyncio.current_task():
            task.cancel()


async def _grade(path: Path, chapter: str, timeout: float) -> Grade:
    import nbformat
    from nbclient import NotebookClient

    names = check_names(chapter)
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as err:  # noqa: BLE001 - a learner's broken file is a result, not a crash
        message = f"the notebook could not be read: {type(err).__name__}: {err}"
        return Grade(str(path), chapter, [ExerciseResult(n, False, message) for n in names], [message])
    notes, results = [], []
    client = NotebookClient(nb, timeout=timeout, allow_errors=True, kernel_name="python3",
                            shutdown_kernel="immediate", record_timing=False,
                            resources={"metadata": {"path": str(path.parent)}})
    kernel = _Kernel(client, timeout)
    with tempfile.TemporaryDirectory(prefix="llmrec-grade-") as tmp:
        async with client.async_setup_kernel():
            for number, cell in enumerate(nb.cells, start=1):
                if cell.cell_type != "code" or not cell.source.strip():
                    continue
                where = f"cell {number} ({_first_line(cell.source)})"
                status = await kernel.run(cell)
                if status == "timeout":
                    notes.append(f"{where} ran past {timeout:g} s and was stopped")
                elif status == "died":
                    notes.append(f"{where} killed the kernel; it was restarted")
                elif status == "error":
                    err = next(o for o in cell.outputs if o.output_type == "error")
                    expected = "raises-exception" in cell.metadata.get("tags", [])
                    if err.ename != "ExerciseFailed" and not expected:  # failing checks are expected
                        notes.append(f"{where} raised {err.ename}: {err.evalue}")
                cell.outputs = []
            for name in names:
                out = Path(tmp) / f"{name}.json"
                source = GRADER_CELL.format(chapter=chapter, exercise=name, out=str(out))
                status = await kernel.run(nbformat.v4.new_code_cell(source), replay=False)
                if status == "timeout":
                    results.append(ExerciseResult(name, False, f"the check ran past {timeout:g} s: "
                                                  "does one of your functions loop forever?"))
                elif status == "died":
                    results.append(ExerciseResult(name, False, "your code killed the kernel "
                                                  "while the check was running"))
                elif not out.exists():
                    results.append(ExerciseResult(name, False, "the check left no result: does "
                                                  "your code replace open, json or sys?"))
                else:
                    results.append(ExerciseResult(name, **json.loads(out.read_text("utf-8"))))
    return Grade(str(path), chapter, results, notes)


def grade_notebook(path: str | os.PathLike, timeout: float = 60.0,
                   chapter: str | int | None = None) -> Grade:
    """Execute a submission in a fresh kernel and run its chapter's checks from the package.

    ``timeout`` (seconds, > 0) limits each cell and each check; ``chapter`` overrides the
    ``NN_`` in the file name. Returns a :class:`Grade` with one result per ``exK`` check.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"submission {path} does not exist")
    if not timeout or timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    chapter = chapter_of(path, chapter)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_grade(path, chapter, timeout))
    with ThreadPoolExecutor(1) as pool:  # called from a notebook: its loop is already running
        return pool.submit(asyncio.run, _grade(path, chapter, timeout)).result()


def score_table(grade: Grade) -> str:
    """A submission's score as a heading, a markdown table (exercise, result, hint) and notes."""
    rows = [{"exercise": r.exercise, "result": "passed" if r.passed else "FAILED",
             "hint": r.message.replace("|", "\\|").replace("\n", " ")} for r in grade.exercises]
    lines = [f"## {Path(grade.submission).name} (chapter {grade.chapter}): "
             f"{grade.score}/{grade.total} passed", "", markdown_table(rows)]
    lines += [""] + [f"- note: {n}" for n in grade.notes] if grade.notes else []
    return "\n".join(lines)


def grade_command(submissions: list[str], timeout: float = 60.0, json_path: str | None = None,
                  chapter: str | None = None) -> int:
    """``exercises grade``: grade each submission, print its table, optionally write JSON."""
    paths = [Path(s) for s in submissions]
    for path in paths:  # the instructor's mistakes fail before any kernel starts
        if not path.is_file():
            raise FileNotFoundError(f"submission {path} does not exist")
        chapter_of(path, chapter)
    grades = []
    for path in paths:
        grades.append(grade_notebook(path, timeout=timeout, chapter=chapter))
        print(score_table(grades[-1]) + "\n", flush=True)
    if json_path is not None:
        Path(json_path).write_text(json.dumps([g.to_dict() for g in grades], indent=2) + "\n", "utf-8")
        print(f"wrote {json_path}")
    return 0
