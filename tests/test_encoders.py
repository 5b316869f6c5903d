"""llmrec_ref.encoders against torch.nn, and the standalone-copy promise of attention/encoders."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import llmrec_ref.attention as attention
from llmrec_ref.encoders import (
    BiRNNEncoder,
    LearnedPositionalEmbedding,
    MultiHeadAttention,
    PositionalEncoding,
    SequenceEncoder,
    TransformerEncoder,
    TransformerEncoderLayer,
    causal_mask,
)


def _rand(*shape, dtype=torch.float32, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _left_pad_mask(lengths, T):
    return torch.arange(T)[None, :] >= (T - torch.tensor(lengths))[:, None]  # (B, T)


# --- positions --------------------------------------------------------------------------------


def test_sinusoidal_values_by_hand():
    pe = PositionalEncoding(4, max_len=10)
    out = pe(torch.zeros(1, 3, 4))
    p, i = 2, 1  # position 2, pair 1 -> frequency 1 / 10000^(2/4)
    assert math.isclose(out[0, p, 2 * i].item(), math.sin(p / 10000 ** (2 * i / 4)), abs_tol=1e-6)
    assert math.isclose(out[0, p, 2 * i + 1].item(), math.cos(p / 10000 ** (2 * i / 4)), abs_tol=1e-6)
    assert torch.equal(out[0, 0], torch.tensor([0.0, 1.0, 0.0, 1.0]))
    assert pe(torch.zeros(2, 3, 4, dtype=torch.float64)).dtype == torch.float64


def test_learned_positions_and_errors():
    lp = LearnedPositionalEmbedding(5, 4, init_std=0.02)
    x = _rand(2, 3, 4)
    assert torch.allclose(lp(x) - x, lp.emb.weight[:3].expand(2, 3, 4), atol=1e-6)
    assert lp.emb.weight.std().item() < 0.1
    with pytest.raises(ValueError, match="max_len=5"):
        lp(_rand(1, 6, 4))
    with pytest.raises(ValueError, match="even"):
        PositionalEncoding(5)
    with pytest.raises(ValueError, match=r"T <= 10"):
        PositionalEncoding(4, max_len=10)(torch.zeros(1, 11, 4))


# --- bidirectional RNN ------------------------------------------------------------------------


@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_birnn_padding_never_leaks(cell, bidirectional):
    torch.manual_seed(0)
    enc = BiRNNEncoder(3, 5, cell=cell, bidirectional=bidirectional, n_layers=2).eval()
    seq = _rand(1, 4, 3, seed=1)
    alone_out, alone_sum = enc(seq)
    # the same sequence with 3 slots of left padding and with 2 of right padding (junk in the pads)
    left = torch.cat([_rand(1, 3, 3, seed=2) * 100, seq], dim=1)
    right = torch.cat([seq, _rand(1, 2, 3, seed=3) * 100], dim=1)
    lo, ls = enc(left, _left_pad_mask([4], 7))
    ro, rs = enc(right, torch.arange(6)[None] < 4)
    assert torch.allclose(lo[:, 3:], alone_out, atol=1e-6) and (lo[:, :3] == 0).all()
    assert torch.allclose(ro[:, :4], alone_out, atol=1e-6) and (ro[:, 4:] == 0).all()
    assert torch.allclose(ls, alone_sum, atol=1e-6) and torch.allclose(rs, alone_sum, atol=1e-6)
    # and against the bare torch RNN on the unpadded sequence
    ref, h = enc.rnn(seq)
    h = h[0] if cell == "lstm" else h
    assert torch.allclose(alone_out, ref, atol=1e-6)
    assert torch.allclose(alone_sum, h[-enc.n_dir :].transpose(0, 1).reshape(1, -1), atol=1e-6)
    assert enc.d_out == (10 if bidirectional else 5) and alone_out.shape == (1, 4, enc.d_out)


def test_birnn_batch_empty_rows_and_gradients():
    torch.manual_seed(0)
    enc = BiRNNEncoder(3, 4, cell="gru")
    x = _rand(3, 5, 3, seed=1, dtype=torch.float64).requires_grad_()
    enc = enc.double()
    key_mask = _left_pad_mask([5, 2, 0], 5)
    out, summary = enc(x, key_mask)
    assert (out[2] == 0).all() and (summary[2] == 0).all()
    # row 1 in the batch equals row 1 run alone without its padding
    o1, s1 = enc(x[1:2, 3:])
    assert torch.allclose(out[1, 3:], o1[0]) and torch.allclose(summary[1], s1[0])
    (out.sum() + summary.sum()).backward()
    assert torch.isfinite(x.grad).all() and (x.grad[1, :3] == 0).all() and (x.grad[2] == 0).all()


def test_bidirectional_sees_the_future_unidirectional_does_not():
    torch.manual_seed(0)
    bi, uni = BiRNNEncoder(3, 4, bidirectional=True), BiRNNEncoder(3, 4, bidirectional=False)
    x = _rand(1, 5, 3, seed=1)
    x2 = x.clone()
    x2[0, 4] += 1.0  # change the last item only
    assert not torch.allclose(bi(x)[0][0, 1], bi(x2)[0][0, 1])
    assert torch.equal(uni(x)[0][0, :4], uni(x2)[0][0, :4])


def test_birnn_value_errors():
    with pytest.raises(ValueError, match="cell"):
        BiRNNEncoder(3, 4, cell="rnn")
    enc = BiRNNEncoder(3, 4)
    with pytest.raises(ValueError, match=r"x must be \(B, T, 3\)"):
        enc(_rand(2, 5, 4))
    with pytest.raises(ValueError, match="key_mask"):
        enc(_rand(2, 5, 3), torch.ones(2, 4, dtype=torch.bool))


# --- Transformer layer and stack vs torch -----------------------------------------------------


def _torch_layer(d, h, d_ff, norm_first, activation="relu", dtype=torch.float32, seed=0):
    torch.manual_seed(seed)
    ref = nn.TransformerEncoderLayer(d, h, d_ff, dropout=0.1, activation=activation,
                                     batch_first=True, norm_first=norm_first, dtype=dtype)
    with torch.no_grad():  # non-trivial LayerNorm parameters so copying them is tested too
        for norm in (ref.norm1, ref.norm2):
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.normal_(0, 0.1)
    ours = TransformerEncoderLayer(d, h, d_ff, 0.1, activation, norm_first).to(dtype)
    return ours.load_torch_weights(ref).eval(), ref.eval()


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("mask_kind", ["none", "causal", "padding", "random"])
def test_layer_matches_torch(norm_first, dtype, batch, mask_kind):
    T, d = 6, 16
    ours, ref = _torch_layer(d, 4, 32, norm_first, dtype=dtype)
    x = _rand(batch, T, d, dtype=dtype, seed=1)
    key_mask = _left_pad_mask([6, 3, 1][:batch], T) if mask_kind == "padding" else None
    mask = {"causal": causal_mask(T),
            "random": (torch.rand(T, T, generator=torch.Generator().manual_seed(2)) < 0.6) | torch.eye(T, dtype=torch.bool)
            }.get(mask_kind)
    with torch.no_grad():
        out = ours(x, mask, key_mask)
        rout = ref(x, src_mask=None if mask is None else ~mask,
                   src_key_padding_mask=None if key_mask is None else ~key_mask)
    real = torch.ones(batch, T, dtype=torch.bool) if key_mask is None else key_mask
    assert out.shape == (batch, T, d) and out.dtype == dtype
    assert (out - rout)[real].abs().max().item() < 1e-5
    assert torch.isfinite(out).all()


def test_layer_gelu_and_training_mode_with_dropout_off():
    ours, ref = _torch_layer(8, 2, 16, norm_first=True, activation="gelu")
    ours.train(), ref.train()
    for m in ours.modules():
        if isinstance(m, nn.Dropout):
            m.p = 0.0
    ours.attn.dropout = 0.0
    ref.dropout.p = ref.dropout1.p = ref.dropout2.p = ref.self_attn.dropout = 0.0
    x = _rand(2, 5, 8, seed=3, dtype=torch.float32)
    assert (ours(x, causal_mask(5)) - ref(x, src_mask=~causal_mask(5))).abs().max() < 1e-5


@pytest.mark.parametrize("norm_first", [False, True])
def test_stack_matches_torch(norm_first):
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(16, 2, 32, 0.1, batch_first=True, norm_first=norm_first)
    ref = nn.TransformerEncoder(layer, 3, norm=nn.LayerNorm(16) if norm_first else None,
                                enable_nested_tensor=False).eval()
    ours = TransformerEncoder(16, 2, 3, 32, norm_first=norm_first).load_torch_weights(ref).eval()
    x = _rand(2, 7, 16, seed=4)
    right = torch.arange(7)[None] < torch.tensor([[7], [4]])  # right padding: no row fully masked
    left = _left_pad_mask([7, 4], 7)
    with torch.no_grad():
        out = ours(x, causal_mask(7), right)
        rout = ref(x, mask=~causal_mask(7), src_key_padding_mask=~right)
        assert (out - rout)[right].abs().max().item() < 1e-5
        # left padding + causal mask: the padded rows see no key. torch returns NaN there and the
        # next layer spreads it to the real items (0 * NaN = NaN, torch 2.13); ours gives zeros
        out = ours(x, causal_mask(7), left)
        rout = ref(x, mask=~causal_mask(7), src_key_padding_mask=~left)
    assert torch.isfinite(out).all()
    single = ours(x[1:, 3:], causal_mask(4))  # the short row alone, without padding
    assert (out[1, 3:] - single[0]).abs().max().item() < 1e-5


def test_copied_attention_equals_attention_module():
    torch.manual_seed(0)
    a = attention.MultiHeadAttention(12, 3)
    b = MultiHeadAttention(12, 3)
    b.load_state_dict(a.state_dict())  # same parameter names
    x = _rand(2, 5, 12, seed=1)
    km = _left_pad_mask([5, 2], 5)
    oa, wa = a(x, mask=causal_mask(5), key_mask=km)
    ob, wb = b(x, mask=causal_mask(5), key_mask=km)
    assert torch.allclose(oa, ob, atol=1e-6) and torch.allclose(wa, wb, atol=1e-6)


def test_transformer_value_errors():
    with pytest.raises(ValueError, match="multiple of n_heads"):
        TransformerEncoderLayer(10, 4)
    with pytest.raises(ValueError, match="activation"):
        TransformerEncoderLayer(8, 2, activation="tanh")
    layer = TransformerEncoderLayer(8, 2)
    with pytest.raises(ValueError, match=r"x must be \(B, T, 8\)"):
        layer(_rand(2, 3, 6))
    with pytest.raises(ValueError, match="mask must be a bool"):
        layer(_rand(2, 3, 8), torch.ones(4, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="mask must be a bool"):
        layer(_rand(2, 3, 8), torch.ones(3, 3))
    with pytest.raises(ValueError, match="key_mask"):
        layer(_rand(2, 3, 8), key_mask=torch.ones(3, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="norm_first differs"):
        layer.load_torch_weights(nn.TransformerEncoderLayer(8, 2, 32, norm_first=True))
    with pytest.raises(ValueError, match="n_layers"):
        TransformerEncoder(8, 2, 0)


# --- SequenceEncoder --------------------------------------------------------------------------


@pytest.mark.parametrize("causal", [True, False])
def test_sequence_encoder_padding_causality_and_grads(causal):
    torch.manual_seed(0)
    enc = SequenceEncoder(20, d_model=16, n_heads=2, n_layers=2, max_len=8, causal=causal).eval()
    assert torch.equal(enc.item_emb.weight[0], torch.zeros(16))
    assert enc.item_emb.weight[1:].std().item() < 0.05  # small init (DESIGN: N(0, 1) trains badly)
    items = torch.tensor([[0, 0, 0, 0, 0, 3, 7, 2], [0] * 8, [1, 2, 3, 4, 5, 6, 7, 8]])
    h = enc(items)
    assert h.shape == (3, 8, 16) and torch.isfinite(h).all()
    assert (h[0, :5] == 0).all() and (h[1] == 0).all()
    changed = items.clone()
    changed[2, 7] = 9  # change the newest item only
    h2 = enc(changed)
    assert torch.allclose(h[2, :7], h2[2, :7], atol=1e-6) == causal  # causal: the past cannot see it
    # extra left padding does not change the real items' vectors (learned positions shift, so use none)
    enc_np = SequenceEncoder(20, d_model=16, max_len=8, causal=causal, positional="none").eval()
    a = enc_np(torch.tensor([[0, 3, 7, 2]]))
    b = enc_np(torch.tensor([[0, 0, 0, 0, 0, 3, 7, 2]]))
    assert torch.allclose(a[0, 1:], b[0, 5:], atol=1e-5)
    enc.train()
    out = enc(items)
    (out**2).sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in enc.parameters() if p.grad is not None)
    assert (enc.item_emb.weight.grad[0] == 0).all()


def test_sequence_encoder_value_errors():
    enc = SequenceEncoder(10, d_model=8, n_heads=2, n_layers=1, max_len=4)
    with pytest.raises(ValueError, match="int64"):
        enc(torch.ones(2, 3))
    with pytest.raises(ValueError, match="max_len=4"):
        enc(torch.ones(2, 5, dtype=torch.long))
    with pytest.raises(ValueError, match=r"0\.\.10"):
        enc(torch.full((1, 3), 11))
    with pytest.raises(ValueError, match="positional"):
        SequenceEncoder(10, positional="rope")
    with pytest.raises(ValueError, match="multiple of n_heads"):
        SequenceEncoder(10, d_model=10, n_heads=3)


# --- each file works alone --------------------------------------------------------------------

_SMOKE = {
    "attention.py": (
        "import torch, attention as A\n"
        "m = A.MultiHeadAttention(8, 2)\n"
        "out, w = m(torch.randn(2, 5, 8), mask=A.causal_mask(5))\n"
        "u, _ = A.TargetAttention(8)(torch.randn(2, 5, 8), torch.randn(2, 3, 8))\n"
        "o, _ = A.AdditiveAttention(8, 8, 4, gate='sigmoid')(torch.randn(2, 5, 8), torch.randn(2, 5, 8))\n"
        "print(tuple(out.shape), tuple(w.shape), tuple(u.shape), tuple(o.shape))\n"
    ),
    "encoders.py": (
        "import torch, encoders as E\n"
        "h = E.SequenceEncoder(10, d_model=8, n_heads=2, max_len=6)(torch.tensor([[0, 0, 1, 2, 3, 4]]))\n"
        "o, s = E.BiRNNEncoder(8, 4)(torch.randn(2, 6, 8))\n"
        "print(tuple(h.shape), tuple(o.shape), tuple(s.shape))\n"
    ),
}


@pytest.mark.parametrize("name", sorted(_SMOKE))
def test_module_runs_alone_in_an_empty_folder(name, tmp_path):
    src = Path(attention.__file__).with_name(name)
    shutil.copy(src, tmp_path / name)
    block = "import sys; sys.modules['llmrec_ref'] = None\n"  # any `import llmrec_ref...` now fails
    res = subprocess.run([sys.executable, "-c", block + _SMOKE[name]], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    expected = {"attention.py": "(2, 5, 8) (2, 2, 5, 5) (2, 3, 8) (2, 5, 8)",
                "encoders.py": "(1, 6, 8) (2, 6, 8) (2, 8)"}[name]
    assert res.stdout.strip() == expected


def test_bench_encoders_runs_on_a_tiny_batch():
    from llmrec_ref.bench import encoders as bench

    threads = torch.get_num_threads()
    rows = bench.run(batch=4, length=6, d_model=8, n_heads=2, n_layers=1, repeats=1, threads=1)
    assert torch.get_num_threads() == threads  # restored
    assert [r["component"] for r in rows][:2] == ["MultiHeadAttention", "TransformerEncoderLayer (post-norm)"]
    assert len(rows) == 6 and all(r["ours_ms"] > 0 and r["torch_ms"] > 0 for r in rows)
    assert all(abs(r["ratio"] - r["ours_ms"] / r["torch_ms"]) < 1e-9 for r in rows)
    assert "vs_transformer" in rows[-1]
    with pytest.raises(ValueError, match="repeats"):
        bench.run(repeats=0)
    import argparse
    import inspect

    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)  # the CLI's options are exactly run()'s keyword arguments
    assert set(vars(parser.parse_args([]))) == set(inspect.signature(bench.run).parameters)
