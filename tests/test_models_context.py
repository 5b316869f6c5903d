"""ContextRec's request context (what a model may know about the next event) and its text item table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from llmrec_ref.evaluation import full_ranking, request_context
from llmrec_ref.models import ContextRec
from llmrec_ref.split import leave_one_out

N_ITEMS = 30
pytestmark = pytest.mark.usefixtures("one_thread")


def device_log(n_users: int = 60, length: int = 10, seed: int = 0) -> pd.DataFrame:
    """On a phone a user looks at items 1..15, on a desktop at 16..30; the device changes at random."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(1, n_users + 1):
        for t in range(length):
            device = ["mobile", "desktop"][int(rng.random() < 0.5)]
            item = int(rng.integers(1, 16)) + 15 * (device == "desktop")
            rows.append((u, item, 1_700_000_000 + 7200 * t + u, device, ["browse", "cart"][t % 2]))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp", "device", "behavior"])


def small(**kw) -> ContextRec:
    base = dict(n_items=N_ITEMS, d_model=16, n_heads=2, n_layers=1, max_len=8, verbose=False, dropout=0.0,
                request_context=True)
    return ContextRec(**(base | kw))


def test_request_features_never_include_the_outcome():
    log = device_log(n_users=4)
    model = small(features=["behavior_code", "hour", "device"], epochs=1).fit(log)
    assert model.net_config_.request_features == ("hour", "device") and model.uses_query
    assert list(model.network_.next_emb) == ["hour", "device"]
    off = small(features=["hour"], request_context=False, epochs=1).fit(log)
    assert off.net_config_.request_features == () and not off.uses_query
    assert not ContextRec(features=["hour"]).uses_query  # off by default (see the config)
    chosen = small(features=["hour", "gap_bucket"], request_features=["hour"], epochs=1).fit(log)
    assert chosen.net_config_.request_features == ("hour",)


def test_training_rows_carry_the_context_of_each_target():
    log = device_log(n_users=3, length=6)
    model = small(features=["behavior_code", "hour", "device"], epochs=1).fit(log)
    rows = model.training_rows(log)
    data = model._sequences(log, max_len=rows["items"].shape[1])  # (U, T + 1): inputs + the last target
    for f in ("hour", "device"):
        has_target = rows["targets"] > 0
        assert torch.equal(rows["next_" + f][has_target], data[f][:, 1:][has_target])
        assert (rows["next_" + f][~has_target] == 0).all()
    assert "next_behavior_code" not in rows


def test_score_uses_the_request_device_and_defaults_to_continuing_the_session():
    log = device_log()
    split = leave_one_out(log)
    model = small(features=["behavior_code", "hour", "device"], epochs=30, lr=1e-2, patience=30).fit(split.train)
    history = pd.concat([split.train, split.valid])
    users = np.sort(split.test["user_id"].unique())
    last = history.sort_values("timestamp").groupby("user_id").tail(1).sort_values("user_id")
    same = model.score(users, history, query=last[["user_id", "timestamp", "device"]])
    assert torch.allclose(model.score(users, history), same, atol=1e-5)  # no query = the last event's context, gap 0
    for device, lo in (("mobile", 1), ("desktop", 16)):
        q = pd.DataFrame({"user_id": users, "timestamp": last["timestamp"].to_numpy() + 60, "device": device})
        s = model.score(users, history, query=q)[:, 1:]
        top = s.topk(5).indices + 1  # (U, 5) item ids
        share = ((top >= lo) & (top < lo + 15)).float().mean().item()
        assert share > 0.9, f"{device}: only {share:.2f} of the top-5 from the device's items"


