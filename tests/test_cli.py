"""The command line: demo, seed_everything, argument errors."""

from __future__ import annotations

import random
import subprocess
import sys

import numpy as np
import pytest
import torch

import llmrec_ref
from llmrec_ref.__main__ import main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "llmrec_ref", *args], capture_output=True, text=True)


def test_demo_prints_summary_split_and_the_worked_example():
    result = run_cli("demo")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "users             1,000" in out and "items            10,000" in out
    assert "behaviours    browse" in out
    assert "no test interaction earlier than its user's training ones: True" in out
    lines = out.split("the session with the worked example")[1].splitlines()
    assert "purchase" in lines[2] and "Apple phone" in lines[2]
    assert "browse" in lines[3] and "Huawei phone" in lines[3]
    assert "favorite" in lines[4] and "Xiaomi phone" in lines[4]


def test_demo_is_deterministic():
    first, second = run_cli("demo", "--seed", "3"), run_cli("demo", "--seed", "3")
    strip = lambda s: [line for line in s.splitlines() if "prepared in" not in line]  # noqa: E731
    assert strip(first.stdout) == strip(second.stdout)


def test_seed_everything_seeds_python_numpy_and_torch():
    llmrec_ref.seed_everything(7)
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    llmrec_ref.seed_everything(7)
    assert a == (random.random(), np.random.rand(), torch.rand(1).item())
    with pytest.raises(ValueError, match="seed"):
        llmrec_ref.seed_everything(-1)


def test_unknown_demo_dataset_is_an_argument_error(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--dataset", "imdb"])
    assert "invalid choice" in capsys.readouterr().err


def test_exercises_build_into_the_source_folder_is_refused(tmp_path, capsys):
    import shutil
    from pathlib import Path

    src = Path(__file__).resolve().parents[1] / "exercises"
    copy = tmp_path / "ex"
    shutil.copytree(src, copy)
    assert main(["exercises", "build", str(copy), "--source", str(copy)]) == 2
    assert "choose another folder" in capsys.readouterr().err
