"""Pasting chapter 07's own code (or the package's) into an exercise's answer does not pass."""

from __future__ import annotations

import pytest
import torch
from chapter_code import assert_paste_fails

from llmrec_ref import coldstart, text
from llmrec_ref.checks import ch07


def chapter_mean_pool(h, mask):
    """Section 2's inline cell, made a function: the masked mean."""
    m = mask.unsqueeze(-1).float()
    return (h * m).sum(1) / m.sum(1)


def chapter_quantize(W):
    """What section 8 calls: torch's dynamic quantisation of one Linear, its int8 weight and scales."""
    layer = torch.nn.Linear(W.shape[1], W.shape[0], bias=False)
    layer.weight.data = W.clone()
    quantized = torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(layer), {torch.nn.Linear}, dtype=torch.qint8)
    w = quantized[0].weight()
    return w.int_repr(), w.q_per_channel_scales() if w.qscheme() == torch.per_channel_affine else torch.tensor([w.q_scale()])


PASTES = [  # (check, the answer's name, the closest function the chapter or the package has)
    (ch07.ex1, "max_pool", lambda: text.mean_pool),
    (ch07.ex1, "max_pool", lambda: chapter_mean_pool),
    (ch07.ex2, "movie_sentences", lambda: text.item_texts),
    (ch07.ex3, "cold_start_hr", lambda: coldstart.evaluate_cold_start),
    (ch07.ex4, "quantize_rows", lambda: chapter_quantize),
]


@pytest.mark.parametrize("check, answer, pasted", PASTES, ids=[f"{c.__name__}-{a}-{i}" for i, (c, a, _) in enumerate(PASTES)])
def test_pasting_the_chapters_function_does_not_pass(check, answer, pasted):
    assert_paste_fails(check, answer, pasted())
