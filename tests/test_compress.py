"""Compression (llmrec_ref.compress): counts against the network's parameters and hand-computed
FLOPs, pruning against its definition (the smallest weights / hidden units go, structured pruning
is the same function on fewer units), the fine-tune keeps the zeros, and the quantised tables'
error is within half a step."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import torch

from llmrec_ref.compress import (
    fine_tune,
    magnitude_prune,
    parameter_counts,
    quantize_table,
    request_flops,
    sparsity,
    state_bytes,
    with_item_table,
)
from llmrec_ref.contextrec import ContextRecNet, ContextRecNetConfig
from llmrec_ref.models import ContextRec
from llmrec_ref.split import leave_one_out

pytestmark = pytest.mark.usefixtures("one_thread")


def _net(**kw) -> ContextRecNet:
    torch.manual_seed(0)
    return ContextRecNet(ContextRecNetConfig(**(dict(n_items=40, d_model=16, n_heads=2, n_layers=2, max_len=7,
                                                     dropout=0.0, features=(("hour", 25),)) | kw))).eval()


def test_counts_cover_every_parameter_and_flops_are_the_formulas():
    net = _net()
    counts = parameter_counts(net)
    assert sum(counts.values()) == sum(p.numel() for p in net.parameters())
    assert counts["item table"] == 41 * 16 + 41 and counts["MLP"] == 2 * (16 * 64 + 64 + 64 * 16 + 16)
    f = request_flops(net, history=5)
    assert f["MLP"] == 2 * 2 * 5 * 16 * 64 and f["output layer (catalogue)"] == 41 * 16
    assert f["attention projections"] == 2 * 4 * 5 * 16 * 16 and f["attention scores + mix"] == 2 * 2 * 25 * 16


def test_unstructured_pruning_zeroes_the_smallest_weights_and_leaves_the_original():
    net = _net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    pruned = magnitude_prune(net, 0.5)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    for (name, w), (_, w0) in zip(pruned.encoder.named_modules(), net.encoder.named_modules(), strict=True):
        if isinstance(w, torch.nn.Linear):
            kept = w.weight != 0
            assert abs(kept.float().mean().item() - 0.5) < 1 / w.weight.numel() + 1e-9, name
            assert w0.weight.abs()[kept].min() >= w0.weight.abs()[~kept].max()  # the smallest |w| went
    assert abs(sparsity(pruned) - 0.5) < 0.01 and sparsity(net) == 0.0


def test_structured_pruning_keeps_the_strongest_units_and_the_function_of_the_rest():
    net = _net()
    small = magnitude_prune(net, 0.25, structured=True)
    assert small.config.d_ff == 48 and small.encoder.layers[0].ff1.weight.shape == (48, 16)
    assert sum(p.numel() for p in small.parameters()) == sum(p.numel() for p in net.parameters()) - 2 * 16 * (2 * 16 + 1)
    # the same network with the dropped units' rows zeroed in W_1, b_1 and columns in W_2 gives the same logits
    masked = copy.deepcopy(net)
    for big, little in zip(masked.encoder.layers, small.encoder.layers, strict=True):
        norms = big.ff1.weight.norm(dim=1)
        drop = norms.argsort()[:16]
        assert norms[drop].max() <= little.ff1.weight.norm(dim=1).min() + 1e-7
        with torch.no_grad():
            big.ff2.weight[:, drop] = 0
    items = torch.randint(0, 41, (3, 7))
    ctx = {"hour": torch.randint(1, 25, (3, 7))}
    assert torch.allclose(masked(items, ctx)[..., 1:], small(items, ctx)[..., 1:], atol=1e-5)
    with pytest.raises(ValueError, match="amount"):
        magnitude_prune(net, 1.0)
    with pytest.raises(ValueError, match="gru"):
        magnitude_prune(_net(encoder="gru"), 0.5)


@pytest.mark.parametrize("dtype, step", [("int8", 1 / 127), ("float16", 2 ** -10)])
def test_quantised_tables_are_within_half_a_step(dtype, step):
    g = torch.Generator().manual_seed(3)
    table = torch.randn(50, 8, generator=g) * torch.rand(50, 1, generator=g)
    table[0] = 0
    q, scale = quantize_table(table, dtype)
    back = q.float() if scale is None else q.float() * scale[:, None]
    bound = table.abs().amax(1, keepdim=True) * step * (0.5 if dtype == "int8" else 1.0) + 1e-12
    assert (back - table).abs().le(bound).all() and torch.equal(back[0], table[0])
    assert q.dtype == {"int8": torch.int8, "float16": torch.float16}[dtype]
    assert state_bytes({"q": q}) < state_bytes({"t": table})
    with pytest.raises(ValueError, match="dtype"):
        quantize_table(table, "int4")


@pytest.fixture(scope="module")
def split():
    rng = np.random.default_rng(0)
    rows = [(u, int(i), 1_700_000_000 + 60 * t) for u in range(1, 31)
            for t, i in enumerate(rng.permutation(np.arange(1, 31))[:8])]
    return leave_one_out(pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"]))


def test_fine_tune_keeps_the_zeros_and_the_original_model(split):
    model = ContextRec(n_items=30, d_model=16, max_len=6, epochs=1, verbose=False).fit(split.train)
    table = model.network_.item_table().clone()
    pruned = magnitude_prune(model.network_, 0.6)
    tuned = fine_tune(model, pruned, split.train, split.valid, epochs=2)
    assert abs(sparsity(tuned.network_) - 0.6) < 0.01 and len(tuned.train_log_) == 2
    assert not any("weight_orig" in k for k in tuned.network_.state_dict())  # masks made permanent
    assert torch.equal(model.network_.item_table(), table) and sparsity(model.network_) == 0.0
    small = fine_tune(model, magnitude_prune(model.network_, 0.5, structured=True), split.train, epochs=1)
    assert small.network_.config.d_ff == 32 and small.score([1, 2], split.train).shape == (2, 31)
    int8 = with_item_table(model, "int8")
    assert not torch.equal(int8.network_.item_emb.weight, model.network_.item_emb.weight)
    assert torch.allclose(int8.score([1], split.train)[:, 1:], model.score([1], split.train)[:, 1:], atol=0.05)
