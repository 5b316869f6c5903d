"""Decoding: top-K against torch.topk, sampling statistics, autoregressive lists without repeats."""

from __future__ import annotations

import itertools

import pytest
import torch

from llmrec_ref.decode import beam_sequence, greedy_sequence, sample, top_k


def test_top_k_matches_torch_topk_and_masks_seen_items():
    scores = torch.tensor([[0.1, 0.9, 0.5, 0.7], [0.4, 0.3, 0.2, 0.8]])
    assert top_k(scores, 2).tolist() == torch.topk(scores, 2).indices.tolist()
    assert top_k(scores, 2, exclude=[[1], [3, 0]]).tolist() == [[3, 2], [1, 2]]
    mask = torch.tensor([[False, True, True, False], [False] * 4])
    assert top_k(scores, 2, exclude=mask).tolist() == [[3, 0], [3, 0]]


def test_top_k_breaks_ties_by_lower_index_and_skips_minus_inf():
    scores = torch.tensor([[float("-inf"), 1.0, 2.0, 1.0, 2.0]])
    assert top_k(scores, 4).tolist() == [[2, 4, 1, 3]]
    with pytest.raises(ValueError, match="only 4 items left"):
        top_k(scores, 5)


def test_top_k_rejects_bad_input():
    with pytest.raises(ValueError, match="2-D float"):
        top_k(torch.zeros(5), 2)
    with pytest.raises(ValueError, match="k must be"):
        top_k(torch.zeros(1, 5), 0)


def test_sample_is_seeded_distinct_and_respects_exclusion():
    scores = torch.randn(3, 50, generator=torch.Generator().manual_seed(0))
    a = sample(scores, 10, 1.0, torch.Generator().manual_seed(1), exclude=[[0, 1, 2]] * 3)
    b = sample(scores, 10, 1.0, torch.Generator().manual_seed(1), exclude=[[0, 1, 2]] * 3)
    assert torch.equal(a, b)
    for row in a.tolist():
        assert len(set(row)) == 10 and not {0, 1, 2} & set(row)
    assert torch.equal(sample(scores, 5, 0.0), top_k(scores, 5))


def test_sample_frequencies_follow_the_softmax():
    scores = torch.tensor([[0.0, 1.0, 2.0]])
    gen = torch.Generator().manual_seed(0)
    draws = torch.cat([sample(scores, 1, 1.0, gen) for _ in range(4000)])[:, 0]
    freq = torch.bincount(draws, minlength=3).double() / len(draws)
    assert torch.allclose(freq, scores[0].double().softmax(0), atol=0.03)
    hot = torch.cat([sample(scores, 1, 100.0, gen) for _ in range(3000)])[:, 0]
    assert torch.bincount(hot, minlength=3).min() > 800  # high temperature: near uniform


class Bigram:
    """A toy next-item model: the score of j after i is table[i, j] (last position only)."""

    def __init__(self, table):
        self.table = table

    def __call__(self, history):
        return self.table[history[:, -1]]


def test_greedy_sequence_has_no_repeats_and_follows_the_model():
    table = torch.zeros(6, 6)
    table[1, 2] = table[2, 1] = 5.0  # 1 -> 2 -> (1 is used) -> best other
    table[2, 3] = 4.0
    table[3, 4] = 3.0
    out = greedy_sequence(Bigram(table), torch.tensor([[0, 1]]), steps=3)
    assert out.tolist() == [[2, 3, 4]]
    many = greedy_sequence(Bigram(torch.randn(8, 8, generator=torch.Generator().manual_seed(0))),
                           torch.tensor([[1, 2], [0, 3]]), steps=5)
    for row, hist in zip(many.tolist(), [[1, 2], [3]], strict=True):
        assert len(set(row)) == 5 and 0 not in row and not set(hist) & set(row)


def test_greedy_uses_the_last_position_of_3d_scores():
    table = torch.randn(7, 7, generator=torch.Generator().manual_seed(2))
    full = lambda h: table[h]  # noqa: E731 - (B, T, n): every position scored
    assert torch.equal(greedy_sequence(full, torch.tensor([[1, 4]]), 4),
                       greedy_sequence(Bigram(table), torch.tensor([[1, 4]]), 4))


def brute_force_best(table, start, steps, banned):
    best, best_lp = None, float("-inf")
    for seq in itertools.permutations([i for i in range(table.shape[0]) if i not in banned], steps):
        prev, lp, used = start, 0.0, set(banned)
        for item in seq:
            mask = torch.tensor([j in used for j in range(table.shape[0])])
            lp += table[prev].masked_fill(mask, float("-inf")).log_softmax(0)[item].item()
            used.add(item)
            prev = item
        if lp > best_lp:
            best, best_lp = list(seq), lp
    return best


def test_beam_search_finds_the_exact_best_list_on_a_small_model():
    table = torch.randn(6, 6, generator=torch.Generator().manual_seed(3)) * 3
    hist = torch.tensor([[1]])
    exact = brute_force_best(table, 1, 3, banned={0, 1})
    assert beam_sequence(Bigram(table), hist, 3, beam_width=30).tolist() == [exact]
    assert torch.equal(beam_sequence(Bigram(table), hist, 3, beam_width=1), greedy_sequence(Bigram(table), hist, 3))


def test_beam_sequence_batches_without_repeats():
    table = torch.randn(9, 9, generator=torch.Generator().manual_seed(4))
    out = beam_sequence(Bigram(table), torch.tensor([[0, 5], [2, 3]]), steps=4, beam_width=3)
    assert out.shape == (2, 4)
    for row, hist in zip(out.tolist(), [[5], [2, 3]], strict=True):
        assert len(set(row)) == 4 and 0 not in row and not set(hist) & set(row)
    with pytest.raises(ValueError, match="fewer allowed items"):
        beam_sequence(Bigram(table), torch.tensor([[1, 2]]), steps=7)
