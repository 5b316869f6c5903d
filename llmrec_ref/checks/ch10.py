"""Checks for exercises/10_small_and_fast: asymmetric uint8 quantisation, global magnitude pruning.

Each check draws fresh random cases and compares with torch's own implementation
(``torch.quantize_per_channel``, ``torch.nn.utils.prune.global_unstructured``) or with properties
every right answer has; it never prints the expected values.
"""

from __future__ import annotations

import warnings

import torch
from torch.nn.utils import prune

from llmrec_ref.checks._common import call, expect, passed, require
from llmrec_ref.checks._fresh import fresh_rng, torch_generator


def _rows(seed: int) -> torch.Tensor:
    """Random rows with the cases that break answers: mixed signs, all positive, all negative, all zero, constant."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(8, 12, generator=g) * torch.rand(8, 1, generator=g) * 3
    x[1] = x[1].abs() + 0.5  # all positive: 0 lies below the row's range
    x[2] = -x[2].abs() - 0.5  # all negative
    x[3] = 0.0  # a padding row
    x[4] = 0.75  # constant
    x[5, ::3] = 0.0  # exact zeros inside a row
    return x


def ex1(ns: dict) -> None:
    """``quantize_uint8(x) -> (q, scale, zero_point)``: per-row asymmetric uint8 with an exact zero."""
    name = "Exercise 1"
    fn = require(ns, "quantize_uint8", name, callable)
    seed = int(fresh_rng().integers(2**31 - 1))
    x = _rows(seed)
    res = call(fn, name, x.clone())
    expect(isinstance(res, tuple) and len(res) == 3, name, "return three things: (q, scale, zero_point).")
    q, scale, zp = res
    expect(isinstance(q, torch.Tensor) and q.dtype == torch.uint8 and q.shape == x.shape, name,
           f"q must be a uint8 tensor of the input's shape {tuple(x.shape)}; got "
           f"{getattr(q, 'dtype', type(q).__name__)} {tuple(getattr(q, 'shape', ()))}. Convert with .to(torch.uint8) "
           "after clamping to 0..255.")
    scale, zp = torch.as_tensor(scale, dtype=torch.float64), torch.as_tensor(zp)
    expect(scale.shape == (len(x),) and zp.shape == (len(x),), name,
           "scale and zero_point hold one value per row: shapes (rows,).")
    expect(bool(torch.isfinite(scale).all() and (scale > 0).all()), name,
           "every scale must be a positive finite number. A row whose values are all equal (or all 0) has "
           "max - min = 0: give it a scale of 1 (any positive number works, the row is still exact).")
    expect(bool((zp == zp.round()).all() and (zp >= 0).all() and (zp <= 255).all()), name,
           "zero_point must be an integer in 0..255 (round(-min / scale)), so that the real 0 is a code.")
    back = (q.double() - zp.double()[:, None]) * scale[:, None]
    expect(bool((back[x == 0] == 0).all()), name,
           "a 0 in the input must come back as exactly 0 (padding rows, ReLU outputs). Include 0 in each "
           "row's range, [min(x_min, 0), max(x_max, 0)], and make zero_point an integer.")
    err = (back - x.double()).abs()
    expect(bool((err <= scale[:, None] / 2 + 1e-6).all()), name,
           "some values come back more than half a step (scale / 2) away: round to the nearest code "
           "(torch.round), do not truncate (.to(torch.uint8) or int() on a float cuts the decimals off).")
    lo, hi = torch.minimum(x.amin(1), torch.zeros(len(x))), torch.maximum(x.amax(1), torch.zeros(len(x)))
    spread = hi > lo
    expect(bool(torch.allclose(scale[spread], ((hi - lo) / 255).double()[spread], rtol=1e-4)), name,
           "use the whole 0..255 range: scale = (max - min) / 255 with the range widened to include 0 "
           "(a larger scale wastes codes and loses precision).")
    with warnings.catch_warnings():  # torch announces that its quantized tensors move to torchao
        warnings.simplefilter("ignore")
        ref = torch.quantize_per_channel(x, scale, zp.long(), 0, torch.quint8).int_repr()
    expect(torch.equal(q, ref), name,
           "q differs from torch.quantize_per_channel with your scale and zero_point: "
           "q = clamp(round(x / scale) + zero_point, 0, 255).")
    passed(name, "uint8 codes within half a step, zero exact, the whole range used, as torch quantises")


def _tensors(seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    sizes = [(6, 5), (4, 7), (9,), (3, 3)]
    out = [torch.randn(*s, generator=g) * s_ for s, s_ in zip(sizes, (1.0, 0.05, 2.0, 0.5), strict=True)]
    return out  # the second tensor is tiny: a global threshold prunes most of it, a per-tensor one half


def _torch_masks(weights: list[torch.Tensor], amount: float) -> list[torch.Tensor]:
    holders = []
    for w in weights:
        holder = torch.nn.Module()
        holder.weight = torch.nn.Parameter(w.clone())
        holders.append(holder)
    prune.global_unstructured([(h, "weight") for h in holders], prune.L1Unstructured, amount=amount)
    return [h.weight_mask.bool() for h in holders]


def ex2(ns: dict) -> None:
    """``global_prune_masks(weights, amount) -> [bool masks]``: the smallest |w| across every tensor go."""
    name = "Exercise 2"
    fn = require(ns, "global_prune_masks", name, callable)
    seed = int(fresh_rng().integers(2**31 - 1))
    weights = _tensors(seed)
    for amount in (0.5, 0.3, 0.9, 0.0):
        before = [w.clone() for w in weights]
        masks = call(fn, name, weights, amount)
        expect(all(torch.equal(a, b) for a, b in zip(before, weights, strict=True)), name,
               "do not change the weights: return masks, the caller applies them.")
        expect(isinstance(masks, (list, tuple)) and len(masks) == len(weights), name,
               f"return a list of {len(weights)} masks, one per tensor, in the same order.")
        expect(all(isinstance(m, torch.Tensor) and m.shape == w.shape for m, w in zip(masks, weights, strict=True)),
               name, "each mask must have the shape of its tensor.")
        masks = [m.bool() for m in masks]
        ref = _torch_masks(weights, amount)
        if all(torch.equal(m, r) for m, r in zip(masks, ref, strict=True)):
            continue
        expect(not all(torch.equal(m, ~r) for m, r in zip(masks, ref, strict=True)), name,
               "True must mean *kept* (the large weights), False pruned.")
        per_tensor = [w.abs() > w.abs().flatten().kthvalue(round(amount * w.numel())).values
                      if round(amount * w.numel()) else torch.ones_like(w, dtype=torch.bool) for w in weights]
        expect(not all(torch.equal(m, p) for m, p in zip(masks, per_tensor, strict=True)), name,
               "you pruned each tensor by its own threshold: global pruning ranks every weight of every "
               "tensor together (one threshold), so a tensor of small weights loses more of them.")
        total = sum(w.numel() for w in weights)
        expect(sum(int(m.sum()) for m in masks) == total - round(amount * total), name,
               f"with amount={amount}, prune round(amount x {total}) entries in all and keep the rest "
               "(True = kept).")
        expect(False, name,
               "the masks differ from torch.nn.utils.prune.global_unstructured: rank by magnitude |w| "
               "(the most negative weights are not the smallest) across all tensors together, and prune "
               "the round(amount x total) smallest.")
    passed(name, "one global magnitude threshold across every tensor, as torch's global_unstructured")


def _loss(z_s: torch.Tensor, z_t: torch.Tensor, y: torch.Tensor, T: float, alpha: float) -> torch.Tensor:
    """The chapter's training loss, from torch's own cross_entropy and kl_div (autograd differentiates it)."""
    hard = torch.nn.functional.cross_entropy(z_s, y)
    soft = torch.nn.functional.kl_div(torch.log_softmax(z_s / T, -1), torch.log_softmax(z_t / T, -1),
                                      reduction="batchmean", log_target=True)
    return (1 - alpha) * hard + alpha * T ** 2 * soft


def ex3(ns: dict) -> None:
    """``kd_gradient(z_s, z_t, y, T, alpha)``: the hand-derived gradient of the whole distillation loss."""
    name = "Exercise 3"
    fn = require(ns, "kd_gradient", name, callable)
    g = torch_generator()
    for N, V, T, alpha in ((5, 9, 2.0, 0.5), (3, 20, 1.0, 0.7), (4, 6, 4.0, 0.0), (6, 11, 3.0, 1.0), (1, 4, 0.5, 0.3)):
        z_s = torch.randn(N, V, generator=g, dtype=torch.float64) * 2
        z_t = torch.randn(N, V, generator=g, dtype=torch.float64) * 3
        y = torch.randint(0, V, (N,), generator=g)
        leaf = z_s.clone().requires_grad_()
        _loss(leaf, z_t, y, T, alpha).backward()
        got = call(fn, name, z_s.clone(), z_t.clone(), y.clone(), T, alpha)
        case = f"(N={N}, T={T}, alpha={alpha})"
        expect(isinstance(got, torch.Tensor) and got.shape == z_s.shape, name,
               f"return a tensor shaped like z_s {tuple(z_s.shape)}: one partial derivative per logit.")
        got = got.detach().double()
        if torch.allclose(got, leaf.grad, atol=1e-8):
            continue
        q, p = torch.softmax(z_s / T, -1), torch.softmax(z_t / T, -1)
        hard = (torch.softmax(z_s, -1) - torch.nn.functional.one_hot(y, V)) / N
        soft = T * (q - p) / N
        hints = [
            ((1 - alpha) * hard + alpha * soft / T, "the soft term's gradient is T (q - p) / N: the T^2 in front of "
                                                    "the KL meets a 1 / T from the softened logits, one T is left."),
            ((1 - alpha) * hard + alpha * soft * T, "the soft term's gradient is T (q - p) / N, not T^2 (q - p) / N: "
                                                    "d log q_i / d z_k = (delta_ik - q_k) / T."),
            ((1 - alpha) * (q - torch.nn.functional.one_hot(y, V)) / N + alpha * soft,
             "the cross-entropy with the true item uses the plain softmax(z_s), not the softened one."),
            ((1 - alpha) * hard * N + alpha * soft * N, "the loss is a mean over the N rows: divide by N."),
            (alpha * hard + (1 - alpha) * soft, "alpha weighs the soft (teacher) term and 1 - alpha the hard one."),
            ((1 - alpha) * hard + alpha * T * (p - q) / N, "the sign of the soft term: its gradient is T (q - p) / N "
                                                           "(student minus teacher), like softmax minus one-hot."),
        ]
        for wrong, hint in hints:
            expect(not torch.allclose(got, wrong, atol=1e-8), name, hint + f" Case {case}.")
        expect(False, name, f"your gradient differs from autograd's on the case {case}: derive "
               "d/dz_s of (1 - alpha) CE(z_s, y) + alpha T^2 KL(p || q), both means over the rows.")
    passed(name, "the gradient of (1 - alpha) CE + alpha T^2 KL equals autograd's for every T and alpha")
