"""``bench course`` runs each notebook as a learner does (``python -m pytest --nbval-lax NB``, in
a fresh process) and reports the CPU capability of that process. No assertion here depends on
how long anything took."""

from __future__ import annotations

import nbformat
import pytest

from llmrec_ref.__main__ import main
from llmrec_ref.bench import course


def notebook(path, *sources):
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources]), path)


@pytest.fixture(scope="module")
def tiny_course(tmp_path_factory):
    """A chapter that passes only when ATEN_CPU_CAPABILITY=default reached its kernel; an exercise
    that raises."""
    root = tmp_path_factory.mktemp("course")
    notebook(root / "notebooks" / "01_first.ipynb",
             "import os\nassert os.environ.get('ATEN_CPU_CAPABILITY') == 'default'")
    notebook(root / "notebooks" / "00_overview.ipynb", "1 + 1")
    notebook(root / "exercises" / "solutions" / "01_first.ipynb", "1 / 0")
    (root / "notebooks" / "notes.ipynb").write_text("not a chapter: no NN_ prefix")
    return root


def test_notebooks_come_chapters_first_in_number_order(tiny_course, tmp_path):
    names = [p.relative_to(tiny_course).as_posix() for p in course.course_notebooks(tiny_course)]
    assert names == ["notebooks/00_overview.ipynb", "notebooks/01_first.ipynb", "exercises/solutions/01_first.ipynb"]
    assert len(course.course_notebooks(tiny_course, exercises=False)) == 2
    with pytest.raises(FileNotFoundError, match="no NN_"):
        course.course_notebooks(tmp_path)


def test_each_notebook_runs_under_pytest_with_its_target_and_the_childs_capability(tiny_course):
    rows = course.run(tiny_course, capability="default", timeout=300)
    by_name = {r["notebook"]: r for r in rows}
    assert list(by_name) == ["notebooks/00_overview.ipynb", "notebooks/01_first.ipynb",
                             "exercises/solutions/01_first.ipynb", "whole course"]
    assert [r["target_s"] for r in rows] == [60, 60, 20, 300]
    assert by_name["notebooks/01_first.ipynb"]["status"] == "ok"  # the variable reached the kernel
    failed = by_name["exercises/solutions/01_first.ipynb"]["status"]
    assert failed.startswith("failed (pytest exit 1: 1 failed"), failed  # nbval reports the error
    assert by_name["whole course"]["status"] == "failed"
    assert {r["capability"] for r in rows} == {"DEFAULT"}  # what torch reports in such a child
    assert all(isinstance(r["threads"], int) and r["threads"] >= 1 for r in rows)
    total = sum(float(r["seconds"]) for r in rows[:-1])
    assert float(rows[-1]["seconds"]) == pytest.approx(total, abs=0.2)
    assert all(r["within"] == ("yes" if float(r["seconds"]) < r["target_s"] else "NO") for r in rows)


def test_without_the_option_the_environment_decides_and_the_option_overrides_it(monkeypatch):
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "default")
    assert course.child_machine()["capability"] == "DEFAULT"
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx512")  # on any CPU, "default" below wins
    assert course.child_machine("default")["capability"] == "DEFAULT"


def test_bad_options_are_clear_errors(tiny_course):
    with pytest.raises(ValueError, match="capability must be one of default, avx2, avx512"):
        course.run(tiny_course, capability="sse2")
    with pytest.raises(ValueError, match="timeout must be a positive"):
        course.run(tiny_course, timeout=0)


def test_the_command_line_prints_the_table(tiny_course, capsys):
    assert main(["bench", "course", "--root", str(tiny_course), "--no-exercises", "--capability", "default"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| notebook | seconds | target_s | within | status | capability | threads |")
    assert "| all chapters |" in out and "DEFAULT" in out and "exercises/" not in out
    with pytest.raises(SystemExit):
        main(["bench", "course", "--capability", "sse2"])
