"""The training loop: determinism, early stopping with best-state restore, checkpoints, failures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from llmrec_ref.models import MF, ContextRec
from llmrec_ref.split import leave_one_out
from llmrec_ref.train import evaluate_valid, fit, load, save

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


def model(**kw) -> ContextRec:
    base = dict(n_items=N_ITEMS, d_model=16, n_heads=2, n_layers=1, max_len=8, epochs=3, lr=1e-2, verbose=False)
    return ContextRec(**(base | kw))


def test_fit_is_deterministic_for_a_seed(split):
    a, b, c = model(seed=1), model(seed=1), model(seed=2)
    ha, hb, hc = (fit(m, split.train, split.valid) for m in (a, b, c))
    assert [r["loss"] for r in ha] == [r["loss"] for r in hb]
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))
    assert [r["loss"] for r in ha] != [r["loss"] for r in hc]


def test_history_has_loss_and_validation_metrics_per_epoch(split):
    m = model(epochs=4, patience=4)
    history = fit(m, split.train, split.valid)
    assert [r["epoch"] for r in history] == [1, 2, 3, 4]
    assert {"loss", "seconds", "valid_ndcg@10", "valid_hr@10"} <= set(history[0])
    assert history[-1]["loss"] < history[0]["loss"]


def test_early_stopping_restores_the_best_epoch(split, monkeypatch):
    m = model(epochs=6, patience=2)
    # fake validation scores: the best is epoch 2, then two worse epochs stop training
    fake = iter([0.1, 0.5, 0.2, 0.3])
    states = []

    def fake_eval(model_, train, valid):
        states.append({k: v.clone() for k, v in model_.state_dict().items()})
        return {"valid_ndcg@10": next(fake), "valid_hr@10": 0.0}

    monkeypatch.setattr("llmrec_ref.train.evaluate_valid", fake_eval)
    history = fit(m, split.train, split.valid)
    assert len(history) == 4
    assert all(torch.equal(v, states[1][k]) for k, v in m.state_dict().items())


def test_checkpoint_round_trip_gives_the_same_scores(split, tmp_path):
    m = model(features=None)
    fit(m, split.train, split.valid)
    path = tmp_path / "model.pt"
    m.save(path)
    again = ContextRec.load(path)
    assert again.config == m.config
    assert torch.equal(again.score([1, 2, 3], split.train), m.score([1, 2, 3], split.train))
    # loading into a model built with the same config also works
    twin = load(path, model=ContextRec(again.config))
    assert torch.equal(twin.score([4], split.train), m.score([4], split.train))


def test_checkpoint_with_another_config_is_a_clear_error(split, tmp_path):
    m = model()
    fit(m, split.train)
    save(m, tmp_path / "m.pt")
    with pytest.raises(ValueError, match="d_model: checkpoint 16, model 32"):
        load(tmp_path / "m.pt", model=model(d_model=32, features=m.config.features))
    with pytest.raises(ValueError, match="holds a ContextRec, not a MF"):
        MF.load(tmp_path / "m.pt")
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load(tmp_path / "missing.pt")


def test_mf_checkpoint_round_trip(split, tmp_path):
    mf = MF(d_model=8, epochs=2, verbose=False).fit(split.train)
    mf.save(tmp_path / "mf.pt")
    assert torch.equal(MF.load(tmp_path / "mf.pt").score([1, 2], split.train), mf.score([1, 2], split.train))


def test_nan_loss_names_the_epoch_and_the_learning_rate(split, monkeypatch):
    m = model(lr=0.5)
    monkeypatch.setattr(ContextRec, "batch_loss", lambda self, batch, gen=None: torch.tensor(float("nan")))
    with pytest.raises(FloatingPointError, match=r"epoch 1 \(lr=0.5\)"):
        fit(m, split.train)


def test_bad_settings_are_value_errors(split):
    with pytest.raises(ValueError, match="epochs"):
        fit(model(), split.train, epochs=0)
    with pytest.raises(ValueError, match="no setting"):
        fit(MF(verbose=False), split.train, loss="softmax")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA"):
            fit(model(), split.train, device="cuda")


@pytest.mark.parametrize("loss", ["sampled_softmax", "bpr", "bce"])
def test_every_loss_trains(split, loss):
    m = model(loss=loss, epochs=8, patience=8)
    history = fit(m, split.train, split.valid)
    assert history[-1]["loss"] < history[0]["loss"]
    assert max(r["valid_ndcg@10"] for r in history) == evaluate_valid(m, split.train, split.valid)["valid_ndcg@10"]
