"""Checks for exercises/02_word_embeddings: skip-gram pairs, cosine neighbours, the embedding matrix."""

from __future__ import annotations

from collections import Counter

import numpy as np
import torch
from gensim.models import KeyedVectors

from llmrec_ref.checks._common import call, expect, passed, require


def _pairs(sentence: list, window: int, lo=lambda i, w: max(0, i - w), hi=lambda i, w, n: min(n, i + w + 1),
           skip=lambda s, i, j: j == i) -> list[tuple]:
    """The reference answer of exercise 1; the keyword arguments build the typical wrong ones."""
    return [(c, sentence[j]) for i, c in enumerate(sentence)
            for j in range(lo(i, window), hi(i, window, len(sentence))) if not skip(sentence, i, j)]


# Typical wrong answers, each with the hint that explains it.
_WRONG_PAIRS = [
    (dict(skip=lambda s, i, j: s[j] == s[i]),
     "compare positions, not words: skip j == i only. A repeated word ('the' ... 'the') is a real "
     "context of itself when it occurs at another position in the window."),
    (dict(skip=lambda s, i, j: False),
     "a word is not its own context: skip the centre position (j == i)."),
    (dict(hi=lambda i, w, n: min(n, i + w)),
     "the window reaches `window` positions on *both* sides, inclusive: j runs over "
     "range(i - window, i + window + 1)."),
    (dict(lo=lambda i, w: i - w),
     "at the start of the sentence i - window is negative, and Python's s[-1] is the *last* word: "
     "clip the window at 0 with max(0, i - window)."),
]


def ex1(ns: dict) -> None:
    """``skipgram_pairs(sentence, window)``: every (centre, context) pair at most ``window`` apart."""
    name = "Exercise 1"
    fn = require(ns, "skipgram_pairs", name, callable)
    cases = [(["the", "cat", "saw", "the", "dog"], 2), (["to", "be", "or", "not", "to", "be"], 4),
             (list("abcdefg"), 1), (["a", "b"], 5), (["a"], 1), ([], 2)]
    for sentence, window in cases:
        out = call(fn, name, list(sentence), window)
        expect(isinstance(out, (list, tuple)), name,
               f"return a list of (centre, context) tuples, not {type(out).__name__}.")
        try:
            got = Counter(tuple(p) for p in out)
        except TypeError:
            got = None
        expect(got is not None and all(len(p) == 2 for p in got), name,
               "each pair should be a (centre, context) tuple of two words.")
        truth = Counter(_pairs(sentence, window))
        if got == truth:
            continue
        for variant, hint in _WRONG_PAIRS:
            try:
                wrong = Counter(_pairs(sentence, window, **variant))
            except IndexError:
                continue
            expect(got != wrong, name, hint)
        expect(False, name, f"for {sentence} with window={window} the pairs are {_pairs(sentence, window)};\n"
               f"you returned {list(out)}. (A window longer than the sentence just reaches its ends.)")
    passed(name, "skip-gram (centre, context) pairs")


def _cosine_ranking(m: np.ndarray, query: int, k: int, dot: bool = False, worst_first: bool = False) -> list[int]:
    """The reference answer of exercise 2 (``dot``, ``worst_first``: typical wrong ones)."""
    norms = np.ones(len(m)) if dot else np.linalg.norm(m, axis=1)
    sims = m @ m[query] / np.maximum(norms * (1.0 if dot else norms[query]), 1e-12)
    if worst_first:
        sims = -sims
    sims[query] = sims[0] = -np.inf
    return [int(i) for i in np.argsort(-sims, kind="stable")[:k]]


def _matrix() -> np.ndarray:
    # Row 0 is padding. Row 2 is long and at 45 degrees to row 1 (wins on the dot product with
    # row 1, loses on cosine); row 3 is short and almost parallel to row 1 (wins on cosine).
    return np.array([[0.0, 0.0], [1.0, 0.0], [10.0, 10.0], [0.5, 0.05], [-1.0, 0.2], [0.0, -1.0]])


