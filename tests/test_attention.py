"""llmrec_ref.attention against torch's built-ins, hand-computed values and autograd."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from llmrec_ref.attention import (
    AdditiveAttention,
    MultiHeadAttention,
    TargetAttention,
    causal_mask,
    masked_softmax,
    scaled_dot_product_attention,
)


def _rand(*shape, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=dtype)


def _random_mask(*shape, seed=0, p=0.7):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(*shape, generator=g) < p


# --- scaled dot-product attention -------------------------------------------------------------


def test_sdpa_hand_computed():
    q = torch.tensor([[1.0, 0.0]])
    k = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    v = torch.tensor([[10.0], [20.0]])
    out, w = scaled_dot_product_attention(q, k, v)
    e = math.exp(1 / math.sqrt(2))
    assert torch.allclose(w, torch.tensor([[e / (e + 1), 1 / (e + 1)]]))
    assert torch.allclose(out, torch.tensor([[(10 * e + 20) / (e + 1)]]))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("mask_kind", ["none", "causal", "padding", "random", "fully_masked_row"])
@pytest.mark.parametrize("batch", [1, 3])
def test_sdpa_matches_torch(dtype, mask_kind, batch):
    H, Tq, Tk, d = 2, 5, 5, 8
    q, k, v = (_rand(batch, H, Tq, d, dtype=dtype, seed=s) for s in (1, 2, 3))
    mask = {
        "none": None,
        "causal": causal_mask(Tq),
        "padding": (torch.arange(Tk) >= 2).expand(batch, 1, 1, Tk),
        "random": _random_mask(batch, H, Tq, Tk, seed=4),
        "fully_masked_row": causal_mask(Tq) & (torch.arange(Tk) >= 2),  # rows 0, 1 see nothing
    }[mask_kind]
    out, w = scaled_dot_product_attention(q, k, v, mask)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert out.dtype == dtype and out.shape == (batch, H, Tq, d)
    assert (out - ref).abs().max().item() < 1e-6
    assert not torch.isnan(out).any() and not torch.isnan(w).any()
    if mask is not None:
        assert (w[~mask.expand_as(w)] == 0).all()
        allowed_rows = mask.expand_as(w).any(-1)
        assert torch.allclose(w.sum(-1)[allowed_rows], torch.ones((), dtype=dtype))
        assert (out[~allowed_rows] == 0).all()  # fully masked rows: zeros, not NaN


def test_sdpa_cross_lengths_and_weights_are_softmax():
    q, k, v = _rand(2, 3, 4, seed=1), _rand(2, 6, 4, seed=2), _rand(2, 6, 5, seed=3)
    out, w = scaled_dot_product_attention(q, k, v)
    assert out.shape == (2, 3, 5) and w.shape == (2, 3, 6)
    assert torch.allclose(w, torch.softmax(q @ k.transpose(1, 2) / 2.0, -1))


def test_sdpa_gradients_finite_with_fully_masked_rows():
    q, k, v = (_rand(2, 4, 8, seed=s).requires_grad_() for s in (1, 2, 3))
    mask = causal_mask(4) & torch.tensor([[False, False, True, True], [True] * 4])[:, None, :]
    out, _ = scaled_dot_product_attention(q, k, v, mask)
    out.sum().backward()
    for t in (q, k, v):
        assert torch.isfinite(t.grad).all()
    assert (q.grad[0, :2] == 0).all()  # fully masked queries get no gradient


def test_sdpa_gradcheck_float64():
    q, k, v = (_rand(1, 3, 4, dtype=torch.float64, seed=s).requires_grad_() for s in (1, 2, 3))
    mask = causal_mask(3)
    assert torch.autograd.gradcheck(lambda a, b, c: scaled_dot_product_attention(a, b, c, mask)[0], (q, k, v))


def test_sdpa_dropout_seeded_and_unbiased_weights():
    q, k, v = _rand(2, 4, 8, seed=1), _rand(2, 4, 8, seed=2), _rand(2, 4, 8, seed=3)
    a, wa = scaled_dot_product_attention(q, k, v, dropout_p=0.5, generator=torch.Generator().manual_seed(0))
    b, _ = scaled_dot_product_attention(q, k, v, dropout_p=0.5, generator=torch.Generator().manual_seed(0))
    c, wc = scaled_dot_product_attention(q, k, v)
    assert torch.equal(a, b) and not torch.allclose(a, c)
    assert torch.equal(wa, wc)  # returned weights are before dropout


def test_sdpa_value_errors():
    q = _rand(2, 4, 8)
    with pytest.raises(ValueError, match="last dim"):
        scaled_dot_product_attention(q, _rand(2, 4, 7), _rand(2, 4, 8))
    with pytest.raises(ValueError, match="same length"):
        scaled_dot_product_attention(q, q, _rand(2, 5, 8))
    with pytest.raises(ValueError, match="broadcast"):
        scaled_dot_product_attention(q, q, q, torch.ones(3, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="bool"):
        scaled_dot_product_attention(q, q, q, torch.ones(4, 4))
    with pytest.raises(ValueError, match="dropout_p"):
        scaled_dot_product_attention(q, q, q, dropout_p=1.0)


def test_masked_softmax_and_causal_mask():
    assert torch.equal(causal_mask(3), torch.tensor([[1, 0, 0], [1, 1, 0], [1, 1, 1]], dtype=torch.bool))
    s = torch.tensor([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]])
    m = torch.tensor([[True, True, False], [False, False, False]])
    p = masked_softmax(s, m)
    assert torch.allclose(p[0, :2], torch.softmax(torch.tensor([1.0, 2.0]), 0)) and p[0, 2] == 0
    assert (p[1] == 0).all()


# --- multi-head attention ---------------------------------------------------------------------


def _pair(d=16, h=4, bias=True, dtype=torch.float32, seed=0):
    torch.manual_seed(seed)
    ref = nn.MultiheadAttention(d, h, batch_first=True, bias=bias, dtype=dtype).eval()
    ours = MultiHeadAttention(d, h, bias=bias).to(dtype).load_torch_weights(ref).eval()
    return ours, ref


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("batch", [1, 4])
@pytest.mark.parametrize("bias", [True, False])
def test_mha_matches_torch_self_attention(dtype, batch, bias):
    ours, ref = _pair(bias=bias, dtype=dtype)
    x = _rand(batch, 7, 16, dtype=dtype, seed=5)
    mask = causal_mask(7)
    key_mask = torch.ones(batch, 7, dtype=torch.bool)
    key_mask[0, :2] = False  # left padding in the first row; some rows then see nothing
    key_mask[:, -1] = True
    out, w = ours(x, mask=mask, key_mask=key_mask)
    rout, rw = ref(x, x, x, attn_mask=~mask, key_padding_mask=~key_mask, average_attn_weights=False)
    ok = (mask & key_mask[:, None, :]).any(-1)  # (B, T) rows with something to attend to
    assert out.shape == (batch, 7, 16) and w.shape == (batch, 4, 7, 7)
    assert (out - rout)[ok].abs().max().item() < 1e-5
    assert (w - rw).transpose(1, 2)[ok].abs().max().item() < 1e-6
    assert torch.isfinite(out).all()  # torch gives NaN on fully masked rows; we do not


def test_mha_matches_torch_cross_attention_random_mask():
    ours, ref = _pair(d=12, h=3, seed=1)
    x, c = _rand(2, 4, 12, seed=1), _rand(2, 6, 12, seed=2)
    mask = _random_mask(2, 4, 6, seed=3)
    mask[..., 0] = True
    out, w = ours(x, c, mask=mask)
    rmask = (~mask).repeat_interleave(3, dim=0)  # torch wants (B * h, T_q, T_k)
    rout, rw = ref(x, c, c, attn_mask=rmask, average_attn_weights=False)
    assert (out - rout).abs().max().item() < 1e-5 and (w - rw).abs().max().item() < 1e-6


def test_mha_gradients_finite_with_fully_padded_row():
    ours, _ = _pair()
    x = _rand(2, 5, 16, seed=3).requires_grad_()
    key_mask = torch.tensor([[False] * 5, [True] * 5])
    out, _ = ours(x, mask=causal_mask(5), key_mask=key_mask)
    (out**2).sum().backward()
    assert torch.isfinite(x.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in ours.parameters())


def test_mha_value_errors():
    with pytest.raises(ValueError, match="multiple of n_heads"):
        MultiHeadAttention(10, 3)
    m = MultiHeadAttention(8, 2)
    with pytest.raises(ValueError, match=r"x must be \(B, T, 8\)"):
        m(_rand(2, 3, 6))
    with pytest.raises(ValueError, match="context"):
        m(_rand(2, 3, 8), _rand(3, 4, 8))
    with pytest.raises(ValueError, match="broadcast"):
        m(_rand(2, 3, 8), mask=torch.ones(4, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="key_mask"):
        m(_rand(2, 3, 8), key_mask=torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="num_heads=2"):
        m.load_torch_weights(nn.MultiheadAttention(8, 4))


# --- additive and target attention ------------------------------------------------------------


def test_additive_softmax_equals_concatenation_formula():
    torch.manual_seed(0)
    att = AdditiveAttention(3, 5, 7)
    q, k = _rand(2, 4, 3, seed=1), _rand(2, 6, 5, seed=2)
    mask = _random_mask(2, 4, 6, seed=3)
    mask[1, 2] = False  # a fully masked row
    out, w = att(q, k, mask=mask)
    W = torch.cat([att.w_q.weight, att.w_k.weight], dim=1)  # W_a = [W_q | W_k]  (7, 8)
    for b, i, j in [(0, 0, 0), (1, 3, 5), (0, 2, 4)]:
        e = att.v.weight @ torch.tanh(W @ torch.cat([q[b, i], k[b, j]]) + att.w_q.bias)
        ref = torch.softmax(
            torch.stack([
                att.v.weight @ torch.tanh(W @ torch.cat([q[b, i], k[b, jj]]) + att.w_q.bias)
                for jj in range(6)
            ]).squeeze(-1).masked_fill(~mask[b, i], -torch.inf),
            0,
        )
        if mask[b, i].any():
            assert torch.allclose(w[b, i], ref, atol=1e-6)
            assert torch.allclose(w[b, i, j], ref[j]) and e.shape == (1,)
    assert (w[1, 2] == 0).all() and (out[1, 2] == 0).all()
    assert torch.allclose(out, w @ k, atol=1e-6)


def test_additive_sigmoid_gates_are_independent():
    torch.manual_seed(0)
    soft, sig = AdditiveAttention(4, 4, 8), AdditiveAttention(4, 4, 8, gate="sigmoid")
    sig.load_state_dict(soft.state_dict())
    h = _rand(1, 5, 4, seed=1)
    v = _rand(1, 5, 2, seed=2)
    _, ws = soft(h, h)
    out, wg = sig(h, h, v)
    scores = torch.logit(wg.double()).float()
    assert torch.allclose(ws, torch.softmax(scores, -1), atol=1e-5)  # same scores, other normalisation
    assert ((wg > 0) & (wg < 1)).all() and not torch.allclose(wg.sum(-1), torch.ones(1, 5))
    assert torch.allclose(out, wg @ v, atol=1e-6)
    mask = causal_mask(5)
    _, wm = sig(h, h, mask=mask)
    assert (wm[0][~mask] == 0).all() and torch.allclose(wm[0][mask], wg[0][mask])


def test_additive_value_errors():
    att = AdditiveAttention(3, 5, 7)
    with pytest.raises(ValueError, match="gate"):
        AdditiveAttention(3, 5, 7, gate="relu")
    with pytest.raises(ValueError, match="last dim"):
        att(_rand(1, 2, 5), _rand(1, 2, 5))
    with pytest.raises(ValueError, match="broadcast"):
        att(_rand(1, 2, 3), _rand(1, 4, 5), mask=torch.ones(2, 3, dtype=torch.bool))


@pytest.mark.parametrize("normalize", ["softmax", "sigmoid", "none"])
def test_target_attention_per_candidate(normalize):
    torch.manual_seed(0)
    att = TargetAttention(6, 10, normalize=normalize)
    hist, cand = _rand(2, 5, 6, seed=1), _rand(2, 3, 6, seed=2)
    key_mask = torch.tensor([[False, False, True, True, True], [False] * 5])
    users, w = att(hist, cand, key_mask)
    assert users.shape == (2, 3, 6) and w.shape == (2, 3, 5)
    assert (w[0, :, :2] == 0).all() and (users[1] == 0).all()  # padding and empty history
    assert torch.allclose(users, w @ hist, atol=1e-6)
    # candidate n alone gives the same user vector as in the batch of candidates
    u1, w1 = att(hist, cand[:, 1], key_mask)
    assert torch.allclose(u1, users[:, 1], atol=1e-6) and torch.allclose(w1, w[:, 1], atol=1e-6)
    # the weight of history item t follows the MLP on [h, c, h - c, h * c]
    h, c = hist[0, 3], cand[0, 2]
    s = att.mlp(torch.cat([h, c, h - c, h * c]))
    if normalize == "none":
        assert torch.allclose(w[0, 2, 3], s.squeeze(), atol=1e-6)
    if normalize == "softmax":
        assert torch.allclose(w[0].sum(-1), torch.ones(3))
    (users**2).sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in att.parameters())


def test_target_attention_value_errors():
    att = TargetAttention(4)
    with pytest.raises(ValueError, match="normalize"):
        TargetAttention(4, normalize="max")
    with pytest.raises(ValueError, match="history must be"):
        att(_rand(2, 3, 5), _rand(2, 4))
    with pytest.raises(ValueError, match="batch sizes"):
        att(_rand(2, 3, 4), _rand(3, 4))
    with pytest.raises(ValueError, match="key_mask"):
        att(_rand(2, 3, 4), _rand(2, 4), torch.ones(2, 4, dtype=torch.bool))
