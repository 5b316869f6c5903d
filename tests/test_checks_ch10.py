"""The chapter 10 exercise checks accept right answers and explain typical wrong ones."""

from __future__ import annotations

import torch
from check_contract import (  # noqa: F401 - the generic tests, run on RIGHT / WRONG below
    test_missing_answer_fails_with_a_hint,
    test_right_answer_passes,
    test_typical_wrong_answer_fails_with_its_hint,
)

from llmrec_ref.checks import ch10

# ----------------------------------------------------------------------------- exercise 1


def quantize_uint8(x):
    lo = torch.clamp(x.amin(1), max=0.0)
    hi = torch.clamp(x.amax(1), min=0.0)
    scale = (hi - lo) / 255
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    zp = torch.round(-lo / scale).clamp(0, 255)
    q = torch.clamp(torch.round(x / scale[:, None]) + zp[:, None], 0, 255).to(torch.uint8)
    return q, scale, zp.long()


def quantize_uint8_truncates(x):
    q, scale, zp = quantize_uint8(x)
    q = torch.clamp(x / scale[:, None] + zp[:, None], 0, 255).to(torch.uint8)  # .to() cuts the decimals off
    return q, scale, zp


def quantize_uint8_no_zero(x):  # the range of the row only: 0 is not a code when the row is all positive
    lo, hi = x.amin(1), x.amax(1)
    scale = torch.where(hi > lo, (hi - lo) / 255, torch.ones_like(hi))
    zp = -lo / scale  # not rounded
    q = torch.clamp(torch.round(x / scale[:, None] + zp[:, None]), 0, 255).to(torch.uint8)
    return q, scale, zp


def quantize_uint8_zero_scale(x):
    lo, hi = torch.clamp(x.amin(1), max=0.0), torch.clamp(x.amax(1), min=0.0)
    scale = (hi - lo) / 255
    zp = torch.round(-lo / scale).nan_to_num(0).clamp(0, 255)
    q = torch.clamp(torch.round(x / scale[:, None]).nan_to_num(0) + zp[:, None], 0, 255).to(torch.uint8)
    return q, scale, zp


def quantize_uint8_wide(x):  # /127 as for int8: half the codes unused
    q, scale, zp = quantize_uint8(x)
    scale = scale * 255 / 127
    zp = torch.round(-torch.clamp(x.amin(1), max=0.0) / scale).clamp(0, 255)
    q = torch.clamp(torch.round(x / scale[:, None]) + zp[:, None], 0, 255).to(torch.uint8)
    return q, scale, zp


def quantize_uint8_float_codes(x):
    q, scale, zp = quantize_uint8(x)
    return q.float(), scale, zp


# ----------------------------------------------------------------------------- exercise 2


def global_prune_masks(weights, amount):
    flat = torch.cat([w.abs().flatten() for w in weights])
    n = round(amount * flat.numel())
    keep = torch.ones(flat.numel(), dtype=torch.bool)
    keep[flat.argsort()[:n]] = False
    return [m.view_as(w) for m, w in zip(keep.split([w.numel() for w in weights]), weights, strict=True)]


def global_prune_masks_per_tensor(weights, amount):
    out = []
    for w in weights:
        n = round(amount * w.numel())
        keep = torch.ones(w.numel(), dtype=torch.bool)
        keep[w.abs().flatten().argsort()[:n]] = False
        out.append(keep.view_as(w))
    return out


def global_prune_masks_signed(weights, amount):
    flat = torch.cat([w.flatten() for w in weights])
    keep = torch.ones(flat.numel(), dtype=torch.bool)
    keep[flat.argsort()[:round(amount * flat.numel())]] = False
    return [m.view_as(w) for m, w in zip(keep.split([w.numel() for w in weights]), weights, strict=True)]


def global_prune_masks_inverted(weights, amount):
    return [~m for m in global_prune_masks(weights, amount)]


def global_prune_masks_in_place(weights, amount):
    masks = global_prune_masks(weights, amount)
    for w, m in zip(weights, masks, strict=True):
        w.mul_(m)
    return masks


