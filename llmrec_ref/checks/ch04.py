"""Checks for exercises/04_attention: padding masks, heads, the missing scale, pairwise sigmoid gates."""

from __future__ import annotations

import inspect
import math

import torch
from torch.nn import functional as F

from llmrec_ref.checks._common import call, expect, passed, require


def _close(a: object, b: torch.Tensor, atol: float = 1e-5) -> bool:
    return isinstance(a, torch.Tensor) and a.shape == b.shape and bool(torch.allclose(a, b, atol=atol))


def _qkv(B: int = 2, Tq: int = 3, Tk: int = 5, d: int = 4, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(B, Tq, d, generator=g), torch.randn(B, Tk, d, generator=g),
            torch.randn(B, Tk, 6, generator=g))


def ex1(ns: dict) -> None:
    """``masked_attention(q, k, v, key_mask) -> (out, weights)``: padded keys get weight 0, empty rows 0."""
    name = "Exercise 1"
    fn = require(ns, "masked_attention", name, callable)
    q, k, v = _qkv()
    key_mask = torch.tensor([[False, False, True, True, True], [False] * 5])  # row 2: nothing to attend to
    res = call(fn, name, q, k, v, key_mask)
    expect(isinstance(res, tuple) and len(res) == 2, name, "return a pair (out, weights).")
    out, w = res
    expect(isinstance(w, torch.Tensor) and w.shape == (2, 3, 5), name,
           f"weights must be (B, T_q, T_k) = (2, 3, 5); got {getattr(w, 'shape', type(w).__name__)}.")
    expect(isinstance(out, torch.Tensor) and out.shape == (2, 3, 6), name,
           f"out must be (B, T_q, d_v) = (2, 3, 6); got {getattr(out, 'shape', type(out).__name__)}.")
    expect(not torch.isnan(w).any() and not torch.isnan(out).any(), name,
           "NaN: a row whose keys are all padding has softmax(-inf, ..., -inf) = 0/0. Fill masked "
           "scores with a large finite negative number (torch.finfo(dtype).min), then multiply the "
           "weights by the mask so such a row is all zeros.")
    expect(bool((w[0, :, :2] == 0).all()), name,
           "padded keys must get weight exactly 0. Multiplying the scores by the mask sets them to 0, "
           "which still has weight e^0 > 0: use masked_fill on the scores instead.")
    expect(bool((w[1] == 0).all()) and bool((out[1] == 0).all()), name,
           "a query with no real key must get all-zero weights and a zero output.")
    truth = F.scaled_dot_product_attention(q[:1], k[:1], v[:1], attn_mask=key_mask[:1, None, :])
    unscaled = torch.softmax((q[:1] @ k[:1].transpose(1, 2)).masked_fill(~key_mask[:1, None], -1e9), -1) @ v[:1]
    expect(not _close(out[:1], unscaled), name, "divide the scores by sqrt(d) before the softmax.")
    expect(_close(out[:1], truth), name,
           "out differs from F.scaled_dot_product_attention with the same mask: softmax(q k^T / sqrt(d)) v.")
    passed(name, "padded keys get zero weight and empty rows give zeros, not NaN")


def ex2(ns: dict) -> None:
    """``split_heads(x, n_heads)`` (B, T, d) -> (B, h, T, d/h) and ``merge_heads`` back, torch's layout."""
    name = "Exercise 2"
    split = require(ns, "split_heads", name, callable)
    merge = require(ns, "merge_heads", name, callable)
    x = torch.arange(2 * 3 * 8, dtype=torch.float32).reshape(2, 3, 8)  # (B=2, T=3, d=8)
    s = call(split, name, x, 4)
    expect(isinstance(s, torch.Tensor) and s.shape == (2, 4, 3, 2), name,
           f"split_heads(x of shape (2, 3, 8), 4) must be (B, h, T, d/h) = (2, 4, 3, 2); "
           f"got {getattr(s, 'shape', type(s).__name__)}.")
    truth = x.view(2, 3, 4, 2).transpose(1, 2)
    expect(not torch.equal(s, x.view(2, 4, 3, 2)), name,
           "a plain view(B, h, T, d/h) mixes positions into heads. Head i owns features "
           "i*d/h .. (i+1)*d/h - 1 of every position: view(B, T, h, d/h), then transpose(1, 2).")
    expect(torch.equal(s, truth), name,
           "head i at position t must hold x[b, t, i*d/h:(i+1)*d/h] (the layout of torch.nn.MultiheadAttention).")
    m = call(merge, name, truth.clone())
    expect(isinstance(m, torch.Tensor) and m.shape == (2, 3, 8), name,
           f"merge_heads((B, h, T, d/h)) must be (B, T, d) = (2, 3, 8); got {getattr(m, 'shape', type(m).__name__)}.")
    expect(not torch.equal(m, truth.reshape(2, 3, 8)), name,
           "merge_heads must undo split_heads: transpose(1, 2) back to (B, T, h, d/h) before reshaping to (B, T, d).")
    expect(torch.equal(m, x), name, "merge_heads(split_heads(x, h)) must give x back.")
    passed(name, "heads are split and merged in torch.nn.MultiheadAttention's layout")


