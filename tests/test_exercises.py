"""Exercises: the solutions (exercises/solutions/) pass their checks; the student versions in
exercises/ are exactly what the build makes of them, and fail every check politely, with a hint."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from llmrec_ref.exercises import STUB, build_student_version, exercise_notebooks

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "exercises" / "solutions"
EXERCISES = exercise_notebooks(SOLUTIONS)
CHECK_CALL = re.compile(r"\bex\d+\(globals\(\)\)")


def is_solution(cell) -> bool:
    return "solution" in cell.get("metadata", {}).get("tags", [])


def check_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code" and CHECK_CALL.search(c.source)]


def test_every_chapter_exercise_has_three_or_more_checked_exercises():
    assert EXERCISES, "no exercise notebooks found"
    for path in EXERCISES:
        nb = nbformat.read(path, as_version=4)
        assert sum(map(is_solution, nb.cells)) >= 3, f"{path.name}: fewer than 3 solution cells"
        assert len(check_cells(nb)) >= 3, f"{path.name}: fewer than 3 check cells"


@pytest.mark.parametrize("path", EXERCISES, ids=[p.name for p in EXERCISES])
def test_solution_version_passes_every_check(path):
    for cell in check_cells(nbformat.read(path, as_version=4)):
        text = "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")
        assert "passed" in text, f"{path.name}: a check cell did not print 'passed':\n{cell.source}"


@pytest.fixture(scope="module")
def student_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    result = subprocess.run(
        [sys.executable, "-m", "llmrec_ref", "exercises", "build", str(out), "--source", str(SOLUTIONS)],
        capture_output=True, text=True, check=True,
    )
    assert result.stdout.count("wrote") == len(EXERCISES)
    return out


@pytest.mark.parametrize("path", EXERCISES, ids=[p.name for p in EXERCISES])
def test_student_version_has_no_solution_code(path, student_dir):
    solution = nbformat.read(path, as_version=4)
    student = nbformat.read(student_dir / path.name, as_version=4)
    solution_sources = [c.source for c in solution.cells if is_solution(c)]
    student_sources = [c.source for c in student.cells]
    for source in solution_sources:
        assert source not in student_sources
    assert student_sources.count(STUB) == len(solution_sources)
    assert all(not c.get("outputs") for c in student.cells if c.cell_type == "code")
    assert not any(is_solution(c) for c in student.cells)


@pytest.mark.parametrize("path", EXERCISES, ids=[p.name for p in EXERCISES])
def test_committed_student_version_is_exactly_what_the_build_makes(path, student_dir):
    for suffix in (".ipynb", ".py"):
        committed = ROOT / "exercises" / path.with_suffix(suffix).name
        assert committed.exists(), f"{committed.name} is missing: run `python -m llmrec_ref exercises build`"
        assert committed.read_bytes() == (student_dir / committed.name).read_bytes(), (
            f"exercises/{committed.name} differs from what the build makes of exercises/solutions/: "
            "edit the solution, then run `python -m llmrec_ref exercises build`")


def test_student_versions_hold_no_solution_and_solutions_are_not_package_data():
    for path in sorted((ROOT / "exercises").glob("[0-9][0-9]_*.ipynb")):
        assert not any(is_solution(c) for c in nbformat.read(path, as_version=4).cells), path.name
    import llmrec_ref

    package = Path(llmrec_ref.__file__).parent
    assert not list(package.rglob("*.ipynb")), "notebooks inside the package would ship the solutions"


@pytest.mark.parametrize("path", EXERCISES, ids=[p.name for p in EXERCISES])
def test_student_version_checks_fail_politely_with_a_hint(path):
    from nbclient import NotebookClient

    nb = nbformat.read(ROOT / "exercises" / path.name, as_version=4)
    NotebookClient(nb, timeout=120, allow_errors=True, resources={"metadata": {"path": str(ROOT / "exercises")}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.get("output_type") == "error"]
    others = [f"{o['ename']}: {o['evalue']}" for o in errors if o["ename"] != "ExerciseFailed"]
    assert not others, f"{path.name}: the student version raised more than the checks' ExerciseFailed: {others}"
    for cell in check_cells(nb):
        errors = [o for o in cell.outputs if o.get("output_type") == "error"]
        assert errors, f"{path.name}: a check passed on the student version:\n{cell.source}"
        assert errors[0]["ename"] == "ExerciseFailed", f"{path.name}: {errors[0]['ename']}: {errors[0]['evalue']}"
        assert re.match(r"Exercise \d+: ", errors[0]["evalue"]), errors[0]["evalue"]


def test_builder_refuses_to_write_over_the_solutions(tmp_path):
    from llmrec_ref.exercises import build_student_versions

    with pytest.raises(ValueError, match="solutions folder itself"):
        build_student_versions(SOLUTIONS, SOLUTIONS)


def test_builder_refuses_a_notebook_without_solutions(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    path = tmp_path / "01_x.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(ValueError, match="no cell tagged 'solution'"):
        build_student_version(path, tmp_path / "out")


def test_builder_places_a_stub_where_each_solution_was(tmp_path):
    cells = [
        nbformat.v4.new_markdown_cell("## Exercise 1"),
        nbformat.v4.new_code_cell("def f():\n    return 1", metadata={"tags": ["solution"]}),
        nbformat.v4.new_code_cell("check(f)"),
    ]
    path = tmp_path / "01_x.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    out = nbformat.read(build_student_version(path, tmp_path / "out"), as_version=4)
    assert [c.source for c in out.cells] == ["## Exercise 1", STUB, "check(f)"]
