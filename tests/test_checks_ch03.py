"""The chapter 03 exercise checks accept right answers and explain typical wrong ones."""

from __future__ import annotations

import math

import pytest
import torch
from check_contract import (  # noqa: F401 - the generic tests, run on RIGHT / WRONG below
    test_missing_answer_fails_with_a_hint,
    test_right_answer_passes,
    test_typical_wrong_answer_fails_with_its_hint,
)

from llmrec_ref.checks import ExerciseFailed, ch03


# ------------------------------------------------------------------ exercise 1
def _rms(z, g):
    return g * z / torch.sqrt(z.pow(2).mean(-1, keepdim=True) + 1e-6)


def _layer(z, g):
    mu, var = z.mean(-1, keepdim=True), z.var(-1, unbiased=False, keepdim=True)
    return g * (z - mu) / torch.sqrt(var + 1e-6)


def make_block(norm=_rms, pre=True, residual=True, scale=True, mask_after=False, flip=False):
    def block(x, p, mask):
        d = x.shape[-1]
        allowed = ~mask if flip else mask

        def attend(z):
            q, k, v = z @ p["Wq"].T, z @ p["Wk"].T, z @ p["Wv"].T
            s = q @ k.transpose(-2, -1) / (math.sqrt(d) if scale else 1.0)
            if mask_after:
                w = s.softmax(-1) * allowed
            else:
                w = s.masked_fill(~allowed, -torch.inf).softmax(-1)
            return (w @ v) @ p["Wo"].T

        def ff(z):
            return torch.relu(z @ p["W1"].T) @ p["W2"].T

        r = 1.0 if residual else 0.0
        if pre:
            x = r * x + attend(norm(x, p["g1"]))
            return r * x + ff(norm(x, p["g2"]))
        x = norm(r * x + attend(x), p["g1"])
        return norm(r * x + ff(x), p["g2"])

    return block


def block_mutating(x, p, mask):
    out = make_block()(x, p, mask)
    x.zero_()
    return out


# ------------------------------------------------------------------ exercise 2
def shift_rotation(k, d):
    w = 10000.0 ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)  # (d/2,)
    c, s = torch.cos(k * w), torch.sin(k * w)
    M = torch.zeros(d, d, dtype=torch.float64)
    M[0::2, 0::2] = torch.diag(c)
    M[0::2, 1::2] = torch.diag(s)
    M[1::2, 0::2] = torch.diag(-s)
    M[1::2, 1::2] = torch.diag(c)
    return M


def rotation_backwards(k, d):
    return shift_rotation(k, d).T


def rotation_pair_exponent(k, d):  # 10000^(-i/d): i used as the exponent's numerator
    w = 10000.0 ** (-torch.arange(d // 2, dtype=torch.float64) / d)
    M = torch.zeros(d, d, dtype=torch.float64)
    for i, wi in enumerate(w):
        c, s = math.cos(k * wi), math.sin(k * wi)
        M[2 * i: 2 * i + 2, 2 * i: 2 * i + 2] = torch.tensor([[c, s], [-s, c]])
    return M


def rotation_one_frequency(k, d):
    c, s = math.cos(k), math.sin(k)
    return torch.block_diag(*[torch.tensor([[c, s], [-s, c]], dtype=torch.float64)] * (d // 2))


# ------------------------------------------------------------------ exercise 3
def left_pad(histories, max_len):
    out = torch.zeros(len(histories), max_len, dtype=torch.long)
    for row, items in zip(out, histories, strict=True):
        items = items[-max_len:]
        if items:
            row[max_len - len(items):] = torch.tensor(items)
    return out


def right_pad(histories, max_len):
    out = torch.zeros(len(histories), max_len, dtype=torch.long)
    for row, items in zip(out, histories, strict=True):
        items = items[-max_len:]
        row[: len(items)] = torch.tensor(items, dtype=torch.long)
    return out


def left_pad_first_items(histories, max_len):
    out = torch.zeros(len(histories), max_len, dtype=torch.long)
    for row, items in zip(out, histories, strict=True):
        items = items[:max_len]
        if items:
            row[max_len - len(items):] = torch.tensor(items)
    return out


def left_pad_float(histories, max_len):
    return left_pad(histories, max_len).float()


def left_pad_in_place(histories, max_len):
    for h in histories:
        h[:0] = [0] * max(0, max_len - len(h))
    return torch.tensor([h[-max_len:] for h in histories], dtype=torch.long)


RIGHT = {
    ch03.ex1: {"rms_block": make_block()},
    ch03.ex2: {"shift_rotation": shift_rotation},
    ch03.ex3: {"left_pad": left_pad},
    ch03.ex4: {"n_allowed": 15},
}
WRONG = [
    (ch03.ex1, {"rms_block": make_block(pre=False)}, "post-norm"),
    (ch03.ex1, {"rms_block": make_block(norm=_layer)}, "that is LayerNorm"),
    (ch03.ex1, {"rms_block": make_block(residual=False)}, "residual connections are missing"),
    (ch03.ex1, {"rms_block": make_block(scale=False)}, r"1/sqrt\(d\)"),
    (ch03.ex1, {"rms_block": make_block(mask_after=True)}, r"\*before\* the softmax"),
    (ch03.ex1, {"rms_block": make_block(flip=True)}, "may attend"),
    (ch03.ex1, {"rms_block": block_mutating}, "modified its input"),
    (ch03.ex2, {"shift_rotation": rotation_backwards}, "moves positions by -k"),
    (ch03.ex2, {"shift_rotation": rotation_pair_exponent}, "i counts pairs"),
    (ch03.ex2, {"shift_rotation": rotation_one_frequency}, "its own frequency"),
    (ch03.ex3, {"left_pad": right_pad}, "pad on the LEFT"),
    (ch03.ex3, {"left_pad": left_pad_first_items}, "most recent max_len items"),
    (ch03.ex3, {"left_pad": left_pad_float}, "int64"),
    (ch03.ex3, {"left_pad": left_pad_in_place}, "modified `histories`"),
    (ch03.ex4, {"n_allowed": 36}, "causal mask alone"),
    (ch03.ex4, {"n_allowed": 40}, "padding mask alone"),
    (ch03.ex4, {"n_allowed": 10}, "attend to itself"),
    (ch03.ex4, {"n_allowed": 15.0}, "an int"),
]


def test_an_answer_that_raises_is_reported_not_crashed():
    def broken(k, d):
        raise RuntimeError("shape mismatch")

    with pytest.raises(ExerciseFailed, match="raised RuntimeError"):
        ch03.ex2({"shift_rotation": broken})


def test_the_checks_built_in_block_agrees_with_the_formula_written_out():
    gen = torch.Generator().manual_seed(0)
    for causal in (True, False):
        x, p, mask = ch03._block_case(gen, 2, 5, 8, causal=causal)
        assert torch.allclose(ch03._block(x, p, mask), make_block()(x, p, mask), atol=1e-10)
        assert not torch.allclose(ch03._block(x, p, mask), make_block(norm=_layer)(x, p, mask), atol=1e-3)