def ex3(ns: dict) -> None:
    """``fixed_attention(q, k, v)``: the bug was the missing 1 / sqrt(d)."""
    name = "Exercise 3"
    fn = require(ns, "fixed_attention", name, callable)
    q, k, v = _qkv(Tq=4, Tk=4, d=16, seed=1)
    q, k = 3 * q, 3 * k  # large scores make the missing scale obvious
    out = call(fn, name, q, k, v)
    truth = F.scaled_dot_product_attention(q, k, v)
    scores = q @ k.transpose(1, 2)
    expect(isinstance(out, torch.Tensor) and out.shape == truth.shape, name,
           f"return the attention output, shape (B, T_q, d_v) = {tuple(truth.shape)}.")
    expect(not _close(out, torch.softmax(scores, -1) @ v), name,
           "still unscaled: divide q k^T by sqrt(d) (d = q.shape[-1]) before the softmax.")
    expect(not _close(out, torch.softmax(scores / 16, -1) @ v), name,
           "you divided by d; divide by sqrt(d), which brings the variance of q.k from d back to 1.")
    expect(not _close(out, torch.softmax(scores / math.sqrt(16), 1) @ v), name,
           "the softmax goes over the keys, the last dimension (dim=-1).")
    expect(_close(out, truth), name, "out differs from softmax(q k^T / sqrt(d)) v.")
    passed(name, "scaled dot-product attention, scale fixed")


def ex4(ns: dict) -> None:
    """``pairwise_gates(h, w, b, key_mask)`` -> (B, T, T) with a_ij = sigmoid(w . [h_i; h_j] + b),
    exactly 0 where key j is padding."""
    name = "Exercise 4"
    fn = require(ns, "pairwise_gates", name, callable)
    try:
        inspect.signature(fn).bind(None, None, None, None)
    except TypeError:
        expect(False, name, "pairwise_gates takes four arguments, (h, w, b, key_mask).")
    g = torch.Generator().manual_seed(2)
    h, w, b = torch.randn(2, 5, 3, generator=g), torch.randn(6, generator=g), 0.3
    key_mask = torch.tensor([[False, False, True, True, True], [True, True, True, True, True]])
    h = h * key_mask[..., None]  # padded positions hold zero vectors, as after an embedding with padding_idx
    out = call(fn, name, h, w, b, key_mask.clone())
    left, right = h @ w[:3], h @ w[3:]  # (B, T) the parts that depend on i and on j
    score = left[:, :, None] + right[:, None, :] + b  # (B, T, T)
    truth = torch.sigmoid(score) * key_mask[:, None, :]
    expect(isinstance(out, torch.Tensor) and out.shape == (2, 5, 5), name,
           f"return (B, T, T) = (2, 5, 5) gates; got {getattr(out, 'shape', type(out).__name__)}.")
    expect(not _close(out, torch.sigmoid(score)), name,
           "padded keys must get a gate of exactly 0: sigmoid(0 + bias) is not 0, so a zero vector is not "
           "enough. Multiply by the key mask (or fill -inf before the sigmoid).")
    expect(not _close(out, torch.softmax(score.masked_fill(~key_mask[:, None, :], float("-inf")), -1)), name,
           "these are independent sigmoid gates, not a softmax: each pair gets sigmoid(score); rows need not sum to 1.")
    expect(not _close(out, truth.transpose(1, 2)) and not _close(out, torch.sigmoid(score).transpose(1, 2)
                                                                 * key_mask[:, None, :]), name,
           "i is the row (the query): a_ij uses [h_i; h_j], so the first half of w multiplies h_i.")
    expect(not _close(out, torch.sigmoid(score - b) * key_mask[:, None, :]), name, "add the bias b.")
    if _close(out, truth * key_mask[:, :, None]):
        expect(False, name, "mask the keys (columns j), not the queries too: a padded query row is never "
               "read, and the task asks for 0 only where the key j is padding.")
    expect(_close(out, truth), name,
           "values differ from sigmoid(w . [h_i; h_j] + b) on real keys. Hint: w . [h_i; h_j] = w[:d] . h_i + "
           "w[d:] . h_j, one (B, T) term per side.")
    passed(name, "pairwise sigmoid gates a_ij = sigmoid(W_a [h_i; h_j]), padded keys exactly 0")
