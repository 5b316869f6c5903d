"""The grader: solution versions score full marks, student versions zero with a hint per
exercise; every cheat and fault of issue #16 scores zero on the exercise it targets, and the
batch always finishes with its JSON (one batch of hostile chapter-01 submissions, graded once)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from llmrec_ref.exercises import exercise_notebooks
from llmrec_ref.grading import (
    ExerciseResult,
    Grade,
    chapter_of,
    check_names,
    grade_notebook,
    score_table,
)

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "exercises" / "solutions"
EXERCISES = exercise_notebooks(SOLUTIONS)


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


@pytest.mark.parametrize("path", EXERCISES, ids=[p.name for p in EXERCISES])
def test_student_version_scores_zero_with_a_hint_per_exercise(path):
    grade = grade_notebook(ROOT / "exercises" / path.name, timeout=120)
    assert grade.total == len(chapter_checks(path))
    for number, result in enumerate(grade.exercises, start=1):
        assert not result.passed, f"{path.name} {result.exercise} passed with no answer"
        assert result.message.startswith(f"Exercise {number}: "), result.message
        assert "is not defined yet" in result.message or "not implemented" in result.message


# --- cheats and faults: one batch of chapter-01 submissions -------------------------------

WRONG_EX1 = ("def to_implicit_per_user(df):\n    mean = df.groupby('user_id')['rating'].transform('mean')\n"
             "    return df[df['rating'] > mean].reset_index(drop=True)\n")
STUBBORN_LOOP = "import time\nwhile True:\n    try:\n        time.sleep(0.05)\n    except KeyboardInterrupt:\n        pass"
DAEMON = "sleep-forever-" + "7c1d"  # marks the process a submission leaves behind
KILL_GRADER = (  # the grader is its parent; look for it by its arguments too (this batch's folder only)
    "import os, signal\n"
    "targets = [os.getppid()] + [int(p) for p in os.listdir('/proc') if p.isdigit()]\n"
    "for pid in targets:\n"
    "    try:\n"
    "        cmd = open(f'/proc/{{pid}}/cmdline', 'rb').read()\n"
    "        if pid > 1 and (pid == os.getppid() or {folder!r}.encode() in cmd):\n"
    "            os.kill(pid, signal.SIGKILL)\n"
    "    except OSError:\n"
    "        pass\n"
)
FORGERY = (  # everything that forged a pass when the checks ran in the kernel
    "import json, sys, io\n"
    "json.dump = lambda *a, **k: None\n"
    "ch01.ex1 = lambda ns: print('Exercise 1 passed: trust me')\n"
    "ExerciseFailed = Exception\n"
    "import llmrec_ref.checks._common as _common\n"
    "_common.expect = lambda *args, **kwargs: None\n"
    "class Fake:\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name.startswith('llmrec_ref.checks'):\n"
    "            import importlib.util\n"
    "            return importlib.util.spec_from_loader(name, loader=self)\n"
    "    def create_module(self, spec):\n"
    "        return None\n"
    "    def exec_module(self, module):\n"
    "        module.__dict__.update({f'ex{i}': (lambda ns: print('passed')) for i in range(1, 9)})\n"
    "        module.ExerciseFailed = Exception\n"
    "sys.meta_path.insert(0, Fake())\n"
    "for m in [m for m in sys.modules if m.startswith('llmrec_ref.checks')]:\n"
    "    del sys.modules[m]\n"
    "print('Exercise 1 passed: positives at or above each user own mean, input untouched')\n"
)
TRANSFORMER = (  # rewrites every later cell, the grader's included
    "get_ipython().input_transformers_post.append(\n"
    "    lambda lines: [\"print('Exercise 1 passed'); import sys; sys.exit(0)\\n\"])\n"
)
PLANTED = "zz_planted_by_a_submission.py"
PLANT = (  # a trojan in the package and in numpy, for the grader or a later grading to import
    "import pathlib, numpy, llmrec_ref.checks\n"
    "for pkg in (llmrec_ref.checks, numpy):\n"
    f"    try:\n        (pathlib.Path(pkg.__file__).parent / {PLANTED!r}).write_text('print(1)')\n"
    "    except OSError as e:\n        print(e)\n"
)
STEAL = (  # runs the solution notebooks and a classmate's notebook, by relative and absolute paths
    "import json, pathlib, llmrec_ref, llmrec_ref.exercises as lx\n"
    "places = [pathlib.Path(llmrec_ref.__file__).parents[1] / 'exercises' / 'solutions',\n"
    "          getattr(lx, 'REPO_SOLUTIONS', lx.REPO_EXERCISES), lx.REPO_EXERCISES,\n"
    "          pathlib.Path('.'), pathlib.Path('..'), pathlib.Path({classmates!r})]\n"
    "for folder in places:\n"
    "    for nb in sorted(folder.glob('01_*.ipynb')):\n"
    "        try:\n"
    "            cells = json.loads(nb.read_text())['cells']\n"
    "        except Exception:\n"
    "            continue\n"
    "        for c in cells:\n"
    "            src = ''.join(c['source'])\n"
    "            if c['cell_type'] == 'code' and 'def ' in src and 'ch01.ex' not in src:\n"
    "                exec(src, globals())\n"
)


def submission(path: Path, edit) -> None:
    """Write the chapter-01 solution with ``edit(number_of_solution_cell, cell) -> list of cells``."""
    nb = nbformat.read(SOLUTIONS / "01_data_preprocessing.ipynb", as_version=4)
    cells, solution = [], 0
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        if "solution" in cell.get("metadata", {}).get("tags", []):
            solution += 1
            cells += edit(solution, cell)
        else:
            cells.append(cell)
    assert solution == 5, "exercises/solutions/01 changed: update these submissions"
    nb.cells = cells
    nbformat.write(nb, path)


def code(source: str):
    return nbformat.v4.new_code_cell(source)


def forger(n, cell):  # ex1 wrong, every in-kernel forgery of a pass; ex2-5 right
    return [code(WRONG_EX1), code(FORGERY)] if n == 1 else [cell]


def transformer(n, cell):  # ex1 wrong, then an input transformer over the grader's cells
    return [code(WRONG_EX1)] if n == 1 else [cell, code(TRANSFORMER)] if n == 4 else [cell]


def thief(classmates: Path):
    def edit(n, cell):  # no answers of its own: only stolen ones
        return [code(STEAL.format(classmates=str(classmates)))] if n == 1 else []
    return edit


def saboteur(alice: Path):
    def edit(n, cell):
        if n == 1:  # a wrong answer, then: delete a classmate, exit, a 4 GB allocation, a daemon
            return [code(WRONG_EX1),
                    code(f"import os\nfor p in [{str(alice)!r}, '../{alice.name}']:\n    try:\n"
                         "        os.remove(p)\n    except OSError as e:\n        print(e)"),
                    code("import sys\nsys.exit(3)"),
                    code("block = bytearray(4 * 2**30)"),
                    code(f"import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', "
                         f"'import time; time.sleep(600)', '{DAEMON}'], start_new_session=True)"),
                    code(KILL_GRADER.format(folder=str(alice.parent))), code(PLANT)]
        if n == 3:  # an answer that never returns
            return [code("def leaky_users(train, test):\n    while True:\n        pass")]
        if n == 4:  # a loop deaf to ^C, a kernel that dies, then the right answer
            return [code(STUBBORN_LOOP), code("1 / 0"), code("import os\nos._exit(1)"), cell]
        return [cell]
    return edit


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    folder = tmp_path_factory.mktemp("class")
    alice = folder / "01_alice.ipynb"
    submission(alice, lambda n, cell: [cell])
    submission(folder / "01_forger.ipynb", forger)
    submission(folder / "01_transformer.ipynb", transformer)
    submission(folder / "01_thief.ipynb", thief(folder))
    submission(folder / "01_saboteur.ipynb", saboteur(alice))
    bad_cell = json.loads(alice.read_text())
    bad_cell["cells"].insert(1, {"cell_type": "code", "source": 42, "metadata": {}, "outputs": []})
    (folder / "01_badcell.ipynb").write_text(json.dumps(bad_cell))
    (folder / "01_notjson.ipynb").write_text("{ this is not a notebook")
    names = ["01_saboteur", "01_forger", "01_transformer", "01_thief", "01_badcell", "01_notjson", "01_alice"]
    report = folder / "grades.json"
    result = subprocess.run(
        [sys.executable, "-m", "llmrec_ref", "exercises", "grade", *[str(folder / f"{n}.ipynb") for n in names],
         "--timeout", "5", "--json", str(report)],
        capture_output=True, text=True, timeout=900,  # a guard against a hang, not a speed test
    )
    assert result.returncode == 0, result.stderr[-3000:]
    grades = {Path(g["submission"]).stem: g for g in json.loads(report.read_text())}
    assert list(grades) == names
    return grades, result.stdout


def by_exercise(grade: dict) -> dict:
    return {r["exercise"]: r for r in grade["exercises"]}


def test_an_honest_solution_gets_full_marks_in_a_hostile_batch(batch):
    alice = batch[0]["01_alice"]
    assert (alice["score"], alice["total"]) == (5, 5), alice
    assert not alice["notes"]


def test_patching_json_rebinding_checks_import_hooks_and_printed_passes_forge_nothing(batch):
    forger = by_exercise(batch[0]["01_forger"])
    assert not forger["ex1"]["passed"]
    assert forger["ex1"]["message"].startswith("Exercise 1: a rating equal to the user's own mean counts as positive")
    assert all(forger[e]["passed"] for e in ("ex2", "ex3", "ex4", "ex5")), forger


def test_an_input_transformer_over_the_graders_cells_earns_nothing(batch):
    grade = batch[0]["01_transformer"]
    assert grade["score"] == 0, grade
    assert "no answer" in by_exercise(grade)["ex2"]["message"]


def test_solution_notebooks_and_classmates_notebooks_are_out_of_reach(batch):
    grade = batch[0]["01_thief"]
    assert grade["score"] == 0, grade
    assert all("is not defined yet" in r["message"] for r in grade["exercises"]), grade


def test_deleting_a_classmate_exit_memory_daemons_loops_and_dead_kernels_are_survived(batch):
    grade = batch[0]["01_saboteur"]
    results = by_exercise(grade)
    assert not results["ex1"]["passed"]
    assert results["ex2"]["passed"] and results["ex4"]["passed"]
    assert not results["ex3"]["passed"] and "ran past 5 s" in results["ex3"]["message"]
    notes = "\n".join(grade["notes"])
    assert "raised SystemExit" in notes
    assert "raised MemoryError" in notes  # the address-space limit
    assert "(import time) ran past 5 s and was stopped" in notes
    assert "(1 / 0) raised ZeroDivisionError" in notes
    assert "(import os) killed the kernel" in notes
    import numpy

    import llmrec_ref.checks

    for package in (llmrec_ref.checks, numpy):
        assert not (Path(package.__file__).parent / PLANTED).exists(), "a submission wrote into a package"
    leftovers = [p for p in Path("/proc").iterdir() if p.name.isdigit() and DAEMON.encode() in _cmdline(p)]
    assert not leftovers, "a process the submission started outlived its grading"


def _cmdline(proc: Path) -> bytes:
    try:
        return (proc / "cmdline").read_bytes()
    except OSError:
        return b""


def test_a_bad_cell_or_a_file_that_is_not_json_is_that_submissions_result(batch):
    grades, stdout = batch
    assert grades["01_badcell"]["score"] == 5
    assert "cell 2 has a source that is not text (int); it was skipped" in grades["01_badcell"]["notes"]
    assert grades["01_notjson"]["score"] == 0
    assert all("could not be read" in r["message"] for r in grades["01_notjson"]["exercises"])
    assert "01_alice.ipynb (chapter 01): 5/5 passed" in stdout


# --- start-up, stop, options -------------------------------------------------------------

def test_a_kernel_that_never_starts_fails_the_submission_without_hanging(tmp_path):
    from llmrec_ref.gradebox import Box

    path = tmp_path / "01_x.ipynb"
    submission(path, lambda n, cell: [cell])
    box = Box(startup_timeout=3, command=lambda argv: [sys.executable, "-c", "import time; time.sleep(300)"])
    grade = grade_notebook(path, timeout=5, box=box)
    assert grade.score == 0 and all("did not start within 3 s" in r.message for r in grade.exercises)


def test_sigterm_stops_the_batch_cleanly_with_its_json(tmp_path):
    import signal
    import time

    path = tmp_path / "01_loop.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[code("while True:\n    pass")]), path)
    report = tmp_path / "grades.json"
    proc = subprocess.Popen([sys.executable, "-m", "llmrec_ref", "exercises", "grade", str(path), "--timeout",
                             "60", "--json", str(report)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(8)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM
    assert "grading stopped by SIGTERM" in out
    assert json.loads(report.read_text()) == []


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "-inf", "ten", ""])
def test_timeout_must_be_a_positive_finite_number(value, capsys):
    from llmrec_ref.__main__ import main

    with pytest.raises(SystemExit) as stop:
        main(["exercises", "grade", "01_x.ipynb", f"--timeout={value}"])
    assert stop.value.code == 2
    assert "timeout must be a positive, finite number of seconds" in capsys.readouterr().err


def test_any_positive_timeout_is_accepted():
    from llmrec_ref.grading import positive_seconds

    assert [positive_seconds(v) for v in ("10", "0.5", 2, 1e-3, "1e3")] == [10.0, 0.5, 2.0, 1e-3, 1000.0]
    for bad in (0, -2, float("nan"), float("inf"), True, None, "x"):
        with pytest.raises(ValueError, match="positive, finite"):
            positive_seconds(bad)


def test_kernel_deaths_cost_a_bounded_number_of_restarts(tmp_path):
    path = tmp_path / "01_dies.ipynb"
    cells = [code("x = 1")] + [code(f"import os\nos._exit({n})") for n in range(1, 7)]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    grade = grade_notebook(path, timeout=10)
    notes = "\n".join(grade.notes)
    assert notes.count("killed the kernel; it was restarted") == 4  # three restarts, then it stops
    assert "cell 6 (import os) and the cells after it were not run: the kernel died or hung 4 times" in notes
    assert grade.score == 0 and all("died or hung" in r.message for r in grade.exercises)
