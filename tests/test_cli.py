"""The command line: demo (train, save, load, the worked example), seed_everything, argument errors.

Training the demo's model takes most of a minute, so it is trained once here, for one epoch,
in-process (``run_demo(epochs=1, save=...)``); the command-line runs then ``--load`` it.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

import llmrec_ref
from llmrec_ref.__main__ import main
from llmrec_ref.demo import run_demo


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "llmrec_ref", *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(checkpoint path, printed output) of a demo that trained for one epoch and saved its model."""
    path = tmp_path_factory.mktemp("demo") / "shop.pt"
    out = io.StringIO()
    threads = torch.get_num_threads()
    with contextlib.redirect_stdout(out):
        run_demo("shop", seed=0, epochs=1, save=str(path))
    torch.set_num_threads(threads)
    return path, out.getvalue()


@pytest.fixture(scope="module")
def loaded_runs(trained):
    """Two command-line runs of ``demo --seed 3 --load PATH``."""
    return [run_cli("demo", "--seed", "3", "--load", str(trained[0])) for _ in range(2)]


def test_demo_trains_saves_and_answers_the_worked_example(trained):
    path, out = trained
    assert path.exists() and "saved to" in out
    assert "== training ContextRec" in out and "trained in" in out
    validation = out.split("== validation")[1].splitlines()
    assert validation[2].startswith("Popularity") and validation[3].startswith("ContextRec")
    answer = out.split("== worked example")[1].splitlines()
    assert answer[1].startswith("purchase") and "Apple phone" in answer[1] and "rank" in answer[1]
    assert answer[2].startswith("browse") and "Huawei phone" in answer[2]
    assert answer[3].startswith("favorite") and "Xiaomi phone" in answer[3]
    top = out.split("its top-10")[1].splitlines()
    assert "true rank" in top[1] and len([line for line in top[2:12] if line.strip()]) == 10
    assert "what the user did next" in out and "ground truth top-10" in out


def test_demo_prints_summary_split_and_the_worked_example(loaded_runs):
    result = loaded_runs[0]
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "users             1,000" in out and "items            10,000" in out
    assert "behaviours    browse" in out
    assert "no test interaction earlier than its user's training ones: True" in out
    lines = out.split("the session with the worked example")[1].splitlines()
    assert "purchase" in lines[2] and "Apple phone" in lines[2]
    assert "browse" in lines[3] and "Huawei phone" in lines[3]
    assert "favorite" in lines[4] and "Xiaomi phone" in lines[4]
    assert "ContextRec loaded from" in out and "== training" not in out
    assert "its top-10" in out


def test_demo_is_deterministic(loaded_runs):
    first, second = loaded_runs
    strip = lambda s: [line for line in s.splitlines() if "prepared in" not in line]  # noqa: E731
    assert strip(first.stdout) == strip(second.stdout)


def test_loading_a_model_for_another_catalogue_is_a_clear_error(tmp_path, capsys):
    from llmrec_ref.models import ContextRec

    log = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": [1, 2, 3, 4], "timestamp": [1, 2, 3, 4]})
    small = ContextRec(n_items=30, d_model=8, n_heads=1, n_layers=1, max_len=4, features=[], epochs=1, verbose=False)
    small.fit(log).save(tmp_path / "small.pt")
    assert main(["demo", "--load", str(tmp_path / "small.pt")]) == 2
    assert "knows 30 items but shop has 10,000" in capsys.readouterr().err


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


def test_missing_checkpoint_is_an_error_not_a_traceback(tmp_path, capsys):
    assert main(["demo", "--load", str(tmp_path / "nope.pt")]) == 2
    assert "no checkpoint" in capsys.readouterr().err


def test_exercises_build_into_the_source_folder_is_refused(tmp_path, capsys):
    import shutil
    from pathlib import Path

    src = Path(__file__).resolve().parents[1] / "exercises"
    copy = tmp_path / "ex"
    shutil.copytree(src, copy)
    assert main(["exercises", "build", str(copy), "--source", str(copy)]) == 2
    assert "choose another folder" in capsys.readouterr().err


def test_read_table_inverts_markdown_table_and_reads_the_results_page():
    from pathlib import Path

    from llmrec_ref.tables import markdown_table, read_table

    rows = [{"model": "EASE", "NDCG@10": "0.339 [0.322, 0.356]"}, {"model": "MF-BPR", "NDCG@10": "0.299"}]
    page = "# Results\n\n## Baselines (`bench models`)\n\nsome prose\n\n" + markdown_table(rows) + "\n\n## Next\n"
    assert read_table(page, "## Baselines") == rows
    with pytest.raises(ValueError, match="no line starts with"):
        read_table(page, "## Missing")
    with pytest.raises(ValueError, match="no markdown table"):
        read_table(page, "## Next")
    results = (Path(__file__).resolve().parents[1] / "docs" / "results.md").read_text()
    baselines = read_table(results, "## Baselines")
    assert {"EASE", "MF-BPR"} <= {r["model"] for r in baselines}


@pytest.mark.slow
def test_bench_model_runs_end_to_end_on_a_tiny_preset(movielens, monkeypatch):
    """bench model's whole path (split, build, fit, paired differences, table) on one tiny preset."""
    from llmrec_ref.bench import model as bench_model

    tiny = dict(d_model=8, n_heads=1, max_len=5, windows="last", epochs=1, batch_size=256)
    monkeypatch.setitem(bench_model.PRESETS, "ml-100k", {"tiny": (tiny, None), "tiny gru": (dict(tiny, encoder="gru"), None)})
    rows = bench_model.run("ml-100k", n_boot=20, threads=1)
    assert [r["model"] for r in rows] == ["tiny", "tiny gru", "Popularity"]
    assert all(r["protocol"] == "loo, full, history excluded" for r in rows)
    assert 0 < rows[0]["test ndcg@10"] < 1 and "first row minus this, NDCG@10 [95%]" in rows[1]


