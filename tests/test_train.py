"""The training loop (model-agnostic): determinism, early stopping with best-state restore, failures;
and the one checkpoint format."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from llmrec_ref.evaluation import validation_metrics
from llmrec_ref.mf import MF
from llmrec_ref.models import ContextRec
from llmrec_ref.recommender import Recommender, read_checkpoint, save_checkpoint
from llmrec_ref.split import leave_one_out
from llmrec_ref.train import train_loop

N_ITEMS = 30


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def split():
    rng = np.random.default_rng(0)
    rows = []
    for u in range(1, 61):
        item = int(rng.integers(1, N_ITEMS + 1))
        for t in range(10):
            rows.append((u, item, 1_700_000_000 + 600 * t, ["browse", "purchase"][t % 2], ["mobile", "desktop"][u % 2]))
            item = item % N_ITEMS + 1 if rng.random() < 0.9 else int(rng.integers(1, N_ITEMS + 1))
    return leave_one_out(pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp", "behavior", "device"]))


def regression(seed: int = 0):
    """A linear layer fitting y = x w + noise: a loop test needs no recommender."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(256, 4, generator=gen)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 0.1 * torch.randn(256, generator=gen)
    layer = nn.Linear(4, 1)

    def loss(batch, generator):
        return ((layer(batch["x"])[:, 0] - batch["y"]) ** 2).mean()

    return layer, {"x": x, "y": y}, loss


def test_loop_knows_no_model_class_and_is_deterministic():
    runs = []
    for _ in range(2):
        torch.manual_seed(123)
        layer, rows, loss = regression()
        log = train_loop(layer, rows, loss, epochs=5, lr=0.05, batch_size=32, seed=1, verbose=False)
        runs.append((log, {k: v.clone() for k, v in layer.state_dict().items()}))
    (a, wa), (b, wb) = runs
    assert [r["loss"] for r in a] == [r["loss"] for r in b] and all(torch.equal(wa[k], wb[k]) for k in wa)
    assert [r["epoch"] for r in a] == [1, 2, 3, 4, 5] and a[-1]["loss"] < a[0]["loss"] / 5
    assert {"epoch", "loss", "seconds"} == set(a[0])


def test_early_stopping_restores_the_best_epoch():
    layer, rows, loss = regression()
    fake, states = iter([0.1, 0.5, 0.2, 0.3]), []

    def validate():
        states.append({k: v.clone() for k, v in layer.state_dict().items()})
        return {"valid_ndcg@10": next(fake)}

    log = train_loop(layer, rows, loss, epochs=6, lr=0.05, batch_size=32, patience=2, verbose=False, validate=validate)
    assert [r["valid_ndcg@10"] for r in log] == [0.1, 0.5, 0.2, 0.3]  # stopped after two epochs without a better one
    assert all(torch.equal(v, states[1][k]) for k, v in layer.state_dict().items())
    with pytest.raises(ValueError, match="must return 'valid_ndcg@10'"):
        train_loop(layer, rows, loss, epochs=1, lr=0.1, batch_size=32, verbose=False, validate=lambda: {"auc": 1.0})


def test_nan_loss_names_the_epoch_and_the_learning_rate():
    layer, rows, _ = regression()
    with pytest.raises(FloatingPointError, match=r"epoch 1 \(lr=0.5\)"):
        train_loop(layer, rows, lambda b, g: torch.tensor(float("nan")), epochs=2, lr=0.5, batch_size=32,
                   verbose=False)


def test_bad_settings_are_value_errors():
    layer, rows, loss = regression()
    for bad, match in [(dict(epochs=0), "epochs"), (dict(batch_size=1.5), "batch_size"), (dict(lr=0.0), "lr"),
                       (dict(weight_decay=-1.0), "weight_decay"), (dict(device="tpu"), "device")]:
        with pytest.raises(ValueError, match=match):
            train_loop(layer, rows, loss, **(dict(epochs=1, lr=0.1, batch_size=32, verbose=False) | bad))
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA"):
            train_loop(layer, rows, loss, epochs=1, lr=0.1, batch_size=32, device="cuda", verbose=False)
    with pytest.raises(ValueError, match="one common first dimension"):
        train_loop(layer, {"x": rows["x"], "y": rows["y"][:5]}, loss, epochs=1, lr=0.1, batch_size=32)


