"""Checks for exercises/03_encoders: a pre-norm Transformer block with RMSNorm, the rotation that
moves a sinusoidal position by k, left padding, and how many entries a causal + padding mask allows.

Every case is drawn afresh inside the check. The block is compared with a composition of torch
built-ins (``F.rms_norm``, ``F.scaled_dot_product_attention``), the rotation by the property it
must have (``M @ PE[p] = PE[p + k]`` for every position, ``M`` orthogonal), left padding by its
definition row by row; inputs are compared before and after the call.
"""

from __future__ import annotations

import copy

import torch
from torch.nn import functional as F

from llmrec_ref.checks._common import call, expect, passed, require
from llmrec_ref.checks._fresh import fresh_rng, torch_generator

_UNCHANGED = "your function modified its input ({}); the exercise says not to: work on new tensors."


def _close(a: object, b: torch.Tensor, atol: float = 1e-7) -> bool:
    return isinstance(a, torch.Tensor) and a.shape == b.shape and torch.allclose(a.double(), b.double(), atol=atol)


# --------------------------------------------------------------------------- exercise 1
EPS = 1e-6


def _block(x, p, mask, *, norm="rms", pre=True, residual=True, scale=None, after_softmax=False, flip=False):
    """The block as a composition of torch built-ins; the keywords give the usual mistakes."""
    d = x.shape[-1]

    def nrm(z, g):
        return F.rms_norm(z, (d,), g, eps=EPS) if norm == "rms" else F.layer_norm(z, (d,), g, None, eps=EPS)

    def attend(z):
        q, k, v = F.linear(z, p["Wq"]), F.linear(z, p["Wk"]), F.linear(z, p["Wv"])
        allowed = ~mask if flip else mask
        if after_softmax:
            w = (q @ k.transpose(-2, -1) / d**0.5).softmax(-1) * allowed
            return F.linear(w @ v, p["Wo"])
        return F.linear(F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, scale=scale), p["Wo"])

    def ff(z):
        return F.linear(F.relu(F.linear(z, p["W1"])), p["W2"])

    keep = 1.0 if residual else 0.0
    if pre:
        x = keep * x + attend(nrm(x, p["g1"]))
        return keep * x + ff(nrm(x, p["g2"]))
    x = nrm(keep * x + attend(x), p["g1"])
    return nrm(keep * x + ff(x), p["g2"])


def _block_case(gen: torch.Generator, B: int, T: int, d: int, causal: bool):
    def rnd(*shape, s=1.0):
        return s * torch.randn(*shape, generator=gen, dtype=torch.float64)

    d_ff = 2 * d
    params = {"Wq": rnd(d, d, s=d**-0.5), "Wk": rnd(d, d, s=d**-0.5), "Wv": rnd(d, d, s=d**-0.5),
              "Wo": rnd(d, d, s=d**-0.5), "W1": rnd(d_ff, d, s=d**-0.5), "W2": rnd(d, d_ff, s=d_ff**-0.5),
              "g1": 1 + rnd(d, s=0.3), "g2": 1 + rnd(d, s=0.3)}
    x = 3.0 + rnd(B, T, d, s=2.0)  # a mean far from 0: LayerNorm and RMSNorm differ
    if causal:
        mask = torch.ones(T, T, dtype=torch.bool).tril()
    else:  # a random pattern; every query keeps itself, and every row forbids something
        mask = torch.rand(T, T, generator=gen) < 0.5
        mask |= torch.eye(T, dtype=torch.bool)
        if T > 1:
            mask[torch.arange(T), (torch.arange(T) + 1) % T] = False
    return x, params, mask