def test_demo_checks_where_it_will_save_before_training_and_refuses_a_text_file(tmp_path, capsys, monkeypatch):
    import llmrec_ref.demo as demo

    monkeypatch.setattr(demo, "train_model", lambda *a, **k: pytest.fail("trained before checking --save"))
    assert main(["demo", "--save", str(tmp_path / "missing" / "m.pt")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "folder" in err and "does not exist" in err
    (tmp_path / "notes.txt").write_text("not a model")
    assert main(["demo", "--load", str(tmp_path / "notes.txt")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a readable checkpoint" in err and "Traceback" not in err


# ----------------------------------------------------------------------------- issue #16: errors on one line
def one_line_error(capsys, argv) -> str:
    """Run the command line; it must exit with status 2 and one line on stderr, no traceback."""
    try:
        status = main(argv)
    except SystemExit as stop:  # argparse's usage errors
        status = stop.code
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and "Traceback" not in err, (status, err)
    return err


@pytest.mark.parametrize("argv, says", [
    (["bench", "data", "--repeats", "0"], "--repeats: must be an int >= 1, got '0'"),
    (["bench", "data", "--repeats", "x"], "--repeats: must be an int >= 1, got 'x'"),
    (["bench", "course", "--timeout", "0"], "--timeout: must be a finite number > 0, got '0'"),
    (["bench", "course", "--timeout", "nan"], "--timeout: must be a finite number > 0, got 'nan'"),
    (["bench", "course", "--root", "/missing"], "no NN_*.ipynb notebooks under /missing"),
    (["bench", "encoders", "--dropout", "1.5"], "--dropout: must be a number in [0, 1)"),
    (["bench", "embeddings", "--seeds", "0"], "--seeds: must be an int >= 1"),
    (["bench", "model", "--n-boot", "-1"], "--n-boot: must be an int >= 0"),
    (["bench", "data", "--bogus"], "unrecognized arguments: --bogus"),
    (["bench", "nosuchtopic"], "invalid choice: 'nosuchtopic'"),
    (["demo", "--dataset", "imdb"], "invalid choice: 'imdb'"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_every_command_line_error_is_one_line_with_status_2(capsys, argv, says):
    assert says in one_line_error(capsys, argv)


def test_demo_load_of_a_config_with_an_unknown_key_is_one_line(tmp_path, capsys, trained):
    from llmrec_ref.recommender import save_checkpoint

    blob = torch.load(trained[0], weights_only=True)
    meta = json.loads(blob["meta"])
    meta["config"]["colour"] = "blue"
    save_checkpoint(tmp_path / "newer.pt", "ContextRec", meta, blob["tensors"])
    assert "does not know: ['colour']" in one_line_error(capsys, ["demo", "--load", str(tmp_path / "newer.pt")])
    (tmp_path / "notes.txt").write_text("not a model")
    assert "not a readable checkpoint" in one_line_error(capsys, ["demo", "--load", str(tmp_path / "notes.txt")])


def test_a_multi_line_error_is_folded_onto_one_line(capsys, monkeypatch):
    import llmrec_ref.datasets as datasets

    def offline(data_dir):
        raise OSError("Could not fetch MovieLens-100k from any source:\n  grouplens: timeout\nFix: check your network")

    monkeypatch.setattr(datasets, "fetch_movielens_100k", offline)
    err = one_line_error(capsys, ["data", "fetch", "ml-100k"])
    assert err == "error: Could not fetch MovieLens-100k from any source:; grouplens: timeout; Fix: check your network\n"


def test_train_command_trains_saves_and_resumes(movielens, tmp_path, capsys, monkeypatch):
    """`python -m llmrec_ref train` in one process: a model file and a training state; run again with
    the same --checkpoint it resumes (no epoch is trained twice)."""
    from llmrec_ref import recipes

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    tiny = dict(d_model=8, n_heads=1, max_len=5, windows="last", epochs=1, batch_size=256)
    monkeypatch.setitem(recipes.PRESETS, "ml-100k", {"tiny": (tiny, None)})
    args = ["train", "--dataset", "ml-100k", "--out", str(tmp_path / "m.pt"), "--checkpoint", str(tmp_path / "s.pt")]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert "| ml-100k | tiny | 1 | 1 |" in first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt", "s.pt"]
    assert main(args) == 0  # resumed: the one epoch is already done, so no training line is printed
    again = capsys.readouterr().out
    assert "ContextRec epoch" not in again
    cells = [line.splitlines()[-1].split("|") for line in (first, again)]
    assert cells[0][:5] + cells[0][6:] == cells[1][:5] + cells[1][6:]  # the same model and metrics (not the seconds)


@pytest.mark.parametrize("args, message", [
    (["--out", "/missing/dir/m.pt"], "cannot save the model to '/missing/dir/m.pt'"),
    (["--checkpoint", "/missing/dir/s.pt"], "cannot write the training state to '/missing/dir/s.pt'"),
    (["--preset", "nope"], "preset must be one of"),
])
def test_train_command_refuses_bad_paths_and_presets_before_training(args, message, capsys):
    assert main(["train", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
