"""Checks for exercises/02_word_embeddings: forward-only skip-gram pairs, cosine neighbours over a
matrix with padding and negative similarities, the skip-gram negative-sampling gradients by hand,
and which vectors move first at word2vec's initialisation.

Every case is drawn afresh inside the check; the answers are verified against a different
formulation (pairs by distance with ``zip``), torch's ``cosine_similarity`` and properties of a
ranking, and autograd. Inputs the exercises say not to modify are compared before and after.
"""

from __future__ import annotations

import copy
from collections import Counter

import numpy as np
import torch

from llmrec_ref.checks._common import call, expect, passed, require
from llmrec_ref.checks._fresh import fingerprint, fresh_rng, one_letter, torch_generator

_UNCHANGED = "your function modified its input ({}); the exercise says not to: work on a copy."


# --------------------------------------------------------------------------- exercise 1
def _by_distance(sentences, window: int, lo: int = 1, joined: bool = False) -> Counter:
    """Pairs (s[i], s[i + d]) for d in lo..window, as zips; ``joined`` is the boundary mistake."""
    runs = [[w for s in sentences for w in s]] if joined else sentences
    return Counter(p for s in runs for d in range(lo, window + 1) for p in zip(s[:-d] if d else s, s[d:], strict=True))


def ex1(ns: dict) -> None:
    """``forward_pairs(sentences, window)``: (centre, context) with the context 1..window words *after*
    the centre, in the same sentence, every occurrence counted."""
    name = "Exercise 1"
    fn = require(ns, "forward_pairs", name, callable)
    rng = fresh_rng()
    vocab = [str(w) for w in rng.choice(list("abcdefghijklmnopqrstuvwxyz"), 5, replace=False)]
    cases = [([], 2), ([[]], 3), ([[vocab[0]]], 1)]
    a, b, c = vocab[:3]
    cases.append(([[a, b, a, b, c]], 2))  # repeated pairs at both distances: each mistake shows on its own
    cases += [([[str(w) for w in rng.choice(vocab, int(rng.integers(2, 12)))] for _ in range(int(rng.integers(2, 5)))],
               int(rng.integers(1, 5))) for _ in range(4)]
    cases.append(([list(vocab[:3]), list(vocab[:2])], 6))  # a window longer than every sentence
    for sentences, window in cases:
        before = copy.deepcopy(sentences)
        out = call(fn, name, sentences, window)
        expect(sentences == before, name, _UNCHANGED.format("the sentences"))
        expect(isinstance(out, (list, tuple)), name, f"return a list of (centre, context) tuples, not {type(out).__name__}.")
        try:
            got = Counter(tuple(p) for p in out)
        except TypeError:
            got = None
        expect(got is not None and all(len(p) == 2 for p in got), name, "each pair is a (centre, context) tuple of two words.")
        truth = _by_distance(sentences, window)
        if got == truth:
            continue
        both = truth + Counter((b, a) for a, b in truth.elements())
        expect(got != both, name, "only the words *after* the centre are its contexts here (the chapter's "
               "window looks both ways).")
        expect(got != _by_distance(sentences, window - 1), name, "the window is one short: the word exactly "
               "`window` positions after the centre is a context too.")
        expect(got != _by_distance(sentences, window, joined=True), name, "a window stops at the end of its "
               "sentence: the first words of the next sentence are not contexts.")
        expect(got != _by_distance(sentences, window, lo=0), name, "a word is not the context of its own position.")
        expect(set(got) != set(truth) or sum(got.values()) == sum(truth.values()), name,
               "count every occurrence: the same (centre, context) pair appearing twice gives two pairs.")
        expect(False, name, "some pairs are missing or extra: for each position i, pair s[i] with s[i + d] "
               "for d = 1..window while i + d is inside the sentence.")
    passed(name, "forward skip-gram pairs, per sentence, every occurrence")


# --------------------------------------------------------------------------- exercise 2
def _neighbour_matrix(rng: np.random.Generator, n: int, d: int, as_torch: bool):
    m = rng.normal(size=(n, d))
    m[0] = 0.0                                              # padding
    m[rng.choice(np.arange(5, n), 2, replace=False)] = 0.0  # more rows without a direction
    unit = m[1] / np.linalg.norm(m[1])
    m[2] = unit + 0.3 * m[2]                                # close to the query ...
    m[3] = m[2]                                             # ... and an exact tie: lower id first
    off = rng.normal(size=d)
    m[4] = 25.0 * (unit + 1.5 * off / np.linalg.norm(off))  # long, at an angle: wins the dot product only
    m[1] = unit * 0.2                                       # a short query: its norm must cancel
    return torch.tensor(m) if as_torch else m


