"""Losses against torch built-ins and hand-computed values; hand gradients against autograd."""

from __future__ import annotations

import math

import pytest
import torch
from torch.autograd import gradcheck
from torch.nn import functional as F

from llmrec_ref import losses as L

gen = torch.Generator().manual_seed(0)


def rand(*shape):
    return torch.randn(*shape, generator=gen, dtype=torch.float64)


def autograd_of(loss, *inputs):
    inputs = [x.clone().requires_grad_(True) for x in inputs]
    loss(*inputs).backward()
    return [x.grad for x in inputs]


# ----------------------------------------------------------------------------- values
def test_bce_matches_torch_and_a_hand_value():
    s, y = rand(4, 6), (rand(4, 6) > 0).double()
    assert torch.allclose(L.bce_loss(s, y), F.binary_cross_entropy_with_logits(s, y))
    # s = 0 gives log 2 whatever the label
    assert math.isclose(L.bce_loss(torch.zeros(3), torch.tensor([0.0, 1.0, 1.0])).item(), math.log(2), rel_tol=1e-6)


def test_bce_is_stable_for_huge_logits():
    s = torch.tensor([1000.0, -1000.0])
    assert torch.isfinite(L.bce_loss(s, torch.tensor([0.0, 1.0])))
    assert L.bce_loss(s, torch.tensor([1.0, 0.0])).item() == 0.0


def test_bpr_hand_values_and_broadcast():
    assert math.isclose(L.bpr_loss(torch.tensor([1.0]), torch.tensor([1.0])).item(), math.log(2), rel_tol=1e-6)
    pos, neg = torch.tensor([2.0]), torch.tensor([0.0])
    assert math.isclose(L.bpr_loss(pos, neg).item(), -math.log(1 / (1 + math.exp(-2))), rel_tol=1e-6)
    p, n = rand(5), rand(5, 3)
    ref = -torch.log(torch.sigmoid(p[:, None] - n)).mean()
    assert torch.allclose(L.bpr_loss(p, n), ref)


def test_sampled_softmax_is_cross_entropy_with_the_positive_first():
    p, n = rand(4), rand(4, 7)
    ref = F.cross_entropy(torch.cat([p[:, None], n], 1), torch.zeros(4, dtype=torch.long))
    assert torch.allclose(L.sampled_softmax_loss(p, n), ref)


def test_log_q_correction_subtracts_log_probabilities():
    p, n, q = rand(4), rand(4, 7), torch.rand(8, generator=gen, dtype=torch.float64) + 0.1
    z = torch.cat([p[:, None], n], 1) - q.log()
    ref = F.cross_entropy(z, torch.zeros(4, dtype=torch.long))
    assert torch.allclose(L.sampled_softmax_loss(p, n, log_q=q.log()), ref)
    # a uniform sampler shifts every logit equally: no change
    assert torch.allclose(L.sampled_softmax_loss(p, n, log_q=torch.full((8,), -3.0, dtype=torch.float64)),
                          L.sampled_softmax_loss(p, n))


def test_sampled_softmax_with_every_item_equals_full_softmax():
    logits = rand(3, 6)
    target = torch.tensor([1, 4, 2])
    others = torch.stack([torch.cat([row[:t], row[t + 1:]]) for row, t in zip(logits, target, strict=True)])
    pos = logits.gather(1, target[:, None])[:, 0]
    assert torch.allclose(L.sampled_softmax_loss(pos, others), L.full_softmax_loss(logits, target, None))


def test_full_softmax_ignores_padding_rows():
    logits, target = rand(2, 5, 9), torch.tensor([[0, 0, 3, 4, 8], [0, 1, 2, 5, 7]])
    keep = target != 0
    ref = F.cross_entropy(logits[keep], target[keep])
    assert torch.allclose(L.full_softmax_loss(logits, target), ref)


