"""The chapter 04 exercise checks accept right answers and explain typical wrong ones."""

from __future__ import annotations

import math

import pytest
import torch

from llmrec_ref.checks import ExerciseFailed, ch04


def masked_attention(q, k, v, key_mask):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    mask = key_mask[:, None, :]
    w = scores.masked_fill(~mask, torch.finfo(scores.dtype).min).softmax(-1) * mask
    return w @ v, w


def masked_attention_multiply(q, k, v, key_mask):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]) * key_mask[:, None, :]
    w = scores.softmax(-1)
    return w @ v, w


def masked_attention_inf(q, k, v, key_mask):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    w = scores.masked_fill(~key_mask[:, None, :], -torch.inf).softmax(-1)
    return w @ v, w


def split_heads(x, n_heads):
    B, T, d = x.shape
    return x.view(B, T, n_heads, d // n_heads).transpose(1, 2)


def merge_heads(x):
    B, h, T, dh = x.shape
    return x.transpose(1, 2).reshape(B, T, h * dh)


def split_heads_view(x, n_heads):
    B, T, d = x.shape
    return x.view(B, n_heads, T, d // n_heads)


def merge_heads_no_transpose(x):
    B, h, T, dh = x.shape
    return x.reshape(B, T, h * dh)


def fixed_attention(q, k, v):
    return (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).softmax(-1) @ v


def pairwise_gates(h, w, b, key_mask):
    d = h.shape[-1]
    return torch.sigmoid((h @ w[:d])[:, :, None] + (h @ w[d:])[:, None, :] + b) * key_mask[:, None, :]


def pairwise_gates_unmasked(h, w, b, key_mask):
    return pairwise_gates(h, w, b, torch.ones_like(key_mask))


def pairwise_gates_concat_swapped(h, w, b, key_mask):
    d = h.shape[-1]
    return (torch.sigmoid((h @ w[:d])[:, :, None] + (h @ w[d:])[:, None, :] + b).transpose(1, 2)
            * key_mask[:, None, :])


def pairwise_gates_mask_rows_too(h, w, b, key_mask):
    return pairwise_gates(h, w, b, key_mask) * key_mask[:, :, None]


def pairwise_softmax(h, w, b, key_mask):
    d = h.shape[-1]
    score = (h @ w[:d])[:, :, None] + (h @ w[d:])[:, None, :] + b
    return torch.softmax(score.masked_fill(~key_mask[:, None, :], float("-inf")), -1)


def pairwise_gates_no_mask_argument(h, w, b):
    return pairwise_gates(h, w, b, torch.ones(h.shape[:2], dtype=torch.bool))


GOOD = {
    "ex1": {"masked_attention": masked_attention},
    "ex2": {"split_heads": split_heads, "merge_heads": merge_heads},
    "ex3": {"fixed_attention": fixed_attention},
    "ex4": {"pairwise_gates": pairwise_gates},
}

WRONG = [
    ("ex1", {"masked_attention": masked_attention_multiply}, "masked_fill"),
    ("ex1", {"masked_attention": masked_attention_inf}, "NaN"),
    ("ex2", {"split_heads": split_heads_view, "merge_heads": merge_heads}, "plain view"),
    ("ex2", {"split_heads": split_heads, "merge_heads": merge_heads_no_transpose}, "undo split_heads"),
    ("ex3", {"fixed_attention": lambda q, k, v: (q @ k.transpose(-2, -1)).softmax(-1) @ v}, "still unscaled"),
    ("ex3", {"fixed_attention": lambda q, k, v: (q @ k.transpose(-2, -1) / q.shape[-1]).softmax(-1) @ v},
     "divided by d"),
    ("ex4", {"pairwise_gates": pairwise_softmax}, "not a softmax"),
    ("ex4", {"pairwise_gates": pairwise_gates_concat_swapped}, "first half of w"),
    ("ex4", {"pairwise_gates": lambda h, w, b, key_mask: pairwise_gates(h, w, 0.0, key_mask)}, "bias"),
    ("ex4", {"pairwise_gates": pairwise_gates_unmasked}, "exactly 0"),
    ("ex4", {"pairwise_gates": pairwise_gates_mask_rows_too}, "not the queries too"),
    ("ex4", {"pairwise_gates": pairwise_gates_no_mask_argument}, r"four arguments"),
]


@pytest.mark.parametrize("ex", sorted(GOOD))
def test_check_passes_on_a_correct_answer(ex, capsys):
    getattr(ch04, ex)(dict(GOOD[ex]))
    assert "passed" in capsys.readouterr().out


@pytest.mark.parametrize("ex", sorted(GOOD))
def test_check_fails_on_an_empty_namespace(ex):
    with pytest.raises(ExerciseFailed, match="is not defined"):
        getattr(ch04, ex)({})


@pytest.mark.parametrize("ex,ns,hint", WRONG)
def test_check_explains_a_typical_wrong_answer(ex, ns, hint):
    with pytest.raises(ExerciseFailed, match=hint):
        getattr(ch04, ex)(ns)


def test_ex2_needs_both_functions():
    with pytest.raises(ExerciseFailed, match="`merge_heads` is not defined"):
        ch04.ex2({"split_heads": split_heads})