def ex2(ns: dict) -> None:
    """``cosine_neighbours(matrix, query, k)``: row ids of the k most cosine-similar rows, best first."""
    name = "Exercise 2"
    fn = require(ns, "cosine_neighbours", name, callable)
    m = _matrix()
    for matrix, query, k in [(m, 1, 3), (m, 4, 2), (torch.tensor(m), 5, 4)]:
        out = call(fn, name, matrix.clone() if isinstance(matrix, torch.Tensor) else matrix.copy(), query, k)
        try:
            got = [int(i) for i in np.asarray(out).reshape(-1)]
        except (TypeError, ValueError):
            got = None
        expect(got is not None, name, f"return a list of row ids (ints), not {type(out).__name__}.")
        truth = _cosine_ranking(m, query, k)
        if got == truth:
            continue
        expect(query not in got, name, "the query is its own best match (cosine 1): leave it out.")
        expect(0 not in got, name, "row 0 is padding (all zeros, no direction): never return it.")
        expect(got != _cosine_ranking(m, query, k, dot=True), name,
               "you ranked by the dot product, which favours long vectors (row 2 is 14x longer than "
               "row 1). Cosine divides by both norms: a.b / (|a| |b|).")
        expect(got != _cosine_ranking(m, query, k, worst_first=True), name,
               "best first: sort by *decreasing* cosine (e.g. np.argsort(-sims)).")
        expect(False, name, f"for query {query}, k={k} the nearest rows are {truth}; you returned {got}.")
    passed(name, "cosine nearest neighbours")


def _item_vectors() -> KeyedVectors:
    # gensim order (most frequent first): items 7, 2, 5. Items 1, 3, 4, 6 are unknown.
    kv = KeyedVectors(vector_size=3)
    kv.add_vectors([7, 2, 5], np.array([[7.0, 7, 7], [2.0, 2, 2], [5.0, 5, 5]], dtype=np.float32))
    return kv


def ex3(ns: dict) -> None:
    """``embedding_matrix(kv, n_items, std, seed)``: (n_items + 1, d), row i = item i, row 0 = 0."""
    name = "Exercise 3"
    fn = require(ns, "embedding_matrix", name, callable)
    kv = _item_vectors()
    out = call(fn, name, kv, 8, 0.02, 0)
    expect(isinstance(out, torch.Tensor), name, f"return a torch.Tensor, not {type(out).__name__}.")
    expect(tuple(out.shape) == (9, 3), name, f"with 8 items the matrix has 8 + 1 = 9 rows (row 0 = padding) "
           f"and 3 columns; yours has shape {tuple(out.shape)}.")
    expect(out.dtype == torch.float32, name, f"use float32 (nn.Embedding's dtype), not {out.dtype}.")
    out = out.detach()
    known = {2: 2.0, 5: 5.0, 7: 7.0}
    expect(not out[0].any(), name, "row 0 is padding: it must be all zeros.")
    if torch.allclose(out[1:4], torch.tensor([[7.0] * 3, [2.0] * 3, [5.0] * 3])):
        expect(False, name, "you copied kv.vectors in gensim's order (most frequent first). Row i must hold "
               "item i's vector: look it up with kv.key_to_index[i] (or kv[i]).")
    if all(torch.allclose(out[i + 1], torch.full((3,), v)) for i, v in known.items() if i + 1 < 9):
        expect(False, name, "off by one: item i goes to row i, because row 0 is padding.")
    for i, v in known.items():
        expect(torch.allclose(out[i], torch.full((3,), v)), name, f"row {i} should be item {i}'s vector "
               f"{[v] * 3}; yours is {out[i].tolist()}.")
    unknown = out[[1, 3, 4, 6, 8]]
    expect(not torch.allclose(out[1], torch.full((3,), 2.0)), name,
           "unknown item 1 got item 2's vector: `1 in kv` is True for any int below len(kv), because "
           "gensim then reads it as a *position*. Test `i in kv.key_to_index` instead.")
    expect(bool((unknown != 0).all()), name, "items the vectors do not know need a small random vector "
           "(not zeros: a zero row would look like padding and get no useful start).")
    expect(float(unknown.abs().max()) < 0.2 and 0.005 < float(unknown.std()) < 0.06, name,
           f"unknown rows should be N(0, std^2) with std=0.02; yours have std {float(unknown.std()):.3f}.")
    again = call(fn, name, kv, 8, 0.02, 0).detach()
    other = call(fn, name, kv, 8, 0.02, 1).detach()
    expect(torch.equal(out, again), name, "the same seed must give the same matrix: draw with "
           "torch.Generator().manual_seed(seed) (or torch.manual_seed(seed)).")
    expect(not torch.equal(out[[1, 3, 4, 6, 8]], other[[1, 3, 4, 6, 8]]), name,
           "a different seed should give different random rows: use the `seed` argument.")
    passed(name, "embedding matrix in id order with padding at row 0")
