"""Checks for exercises/08_knowledge_graph: the DistMult score, TransE's gradient when the head is
corrupted, and "liked films sharing a director" counted from triples. Every case is drawn afresh
inside the check; the expected values come from autograd, torch built-ins or identities."""

from __future__ import annotations

import numpy as np
import torch

from llmrec_ref.checks._common import call, expect, passed, require
from llmrec_ref.checks._fresh import fresh_rng, torch_generator


def ex1(ns: dict) -> None:
    """``distmult_score(h, r, t)``: sum_k h_k r_k t_k over the last axis, broadcasting like torch."""
    name = "Exercise 1"
    fn = require(ns, "distmult_score", name, callable)
    gen = torch_generator()
    h, r, t = (torch.randn(7, 5, generator=gen, dtype=torch.float64) for _ in range(3))
    got = torch.as_tensor(call(fn, name, h.clone(), r.clone(), t.clone()))
    expect(got.shape == (7,), name, f"return one score per triple, shape (7,) for (7, 5) inputs; got {tuple(got.shape)}."
           + (" Sum over the last axis." if got.shape == (7, 5) else ""))
    trilinear = torch.einsum("bd,bd,bd->b", h, r, t)
    if torch.allclose(got, -(h + r - t).norm(dim=-1)) or torch.allclose(got, (h + r - t).norm(dim=-1)):
        expect(False, name, "that is TransE's distance; DistMult multiplies the three vectors element by element.")
    if torch.allclose(got, (h * t).sum(-1)):
        expect(False, name, "the relation vector is missing: each dimension k is weighted by r_k.")
    expect(torch.allclose(got.double(), trilinear), name, "the score is sum_k h_k * r_k * t_k for each triple.")
    one_r = torch.as_tensor(call(fn, name, h.clone(), r[0].clone(), t.clone()))
    expect(one_r.shape == (7,) and torch.allclose(one_r.double(), torch.einsum("bd,d,bd->b", h, r[0], t)), name,
           "with one relation vector of shape (d,) for the whole batch the score must broadcast (use * and .sum(-1)).")
    expect(torch.allclose(got.double(), torch.as_tensor(call(fn, name, t.clone(), r.clone(), h.clone())).double()),
           name, "DistMult is symmetric, score(h, r, t) = score(t, r, h); yours is not.")
    passed(name, "DistMult scores match the trilinear product (and are symmetric in head and tail)")


def ex2(ns: dict) -> None:
    """``transe_head_grads(h, r, t, h_bad, gamma)`` -> (dL/dh, dL/dr, dL/dt, dL/dh_bad) of
    L = mean(relu(gamma + ||h + r - t|| - ||h_bad + r - t||)), without autograd."""
    name = "Exercise 2"
    fn = require(ns, "transe_head_grads", name, callable)
    seed = int(fresh_rng().integers(2**31 - 1))
    for B, gamma in ((3, 1e-3), (12, 1.5), (1, 50.0)):  # none active, mixed, all active
        gen = torch.Generator().manual_seed(seed + B)
        h, r, t, hb = (torch.randn(B, 6, generator=gen, dtype=torch.float64) for _ in range(4))
        if gamma < 0.01:
            hb = h + 100.0  # the corrupted head is far away: no pair is active
        out = call(fn, name, h.clone(), r.clone(), t.clone(), hb.clone(), gamma)
        expect(isinstance(out, tuple) and len(out) == 4, name,
               "return a tuple of four gradients (dL/dh, dL/dr, dL/dt, dL/dh_bad).")
        got = [torch.as_tensor(g, dtype=torch.float64) for g in out]
        leaves = [x.clone().requires_grad_() for x in (h, r, t, hb)]
        a, b, c, d = leaves
        torch.relu(gamma + (a + b - c).norm(dim=-1) - (d + b - c).norm(dim=-1)).mean().backward()
        expect(all(g.shape == x.shape for g, x in zip(got, leaves, strict=True)), name,
               f"each gradient has the shape of its input, ({B}, 6).")
        names = ["dL/dh", "dL/dr", "dL/dt", "dL/dh_bad"]
        for g, x, label in zip(got, leaves, names, strict=True):
            if B > 1 and torch.allclose(g, x.grad * B) and not torch.allclose(x.grad, torch.zeros_like(x.grad)):
                expect(False, name, f"{label}: the loss is a mean over the B pairs: divide by B.")
            if torch.allclose(g, -x.grad) and not torch.allclose(x.grad, torch.zeros_like(x.grad)):
                expect(False, name, f"{label} has the wrong sign.")
        if gamma < 0.01:
            expect(all(torch.allclose(g, torch.zeros_like(g)) for g in got), name,
                   "when gamma + d(h, r, t) - d(h_bad, r, t) <= 0 the hinge is flat: every gradient is 0.")
        if gamma > 10 and not torch.allclose(got[1], leaves[1].grad):
            expect(False, name, "dL/dr: r appears in both distances; when the head was corrupted, the tail is "
                   "shared, so dL/dt = (-u/|u| + u'/|u'|) / B and dL/dr = (u/|u| - u'/|u'|) / B.")
        for g, x, label in zip(got, leaves, names, strict=True):
            expect(torch.allclose(g, x.grad), name, f"{label} differs from autograd's (u = h + r - t, u' = h_bad + r - t; "
                   "only pairs whose hinge is positive count).")
    passed(name, "the hand-derived TransE gradients for a corrupted head match autograd")


