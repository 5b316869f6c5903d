"""The chapter 03 exercise checks accept right answers and explain typical wrong ones."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from llmrec_ref.checks import ExerciseFailed, ch03


def gru_step(x, h, W_ih, W_hh, b_ih, b_hh):
    xr, xz, xn = F.linear(x, W_ih, b_ih).chunk(3, -1)
    hr, hz, hn = F.linear(h, W_hh, b_hh).chunk(3, -1)
    r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
    return (1 - z) * torch.tanh(xn + r * hn) + z * h


def gru_step_swapped(x, h, W_ih, W_hh, b_ih, b_hh):
    xr, xz, xn = F.linear(x, W_ih, b_ih).chunk(3, -1)
    hr, hz, hn = F.linear(h, W_hh, b_hh).chunk(3, -1)
    r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
    return z * torch.tanh(xn + r * hn) + (1 - z) * h


def gru_step_no_reset(x, h, W_ih, W_hh, b_ih, b_hh):
    xr, xz, xn = F.linear(x, W_ih, b_ih).chunk(3, -1)
    hr, hz, hn = F.linear(h, W_hh, b_hh).chunk(3, -1)
    z = torch.sigmoid(xz + hz)
    return (1 - z) * torch.tanh(xn + hn) + z * h


def sinusoidal_positions(T, d):
    p = torch.arange(T, dtype=torch.float32)[:, None]
    freq = 10000 ** (-torch.arange(0, d, 2, dtype=torch.float32) / d)
    pe = torch.zeros(T, d)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(p * freq), torch.cos(p * freq)
    return pe


def sinusoidal_halves(T, d):
    pe = sinusoidal_positions(T, d)
    return torch.cat([pe[:, 0::2], pe[:, 1::2]], dim=1)


def sinusoidal_wrong_exponent(T, d):
    p = torch.arange(T, dtype=torch.float32)[:, None]
    freq = 10000 ** (-torch.arange(d // 2, dtype=torch.float32) / d)
    return torch.stack([torch.sin(p * freq), torch.cos(p * freq)], -1).reshape(T, d)


def left_pad(histories, max_len):
    out = torch.zeros(len(histories), max_len, dtype=torch.long)
    for row, h in zip(out, histories, strict=True):
        h = h[-max_len:]
        if h:
            row[max_len - len(h):] = torch.tensor(h)
    return out


def right_pad(histories, max_len):
    out = torch.zeros(len(histories), max_len, dtype=torch.long)
    for row, h in zip(out, histories, strict=True):
        h = h[-max_len:]
        row[: len(h)] = torch.tensor(h, dtype=torch.long)
    return out


def left_pad_first_items(histories, max_len):
    return left_pad([h[:max_len] for h in histories], max_len)


CASES = {
    "ex1": ("gru_step", gru_step, [(gru_step_swapped, "1 - z"), (gru_step_no_reset, "reset gate")]),
    "ex2": ("sinusoidal_positions", sinusoidal_positions,
            [(sinusoidal_halves, "interleave"), (sinusoidal_wrong_exponent, "2i/d")]),
    "ex3": ("causal_mask", lambda T: torch.ones(T, T, dtype=torch.bool).tril(),
            [(lambda T: torch.ones(T, T, dtype=torch.bool).triu(), "LOWER triangle"),
             (lambda T: torch.ones(T, T, dtype=torch.bool).tril(-1), "diagonal"),
             (lambda T: ~torch.ones(T, T, dtype=torch.bool).tril(), "forbidden"),
             (lambda T: torch.ones(T, T).tril(), "bool")]),
    "ex4": ("left_pad", left_pad, [(right_pad, "LEFT"), (left_pad_first_items, "most recent")]),
}


@pytest.mark.parametrize("ex", sorted(CASES))
def test_check_passes_on_a_correct_answer(ex, capsys):
    name, good, _ = CASES[ex]
    getattr(ch03, ex)({name: good})
    assert "passed" in capsys.readouterr().out


@pytest.mark.parametrize("ex", sorted(CASES))
def test_check_fails_on_an_empty_namespace(ex):
    name = CASES[ex][0]
    with pytest.raises(ExerciseFailed, match=f"`{name}` is not defined"):
        getattr(ch03, ex)({})


@pytest.mark.parametrize("ex,wrong,hint", [(ex, w, h) for ex in sorted(CASES) for w, h in CASES[ex][2]])
def test_check_explains_a_typical_wrong_answer(ex, wrong, hint):
    with pytest.raises(ExerciseFailed, match=hint):
        getattr(ch03, ex)({CASES[ex][0]: wrong})


def test_check_reports_an_exception_in_the_learners_code():
    def broken(T):
        raise NotImplementedError

    with pytest.raises(ExerciseFailed, match="not implemented"):
        ch03.ex3({"causal_mask": broken})
