"""While grading, the boxed kernel cannot read or import the checks (they run in the grader's
process): ``llmrec_ref/checks`` holds stand-ins there, so a learner's ``from llmrec_ref.checks
import chNN`` still imports and an honest submission keeps full marks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
PEEK = (  # what a submission sees of the checks; the note the grader keeps reports it
    "import pathlib, llmrec_ref.checks as c, llmrec_ref.checks.ch05 as m\n"
    "src = (pathlib.Path(c.__file__).parent / 'ch05.py').read_text()\n"
    "raise RuntimeError(f\"checks visible: {'_ridge_case' in src or hasattr(m, '_ridge_case')}; "
    "stand-in: {'run by the grader' in src}\")\n"
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the box hides files on Linux only")
def test_the_kernel_sees_stand_ins_for_the_checks_and_full_marks_still_come(tmp_path):
    nb = nbformat.read(ROOT / "exercises" / "solutions" / "05_loss_derivation.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.cells.append(nbformat.v4.new_code_cell(PEEK))
    path = tmp_path / "05_peek.ipynb"
    nbformat.write(nb, path)
    report = tmp_path / "grades.json"
    result = subprocess.run([sys.executable, "-m", "llmrec_ref", "exercises", "grade", str(path), "--json", str(report)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    (grade,) = json.loads(report.read_text())
    if "could not hide" in result.stderr:
        pytest.skip("this host refuses the namespaces the box needs")
    assert (grade["score"], grade["total"]) == (5, 5), grade
    notes = " ".join(grade["notes"])
    assert "checks visible: False; stand-in: True" in notes, grade["notes"]
