"""The chapter 04 exercise checks accept right answers and explain typical wrong ones."""

from __future__ import annotations

import math

import pytest
import torch
from check_contract import (  # noqa: F401 - the generic tests, run on RIGHT / WRONG below
    test_missing_answer_fails_with_a_hint,
    test_right_answer_passes,
    test_typical_wrong_answer_fails_with_its_hint,
)

from llmrec_ref.checks import ExerciseFailed, ch04


# ------------------------------------------------------------------ exercise 1
def masked_attention(q, k, v, key_mask):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    mask = key_mask[:, None, :]
    weights = scores.masked_fill(~mask, torch.finfo(scores.dtype).min).softmax(-1) * mask
    return weights @ v, weights


def attention_nan(q, k, v, key_mask):
    scores = (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).masked_fill(~key_mask[:, None, :], -torch.inf)
    weights = scores.softmax(-1)
    return weights @ v, weights


def attention_multiplied_scores(q, k, v, key_mask):
    weights = (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]) * key_mask[:, None, :]).softmax(-1)
    return weights @ v, weights


def attention_unscaled(q, k, v, key_mask):
    mask = key_mask[:, None, :]
    weights = (q @ k.transpose(-2, -1)).masked_fill(~mask, torch.finfo(q.dtype).min).softmax(-1) * mask
    return weights @ v, weights


def attention_mutating(q, k, v, key_mask):
    out = masked_attention(q, k, v, key_mask)
    key_mask[:] = True
    return out


# ------------------------------------------------------------------ exercise 2
def _gqa(q, k, v, interleave=True, scale=None):
    r = q.shape[1] // k.shape[1]
    k, v = ((x.repeat_interleave(r, 1) if interleave else x.repeat(1, r, 1, 1)) for x in (k, v))
    s = q @ k.transpose(-2, -1) / math.sqrt(scale or q.shape[-1])
    return s.softmax(-1) @ v


def grouped_query_attention(q, k, v):
    return _gqa(q, k, v)


def gqa_tiled(q, k, v):
    return _gqa(q, k, v, interleave=False)


def gqa_wide_scale(q, k, v):
    return _gqa(q, k, v, scale=q.shape[1] * q.shape[-1])


def gqa_kv_heads_only(q, k, v):  # one output per key/value head
    return _gqa(q[:, : k.shape[1]], k, v)


# ------------------------------------------------------------------ exercise 3
def target_attention(history, cands, key_mask):
    scores = cands @ history.transpose(1, 2) / math.sqrt(history.shape[-1])  # (B, N, T)
    mask = key_mask[:, None, :]
    weights = scores.masked_fill(~mask, torch.finfo(scores.dtype).min).softmax(-1) * mask
    return weights @ history, weights


def buggy_target_attention(history, cands, key_mask):  # the notebook's broken version
    scores = cands @ history.transpose(1, 2) / math.sqrt(history.shape[-1])
    weights = scores.masked_fill(~key_mask[:, None, :], -torch.inf).softmax(1)
    return weights @ history, weights


def target_over_candidates(history, cands, key_mask):  # NaN fixed, axis not
    scores = cands @ history.transpose(1, 2) / math.sqrt(history.shape[-1])
    mask = key_mask[:, None, :]
    weights = scores.masked_fill(~mask, torch.finfo(scores.dtype).min).softmax(1) * mask
    return weights @ history, weights


def target_unscaled(history, cands, key_mask):
    mask = key_mask[:, None, :]
    weights = (cands @ history.transpose(1, 2)).masked_fill(~mask, torch.finfo(history.dtype).min).softmax(-1) * mask
    return weights @ history, weights


def target_padding_kept(history, cands, key_mask):
    weights = (cands @ history.transpose(1, 2) / math.sqrt(history.shape[-1])).softmax(-1)
    return weights @ history, weights


# ------------------------------------------------------------------ exercise 4
def pairwise_gates(h, w, b, key_mask):
    d = h.shape[-1]
    left, right = h @ w[:d], h @ w[d:]
    return torch.sigmoid(left[:, :, None] + right[:, None, :] + b) * key_mask[:, None, :]


def gates_unmasked(h, w, b, key_mask):
    d = h.shape[-1]
    return torch.sigmoid((h @ w[:d])[:, :, None] + (h @ w[d:])[:, None, :] + b)


def gates_halves_swapped(h, w, b, key_mask):
    d = h.shape[-1]
    return torch.sigmoid((h @ w[d:])[:, :, None] + (h @ w[:d])[:, None, :] + b) * key_mask[:, None, :]


def gates_softmax(h, w, b, key_mask):
    d = h.shape[-1]
    s = ((h @ w[:d])[:, :, None] + (h @ w[d:])[:, None, :] + b).masked_fill(~key_mask[:, None, :], -torch.inf)
    return s.softmax(-1).nan_to_num(0.0)


def gates_no_bias(h, w, b, key_mask):
    return pairwise_gates(h, w, 0.0, key_mask)


RIGHT = {
    ch04.ex1: {"masked_attention": masked_attention},
    ch04.ex2: {"grouped_query_attention": grouped_query_attention},
    ch04.ex3: {"target_attention": target_attention},
    ch04.ex4: {"pairwise_gates": pairwise_gates},
    ch04.ex5: {"why_same_order": "b"},
}
WRONG = [
    (ch04.ex1, {"masked_attention": attention_nan}, "NaN"),
    (ch04.ex1, {"masked_attention": attention_multiplied_scores}, "use masked_fill"),
    (ch04.ex1, {"masked_attention": attention_unscaled}, r"sqrt\(d\)"),
    (ch04.ex1, {"masked_attention": attention_mutating}, "modified its input"),
    (ch04.ex2, {"grouped_query_attention": gqa_tiled}, "repeat_interleave"),
    (ch04.ex2, {"grouped_query_attention": gqa_wide_scale}, "one head's vectors"),
    (ch04.ex2, {"grouped_query_attention": gqa_kv_heads_only}, "one output per query head"),
    (ch04.ex3, {"target_attention": buggy_target_attention}, "NaN or inf"),
    (ch04.ex3, {"target_attention": target_over_candidates}, "normalised over the candidates"),
    (ch04.ex3, {"target_attention": target_unscaled}, r"sqrt\(d\)"),
    (ch04.ex3, {"target_attention": target_padding_kept}, "padded history items"),
    (ch04.ex4, {"pairwise_gates": gates_unmasked}, "exactly 0"),
    (ch04.ex4, {"pairwise_gates": gates_halves_swapped}, "first half of w multiplies h_i"),
    (ch04.ex4, {"pairwise_gates": gates_softmax}, "not a softmax"),
    (ch04.ex4, {"pairwise_gates": gates_no_bias}, "add the bias"),
    (ch04.ex5, {"why_same_order": "a"}, "not that one"),
    (ch04.ex5, {"why_same_order": "(e)"}, "one letter"),
]


def test_an_answer_that_raises_is_reported_not_crashed():
    def broken(q, k, v):
        raise RuntimeError("shape mismatch")

    with pytest.raises(ExerciseFailed, match="raised RuntimeError"):
        ch04.ex2({"grouped_query_attention": broken})