def _graph(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int]:
    """Films 0..9 (items 1..10, item 11 unlinked, item 12 a second id of film 0, as ML-100k lists some
    films twice and the repaired link gives both ids the film's entity), directors 10..13 (relation 0,
    film -> director, some films with two), actors 14..19 (relation 1); a few duplicate triples."""
    directed = [(f, 0, 10 + int(rng.integers(0, 4))) for f in range(10)]
    directed += [(f, 0, 10 + int(rng.integers(0, 4))) for f in rng.choice(10, 3, replace=False)]
    acted = [(f, 1, 14 + int(rng.integers(0, 6))) for f in range(10) for _ in range(2)]
    twins = [(f, rel, e) for f in (0, 1) for rel, e in ((0, 10), (0, 11), (1, 14), (1, 15))]  # share two tails
    triples = np.array(directed + acted + twins + directed[:2], dtype=np.int64)
    item_entity = np.concatenate([[-1], np.arange(10), [-1, 0]]).astype(np.int64)  # (13,) items 0..12
    return triples[rng.permutation(len(triples))], item_entity, 12


def ex3(ns: dict) -> None:
    """``shared_counts(triples, item_entity, relation, liked)`` -> (n_items + 1,) int: for each item i, how
    many *other* liked items share at least one ``relation`` tail with it (0 for padding / unlinked)."""
    name = "Exercise 3"
    fn = require(ns, "shared_counts", name, callable)
    rng = fresh_rng()
    for relation in (0, 1):
        triples, item_entity, n_items = _graph(rng)
        # 11: not linked; 2 never liked: it shares two tails with liked 1, so counting tails shows there
        liked = [1] + sorted(rng.choice(np.arange(3, 11), 3, replace=False).tolist()) + [11]
        got = np.asarray(call(fn, name, triples.copy(), item_entity.copy(), relation, list(liked)))
        expect(got.shape == (n_items + 1,), name, f"return one count per item id 0..n_items, shape ({n_items + 1},); "
               f"got {got.shape}.")
        # identity: S = 1[A A^T > 0] with A the (item, tail) incidence; counts = S @ liked - self
        rows = triples[triples[:, 1] == relation]
        by_entity = np.zeros((int(triples[:, [0, 2]].max()) + 1, int(triples[:, 2].max()) + 1))
        by_entity[rows[:, 0], rows[:, 2]] = 1                                   # (entities, tails) incidence
        A = np.where((item_entity >= 0)[:, None], by_entity[np.maximum(item_entity, 0)], 0.0)  # (items, tails)
        share = (A @ A.T) > 0
        y = np.zeros(n_items + 1)
        y[liked] = 1
        expected = share.astype(int) @ y - np.diag(share) * y
        wrong = not np.array_equal(got, expected)
        one_item = np.zeros_like(A)                  # the mistake: one item per entity (a dict keeps the last id)
        for e, k in {int(e): k for k, e in enumerate(item_entity) if e >= 0}.items():
            one_item[k] = by_entity[e]
        lost = (one_item @ one_item.T) > 0
        if wrong and np.array_equal(got, lost.astype(int) @ y - np.diag(lost) * y):
            expect(False, name, "two item ids can share one entity (a film listed twice; here items 1 and 12): give "
                   "every item the tails of its own entity, item_entity[i], not one item per entity.")
        if wrong and np.array_equal(got, share.astype(int) @ y):
            expect(False, name, "a liked film shares its director with itself: do not count the item itself.")
        if wrong and np.array_equal(got, (A @ A.T) @ y - np.diag(A @ A.T) * y):
            expect(False, name, "count liked *films*, not shared tails (or duplicate triples): a liked film sharing "
                   "two directors with i counts once.")
        expect(np.array_equal(got, expected), name, f"counts differ for relation {relation}: for each item i, count "
               "the liked items j != i with at least one common tail t of (i, relation, t) and (j, relation, t); "
               "padding, unlinked items and unliked-only neighbours give 0.")
    passed(name, "shared-neighbour counts match the identity 1[A A^T > 0] @ liked on fresh graphs")