def test_evaluation_tells_the_model_the_request_but_not_its_outcome():
    class Spy:
        n_items_, uses_query = N_ITEMS, True

        def score(self, users, history, query=None):
            self.query = query
            return torch.zeros(len(users), N_ITEMS + 1)

    split = leave_one_out(device_log(n_users=5))
    spy = Spy()
    full_ranking(spy, split, n_boot=0)
    assert set(spy.query.columns) == {"user_id", "timestamp", "device"}
    assert spy.query["timestamp"].tolist() == split.test["timestamp"].tolist()
    assert list(request_context(split.test.assign(rating=1.0)).columns) == ["user_id", "timestamp", "device"]
    spy.uses_query = False  # a model that says it does not read the request is not given one
    full_ranking(spy, split, n_boot=0)
    assert spy.query is None


def text_vectors(seed: int = 0) -> torch.Tensor:
    """Items 1..15 and 16..30 get text vectors from two well-separated clusters (row 0 = padding)."""
    gen = torch.Generator().manual_seed(seed)
    centres = torch.randn(2, 12, generator=gen) * 3
    v = torch.cat([torch.zeros(1, 12), centres[0] + 0.3 * torch.randn(15, 12, generator=gen),
                   centres[1] + 0.3 * torch.randn(15, 12, generator=gen)])
    return torch.nn.functional.normalize(v, dim=-1) * (v.norm(dim=-1, keepdim=True) > 0)


def test_item_table_fuses_id_and_projected_text():
    v = text_vectors()
    log = device_log(n_users=4).drop(columns="device")
    fused = small(features=[], item_repr="id+text", epochs=1).set_item_text(v).fit(log)
    net = fused.network_
    assert torch.allclose(net.item_table(), net.item_emb.weight + v @ net.text_proj.weight.T)
    assert (net.item_table()[0] == 0).all() and net.config.text_dim == 12
    text = small(features=[], item_repr="text", epochs=1).set_item_text(v).fit(log)
    assert text.network_.item_emb is None and text.network_.item_bias is None


def test_text_mode_ranks_items_never_seen_in_training():
    log = device_log().drop(columns="device")
    # items 14, 15, 29 and 30 never occur in training: each user's odd/even taste shows in history
    log = log.assign(item_id=np.where(log["user_id"] % 2 == 1, (log["item_id"] - 1) % 13 + 1,
                                      (log["item_id"] - 1) % 13 + 16))
    model = small(features=[], item_repr="text", epochs=30, lr=1e-2, patience=30)
    model.set_item_text(text_vectors())
    model.fit(log)
    odd = log[log["user_id"] == 1]
    s = model.score([1], odd)[0]
    assert torch.isfinite(s[[14, 15, 29, 30]]).all()
    assert s[[14, 15]].min() > s[[29, 30]].max()  # the unseen items of the user's own cluster come first


def test_text_modes_check_their_inputs_and_round_trip(tmp_path):
    with pytest.raises(ValueError, match="item_repr"):
        small(item_repr="words")
    with pytest.raises(ValueError, match="set_item_text"):
        small(features=[], item_repr="text").fit(device_log(n_users=3))
    with pytest.raises(ValueError, match="item_repr is 'id'"):
        small(features=[]).set_item_text(text_vectors())
    with pytest.raises(ValueError, match="text"):
        small(features=[], item_repr="text").init_item_embeddings(torch.zeros(N_ITEMS + 1, 16))
    model = small(features=[], item_repr="text")
    with pytest.raises(ValueError, match="n_items \\+ 1, d_text"):
        model.set_item_text(torch.zeros(12))
    with pytest.raises(ValueError, match="n_items \\+ 1 = 31 rows"):
        model.set_item_text(torch.zeros(3, 12)).fit(device_log(n_users=3))
    model = small(features=[], item_repr="id+text", epochs=1)
    model.set_item_text(text_vectors())
    log = device_log(n_users=4).drop(columns="device")
    model.fit(log)
    model.save(tmp_path / "m.pt")
    again = ContextRec.load(tmp_path / "m.pt")
    assert torch.equal(again.item_text, model.item_text)
    assert torch.equal(again.score([1, 2], log), model.score([1, 2], log))
