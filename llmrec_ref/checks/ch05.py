"""Checks for exercises/05_loss_derivation: the BPR gradient, top-K with seen items masked,
a training loop that leaks the test item, and the softmax gradient."""

from __future__ import annotations

import pandas as pd
import torch

from llmrec_ref.checks._common import call, expect, passed, require


def _pairs() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(5)
    return torch.randn(6, generator=gen, dtype=torch.float64), torch.randn(6, generator=gen, dtype=torch.float64)


def ex1(ns: dict) -> None:
    """``bpr_grad(pos, neg)`` returns (dL/dpos, dL/dneg) of L = mean(-log sigmoid(pos - neg))."""
    name = "Exercise 1"
    fn = require(ns, "bpr_grad", name, callable)
    pos, neg = _pairs()
    out = call(fn, name, pos.clone(), neg.clone())
    expect(isinstance(out, tuple) and len(out) == 2, name,
           "return a tuple (grad_pos, grad_neg), one tensor per input.")
    g_pos, g_neg = (torch.as_tensor(g, dtype=torch.float64) for g in out)
    p, n = pos.clone().requires_grad_(), neg.clone().requires_grad_()
    (-torch.nn.functional.logsigmoid(p - n)).mean().backward()
    expect(g_pos.shape == pos.shape and g_neg.shape == neg.shape, name,
           f"each gradient has the shape of its input {tuple(pos.shape)}.")
    if torch.allclose(g_pos, -p.grad) and torch.allclose(g_neg, -n.grad):
        expect(False, name, "your signs are flipped: the loss must *fall* when pos rises, so dL/dpos < 0.")
    if torch.allclose(g_pos, p.grad * len(pos)):
        expect(False, name, "the loss is a mean over the pairs: divide the per-pair gradient by their number.")
    sig = torch.sigmoid(pos - neg) / len(pos)
    if torch.allclose(g_pos, -sig) or torch.allclose(g_neg, sig):
        expect(False, name, "d/dx [-log sigma(x)] = -(1 - sigma(x)) = -sigma(-x): use sigma(neg - pos), "
               "not sigma(pos - neg).")
    expect(torch.allclose(g_pos, p.grad) and torch.allclose(g_neg, n.grad), name,
           "your gradient differs from autograd's; with x = pos - neg, dL/dpos = -sigma(-x) / B and "
           "dL/dneg = +sigma(-x) / B.")
    passed(name, "the hand-derived BPR gradient matches autograd")


def ex2(ns: dict) -> None:
    """``top_k_unseen(scores, k, seen)``: (U, k) item indices, best first, never a seen item."""
    name = "Exercise 2"
    fn = require(ns, "top_k_unseen", name, callable)
    scores = torch.tensor([[0.0, 0.9, 0.8, 0.1, 0.7, 0.3], [0.0, 0.2, 0.6, 0.6, 0.1, 0.9]])
    seen = torch.tensor([[False, True, False, False, False, False], [False, False, False, False, False, True]])
    out = torch.as_tensor(call(fn, name, scores.clone(), 3, seen.clone()))
    expect(tuple(out.shape) == (2, 3), name, f"return a (n_users, k) = (2, 3) tensor of item indices, got {tuple(out.shape)}.")
    rows = out.tolist()
    expect(1 not in rows[0] and 5 not in rows[1], name,
           "your list contains items the user has already seen: set their scores to -inf before ranking.")
    expect(rows[0] == [2, 4, 5], name, f"user 0's best unseen items are [2, 4, 5] (best first); you gave {rows[0]}.")
    expect(rows[1] == [2, 3, 1], name, "ties (items 2 and 3 both score 0.6) go to the lower index: "
           f"use a stable sort, e.g. scores.sort(descending=True, stable=True); you gave {rows[1]}.")
    passed(name, "top-K lists skip seen items and break ties by index")


def _split() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    log = pd.DataFrame({"user_id": [1, 1, 1, 1, 2, 2, 2], "item_id": [3, 4, 5, 6, 3, 7, 8],
                        "timestamp": [1, 2, 3, 4, 1, 2, 3]})
    return log.iloc[[0, 1, 4]], log.iloc[[2, 5]], log.iloc[[3, 6]]


def ex3(ns: dict) -> None:
    """``history_for_test(train, valid, test)``: the frame a model may condition on for the test stage."""
    name = "Exercise 3"
    fn = require(ns, "history_for_test", name, callable)
    train, valid, test = _split()
    out = call(fn, name, train.copy(), valid.copy(), test.copy())
    expect(isinstance(out, pd.DataFrame), name, f"return a DataFrame, got {type(out).__name__}.")
    pairs = set(zip(out["user_id"], out["item_id"], strict=True))
    expect(not pairs & set(zip(test["user_id"], test["item_id"], strict=True)), name,
           "the history contains the test interactions: the model then sees the answer (and full ranking "
           "even masks it as 'seen'). Leave the test part out.")
    before = pd.concat([train, valid])
    expect(pairs == set(zip(before["user_id"], before["item_id"], strict=True)), name,
           "for the test stage the model may use train *and* validation (the validation item is the most "
           "recent thing the user did); you dropped some of them.")
    passed(name, "the test history is train + valid, never test")


def ex4(ns: dict) -> None:
    """``softmax_grad(logits, target)``: dL/dlogits of mean cross-entropy, (N, C)."""
    name = "Exercise 4"
    fn = require(ns, "softmax_grad", name, callable)
    gen = torch.Generator().manual_seed(7)
    logits = torch.randn(4, 5, generator=gen, dtype=torch.float64)
    target = torch.tensor([0, 3, 3, 1])
    got = torch.as_tensor(call(fn, name, logits.clone(), target.clone()), dtype=torch.float64)
    z = logits.clone().requires_grad_()
    torch.nn.functional.cross_entropy(z, target).backward()
    expect(got.shape == logits.shape, name, f"return one gradient per logit, shape {tuple(logits.shape)}.")
    if torch.allclose(got, z.grad * len(target)):
        expect(False, name, "the loss is the mean over the N rows: divide by N.")
    if torch.allclose(got, logits.softmax(1) / len(target)):
        expect(False, name, "subtract the one-hot target: dL/dz = softmax(z) - onehot(y).")
    expect(torch.allclose(got, z.grad), name, "your gradient differs from autograd's: (softmax(z) - onehot(y)) / N.")
    passed(name, "the softmax gradient matches autograd")
