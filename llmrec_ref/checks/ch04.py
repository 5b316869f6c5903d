"""Checks for exercises/04_attention: masked attention with empty rows, grouped-query attention,
a broken target attention to fix, pairwise sigmoid gates without the pair tensor, and why such
gates rank keys the same for every query.

Every case is drawn afresh inside the check. Answers are compared with torch built-ins
(``F.scaled_dot_product_attention``, with ``enable_gqa`` for grouped queries), with a different
formulation (the gates from the explicit concatenation ``[h_i; h_j]`` the exercise avoids), or
with the properties that define them (target attention: weights that sum to 1 over a
candidate's real history, zero on padding, log-ratios equal to score differences). Inputs are
compared before and after each call.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from llmrec_ref.checks._common import call, expect, passed, require
from llmrec_ref.checks._fresh import one_letter, torch_generator

_UNCHANGED = "your function modified its input ({}); the exercise says not to: work on new tensors."


def _close(a: object, b: torch.Tensor, atol: float = 1e-7) -> bool:
    return (isinstance(a, torch.Tensor) and a.shape == b.shape
            and bool(torch.allclose(a.double(), b.double(), atol=atol)))


def _shape(x) -> str:
    return str(tuple(x.shape)) if isinstance(x, torch.Tensor) else type(x).__name__


def _call_unchanged(fn, name: str, *args):
    kept = [a.clone() if isinstance(a, torch.Tensor) else a for a in args]
    out = call(fn, name, *args)
    expect(all(not isinstance(a, torch.Tensor) or torch.equal(a, b) for a, b in zip(args, kept, strict=True)),
           name, _UNCHANGED.format("one of the tensors passed in"))
    return out


def _key_mask(gen: torch.Generator, B: int, T: int) -> torch.Tensor:
    """Random real/padding keys; row 0 all real, row 1 all padding (when B > 1)."""
    mask = torch.rand(B, T, generator=gen) < 0.6
    mask[0] = True
    if B > 1:
        mask[1] = False
    return mask


# --------------------------------------------------------------------------- exercise 1
def ex1(ns: dict) -> None:
    """``masked_attention(q, k, v, key_mask) -> (out, weights)``: padded keys get weight exactly 0, a
    query with no real key gets zero weights and a zero output."""
    name = "Exercise 1"
    fn = require(ns, "masked_attention", name, callable)
    gen = torch_generator()
    for B, Tq, Tk, d, dv in ((1, 1, 1, 2, 3), (3, 4, 6, 5, 2), (4, 2, 9, 8, 7)):
        q = 2.0 * torch.randn(B, Tq, d, generator=gen, dtype=torch.float64)
        k = 2.0 * torch.randn(B, Tk, d, generator=gen, dtype=torch.float64)
        v = torch.randn(B, Tk, dv, generator=gen, dtype=torch.float64)
        key_mask = _key_mask(gen, B, Tk)
        res = _call_unchanged(fn, name, q, k, v, key_mask)
        expect(isinstance(res, tuple) and len(res) == 2, name, "return a pair (out, weights).")
        out, w = (torch.as_tensor(x) for x in res)
        expect(tuple(w.shape) == (B, Tq, Tk), name, f"weights must be (B, T_q, T_k) = {(B, Tq, Tk)}; got {_shape(w)}.")
        expect(tuple(out.shape) == (B, Tq, dv), name, f"out must be (B, T_q, d_v) = {(B, Tq, dv)}; got {_shape(out)}.")
        w, out = w.double(), out.double()
        expect(not torch.isnan(w).any() and not torch.isnan(out).any(), name,
               "NaN: a row whose keys are all padding has softmax(-inf, ..., -inf) = 0/0. Fill masked scores "
               "with a large finite negative number (torch.finfo(dtype).min), then multiply the weights by "
               "the mask so such a row is all zeros.")
        pad = ~key_mask[:, None, :].expand(B, Tq, Tk)
        if not bool((w[pad] == 0).all()):
            scores = q @ k.transpose(1, 2) / math.sqrt(d)
            if _close(w, torch.softmax(scores * key_mask[:, None], -1)):
                expect(False, name, "multiplying the scores by the mask sets them to 0, which still has weight "
                       "e^0 > 0: use masked_fill on the scores instead.")
            expect(False, name, "padded keys (key_mask False, the last axis) must get weight exactly 0.")
        real = key_mask.any(1)
        expect(bool((w[~real] == 0).all()) and bool((out[~real] == 0).all()), name,
               "a query with no real key must get all-zero weights and a zero output.")
        expect(_close(out, w @ v), name, "out must be weights @ v.")
        if real.any():
            idx = real.nonzero()[:, 0]
            truth = F.scaled_dot_product_attention(q[idx], k[idx], v[idx], attn_mask=key_mask[idx, None, :])
            unscaled = F.scaled_dot_product_attention(q[idx], k[idx], v[idx], attn_mask=key_mask[idx, None, :], scale=1.0)
            if not _close(out[idx], truth):
                expect(not _close(out[idx], unscaled), name, "divide the scores by sqrt(d) before the softmax.")
                expect(False, name, "out differs from softmax(q k^T / sqrt(d)) v over the real keys.")
    passed(name, "padded keys get zero weight and empty rows give zeros, not NaN")


# --------------------------------------------------------------------------- exercise 2
def ex2(ns: dict) -> None:
    """``grouped_query_attention(q, k, v)``: q (B, H, T, dh), k and v (B, G, T, dh); query head i uses
    key/value head i // (H / G)."""
    name = "Exercise 2"
    fn = require(ns, "grouped_query_attention", name, callable)
    gen = torch_generator()
    for B, H, G, T, dh in ((1, 2, 1, 3, 4), (2, 4, 2, 5, 3), (2, 6, 3, 4, 8), (1, 3, 3, 2, 2)):
        q = torch.randn(B, H, T, dh, generator=gen, dtype=torch.float64)
        k, v = (torch.randn(B, G, T, dh, generator=gen, dtype=torch.float64) for _ in range(2))
        out = _call_unchanged(fn, name, q, k, v)
        expect(isinstance(out, torch.Tensor) and tuple(out.shape) == (B, H, T, dh), name,
               f"return (B, H, T, d_head) = {(B, H, T, dh)}, one output per query head; got {_shape(out)}.")
        if _close(out, F.scaled_dot_product_attention(q, k, v, enable_gqa=True)):
            continue
        tiled = F.scaled_dot_product_attention(q, k.repeat(1, H // G, 1, 1), v.repeat(1, H // G, 1, 1))
        expect(not _close(out, tiled), name, "consecutive query heads share a key/value head: head i uses "
               "kv head i // (H / G), which is repeat_interleave along the head axis, not repeat (tiling).")
        wide = F.scaled_dot_product_attention(q, k, v, enable_gqa=True, scale=1 / math.sqrt(H * dh))
        expect(not _close(out, wide), name, "scale by 1/sqrt(d_head), the size of one head's vectors, not of all heads.")
        expect(False, name, "your output differs from softmax(q_i k_g^T / sqrt(d_head)) v_g for query head i and "
               "its key/value head g = i // (H / G).")
    passed(name, "grouped-query attention: groups of consecutive query heads share a key/value head")


# --------------------------------------------------------------------------- exercise 3
def _centred(x: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """x minus its mean over the real entries of each row (0 elsewhere): equal for two rows exactly
    when their log-ratios between real entries are equal."""
    mean = (x * real).sum(-1, keepdim=True) / real.sum(-1, keepdim=True).clamp_min(1)
    return torch.where(real, x - mean, torch.zeros_like(x))


def ex3(ns: dict) -> None:
    """``target_attention(history, cands, key_mask) -> (users, weights)``: for each candidate a softmax
    over its user's real history items of h_t . c / sqrt(d); users = weights @ history."""
    name = "Exercise 3"
    fn = require(ns, "target_attention", name, callable)
    gen = torch_generator()
    for B, T, N, d in ((1, 1, 1, 3), (3, 6, 4, 5), (5, 8, 2, 4)):
        hist = torch.randn(B, T, d, generator=gen, dtype=torch.float64)
        cands = 1.5 * torch.randn(B, N, d, generator=gen, dtype=torch.float64)
        key_mask = _key_mask(gen, B, T)
        res = _call_unchanged(fn, name, hist, cands, key_mask)
        expect(isinstance(res, tuple) and len(res) == 2, name, "return a pair (users, weights).")
        users, w = (torch.as_tensor(x) for x in res)
        expect(tuple(w.shape) == (B, N, T), name, f"weights must be (B, N, T) = {(B, N, T)}; got {_shape(w)}.")
        expect(tuple(users.shape) == (B, N, d), name, f"users must be (B, N, d) = {(B, N, d)}; got {_shape(users)}.")
        w, users = w.double(), users.double()
        expect(bool(torch.isfinite(w).all() and torch.isfinite(users).all()), name,
               "NaN or inf: a user with no real history item (or a padded slot seen from every candidate) gives "
               "softmax over nothing but -inf. Use a finite fill and zero the padded weights afterwards.")
        real = key_mask[:, None, :].expand(B, N, T)
        sums = w.sum(-1)  # (B, N)
        has = key_mask.any(1)
        if N > 1 and has.any() and torch.allclose(w.sum(1)[key_mask], torch.ones(int(key_mask.sum()), dtype=torch.float64)) \
                and not torch.allclose(sums[has], torch.ones_like(sums[has])):
            expect(False, name, "you normalised over the candidates (dim 1): each candidate's weights should sum to 1 "
                   "over its user's history (the last axis, T).")
        expect(bool((w[~real] == 0).all()), name, "padded history items must get weight exactly 0.")
        expect(bool((w[~has] == 0).all()) and bool((users[~has] == 0).all()), name,
               "a user with no real history item gets zero weights and a zero user vector.")
        expect(torch.allclose(sums[has], torch.ones_like(sums[has])), name,
               "each candidate's weights must sum to 1 over its user's real history items.")
        # log-ratios of two real items of one row = difference of their scaled scores
        scores = cands @ hist.transpose(1, 2)  # (B, N, T)
        logw = torch.where(real, w.clamp_min(1e-300).log(), torch.zeros_like(w))
        if not torch.allclose(_centred(logw, real), _centred(scores / math.sqrt(d), real), atol=1e-6):
            expect(not torch.allclose(_centred(logw, real), _centred(scores, real), atol=1e-6), name,
                   "divide the scores h_t . c by sqrt(d) before the softmax.")
            expect(False, name, "the weights are not softmax_t(h_t . c / sqrt(d)) over the real items: check which "
                   "vector scores which.")
        expect(_close(users, w @ hist, atol=1e-6), name, "each candidate's user vector is sum_t a_t(c) h_t = weights @ history.")
    passed(name, "target attention: one user vector per candidate, softmax over the real history")


# --------------------------------------------------------------------------- exercise 4
def ex4(ns: dict) -> None:
    """``pairwise_gates(h, w, b, key_mask)`` -> (B, T, T) with a_ij = sigmoid(w . [h_i; h_j] + b),
    exactly 0 where key j is padding."""
    name = "Exercise 4"
    fn = require(ns, "pairwise_gates", name, callable)
    gen = torch_generator()
    for B, T, d in ((1, 1, 2), (3, 5, 3), (2, 9, 6)):
        h = torch.randn(B, T, d, generator=gen, dtype=torch.float64)  # padded slots hold vectors too
        w = torch.randn(2 * d, generator=gen, dtype=torch.float64)
        b = float(torch.randn((), generator=gen, dtype=torch.float64))
        key_mask = _key_mask(gen, B, T)
        out = _call_unchanged(fn, name, h, w, b, key_mask)
        expect(isinstance(out, torch.Tensor) and tuple(out.shape) == (B, T, T), name,
               f"return (B, T, T) = {(B, T, T)} gates; got {_shape(out)}.")
        # the explicit concatenation, (B, T, T, 2d): the form the exercise asks you to avoid
        pairs = torch.cat([h[:, :, None].expand(B, T, T, d), h[:, None, :].expand(B, T, T, d)], -1)
        score = pairs @ w + b  # (B, T, T)
        keys = key_mask[:, None, :]
        truth = torch.sigmoid(score) * keys
        if _close(out, truth):
            continue
        expect(not _close(out, torch.sigmoid(score)), name,
               "padded keys must get a gate of exactly 0: sigmoid(score) is never 0. Multiply by the key mask.")
        expect(not _close(out, torch.softmax(score.masked_fill(~keys, -torch.inf), -1).nan_to_num(0.0)), name,
               "these are independent sigmoid gates, not a softmax: rows need not sum to 1.")
        expect(not _close(out, truth.transpose(1, 2)) and not _close(out, torch.sigmoid(score).transpose(1, 2) * keys),
               name, "i is the row (the query): a_ij uses [h_i; h_j], so the first half of w multiplies h_i.")
        expect(not _close(out, torch.sigmoid(score - b) * keys), name, "add the bias b.")
        expect(not _close(out, truth * key_mask[:, :, None]), name,
               "mask the keys (columns j) only: the task asks for 0 where the key j is padding.")
        expect(False, name, "values differ from sigmoid(w . [h_i; h_j] + b) on real keys. Hint: w . [h_i; h_j] = "
               "w[:d] . h_i + w[d:] . h_j, one (B, T) term per side.")
    passed(name, "pairwise sigmoid gates a_ij = sigmoid(w . [h_i; h_j] + b), padded keys exactly 0")


# --------------------------------------------------------------------------- exercise 5
def ex5(ns: dict) -> None:
    """``why_same_order``: why sigmoid(w . [h_i; h_j] + b) ranks the keys the same for every query (a letter)."""
    name = "Exercise 5"
    letter = one_letter(ns, "why_same_order", name)
    expect(letter == "b", name, "not that one: write w . [h_i; h_j] + b as the two terms of your exercise 4 and ask "
           "which of them can differ between two keys j and j', and whether a monotone function can swap them.")
    passed(name, "the query's term shifts every key alike and the sigmoid keeps the order: a nonlinearity of the pair is needed")