def test_alignment_loss_is_bounded_and_blind_to_negatives():
    y = torch.tensor([[1.0, 0.0, 0.0, 1.0]])
    good = torch.tensor([[0.99, 0.01, 0.01, 0.99]])
    all_ones = torch.ones(1, 4) - 1e-6
    assert L.alignment_loss(y, good).item() <= math.log(2)
    # predicting 1 for every item (negatives included) is at least as good as the right answer
    assert L.alignment_loss(y, all_ones) <= L.alignment_loss(y, good)
    assert (L.alignment_grad(y, good)[y == 0] == 0).all()


def test_bad_inputs_are_value_errors():
    with pytest.raises(ValueError, match="same shape"):
        L.bce_loss(torch.zeros(3), torch.zeros(4))
    with pytest.raises(ValueError, match="float"):
        L.bpr_loss(torch.tensor([1]), torch.tensor([0]))
    with pytest.raises(ValueError, match="log_q"):
        L.sampled_softmax_loss(torch.zeros(2), torch.zeros(2, 3), log_q=torch.zeros(5))
    with pytest.raises(ValueError, match="target"):
        L.full_softmax_loss(torch.zeros(2, 3), torch.tensor([0.0, 1.0]))


# ----------------------------------------------------------------------------- gradients
def test_gradcheck_every_loss_in_float64():
    s, y = rand(3, 4).requires_grad_(), (rand(3, 4) > 0).double()
    assert gradcheck(lambda s: L.bce_loss(s, y), (s,))
    p, n = rand(5).requires_grad_(), rand(5, 3).requires_grad_()
    assert gradcheck(L.bpr_loss, (p, n))
    assert gradcheck(L.sampled_softmax_loss, (p, n, rand(4)))
    logits, t = rand(6, 5).requires_grad_(), torch.tensor([0, 1, 2, 3, 4, 0])
    assert gradcheck(lambda z: L.full_softmax_loss(z, t), (logits,))
    yb, yh = (rand(2, 5) > 0).double(), torch.rand(2, 5, generator=gen, dtype=torch.float64).requires_grad_()
    assert gradcheck(lambda h: L.alignment_loss(yb, h), (yh,))


def test_hand_gradients_match_autograd():
    s, y = rand(3, 4), (rand(3, 4) > 0).double()
    (auto,) = autograd_of(lambda s: L.bce_loss(s, y), s)
    assert torch.allclose(L.bce_grad(s, y), auto)

    for neg_shape in [(5,), (5, 3)]:
        p, n = rand(5), rand(*neg_shape)
        gp, gn = autograd_of(L.bpr_loss, p, n)
        hp, hn = L.bpr_grad(p, n)
        assert torch.allclose(hp, gp) and torch.allclose(hn, gn)

    p, n, lq = rand(5), rand(5, 3), rand(4)
    gp, gn = autograd_of(lambda a, b: L.sampled_softmax_loss(a, b, lq), p, n)
    hp, hn = L.sampled_softmax_grad(p, n, lq)
    assert torch.allclose(hp, gp) and torch.allclose(hn, gn)

    logits, t = rand(2, 4, 7), torch.tensor([[0, 2, 3, 6], [1, 0, 0, 5]])
    (auto,) = autograd_of(lambda z: L.full_softmax_loss(z, t), logits)
    assert torch.allclose(L.full_softmax_grad(logits, t), auto)

    yb, yh = (rand(3, 6) > 0).double(), torch.rand(3, 6, generator=gen, dtype=torch.float64)
    (auto,) = autograd_of(lambda h: L.alignment_loss(yb, h), yh)
    assert torch.allclose(L.alignment_grad(yb, yh), auto)


def test_bpr_gradient_vanishes_for_well_separated_pairs():
    gp, gn = L.bpr_grad(torch.tensor([20.0]), torch.tensor([-20.0]))
    assert abs(gp.item()) < 1e-15 and abs(gn.item()) < 1e-15
    gp, gn = L.bpr_grad(torch.tensor([0.0]), torch.tensor([0.0]))
    assert gp.item() == -0.5 and gn.item() == 0.5
