"""Tests of llmrec_ref.align: the CNN, the symmetric InfoNCE loss and its hand gradient, two towers, retrieval."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys

import pytest
import torch
from torch.nn import functional as F

from llmrec_ref.align import (
    ImageEncoder,
    TwoTower,
    embed,
    fit_two_tower,
    info_nce,
    info_nce_grad,
    recall_at_k,
)
from llmrec_ref.losses import sampled_softmax_loss

pytestmark = pytest.mark.usefixtures("one_thread")


def _unit(*shape, seed=0):
    return F.normalize(torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64), dim=-1)


@pytest.mark.parametrize("b, d, tau", [(1, 3, 0.5), (5, 4, 0.1), (32, 16, 0.07)])
def test_info_nce_matches_a_loop_over_rows_and_columns(b, d, tau):
    a, c = _unit(b, d, seed=1), _unit(b, d, seed=2)
    rows = [-torch.log_softmax(torch.stack([a[i] @ c[j] / tau for j in range(b)]), 0)[i] for i in range(b)]
    cols = [-torch.log_softmax(torch.stack([a[i] @ c[j] / tau for i in range(b)]), 0)[j] for j in range(b)]
    expected = 0.5 * (sum(rows) / b + sum(cols) / b)
    assert torch.allclose(info_nce(a, c, tau), expected)


def test_info_nce_is_log_b_at_chance_and_small_when_aligned():
    a = _unit(16, 8)
    assert math.isclose(info_nce(a, a, 1e6).item(), math.log(16), rel_tol=1e-6)  # tau -> inf: uniform softmax
    one_hot = torch.eye(16, dtype=torch.float64)
    assert info_nce(one_hot, one_hot, 0.05).item() < 1e-6


def test_each_row_is_a_sampled_softmax_with_in_batch_negatives():
    a, c, tau = _unit(6, 5, seed=3), _unit(6, 5, seed=4), 0.2
    s = a @ c.T / tau
    neg = torch.stack([torch.cat([s[i, :i], s[i, i + 1:]]) for i in range(6)])  # (B, B - 1)
    rows = sampled_softmax_loss(s.diagonal(), neg)
    negc = torch.stack([torch.cat([s[:j, j], s[j + 1:, j]]) for j in range(6)])
    cols = sampled_softmax_loss(s.diagonal(), negc)
    assert torch.allclose(info_nce(a, c, tau), 0.5 * (rows + cols))


@pytest.mark.parametrize("b, d, tau", [(2, 3, 1.0), (7, 5, 0.1), (20, 12, 0.05)])
def test_hand_gradient_equals_autograd(b, d, tau):
    a, c = _unit(b, d, seed=5).requires_grad_(), _unit(b, d, seed=6).requires_grad_()
    info_nce(a, c, tau).backward()
    ga, gc = info_nce_grad(a.detach(), c.detach(), tau)
    assert torch.allclose(ga, a.grad) and torch.allclose(gc, c.grad)


def test_info_nce_rejects_bad_input():
    with pytest.raises(ValueError, match="matched"):
        info_nce(torch.zeros(3, 4), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="tau"):
        info_nce(torch.zeros(3, 4), torch.zeros(3, 4), 0.0)


def test_image_encoder_shapes_and_bad_images():
    enc = ImageEncoder(d_out=10, width=4)
    x = torch.randint(0, 256, (3, 32, 32, 3), dtype=torch.uint8)
    assert enc(x).shape == (3, 10) and enc.features(x).shape == (3, 16, 4, 4)
    with pytest.raises(ValueError, match="uint8"):
        enc(x.float())
    with pytest.raises(ValueError, match="channels last"):
        enc(x.permute(0, 3, 1, 2))


def test_image_encoder_is_shift_tolerant_by_global_pooling():
    # a patch moved by 8 px (one cell of the last block), far from the zero-padded border, on a
    # uniform background gives the same vector
    torch.manual_seed(0)
    enc = ImageEncoder(d_out=6, width=4).eval()
    img = torch.full((1, 64, 64, 3), 200, dtype=torch.uint8)
    img[0, 24:32, 24:32] = torch.tensor([200, 20, 20], dtype=torch.uint8)
    moved = torch.roll(img, shifts=(8, 8), dims=(1, 2))
    assert torch.allclose(enc(img), enc(moved), atol=1e-5)


def test_two_tower_learns_to_match_views():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    base = torch.randn(64, 10, generator=gen)
    left, right = base + 0.1 * torch.randn(64, 10, generator=gen), base @ torch.randn(10, 10, generator=gen)
    model = TwoTower(torch.nn.Linear(10, 8), torch.nn.Linear(10, 8), tau=0.1)
    before = recall_at_k(embed(model.encode_left, left), embed(model.encode_right, right))["recall@1"]
    log = fit_two_tower(model, left, right, epochs=60, batch_size=32, lr=1e-2, seed=0)
    after = recall_at_k(embed(model.encode_left, left), embed(model.encode_right, right))["recall@1"]
    assert log[-1]["loss"] < log[0]["loss"] and after > 0.8 > before


def test_fit_two_tower_is_reproducible():
    def run():
        torch.manual_seed(1)
        model = TwoTower(torch.nn.Linear(4, 3))  # one shared encoder
        x = torch.randn(20, 4, generator=torch.Generator().manual_seed(2))
        return fit_two_tower(model, x, x + 0.01, epochs=3, batch_size=8, seed=5)
    assert run() == run()
    with pytest.raises(ValueError, match="same number"):
        fit_two_tower(TwoTower(torch.nn.Linear(4, 3)), torch.zeros(5, 4), torch.zeros(4, 4))


def test_recall_at_k_counts_and_chance():
    q = torch.eye(5)
    c = torch.eye(5)[[0, 1, 2, 4, 3]]  # queries 3 and 4 find each other's candidate first
    r = recall_at_k(q, c, ks=(1, 5))
    assert r["recall@1"] == pytest.approx(3 / 5) and r["recall@5"] == 1.0
    assert r["chance@1"] == pytest.approx(1 / 5) and r["chance@5"] == pytest.approx(1.0)
    match = torch.eye(5, dtype=torch.bool) | torch.eye(5, dtype=torch.bool)[[0, 1, 2, 4, 3]]
    r = recall_at_k(q, c, ks=(1,), match=match)
    assert r["recall@1"] == 1.0 and r["chance@1"] == pytest.approx((3 * 1 / 5 + 2 * 2 / 5) / 5)
    with pytest.raises(ValueError, match="1..N"):
        recall_at_k(q, c, ks=(6,))


def test_align_copies_out_alone(tmp_path):
    import llmrec_ref.align as mod

    shutil.copy(mod.__file__, tmp_path / "align.py")
    code = "import align, torch; a = torch.nn.functional.normalize(torch.randn(4, 3), dim=1); print(float(align.info_nce(a, a)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin"})
    assert out.returncode == 0, out.stderr