def ex1(ns: dict) -> None:
    """``rms_block(x, params, mask)``: one pre-norm Transformer block, single head, RMSNorm, no biases."""
    name = "Exercise 1"
    fn = require(ns, "rms_block", name, callable)
    gen = torch_generator()
    for B, T, d, causal in ((1, 1, 4, True), (2, 5, 8, True), (3, 7, 6, False)):
        x, params, mask = _block_case(gen, B, T, d, causal)
        kept = (x.clone(), {k: v.clone() for k, v in params.items()}, mask.clone())
        out = call(fn, name, x, params, mask)
        expect(torch.equal(x, kept[0]) and all(torch.equal(params[k], kept[1][k]) for k in params)
               and torch.equal(mask, kept[2]), name, _UNCHANGED.format("x, params or mask"))
        expect(isinstance(out, torch.Tensor) and tuple(out.shape) == (B, T, d), name,
               f"return a (B, T, d) = {(B, T, d)} tensor; got {getattr(out, 'shape', type(out).__name__)}.")
        expect(bool(torch.isfinite(out).all()), name, "your output has nan: with True = may attend, every query "
               "here keeps at least one key. Fill the scores where the mask is False with -inf (masked_fill(~mask, ...)).")
        with torch.no_grad():
            if _close(out, _block(x, params, mask)):
                continue
            variants = [
                (dict(pre=False), "that is the post-norm block: here the norm comes first, inside each residual "
                 "branch: x + SA(RMS(x)), then x + FF(RMS(x))."),
                (dict(norm="layer"), "that is LayerNorm (it subtracts the mean); RMSNorm only divides by "
                 "sqrt(mean(x^2) + eps) and multiplies by g."),
                (dict(residual=False), "the residual connections are missing: each sub-block *adds* to x."),
                (dict(scale=1.0), "scale the scores by 1/sqrt(d) before the softmax."),
                (dict(after_softmax=True), "mask the scores *before* the softmax (with -inf), so that the allowed "
                 "weights still sum to 1; zeroing weights after it leaves them unnormalised."),
            ]
            if T > 1:
                variants.append((dict(flip=True), "the mask is inverted: True means *may attend*, as in "
                                 "F.scaled_dot_product_attention (torch.nn's src_mask is the opposite)."))
            for kw, hint in variants:
                expect(not _close(out, _block(x, params, mask, **kw)), name, hint)
        expect(False, name, "your block differs from x + SA(RMS1(x)), then + FF(RMS2(.)), with "
               "RMS(z) = g * z / sqrt(mean(z^2) + 1e-6), single-head attention scaled by 1/sqrt(d), "
               "y = z @ W.T for every weight (as F.linear).")
    passed(name, "a pre-norm RMSNorm Transformer block, masked before the softmax")


