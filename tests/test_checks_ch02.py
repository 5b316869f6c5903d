"""The chapter 02 exercise checks accept right answers and explain typical wrong ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from check_contract import (  # noqa: F401 - the generic tests, run on RIGHT / WRONG below
    test_missing_answer_fails_with_a_hint,
    test_right_answer_passes,
    test_typical_wrong_answer_fails_with_its_hint,
)

from llmrec_ref.checks import ExerciseFailed, ch02


# ------------------------------------------------------------------ exercise 1
def forward_pairs(sentences, window):
    return [(s[i], s[j]) for s in sentences for i in range(len(s)) for j in range(i + 1, min(len(s), i + window + 1))]


def pairs_both_ways(sentences, window):  # the chapter's window
    return [(s[i], s[j]) for s in sentences for i in range(len(s))
            for j in range(max(0, i - window), min(len(s), i + window + 1)) if j != i]


def pairs_short(sentences, window):
    return [(s[i], s[j]) for s in sentences for i in range(len(s)) for j in range(i + 1, min(len(s), i + window))]


def pairs_across_sentences(sentences, window):
    return forward_pairs([[w for s in sentences for w in s]], window)


def pairs_deduplicated(sentences, window):
    return sorted(set(forward_pairs(sentences, window)))


def pairs_mutating(sentences, window):
    out = forward_pairs(sentences, window)
    sentences.clear()
    return out


# ------------------------------------------------------------------ exercise 2
def cosine_neighbours(matrix, query, k):
    m = np.asarray(matrix, dtype=np.float64)
    norms = np.linalg.norm(m, axis=1)
    sims = m @ m[query] / np.maximum(norms * norms[query], 1e-300)
    sims[query] = -np.inf
    sims[norms == 0] = -np.inf
    order = np.argsort(-sims, kind="stable")
    return [int(i) for i in order[np.isfinite(sims[order])][:k]]


def neighbours_zero_as_zero(matrix, query, k):  # excluded rows get similarity 0, not -inf
    m = np.asarray(matrix, dtype=np.float64)
    norms = np.linalg.norm(m, axis=1)
    sims = m @ m[query] / np.maximum(norms * norms[query], 1e-300)
    sims[query] = 0.0
    return [int(i) for i in np.argsort(-sims, kind="stable")[:k] if i != query]


def neighbours_by_dot(matrix, query, k):
    m = np.asarray(matrix, dtype=np.float64)
    sims = m @ m[query]
    sims[query] = -np.inf
    sims[np.linalg.norm(m, axis=1) == 0] = -np.inf
    order = np.argsort(-sims, kind="stable")
    return [int(i) for i in order[np.isfinite(sims[order])][:k]]


def neighbours_unstable(matrix, query, k):  # ties in the wrong order
    m = np.asarray(matrix, dtype=np.float64)
    norms = np.linalg.norm(m, axis=1)
    sims = m @ m[query] / np.maximum(norms * norms[query], 1e-300)
    sims[query] = -np.inf
    sims[norms == 0] = -np.inf
    order = np.lexsort((-np.arange(len(sims)), -sims))  # ties: higher id first
    return [int(i) for i in order[np.isfinite(sims[order])][:k]]


def neighbours_always_k(matrix, query, k):  # pads with excluded rows when too few qualify
    return (cosine_neighbours(matrix, query, k) + [0] * k)[:k]


def neighbours_in_place(matrix, query, k):
    m = matrix if isinstance(matrix, np.ndarray) else matrix.numpy()
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    m /= np.maximum(norms, 1e-300)
    return cosine_neighbours(m, query, k)


# ------------------------------------------------------------------ exercise 3
def sgns_grads(v, u_pos, u_neg):
    B = v.shape[0]
    g_pos = torch.sigmoid((u_pos * v).sum(-1)) - 1  # (B,)
    g_neg = torch.sigmoid(torch.einsum("bkd,bd->bk", u_neg, v))  # (B, K)
    dv = (g_pos[:, None] * u_pos + torch.einsum("bk,bkd->bd", g_neg, u_neg)) / B
    return dv, g_pos[:, None] * v / B, g_neg[..., None] * v[:, None, :] / B


def grads_no_mean(v, u_pos, u_neg):
    return tuple(g * v.shape[0] for g in sgns_grads(v, u_pos, u_neg))


def grads_ascent(v, u_pos, u_neg):
    return tuple(-g for g in sgns_grads(v, u_pos, u_neg))


def grads_v_positive_only(v, u_pos, u_neg):
    dv, dp, dn = sgns_grads(v, u_pos, u_neg)
    B = v.shape[0]
    return (torch.sigmoid((u_pos * v).sum(-1)) - 1)[:, None] * u_pos / B, dp, dn


def grads_neg_like_pos(v, u_pos, u_neg):
    dv, dp, _ = sgns_grads(v, u_pos, u_neg)
    s = torch.einsum("bkd,bd->bk", u_neg, v)
    return dv, dp, (torch.sigmoid(s) - 1)[..., None] * v[:, None, :] / v.shape[0]


def grads_overflow(v, u_pos, u_neg):
    B = v.shape[0]
    sig = lambda s: torch.exp(s) / (1 + torch.exp(s))  # noqa: E731 - inf / inf for large s
    g_pos = sig((u_pos * v).sum(-1)) - 1
    g_neg = sig(torch.einsum("bkd,bd->bk", u_neg, v))
    dv = (g_pos[:, None] * u_pos + torch.einsum("bk,bkd->bd", g_neg, u_neg)) / B
    return dv, g_pos[:, None] * v / B, g_neg[..., None] * v[:, None, :] / B


def grads_mutating(v, u_pos, u_neg):
    out = sgns_grads(v, u_pos, u_neg)
    v.zero_()
    return out


RIGHT = {
    ch02.ex1: {"forward_pairs": forward_pairs},
    ch02.ex2: {"cosine_neighbours": cosine_neighbours},
    ch02.ex3: {"sgns_grads": sgns_grads},
    ch02.ex4: {"first_step_moves": "(b)"},
}
WRONG = [
    (ch02.ex1, {"forward_pairs": pairs_both_ways}, r"only the words \*after\* the centre"),
    (ch02.ex1, {"forward_pairs": pairs_short}, "one short"),
    (ch02.ex1, {"forward_pairs": pairs_across_sentences}, "end of its sentence"),
    (ch02.ex1, {"forward_pairs": pairs_deduplicated}, "count every occurrence"),
    (ch02.ex1, {"forward_pairs": pairs_mutating}, "modified its input"),
    (ch02.ex2, {"cosine_neighbours": neighbours_zero_as_zero}, "no direction"),
    (ch02.ex2, {"cosine_neighbours": neighbours_by_dot}, "dot product"),
    (ch02.ex2, {"cosine_neighbours": neighbours_unstable}, "stable sort"),
    (ch02.ex2, {"cosine_neighbours": neighbours_always_k}, "no direction"),
    (ch02.ex2, {"cosine_neighbours": neighbours_in_place}, "modified its input"),
    (ch02.ex3, {"sgns_grads": grads_no_mean}, "divide by B"),
    (ch02.ex3, {"sgns_grads": grads_ascent}, "wrong sign"),
    (ch02.ex3, {"sgns_grads": grads_v_positive_only}, "missing the noise words"),
    (ch02.ex3, {"sgns_grads": grads_neg_like_pos}, "the probability the noise word"),
    (ch02.ex3, {"sgns_grads": grads_overflow}, "nan or inf"),
    (ch02.ex3, {"sgns_grads": grads_mutating}, "modified its input"),
    (ch02.ex4, {"first_step_moves": "c"}, "not that one"),
    (ch02.ex4, {"first_step_moves": "both"}, "one letter"),
]


def test_an_answer_that_raises_is_reported_not_crashed():
    def broken(sentences, window):
        raise IndexError("list index out of range")

    with pytest.raises(ExerciseFailed, match="raised IndexError"):
        ch02.ex1({"forward_pairs": broken})
