"""Tests of llmrec_ref.vbpr: VBPR-style MF with early / late / gated fusion of fixed item content."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from llmrec_ref.baselines import RandomScorer
from llmrec_ref.coldstart import cold_start_split, evaluate_cold_start
from llmrec_ref.conformance import check_recommender
from llmrec_ref.split import leave_one_out
from llmrec_ref.vbpr import VBPR, VBPRNet

pytestmark = pytest.mark.usefixtures("one_thread")
N_USERS, N_ITEMS = 60, 40


def _content(seed=0):
    gen = torch.Generator().manual_seed(seed)
    text = torch.cat([torch.zeros(1, 6), torch.randn(N_ITEMS, 6, generator=gen)])
    image = torch.cat([torch.zeros(1, 4), torch.randn(N_ITEMS, 4, generator=gen)])
    return text, image


@pytest.fixture(scope="module")
def log():
    """Odd users like the 10 items with the largest first image coordinate, even users the 10 smallest."""
    text, image = _content()
    rng = np.random.default_rng(0)
    rows = []
    for u in range(1, N_USERS + 1):
        sign = 1 if u % 2 else -1
        liked = np.argsort(sign * image[1:, 0].numpy())[-10:] + 1
        for t, i in enumerate(rng.choice(liked, 8, replace=False)):
            rows.append((u, int(i), 1_700_000_000 + 60 * t))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])


SMALL = dict(d_model=4, d_content=4, epochs=3, batch_size=64, verbose=False)


@pytest.mark.parametrize("fusion", ["early", "late", "gated"])
def test_vbpr_keeps_the_contract(fusion, log):
    text, image = _content()
    split = leave_one_out(log)
    check_recommender(lambda: VBPR({"text": text, "image": image}, fusion=fusion, **SMALL), split.train, split.valid)


def test_plain_mf_and_content_only_keep_the_contract(log):
    split = leave_one_out(log)
    check_recommender(lambda: VBPR(None, **SMALL), split.train, split.valid)
    check_recommender(lambda: VBPR({"text": _content()[0]}, use_id=False, **SMALL), split.train, split.valid)


def _net(fusion, dims=(6, 4)):
    torch.manual_seed(0)
    net = VBPRNet(5, 8, dims, d_model=3, d_content=2, fusion=fusion, use_id=True)
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.5)
    return net


def test_fusions_follow_their_formulas():
    gen = torch.Generator().manual_seed(1)
    t, v = torch.randn(8 + 1, 6, generator=gen), torch.randn(8 + 1, 4, generator=gen)
    users, items = torch.tensor([1, 4]), torch.tensor([[1, 2, 3], [5, 6, 7]])
    present = torch.ones(2, 3, 2, dtype=torch.bool)
    for fusion in ("early", "late", "gated"):
        net = _net(fusion)
        got = net(users, items, [t[items], v[items]], present)
        idp = (net.user_emb(users)[:, None] * net.item_emb(items)).sum(-1) + net.item_bias[items]
        beta = (t[items] @ net.content_bias[0].weight.T + v[items] @ net.content_bias[1].weight.T).squeeze(-1)
        th = [x(users)[:, None] for x in net.theta]
        if fusion == "early":
            c = (th[0] * (torch.cat([t[items], v[items]], -1) @ net.proj[0].weight.T)).sum(-1)
        elif fusion == "late":
            c = (th[0] * (t[items] @ net.proj[0].weight.T)).sum(-1) + (th[1] * (v[items] @ net.proj[1].weight.T)).sum(-1)
        else:
            g = torch.cat([net.gate[0](t[items]), net.gate[1](v[items])], -1).softmax(-1)
            e = g[..., :1] * (t[items] @ net.proj[0].weight.T) + g[..., 1:] * (v[items] @ net.proj[1].weight.T)
            c = (th[0] * e).sum(-1)
        assert torch.allclose(got, idp + beta + c, atol=1e-6), fusion


def test_gate_ignores_a_missing_image():
    gen = torch.Generator().manual_seed(2)
    t, v = torch.randn(1, 1, 6, generator=gen), torch.zeros(1, 1, 4)
    net = _net("gated")
    present = torch.tensor([[[True, False]]])
    before = net(torch.tensor([2]), torch.tensor([[3]]), [t, v], present)
    with torch.no_grad():  # whatever the image side learned, a missing image says nothing
        net.proj[1].weight.add_(5.0)
        net.gate[1].bias.add_(100.0)
    assert torch.allclose(before, net(torch.tensor([2]), torch.tensor([[3]]), [t, v], present))
    none = net(torch.tensor([2]), torch.tensor([[3]]), [t * 0, v], torch.zeros(1, 1, 2, dtype=torch.bool))
    assert torch.isfinite(none).all()


def test_cold_items_are_ranked_by_content_and_beat_chance(log):
    text, image = _content()
    split = cold_start_split(log, frac=0.3, seed=0, n_items=N_ITEMS)
    model = VBPR({"image": image}, d_model=4, d_content=4, epochs=40, batch_size=64, lr=1e-2, verbose=False,
                 n_items=N_ITEMS, n_users=N_USERS).fit(split.train)
    s = model.score(torch.arange(1, 4), split.train)
    cold = torch.as_tensor(split.cold_items)
    assert not model.seen_[cold].any()
    e, bias = model.network_.item_content(model.feats_, model.present_)
    expected = torch.einsum("ukd,vkd->uv", model.network_.user_content(torch.arange(1, 4)), e) + bias
    assert torch.allclose(s[:, cold], expected[:, cold], atol=1e-5)              # no ID part for cold items
    res = evaluate_cold_start(model, split, ks=(3,), n_boot=0)
    rand = evaluate_cold_start(RandomScorer(n_items=N_ITEMS, seed=0).fit(split.train), split, ks=(3,), n_boot=0)
    assert res["ndcg@3"].mean > 1.5 * rand["ndcg@3"].mean


def test_bad_content_gets_clear_errors(log):
    text, image = _content()
    with pytest.raises(ValueError, match="n_items \\+ 1 rows"):
        VBPR({"text": text, "image": image[:-1]})
    with pytest.raises(ValueError, match="finite"):
        VBPR({"text": text * float("nan")})
    with pytest.raises(ValueError, match="is None"):
        VBPR({"text": text, "image": None})
    with pytest.raises(ValueError, match="use_id=False"):
        VBPR(None, use_id=False)
    with pytest.raises(ValueError, match="fusion"):
        VBPR({"text": text}, fusion="mean")
    with pytest.raises(ValueError, match="has 41 rows but the data has n_items = 50"):
        VBPR({"text": text}, n_items=50, **SMALL).fit(log)
    with pytest.raises(ValueError, match="no setting"):
        VBPR({"text": text}, dim=3)