# --------------------------------------------------------------------------- exercise 2
def _pe(p: torch.Tensor, d: int, pair_exponent: int = 2) -> torch.Tensor:
    """Positions p (n,) -> (n, d), sin at 2i and cos at 2i + 1 (the input the rotation acts on)."""
    i = torch.arange(d // 2, dtype=torch.float64)
    w = 10000.0 ** (-pair_exponent * i / d)
    return torch.stack([torch.sin(p[:, None] * w), torch.cos(p[:, None] * w)], -1).reshape(len(p), d)


def ex2(ns: dict) -> None:
    """``shift_rotation(k, d)`` -> (d, d) M with M @ PE[p] = PE[p + k] for every position p."""
    name = "Exercise 2"
    fn = require(ns, "shift_rotation", name, callable)
    rng = fresh_rng()
    cases = [(0, 4), (1, 2), (int(rng.integers(2, 40)), 8), (-int(rng.integers(1, 30)), 6), (int(rng.integers(50, 500)), 16)]
    p = torch.cat([torch.arange(-3, 25, dtype=torch.float64), torch.tensor(rng.uniform(0, 300, 5))])
    for k, d in cases:
        out = call(fn, name, k, d)
        expect(isinstance(out, torch.Tensor) and tuple(out.shape) == (d, d), name,
               f"return a (d, d) = ({d}, {d}) tensor; got {getattr(out, 'shape', type(out).__name__)}.")
        M = out.double()
        expect(bool(torch.isfinite(M).all()), name, "your matrix has nan or inf.")
        moved = _pe(p, d) @ M.T  # row p: M @ PE[p]
        if torch.allclose(moved, _pe(p + k, d), atol=1e-6):
            expect(torch.allclose(M @ M.T, torch.eye(d, dtype=torch.float64), atol=1e-6), name,
                   "M must be a rotation (M @ M.T = I).")
            continue
        expect(not torch.allclose(_pe(p, d) @ M, _pe(p + k, d), atol=1e-6), name,
               "your matrix moves positions by -k: check the signs, sin(a + b) = sin a cos b + cos a sin b and "
               "cos(a + b) = cos a cos b - sin a sin b.")
        for e, hint in ((1, "pair i turns at frequency 10000^(-2i/d): i counts pairs, the exponent is 2i/d."),
                        (0, "each pair of dimensions has its own frequency 10000^(-2i/d), so its own angle k * w_i.")):
            expect(not torch.allclose(_pe(p, d, e) @ M.T, _pe(p + k, d, e), atol=1e-6), name, hint)
        expect(False, name, "M @ PE[p] differs from PE[p + k]: build M block-diagonal, one 2 x 2 rotation by "
               "the angle k * w_i per (sin, cos) pair.")
    passed(name, "the rotation that moves every sinusoidal position by k")


# --------------------------------------------------------------------------- exercise 3
def ex3(ns: dict) -> None:
    """``left_pad(histories, max_len)`` -> int64 (B, max_len): the last max_len items, zeros on the left."""
    name = "Exercise 3"
    fn = require(ns, "left_pad", name, callable)
    rng = fresh_rng()
    for B, max_len in ((1, 1), (6, 4), (9, 12), (4, 3)):
        hist = [[int(i) for i in rng.integers(1, 2000, int(rng.integers(0, 15)))] for _ in range(B)]
        hist[0] = [int(i) for i in rng.integers(1, 2000, max_len + 3)]  # longer than max_len
        if B > 2:
            hist[1] = []
            hist[2] = [int(i) for i in rng.integers(1, 2000, max(1, max_len - 2))]  # shorter
        before = copy.deepcopy(hist)
        out = call(fn, name, hist, max_len)
        expect(hist == before, name, "your function modified `histories` (e.g. reversed, popped or padded a "
               "list in place): build the tensor without touching them.")
        expect(isinstance(out, torch.Tensor) and tuple(out.shape) == (B, max_len), name,
               f"return a (B, max_len) = ({B}, {max_len}) tensor; got {getattr(out, 'shape', type(out).__name__)}.")
        expect(out.dtype == torch.long, name, f"item ids are int64 (torch.long) for nn.Embedding, not {out.dtype}.")
        for row, h in zip(out.tolist(), hist, strict=True):
            tail = h[-max_len:] if h else []
            if row == tail + [0] * (max_len - len(tail)) and row != [0] * (max_len - len(tail)) + tail:
                expect(False, name, "pad on the LEFT, so that the most recent item is always in the last slot.")
            if len(h) > max_len and row[-max_len:] == h[:max_len]:
                expect(False, name, "keep the most recent max_len items (the end of the history), not the first ones.")
            expect(row == [0] * (max_len - len(tail)) + tail, name, "a row must hold the history's last max_len "
                   "items in order, right-aligned, and 0 in every slot before them (an empty history: all zeros).")
    passed(name, "left padding keeps the last max_len items, right-aligned")


# --------------------------------------------------------------------------- exercise 4
def ex4(ns: dict) -> None:
    """``n_allowed``: how many entries of the (8, 8) causal + key-padding mask are True."""
    name = "Exercise 4"
    answer = require(ns, "n_allowed", name)
    expect(isinstance(answer, int) and not isinstance(answer, bool), name, "answer with an int.")
    T, n_real = 8, 5
    real = torch.arange(T) >= T - n_real
    allowed = torch.ones(T, T, dtype=torch.bool).tril() & real[None, :]  # query t, key s
    expect(answer != T * (T + 1) // 2, name, "that counts the causal mask alone: a padded key may never be attended.")
    expect(answer != T * n_real, name, "that counts the padding mask alone: with the causal mask, query t sees only "
           "keys s <= t.")
    expect(answer != n_real * n_real, name, "causal: query t sees only keys s <= t, not the real keys after it.")
    expect(answer != int(allowed.sum()) - n_real, name, "a position may attend to itself (s = t is allowed).")
    expect(answer == int(allowed.sum()), name, "not that number: draw the 8 x 8 grid, strike the padded key "
           "columns and everything above the diagonal, and count what is left.")
    passed(name, "the entries a causal + padding mask allows")
