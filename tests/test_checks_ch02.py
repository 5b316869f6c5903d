"""The chapter 02 exercise checks accept right answers and explain typical wrong ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from llmrec_ref.checks import ExerciseFailed, ch02

# ----------------------------------------------------------------------------- exercise 1


def skipgram_pairs(sentence, window):
    pairs = []
    for i, centre in enumerate(sentence):
        for j in range(max(0, i - window), min(len(sentence), i + window + 1)):
            if j != i:
                pairs.append((centre, sentence[j]))
    return pairs


def pairs_by_value(sentence, window):  # skips a repeated word instead of the centre position
    return [(c, sentence[j]) for i, c in enumerate(sentence)
            for j in range(max(0, i - window), min(len(sentence), i + window + 1)) if sentence[j] != c]


def pairs_short_window(sentence, window):  # range(i - window, i + window): one short on the right
    return [(c, sentence[j]) for i, c in enumerate(sentence)
            for j in range(max(0, i - window), min(len(sentence), i + window)) if j != i]


def pairs_no_clip(sentence, window):  # s[-1] wraps round to the end of the sentence
    return [(c, sentence[j]) for i, c in enumerate(sentence)
            for j in range(i - window, min(len(sentence), i + window + 1)) if j != i]


def pairs_with_self(sentence, window):
    return [(c, sentence[j]) for i, c in enumerate(sentence)
            for j in range(max(0, i - window), min(len(sentence), i + window + 1))]


# ----------------------------------------------------------------------------- exercise 2


def cosine_neighbours(matrix, query, k):
    m = torch.as_tensor(matrix, dtype=torch.float64)
    sims = torch.nn.functional.cosine_similarity(m, m[query].unsqueeze(0), dim=1)
    sims[query] = -float("inf")
    sims[m.norm(dim=1) == 0] = -float("inf")
    return sims.argsort(descending=True)[:k].tolist()


def neighbours_by_dot(matrix, query, k):
    m = np.asarray(matrix, dtype=float)
    sims = m @ m[query]
    sims[query] = sims[0] = -np.inf
    return list(np.argsort(-sims)[:k])


def neighbours_ascending(matrix, query, k):
    m = np.asarray(matrix, dtype=float)
    sims = m @ m[query] / np.maximum(np.linalg.norm(m, axis=1) * np.linalg.norm(m[query]), 1e-12)
    sims[query] = sims[0] = np.inf
    return list(np.argsort(sims)[:k])


def neighbours_with_query(matrix, query, k):
    m = np.asarray(matrix, dtype=float)
    sims = m @ m[query] / np.maximum(np.linalg.norm(m, axis=1) * np.linalg.norm(m[query]), 1e-12)
    sims[0] = -np.inf
    return list(np.argsort(-sims)[:k])


# ----------------------------------------------------------------------------- exercise 3


def embedding_matrix(kv, n_items, std, seed):
    gen = torch.Generator().manual_seed(seed)
    weight = torch.randn(n_items + 1, kv.vector_size, generator=gen) * std
    for item in range(1, n_items + 1):
        if item in kv.key_to_index:
            weight[item] = torch.tensor(kv[item])
    weight[0] = 0.0
    return weight


def matrix_gensim_order(kv, n_items, std, seed):
    gen = torch.Generator().manual_seed(seed)
    weight = torch.randn(n_items + 1, kv.vector_size, generator=gen) * std
    weight[1 : len(kv) + 1] = torch.tensor(kv.vectors)
    weight[0] = 0.0
    return weight


def matrix_in_kv(kv, n_items, std, seed):  # `item in kv` reads unknown small ints as positions
    gen = torch.Generator().manual_seed(seed)
    weight = torch.randn(n_items + 1, kv.vector_size, generator=gen) * std
    for item in range(1, n_items + 1):
        if item in kv:
            weight[item] = torch.tensor(kv[item])
    weight[0] = 0.0
    return weight


def matrix_off_by_one(kv, n_items, std, seed):
    gen = torch.Generator().manual_seed(seed)
    weight = torch.randn(n_items + 1, kv.vector_size, generator=gen) * std
    for item in range(1, n_items):
        if item in kv.key_to_index:
            weight[item + 1] = torch.tensor(kv[item])
    weight[0] = 0.0
    return weight


def matrix_zero_unknown(kv, n_items, std, seed):
    weight = torch.zeros(n_items + 1, kv.vector_size)
    for item in range(1, n_items + 1):
        if item in kv.key_to_index:
            weight[item] = torch.tensor(kv[item])
    return weight


def matrix_unseeded(kv, n_items, std, seed):
    weight = embedding_matrix(kv, n_items, std, seed)
    weight[weight.abs() < 1] = torch.randn(int((weight.abs() < 1).sum())) * std
    weight[0] = 0.0
    return weight


def matrix_no_padding(kv, n_items, std, seed):
    weight = embedding_matrix(kv, n_items, std, seed)
    weight[0] = 0.01
    return weight


def matrix_float64(kv, n_items, std, seed):
    return embedding_matrix(kv, n_items, std, seed).double()


# ----------------------------------------------------------------------------- the tests

RIGHT = {
    ch02.ex1: {"skipgram_pairs": skipgram_pairs},
    ch02.ex2: {"cosine_neighbours": cosine_neighbours},
    ch02.ex3: {"embedding_matrix": embedding_matrix},
}


@pytest.mark.parametrize("check", list(RIGHT), ids=["ex1", "ex2", "ex3"])
def test_a_right_answer_passes(check, capsys):
    check(dict(RIGHT[check]))
    assert "passed" in capsys.readouterr().out


@pytest.mark.parametrize("check", list(RIGHT), ids=["ex1", "ex2", "ex3"])
def test_a_missing_answer_fails_with_a_hint(check):
    with pytest.raises(ExerciseFailed, match="is not defined yet"):
        check({})


def _not_implemented(*args):
    raise NotImplementedError


@pytest.mark.parametrize("check", list(RIGHT), ids=["ex1", "ex2", "ex3"])
def test_an_unfinished_answer_fails_with_a_hint(check):
    name = next(iter(RIGHT[check]))
    with pytest.raises(ExerciseFailed, match="not implemented yet"):
        check({name: _not_implemented})


WRONG = [
    (ch02.ex1, "skipgram_pairs", pairs_by_value, "compare positions, not words"),
    (ch02.ex1, "skipgram_pairs", pairs_short_window, "both.*sides, inclusive"),
    (ch02.ex1, "skipgram_pairs", pairs_no_clip, r"s\[-1\] is the \*last\* word"),
    (ch02.ex1, "skipgram_pairs", pairs_with_self, "not its own context"),
    (ch02.ex1, "skipgram_pairs", lambda s, w: [" ".join(p) for p in skipgram_pairs(s, w)], "tuple of two words"),
    (ch02.ex2, "cosine_neighbours", neighbours_by_dot, "dot product"),
    (ch02.ex2, "cosine_neighbours", neighbours_ascending, "decreasing"),
    (ch02.ex2, "cosine_neighbours", neighbours_with_query, "its own best match"),
    (ch02.ex3, "embedding_matrix", matrix_gensim_order, "gensim's order"),
    (ch02.ex3, "embedding_matrix", matrix_in_kv, "key_to_index"),
    (ch02.ex3, "embedding_matrix", matrix_off_by_one, "off by one"),
    (ch02.ex3, "embedding_matrix", matrix_zero_unknown, "small random vector"),
    (ch02.ex3, "embedding_matrix", matrix_unseeded, "same seed"),
    (ch02.ex3, "embedding_matrix", matrix_no_padding, "padding"),
    (ch02.ex3, "embedding_matrix", matrix_float64, "float32"),
]


@pytest.mark.parametrize("check, name, fn, hint", WRONG, ids=[w[2].__name__ for w in WRONG])
def test_a_typical_wrong_answer_fails_with_its_hint(check, name, fn, hint):
    with pytest.raises(ExerciseFailed, match=hint):
        check({name: fn})