def test_a_pipe_gets_one_line_per_epoch(capsys, monkeypatch):
    monkeypatch.setenv("LLMREC_PROGRESS", "lines")
    layer, rows, loss = regression()
    train_loop(layer, rows, loss, epochs=3, lr=0.05, batch_size=32, name="toy")
    out = capsys.readouterr()
    assert out.out.count("\n") == 3 and out.out.startswith("toy epoch   1  loss ") and "\r" not in out.err


def model(**kw) -> ContextRec:
    base = dict(n_items=N_ITEMS, d_model=16, n_heads=2, n_layers=1, max_len=8, epochs=3, lr=1e-2, verbose=False)
    return ContextRec(**(base | kw))


def test_contextrec_log_has_loss_and_validation_metrics_per_epoch(split):
    m = model(epochs=4, patience=4).fit(split.train, split.valid)
    assert [r["epoch"] for r in m.train_log_] == [1, 2, 3, 4]
    assert {"loss", "seconds", "valid_ndcg@10", "valid_hr@10"} <= set(m.train_log_[0])
    assert m.train_log_[-1]["loss"] < m.train_log_[0]["loss"]


@pytest.mark.parametrize("loss", ["sampled_softmax", "bpr", "bce"])
def test_every_loss_trains(split, loss):
    m = model(loss=loss, epochs=8, patience=8).fit(split.train, split.valid)
    assert m.train_log_[-1]["loss"] < m.train_log_[0]["loss"]
    best = max(r["valid_ndcg@10"] for r in m.train_log_)
    assert best == validation_metrics(m, split.train, split.valid)["valid_ndcg@10"]  # the best epoch was restored


def test_checkpoint_round_trip_gives_the_same_scores(split, tmp_path):
    m = model(features=None).fit(split.train, split.valid)
    path = tmp_path / "model.pt"
    m.save(path)
    again = ContextRec.load(path)
    assert again.config == m.config and again.net_config_ == m.net_config_ and again.vocab_ == m.vocab_
    assert again.train_log_ == m.train_log_
    assert torch.equal(again.score([1, 2, 3], split.train), m.score([1, 2, 3], split.train))
    assert not list(tmp_path.glob("*.tmp"))  # written to a temporary file, renamed into place