def _ranking_hint(got: list[int], sims: np.ndarray, eligible: np.ndarray, k: int, dot_rank: list[int]) -> str | None:
    """Why ``got`` is not the best-first cosine ranking of the eligible rows, or None if it is."""
    want_n = min(k, int(eligible.sum()))
    if len(got) != len(set(got)):
        return "each row id at most once."
    if any(not 0 <= i < len(sims) for i in got):
        return "return row ids of the matrix (0..n-1)."
    if any(not eligible[i] for i in got):
        return None  # named by the caller (query or zero row)
    if len(got) != want_n:
        return (f"return k = {k} ids, or every eligible row when fewer than k qualify (not padding, not "
                "the query): you returned {len(got)}.".replace("{len(got)}", str(len(got))))
    cos_rank = sorted((int(i) for i in np.flatnonzero(eligible)), key=lambda i: (-sims[i], i))[:k]
    if got == dot_rank and dot_rank != cos_rank:
        return "you ranked by the dot product, which favours long vectors. Cosine divides by both norms."
    s = sims[got]
    if len(got) > 1 and (np.diff(s) > 1e-9).all():
        return "best first: sort by *decreasing* cosine."
    for a, b in zip(got, got[1:], strict=False):
        if sims[b] > sims[a] + 1e-9:
            return "the ids are not in decreasing order of cosine similarity."
        if abs(sims[b] - sims[a]) <= 1e-9 and b < a:
            return "rows with equal similarity come in increasing id order: use a stable sort."
    rest = [i for i in np.flatnonzero(eligible) if i not in got]
    last = got[-1] if got else None
    for i in rest:
        if last is not None and abs(sims[i] - sims[last]) <= 1e-9 and i < last:
            return "rows with equal similarity come in increasing id order: use a stable sort."
        if last is not None and sims[i] > sims[last] + 1e-9:
            return "a row more similar to the query than one of yours is missing."
    return "ok"


def ex2(ns: dict) -> None:
    """``cosine_neighbours(matrix, query, k)``: ids of the k most cosine-similar rows, best first, ties
    by lower id, never the query or a row of zeros; the matrix left unchanged."""
    name = "Exercise 2"
    fn = require(ns, "cosine_neighbours", name, callable)
    rng = fresh_rng()
    for n, d, k, as_torch in ((9, 3, 3, False), (30, 8, 6, True), (12, 2, 20, False), (7, 4, 7, True)):
        matrix = _neighbour_matrix(rng, n, d, as_torch)
        for query in (1, 2, int(rng.choice(np.flatnonzero(np.linalg.norm(np.asarray(matrix), axis=1) > 0)))):
            t = torch.as_tensor(matrix, dtype=torch.float64)
            before = fingerprint(t.numpy().copy())
            out = call(fn, name, matrix, query, k)
            expect(fingerprint(torch.as_tensor(matrix).numpy()) == before, name,
                   _UNCHANGED.format("the matrix, e.g. normalised in place with /=") )
            try:
                got = [int(i) for i in np.asarray(out).reshape(-1)]
            except (TypeError, ValueError):
                got = None
            expect(got is not None, name, f"return a list of row ids (ints), not {type(out).__name__}.")
            sims = torch.nn.functional.cosine_similarity(t, t[query].unsqueeze(0), dim=1, eps=1e-300).numpy()
            zero = (t.abs().sum(1) == 0).numpy()
            eligible = ~zero
            eligible[query] = False
            expect(query not in got, name, "the query is its own best match (cosine 1): leave it out.")
            expect(not zero[got].any() if got else True, name,
                   "a row of zeros (padding) has no direction: never return it. (A similarity of 0 for it "
                   "still beats every negative cosine.)")
            dots = (t @ t[query]).numpy()
            dot_rank = sorted(np.flatnonzero(eligible), key=lambda i: (-dots[i], i))[:k]
            hint = _ranking_hint(got, sims, eligible, k, [int(i) for i in dot_rank])
            expect(hint == "ok", name, hint or "")
    passed(name, "cosine neighbours: best first, ties by id, no query, no zero rows, input unchanged")