# ----------------------------------------------------------------------------- exercise 3


def kd_gradient(z_s, z_t, y, T, alpha):
    N, V = z_s.shape
    hard = (torch.softmax(z_s, -1) - torch.nn.functional.one_hot(y, V)) / N
    soft = T * (torch.softmax(z_s / T, -1) - torch.softmax(z_t / T, -1)) / N
    return (1 - alpha) * hard + alpha * soft


def kd_gradient_no_t(z_s, z_t, y, T, alpha):
    N, V = z_s.shape
    hard = (torch.softmax(z_s, -1) - torch.nn.functional.one_hot(y, V)) / N
    return (1 - alpha) * hard + alpha * (torch.softmax(z_s / T, -1) - torch.softmax(z_t / T, -1)) / N


def kd_gradient_t_squared(z_s, z_t, y, T, alpha):
    N, V = z_s.shape
    hard = (torch.softmax(z_s, -1) - torch.nn.functional.one_hot(y, V)) / N
    return (1 - alpha) * hard + alpha * T ** 2 * (torch.softmax(z_s / T, -1) - torch.softmax(z_t / T, -1)) / N


def kd_gradient_soft_ce(z_s, z_t, y, T, alpha):
    N, V = z_s.shape
    q = torch.softmax(z_s / T, -1)
    return (1 - alpha) * (q - torch.nn.functional.one_hot(y, V)) / N + alpha * T * (q - torch.softmax(z_t / T, -1)) / N


def kd_gradient_swapped_alpha(z_s, z_t, y, T, alpha):
    return kd_gradient(z_s, z_t, y, T, 1 - alpha)


RIGHT = {
    ch10.ex1: {"quantize_uint8": quantize_uint8},
    ch10.ex2: {"global_prune_masks": global_prune_masks},
    ch10.ex3: {"kd_gradient": kd_gradient},
}
WRONG = [
    (ch10.ex1, {"quantize_uint8": quantize_uint8_truncates}, "do not truncate"),
    (ch10.ex1, {"quantize_uint8": quantize_uint8_no_zero}, "zero_point must be an integer"),
    (ch10.ex1, {"quantize_uint8": quantize_uint8_zero_scale}, "scale of 1"),
    (ch10.ex1, {"quantize_uint8": quantize_uint8_wide}, "whole 0..255 range"),
    (ch10.ex1, {"quantize_uint8": quantize_uint8_float_codes}, "uint8 tensor"),
    (ch10.ex1, {"quantize_uint8": lambda x: quantize_uint8(x)[0]}, r"\(q, scale, zero_point\)"),
    (ch10.ex2, {"global_prune_masks": global_prune_masks_per_tensor}, "its own threshold"),
    (ch10.ex2, {"global_prune_masks": global_prune_masks_signed}, r"magnitude \|w\|"),
    (ch10.ex2, {"global_prune_masks": global_prune_masks_inverted}, "True must mean"),
    (ch10.ex2, {"global_prune_masks": global_prune_masks_in_place}, "do not change the weights"),
    (ch10.ex3, {"kd_gradient": kd_gradient_no_t}, "one T is left"),
    (ch10.ex3, {"kd_gradient": kd_gradient_t_squared}, "not T\\^2"),
    (ch10.ex3, {"kd_gradient": kd_gradient_soft_ce}, "plain softmax"),
    (ch10.ex3, {"kd_gradient": kd_gradient_swapped_alpha}, "alpha weighs the soft"),
    (ch10.ex3, {"kd_gradient": lambda z_s, z_t, y, T, alpha: -kd_gradient(z_s, z_t, y, T, alpha)}, "differs from autograd"),
    (ch10.ex3, {"kd_gradient": lambda z_s, z_t, y, T, alpha: kd_gradient(z_s, z_t, y, T, alpha)[0]}, "shaped like z_s"),
]


def test_checks_draw_new_cases_each_run():
    a, b = ch10._rows(1), ch10._rows(2)
    assert not torch.equal(a, b) and (a[3] == 0).all() and (a[1] > 0).all() and (a[2] < 0).all()
