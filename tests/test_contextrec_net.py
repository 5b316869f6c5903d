"""ContextRecNet, the pure network: config checks, shapes, padding, causality, target attention, item tables."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch.autograd import gradcheck

from llmrec_ref.contextrec import ContextRecNet, ContextRecNetConfig

N_ITEMS = 30
pytestmark = pytest.mark.usefixtures("one_thread")


def net(**kw) -> ContextRecNet:
    torch.manual_seed(0)
    base = dict(n_items=N_ITEMS, d_model=16, n_heads=2, n_layers=1, max_len=8, dropout=0.0)
    return ContextRecNet(ContextRecNetConfig(**(base | kw))).eval()


def test_config_is_complete_frozen_and_checked():
    c = ContextRecNetConfig(n_items=5, features=[["hour", 25]], request_features=["hour"])
    assert c.features == (("hour", 25),) and c.request_features == ("hour",)  # JSON lists become tuples
    assert ContextRecNetConfig.from_json(c.to_json()) == c
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.n_items = 6
    for bad, match in [(dict(n_items=None), "n_items"), (dict(d_model=10, n_heads=3), "multiple of n_heads"),
                       (dict(encoder="lstm2"), "encoder"), (dict(item_repr="text"), "text_dim"),
                       (dict(text_dim=8), "text_dim"), (dict(request_features=("hour",)), "request_features"),
                       (dict(features=(("hour", 1),)), "features"), (dict(dropout=1.0), "dropout")]:
        with pytest.raises(ValueError, match=match):
            ContextRecNetConfig(**(dict(n_items=5) | bad))
    with pytest.raises(ValueError, match="ContextRecNetConfig"):
        ContextRecNet({"n_items": 5})


@pytest.mark.parametrize("encoder", ["transformer", "gru"])
def test_forward_shapes_padding_and_no_nan(encoder):
    model = net(encoder=encoder, features=(("behavior_code", 5), ("hour", 25)))
    items = torch.tensor([[0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 3, 4, 5, 6, 7]])  # an all-padding row too
    ctx = {"behavior_code": torch.tensor([[0] * 8, [0, 0, 0, 1, 2, 3, 4, 1]]), "hour": torch.randint(1, 25, (2, 8))}
    out = model(items, ctx)
    assert out.shape == (2, 8, N_ITEMS + 1)
    assert torch.isinf(out[..., 0]).all() and torch.isfinite(out[..., 1:]).all()
    assert model(torch.zeros(3, 12, dtype=torch.long)).shape == (3, 8, N_ITEMS + 1)  # cut to max_len
    with pytest.raises(ValueError, match="int64"):
        model(items.float())


@pytest.mark.parametrize("encoder", ["transformer", "gru"])
def test_scores_at_position_t_do_not_see_the_future(encoder):
    model = net(encoder=encoder)
    a = torch.tensor([[0, 1, 2, 3, 4, 5, 6, 7]])
    b = a.clone()
    b[0, -1] = 20  # change the last item only
    assert torch.allclose(model(a)[:, :-1], model(b)[:, :-1], atol=1e-6)
    assert not torch.allclose(model(a)[:, -1], model(b)[:, -1])


def test_the_request_at_position_t_only_changes_scores_from_t_on():
    model = net(features=(("hour", 25),), request_features=("hour",))
    items = torch.tensor([[0, 0, 3, 4, 5, 6, 7, 8]])
    ctx = {"hour": torch.full((1, 8), 5), "next_hour": torch.full((1, 8), 5)}
    other = dict(ctx, next_hour=ctx["next_hour"].clone())
    other["next_hour"][0, 5] = 20
    a, b = model(items, ctx), model(items, other)
    assert torch.allclose(a[:, :5], b[:, :5], atol=1e-6)
    assert not torch.allclose(a[:, 5], b[:, 5])


def test_target_attention_term_is_causal_and_has_exact_gradients():
    model = net(target_attention=True).double()
    with torch.no_grad():
        model.ta_scale.fill_(0.7)
    items = torch.tensor([[0, 2, 5, 9, 1]])
    h, x = model.encode(items)
    mask = items != 0
    full = model.logits(h, x, mask)
    # position t uses only inputs 0..t: the last-position shortcut equals the cumulative version
    assert torch.allclose(model.logits(h, x, mask, last=True), full[:, -1])
    assert torch.allclose(model.logits(h[:, :3], x[:, :3], mask[:, :3])[:, -1], full[:, 2])
    f = lambda h, x: model.logits(h, x, mask)[..., 1:]  # noqa: E731
    assert gradcheck(f, (h.detach().requires_grad_(), x.detach().requires_grad_()))


def test_logits_are_the_tied_item_table_plus_bias():
    model = net()
    with torch.no_grad():
        model.item_bias.normal_()
    items = torch.tensor([[0, 0, 4, 9, 2]])
    h, x = model.encode(items)
    expected = h @ model.item_emb.weight.T + model.item_bias
    expected[..., 0] = float("-inf")
    assert torch.allclose(model(items), expected, atol=1e-6)
    assert (model.item_emb.weight[0] == 0).all() and torch.allclose(model.item_emb.weight[1:].std(),
                                                                    torch.tensor(0.02), rtol=0.3)


def test_item_table_fuses_id_and_projected_text():
    v = torch.randn(N_ITEMS + 1, 12)
    fused = net(item_repr="id+text", text_dim=12)
    fused.item_text.copy_(v)
    assert torch.allclose(fused.item_table(), fused.item_emb.weight + v @ fused.text_proj.weight.T)
    text = net(item_repr="text", text_dim=12)
    text.item_text.copy_(v)
    assert text.item_emb is None and text.item_bias is None
    assert torch.allclose(text.item_table(), v @ text.text_proj.weight.T)
    assert "item_text" in text.state_dict() and not any(p is text.item_text for p in text.parameters())


def test_the_network_copies_alone(tmp_path):
    """contextrec.py needs only encoders.py (and torch): the two files work in an empty folder."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    import llmrec_ref

    pkg = tmp_path / "llmrec_ref"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for name in ("contextrec.py", "encoders.py"):
        shutil.copy(Path(llmrec_ref.__file__).parent / name, pkg / name)
    code = ("import torch\nfrom llmrec_ref.contextrec import ContextRecNet, ContextRecNetConfig\n"
            "m = ContextRecNet(ContextRecNetConfig(n_items=9, d_model=8, n_heads=2, max_len=4))\n"
            "print(tuple(m(torch.tensor([[0, 1, 2, 3]])).shape))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "(1, 4, 10)"