def test_checkpoint_errors_are_clear(split, tmp_path):
    m = model().fit(split.train)
    m.save(tmp_path / "m.pt")
    with pytest.raises(ValueError, match="holds a ContextRec, not a MF"):
        MF.load(tmp_path / "m.pt")
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        ContextRec.load(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        ContextRec.load(tmp_path / "junk.pt")
    torch.save({"state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a checkpoint written by model.save"):
        ContextRec.load(tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not fitted"):
        model().save(tmp_path / "unfitted.pt")
    assert not (tmp_path / "unfitted.pt").exists()
    with pytest.raises(NotImplementedError, match="cannot be saved"):
        Recommender().save(tmp_path / "base.pt")


def test_checkpoints_refuse_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"class": "MF", "meta": "{}", "tensors": {}, "x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        MF.load(tmp_path / "evil.pt")
    save_checkpoint(tmp_path / "ok.pt", "X", {"a": 1}, {"t": torch.ones(2)})
    meta, tensors = read_checkpoint(tmp_path / "ok.pt", "X")
    assert meta == {"a": 1} and torch.equal(tensors["t"], torch.ones(2))


def test_mf_checkpoint_round_trip(split, tmp_path):
    mf = MF(d_model=8, epochs=2, verbose=False).fit(split.train)
    mf.save(tmp_path / "mf.pt")
    again = MF.load(tmp_path / "mf.pt")
    assert torch.equal(again.score([1, 2], split.train), mf.score([1, 2], split.train)) and again.config == mf.config


def _rewrite(path, **changes):
    """Load a checkpoint as plain data, change it, save it back (what an edit or a corruption does)."""
    blob = torch.load(path, weights_only=True)
    blob.update(changes)
    torch.save(blob, path)
    return blob


def test_a_damaged_checkpoint_is_refused_with_a_reason(split, tmp_path):
    mf = MF(d_model=4, epochs=1, verbose=False).fit(split.train)
    path = tmp_path / "mf.pt"
    mf.save(path)
    blob = torch.load(path, weights_only=True)
    edited = dict(blob["tensors"])
    edited["net.item_bias"] = edited["net.item_bias"] + 1e-3  # a changed weight, keeping the old checksum
    _rewrite(path, tensors=edited)
    with pytest.raises(ValueError, match="fails its checksum"):
        MF.load(path)
    mf.network_.item_bias.data[3] = float("nan")  # a diverged model saved as it was
    mf.save(path)
    with pytest.raises(ValueError, match="non-finite weights \\(net.item_bias\\)"):
        MF.load(path)
    mf.network_.item_bias.data[3] = 0.0
    mf.save(path)
    data = path.read_bytes()
    for damaged in (data[: len(data) // 2], b""):  # truncated, empty
        path.write_bytes(damaged)
        with pytest.raises(ValueError, match="not a readable checkpoint"):
            MF.load(path)
    mf.save(path)
    meta = json.loads(torch.load(path, weights_only=True)["meta"])
    meta["config"]["colour"] = "blue"  # written by another version: re-sign it so only the key is wrong
    save_checkpoint(path, "MF", meta, torch.load(path, weights_only=True)["tensors"])
    with pytest.raises(ValueError, match="does not know: \\['colour'\\]"):
        MF.load(path)
    with pytest.raises(FileNotFoundError, match="folder .* does not exist"):
        mf.save(tmp_path / "missing" / "mf.pt")
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        MF.load(tmp_path)  # a folder is not a checkpoint file


def test_resuming_from_a_checkpoint_continues_the_same_trajectory(split, tmp_path):
    """Stopped after 2 of 4 epochs (as if killed), then resumed: the same log and weights as 4 in a row."""
    small = dict(n_items=N_ITEMS, d_model=8, n_heads=2, max_len=6, batch_size=32, loss="sampled_softmax",
                 n_negatives=8, patience=10, verbose=False)
    straight = ContextRec(**small, epochs=4).fit(split.train, split.valid)
    path = tmp_path / "state.pt"
    ContextRec(**small, epochs=2).fit(split.train, split.valid, checkpoint=path)
    assert [p.name for p in tmp_path.iterdir()] == ["state.pt"]  # nothing half-written left behind
    resumed = ContextRec(**small, epochs=4).fit(split.train, split.valid, checkpoint=path)
    assert [r["epoch"] for r in resumed.train_log_] == [1, 2, 3, 4]
    assert [r["loss"] for r in resumed.train_log_] == [r["loss"] for r in straight.train_log_]
    assert [r["valid_ndcg@10"] for r in resumed.train_log_] == [r["valid_ndcg@10"] for r in straight.train_log_]
    for name, value in straight.network_.state_dict().items():
        assert torch.equal(resumed.network_.state_dict()[name], value), name


def test_a_checkpoint_of_another_model_or_no_checkpoint_is_refused(split, tmp_path):
    path = tmp_path / "state.pt"
    ContextRec(n_items=N_ITEMS, d_model=8, n_heads=2, max_len=6, epochs=1, verbose=False).fit(
        split.train, checkpoint=path)
    bigger = ContextRec(n_items=N_ITEMS + 5, d_model=8, n_heads=2, max_len=6, epochs=2, verbose=False)
    with pytest.raises(ValueError, match=r"another model or catalogue .*item_emb.weight: \(31, 8\) in the file, \(36, 8\) here"):
        bigger.fit(split.train, checkpoint=path)
    path.write_text("not a checkpoint")
    with pytest.raises(ValueError, match="is not a training checkpoint written by train_loop"):
        ContextRec(n_items=N_ITEMS, d_model=8, n_heads=2, max_len=6, epochs=2, verbose=False).fit(
            split.train, checkpoint=path)
    with pytest.raises(FileNotFoundError, match="checkpoint folder .*missing does not exist"):
        ContextRec(n_items=N_ITEMS, d_model=8, n_heads=2, max_len=6, epochs=1, verbose=False).fit(
            split.train, checkpoint=tmp_path / "missing" / "state.pt")