# --------------------------------------------------------------------------- exercise 3
def ex3(ns: dict) -> None:
    """``sgns_grads(v, u_pos, u_neg) -> (dL/dv, dL/du_pos, dL/du_neg)`` of
    L = mean_b [-log s(u_pos.v) - sum_k log s(-u_neg_k.v)], without autograd."""
    name = "Exercise 3"
    fn = require(ns, "sgns_grads", name, callable)
    gen = torch_generator()
    for B, K, d, scale in ((1, 1, 3, 1.0), (6, 4, 5, 1.0), (5, 3, 4, 6.0)):  # the last: scores near +-100
        v, u_pos = (scale * torch.randn(B, d, generator=gen, dtype=torch.float64) for _ in range(2))
        u_neg = scale * torch.randn(B, K, d, generator=gen, dtype=torch.float64)
        if K > 1:
            u_neg[:, 1] = u_neg[:, 0]  # the same noise word drawn twice
        if scale > 1:  # a score of +1000 and one of -1000: exp overflows, sigmoid does not
            u_neg[0, 0] = v[0] * 1000.0 / (v[0] @ v[0])
            u_pos[0] = -u_neg[0, 0]
        inputs = [v.clone(), u_pos.clone(), u_neg.clone()]
        out = call(fn, name, *inputs)
        expect(all(torch.equal(a, b) for a, b in zip(inputs, (v, u_pos, u_neg), strict=True)), name,
               _UNCHANGED.format("v, u_pos or u_neg"))
        expect(isinstance(out, (tuple, list)) and len(out) == 3, name, "return a tuple (dL/dv, dL/du_pos, dL/du_neg).")
        got = [torch.as_tensor(g).detach().double() for g in out]
        leaves = [x.clone().requires_grad_() for x in (v, u_pos, u_neg)]
        a, p, n = leaves
        pos = (p * a).sum(-1)
        neg = torch.einsum("bkd,bd->bk", n, a)
        (-(torch.nn.functional.logsigmoid(pos) + torch.nn.functional.logsigmoid(-neg).sum(-1)).mean()).backward()
        labels = ["dL/dv", "dL/du_pos", "dL/du_neg"]
        for g, x, label in zip(got, leaves, labels, strict=True):
            expect(tuple(g.shape) == tuple(x.shape), name, f"{label} has the shape of its input, {tuple(x.shape)}; "
                   f"got {tuple(g.shape)}.")
            expect(bool(torch.isfinite(g).all()), name, f"{label} has nan or inf for large scores: use "
                   "torch.sigmoid (stable), not exp of a large number.")
        for g, x, label in zip(got, leaves, labels, strict=True):
            if torch.allclose(g, x.grad):
                continue
            expect(not torch.allclose(g, -x.grad), name, f"{label} has the wrong sign: that is the direction "
                   "that increases the loss (d/ds -log sigma(s) = sigma(s) - 1).")
            expect(not (B > 1 and torch.allclose(g, B * x.grad)), name, f"{label}: the loss is a mean over the "
                   "B pairs: divide by B.")
            if label == "dL/dv":
                pos_only = (torch.sigmoid(pos) - 1).detach()[:, None] * u_pos / B
                expect(not torch.allclose(g, pos_only), name, "dL/dv is missing the noise words: each of the K "
                       "terms -log sigma(-u_k.v) depends on v too.")
            if label == "dL/du_neg":
                flipped = (torch.sigmoid(neg) - 1).detach()[..., None] * v[:, None, :] / B
                expect(not torch.allclose(g, flipped), name, "dL/du_neg: d/ds -log sigma(-s) = sigma(s), "
                       "the probability the noise word is taken for a context.")
            expect(False, name, f"{label} does not match autograd's gradient of the loss.")
    passed(name, "the negative-sampling gradients by hand match autograd")


# --------------------------------------------------------------------------- exercise 4
def ex4(ns: dict) -> None:
    """``first_step_moves``: which vectors get a non-zero gradient on the first step (a letter)."""
    name = "Exercise 4"
    letter = one_letter(ns, "first_step_moves", name)
    expect(letter == "b", name, "not that one: with u = 0 every score u.v is 0. Write dL/dv and dL/du_pos from "
           "exercise 3 at that point and see which of them is a sum of zero vectors.")
    passed(name, "at word2vec's initialisation only the context vectors move on the first step")
