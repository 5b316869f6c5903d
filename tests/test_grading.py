"""The grader: solution versions score full marks, student versions zero with a hint per
exercise, and a hostile submission (rebound checks, deleted check cells, endless loops, a
dead kernel) still gets one clear result per exercise."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from llmrec_ref.exercises import build_student_versions, exercise_notebooks
from llmrec_ref.grading import (
    ExerciseResult,
    Grade,
    chapter_of,
    check_names,
    grade_notebook,
    score_table,
)

ROOT = Path(__file__).resolve().parents[1]
EXERCISES = exercise_notebooks(ROOT / "exercises")


def chapter_checks(path: Path) -> list[str]:
    return check_names(chapter_of(path))


# --- no kernel needed --------------------------------------------------------------------

def test_chapter_comes_from_the_file_name_or_the_option(tmp_path):
    assert chapter_of("01_data_preprocessing.ipynb") == "01"
    assert chapter_of("alice-03_encoders (1).ipynb") == "03"
    assert chapter_of("homework.ipynb", chapter=4) == "04"
    with pytest.raises(ValueError, match="--chapter"):
        chapter_of("homework.ipynb")
    with pytest.raises(ValueError, match="has no checks"):
        chapter_of("98_nothing.ipynb")


def test_check_names_are_the_ex_functions_in_numeric_order():
    import llmrec_ref.checks.ch01 as ch01

    expected = [n for n in dir(ch01) if n.startswith("ex") and n[2:].isdigit()]
    assert check_names("01") == sorted(expected, key=lambda n: int(n[2:]))
    assert check_names("01")[0] == "ex1"


def test_an_unreadable_submission_fails_every_exercise_with_a_note(tmp_path):
    path = tmp_path / "01_broken.ipynb"
    path.write_text("{ this is not a notebook")
    grade = grade_notebook(path, timeout=5)
    assert grade.score == 0 and grade.total == len(check_names("01"))
    assert all("could not be read" in r.message for r in grade.exercises)


def test_score_table_lists_every_exercise_and_escapes_pipes():
    grade = Grade("01_x.ipynb", "01", [ExerciseResult("ex1", True, "ok"),
                                       ExerciseResult("ex2", False, "a|b\nc")])
    table = score_table(grade)
    assert "1/2 passed" in table
    assert "| ex2 | FAILED | a\\|b c |" in table


# --- real kernels ------------------------------------------------------------------------

@pytest.mark.parametrize("path", EXERCISES, ids=[p.name for p in EXERCISES])
def test_solution_version_scores_full_marks(path):
    grade = grade_notebook(path, timeout=120)
    failed = [(r.exercise, r.message) for r in grade.exercises if not r.passed]
    assert not failed, f"{path.name}: {failed}"
    assert grade.total == len(chapter_checks(path)) >= 3
    assert all("passed" in r.message for r in grade.exercises)
    assert not grade.notes, grade.notes


@pytest.fixture(scope="module")
def student_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    build_student_versions(out, ROOT / "exercises")
    return out


@pytest.mark.parametrize("path", EXERCISES, ids=[p.name for p in EXERCISES])
def test_student_version_scores_zero_with_a_hint_per_exercise(path, student_dir):
    grade = grade_notebook(student_dir / path.name, timeout=120)
    assert grade.total == len(chapter_checks(path))
    for number, result in enumerate(grade.exercises, start=1):
        assert not result.passed, f"{path.name} {result.exercise} passed with no answer"
        assert result.message.startswith(f"Exercise {number}: "), result.message
        assert "is not defined yet" in result.message or "not implemented" in result.message


# A chapter-01 submission that tries everything: ex1 is wrong (> instead of >=) but rebinds
# the check, ExerciseFailed and the checks' `expect`, and edits its check cell to pass;
# ex2 is right with its check cell deleted; ex3 loops forever when the check calls it (check
# cell deleted); before ex4's right answer come a loop that swallows KeyboardInterrupt, a
# cell that raises and a cell that kills the kernel.
CHEAT = (
    "\n\nch01.ex1 = lambda ns: print('Exercise 1 passed: trust me')\n"
    "ExerciseFailed = Exception\n"
    "import llmrec_ref.checks._common as _common\n"
    "_common.expect = lambda *args, **kwargs: None\n"
)
STUBBORN_LOOP = "import time\nwhile True:\n    try:\n        time.sleep(0.05)\n    except KeyboardInterrupt:\n        pass"


def hostile_submission(path: Path) -> None:
    nb = nbformat.read(ROOT / "exercises" / "01_data_preprocessing.ipynb", as_version=4)
    cells, solution = [], 0
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            if "solution" in cell.metadata.get("tags", []):
                solution += 1
                if solution == 1:
                    cell.source = cell.source.replace(">=", ">") + CHEAT
                elif solution == 3:
                    cell.source = "def leave_one_out(df):\n    while True:\n        pass"
                elif solution == 4:
                    cells += [nbformat.v4.new_code_cell(s) for s in
                              (STUBBORN_LOOP, "1 / 0", "import os\nos._exit(1)")]
            elif "ch01.ex1(globals())" in cell.source:
                cell.source = "ch01.ex1 = lambda ns: None\n" + cell.source
            elif "ch01.ex2(globals())" in cell.source or "ch01.ex3(globals())" in cell.source:
                continue
        cells.append(cell)
    assert solution == 4, "exercises/01 changed: update hostile_submission"
    nb.cells = cells
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    hostile_submission(folder / "01_hostile.ipynb")
    report = folder / "grades.json"
    result = subprocess.run(
        [sys.executable, "-m", "llmrec_ref", "exercises", "grade", str(folder / "01_hostile.ipynb"),
         "--timeout", "5", "--json", str(report)],
        capture_output=True, text=True, timeout=300,  # a guard against a hang, not a speed test
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (grade,) = json.loads(report.read_text())
    return grade, result.stdout


def by_exercise(grade: dict) -> dict:
    return {r["exercise"]: r for r in grade["exercises"]}


def test_hostile_submission_gets_one_result_per_exercise(hostile):
    grade, stdout = hostile
    assert [r["exercise"] for r in grade["exercises"]] == check_names("01")
    assert (grade["score"], grade["total"]) == (2, 4)
    assert "01_hostile.ipynb (chapter 01): 2/4 passed" in stdout
    assert "| ex1 | FAILED |" in stdout


def test_rebinding_the_check_or_exercisefailed_does_not_pass_a_wrong_answer(hostile):
    ex1 = by_exercise(hostile[0])["ex1"]
    assert not ex1["passed"]
    assert ex1["message"].startswith("Exercise 1: a rating equal to the threshold counts as positive")


def test_deleted_check_cells_are_graded_from_the_package(hostile):
    ex2 = by_exercise(hostile[0])["ex2"]
    assert ex2["passed"] and ex2["message"].startswith("Exercise 2 passed")


def test_a_function_that_loops_forever_fails_its_exercise_and_grading_goes_on(hostile):
    grade, _ = hostile
    ex3 = by_exercise(grade)["ex3"]
    assert not ex3["passed"] and "ran past 5 s" in ex3["message"]
    # the loop, the error and the dead kernel come before ex4's answer, which still passes
    assert by_exercise(grade)["ex4"]["passed"]
    notes = "\n".join(grade["notes"])
    assert "(import time) ran past 5 s and was stopped" in notes
    assert "(1 / 0) raised ZeroDivisionError" in notes
    assert "(import os) killed the kernel" in notes
