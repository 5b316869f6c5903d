"""Checks for exercises/03_encoders: a GRU step, sinusoidal positions, the causal mask, left padding."""

from __future__ import annotations

import torch

from llmrec_ref.checks._common import call, expect, passed, require


def _close(a: object, b: torch.Tensor, atol: float = 1e-5) -> bool:
    return isinstance(a, torch.Tensor) and a.shape == b.shape and torch.allclose(a.double(), b.double(), atol=atol)


def ex1(ns: dict) -> None:
    """``gru_step(x, h, W_ih, W_hh, b_ih, b_hh)`` is one step of torch.nn.GRUCell."""
    name = "Exercise 1"
    fn = require(ns, "gru_step", name, callable)
    torch.manual_seed(0)
    cell = torch.nn.GRUCell(4, 3)
    g = torch.Generator().manual_seed(1)
    x, h = torch.randn(5, 4, generator=g), torch.randn(5, 3, generator=g)
    args = (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    with torch.no_grad():
        out = call(fn, name, x, h, *args)
        truth = cell(x, h)
        xr, xz, xn = torch.nn.functional.linear(x, cell.weight_ih, cell.bias_ih).chunk(3, -1)
        hr, hz, hn = torch.nn.functional.linear(h, cell.weight_hh, cell.bias_hh).chunk(3, -1)
        r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
        swapped = z * torch.tanh(xn + r * hn) + (1 - z) * h
        no_reset = (1 - z) * torch.tanh(xn + hn) + z * h
        bias_outside = (1 - z) * torch.tanh(xn + r * (hn - cell.bias_hh[6:]) + cell.bias_hh[6:]) + z * h
    expect(isinstance(out, torch.Tensor) and out.shape == (5, 3), name,
           f"return the new state as a (B, H) = (5, 3) tensor; got {getattr(out, 'shape', type(out).__name__)}.")
    expect(not _close(out, swapped), name,
           "z and 1 - z are swapped: h_t = (1 - z) * n + z * h_prev (z is how much of the OLD state to keep).")
    expect(not _close(out, no_reset), name,
           "the reset gate is missing: n = tanh(W_in x + b_in + r * (W_hn h + b_hn)).")
    expect(not _close(out, bias_outside), name,
           "r must multiply (W_hn h + b_hn) including its bias b_hn, as torch.nn.GRU does.")
    expect(_close(out, truth), name,
           "your state differs from torch.nn.GRUCell. Split W_ih x + b_ih and W_hh h + b_hh into "
           "three chunks in the order (r, z, n) with .chunk(3, -1).")
    passed(name, "gru_step matches torch.nn.GRUCell")


def _sinusoid(T: int, d: int) -> torch.Tensor:
    p = torch.arange(T, dtype=torch.float64)[:, None]
    freq = 10000 ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    return torch.stack([torch.sin(p * freq), torch.cos(p * freq)], -1).reshape(T, d)


def ex2(ns: dict) -> None:
    """``sinusoidal_positions(T, d)`` -> (T, d) with PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(...)."""
    name = "Exercise 2"
    fn = require(ns, "sinusoidal_positions", name, callable)
    T, d = 12, 8
    out = call(fn, name, T, d)
    expect(isinstance(out, torch.Tensor) and out.shape == (T, d), name,
           f"return a (T, d) = ({T}, {d}) tensor; got {getattr(out, 'shape', type(out).__name__)}.")
    truth = _sinusoid(T, d)
    halves = torch.cat([truth[:, 0::2], truth[:, 1::2]], dim=1)
    expect(not _close(out, halves), name,
           "interleave sin and cos: even dimensions 2i get sin, odd dimensions 2i+1 get cos "
           "(you put all sines first, then all cosines).")
    p = torch.arange(T, dtype=torch.float64)[:, None]
    wrong_exp = 10000 ** (-torch.arange(0, d // 2, dtype=torch.float64) / d)
    wrong = torch.stack([torch.sin(p * wrong_exp), torch.cos(p * wrong_exp)], -1).reshape(T, d)
    expect(not _close(out, wrong), name,
           "the exponent is 2i/d, where i counts the sin/cos pairs (0 .. d/2 - 1): use "
           "torch.arange(0, d, 2) / d, not torch.arange(d // 2) / d.")
    expect(_close(out, truth), name,
           "values differ from PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(p / 10000^(2i/d)). "
           f"Row 0 should be [0, 1, 0, 1, ...]; yours starts {out[0, :4].tolist()}.")
    out_odd = call(fn, name, 3, 4)
    expect(_close(out_odd, _sinusoid(3, 4)), name, "it must work for every T and even d (try T=3, d=4).")
    passed(name, "sinusoidal positions match the formula")


def ex3(ns: dict) -> None:
    """``causal_mask(T)`` -> bool (T, T), True where query t may attend to key s (s <= t)."""
    name = "Exercise 3"
    fn = require(ns, "causal_mask", name, callable)
    out = call(fn, name, 4)
    expect(isinstance(out, torch.Tensor) and out.shape == (4, 4), name,
           f"return a (T, T) tensor; for T = 4 got {getattr(out, 'shape', type(out).__name__)}.")
    expect(out.dtype == torch.bool, name, f"return a bool tensor (True = may attend), not {out.dtype}.")
    truth = torch.ones(4, 4, dtype=torch.bool).tril()
    expect(not torch.equal(out, ~truth), name,
           "you returned the 'forbidden' mask of torch.nn (True = may NOT attend). Here True means "
           "may attend, as in F.scaled_dot_product_attention.")
    expect(not torch.equal(out, truth.T), name,
           "rows are queries, columns keys: query t may attend to keys 0..t, the LOWER triangle (torch.tril).")
    expect(not torch.equal(out, truth.tril(-1)), name,
           "the diagonal must be True: position t may attend to itself.")
    expect(torch.equal(out, truth), name, f"for T = 4 expected {truth.int().tolist()}, got {out.int().tolist()}.")
    expect(torch.equal(call(fn, name, 1), torch.ones(1, 1, dtype=torch.bool)), name, "T = 1 gives [[True]].")
    passed(name, "causal mask is lower-triangular with True = may attend")


def ex4(ns: dict) -> None:
    """``left_pad(histories, max_len)`` -> int64 (B, max_len): the last max_len items, zeros on the left."""
    name = "Exercise 4"
    fn = require(ns, "left_pad", name, callable)
    hist = [[5, 6, 7], [1, 2, 3, 4, 8, 9], [], [4]]
    out = call(fn, name, [list(h) for h in hist], 4)
    truth = torch.tensor([[0, 5, 6, 7], [3, 4, 8, 9], [0, 0, 0, 0], [0, 0, 0, 4]])
    expect(isinstance(out, torch.Tensor) and out.shape == (4, 4), name,
           f"return a (B, max_len) = (4, 4) tensor; got {getattr(out, 'shape', type(out).__name__)}.")
    expect(out.dtype == torch.long, name, f"item ids are int64 (torch.long) for nn.Embedding, not {out.dtype}.")
    expect(out[0].tolist() != [5, 6, 7, 0], name,
           "pad on the LEFT: [0, 5, 6, 7], so the most recent item is always in the last slot.")
    expect(out[1].tolist() != [1, 2, 3, 4], name,
           "keep the most recent max_len items (the end of the history), not the first ones.")
    expect(torch.equal(out, truth), name, f"expected {truth.tolist()}, got {out.tolist()}.")
    passed(name, "left padding keeps the last max_len items")

