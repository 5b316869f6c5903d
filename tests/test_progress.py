"""Progress bars where a person watches, plain lines where a file or a log reads."""

from __future__ import annotations

import os
import subprocess
import sys

from llmrec_ref import progress


def test_override_by_environment(monkeypatch):
    monkeypatch.setenv("LLMREC_PROGRESS", "lines")
    assert not progress.interactive()
    items = [1, 2, 3]
    assert progress.bar(items, "x") is items  # no bar: the iterable itself
    monkeypatch.setenv("LLMREC_PROGRESS", "bar")
    assert progress.interactive()
    wrapped = progress.bar(items, "x")
    assert wrapped is not items and list(wrapped) == items
    assert progress.bar(items, "x", verbose=False) is items


def test_a_pipe_gets_no_bar_frames():
    code = ("from llmrec_ref import progress\n"
            "for i in progress.bar(range(200), 'steps'):\n    pass\n"
            "progress.report('done 200 steps')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={k: v for k, v in os.environ.items() if k != "LLMREC_PROGRESS"})
    assert out.stdout == "done 200 steps\n"
    assert "\r" not in out.stderr and "steps" not in out.stderr


def test_report_is_silent_when_not_verbose(capsys):
    progress.report("epoch 1", verbose=False)
    progress.report("epoch 2")
    assert capsys.readouterr().out == "epoch 2\n"
