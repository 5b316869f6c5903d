"""Distillation (llmrec_ref.distill): the loss against its definition and its hand-derived gradient
against autograd, masking, bad input; the student estimator keeps the recommender contract."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from llmrec_ref.conformance import check_recommender
from llmrec_ref.distill import DistilledContextRec, distillation_loss
from llmrec_ref.models import ContextRec
from llmrec_ref.split import leave_one_out

pytestmark = pytest.mark.usefixtures("one_thread")
N_ITEMS = 24


def test_loss_is_t_squared_times_torch_kl_divergence():
    g = torch.Generator().manual_seed(0)
    s, z = torch.randn(7, 30, generator=g, dtype=torch.float64), 3 * torch.randn(7, 30, generator=g, dtype=torch.float64)
    for T in (0.5, 1.0, 2.0, 5.0):
        ref = T ** 2 * torch.nn.functional.kl_div(torch.log_softmax(s / T, -1), torch.log_softmax(z / T, -1),
                                                  reduction="batchmean", log_target=True)
        assert torch.allclose(distillation_loss(s, z, T), ref, atol=1e-12)
    assert distillation_loss(z, z, 3.0).abs() < 1e-12  # a student equal to its teacher pays nothing


def test_gradient_is_t_times_q_minus_p_over_rows():
    g = torch.Generator().manual_seed(1)
    s = torch.randn(5, 12, generator=g, dtype=torch.float64, requires_grad=True)
    z = torch.randn(5, 12, generator=g, dtype=torch.float64, requires_grad=True)
    T = 3.0
    distillation_loss(s, z, T).backward()
    q, p = torch.softmax(s.detach() / T, -1), torch.softmax(z.detach() / T, -1)
    assert torch.allclose(s.grad, T * (q - p) / 5, atol=1e-12)
    assert z.grad is None or torch.count_nonzero(z.grad) == 0  # the teacher is a fixed target


def test_masked_items_add_nothing_and_keep_gradients_finite():
    g = torch.Generator().manual_seed(2)
    s = torch.randn(4, 10, generator=g, dtype=torch.float64)
    z = torch.randn(4, 10, generator=g, dtype=torch.float64)
    mask = torch.zeros(4, 10, dtype=torch.bool)
    mask[:, 0], mask[1, 3:6] = True, True
    sm = s.masked_fill(mask, float("-inf")).requires_grad_()
    loss = distillation_loss(sm, z.masked_fill(mask, float("-inf")), 2.0)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(sm.grad).all() and (sm.grad[mask] == 0).all()
    # the same rows without the masked columns give the same loss
    ref = sum(distillation_loss(s[i][~mask[i]][None], z[i][~mask[i]][None], 2.0) for i in range(4)) / 4
    assert torch.allclose(loss, ref, atol=1e-12)


@pytest.mark.parametrize("bad, match", [
    (dict(temperature=0.0), "temperature"), (dict(temperature=-1), "temperature"), (dict(temperature=True), "temperature"),
    (dict(teacher=torch.zeros(3, 5)), "shape"), (dict(student=torch.zeros(0, 4), teacher=torch.zeros(0, 4)), "N >= 1"),
    (dict(teacher=torch.tensor([[0.0, float("-inf"), 1.0, 2.0]] * 2)), "-inf"),
])
def test_loss_refuses_bad_input(bad, match):
    args = dict(student=torch.zeros(2, 4), teacher=torch.zeros(2, 4), temperature=2.0) | bad
    with pytest.raises(ValueError, match=match):
        distillation_loss(**args)


@pytest.fixture(scope="module")
def split():
    rng = np.random.default_rng(0)
    rows = []
    for u in range(1, 41):
        item = int(rng.integers(1, N_ITEMS + 1))
        for t in range(8):
            rows.append((u, item, 1_700_000_000 + 3600 * t + u))
            item = item % N_ITEMS + 1 if rng.random() < 0.8 else int(rng.integers(1, N_ITEMS + 1))
    log = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])
    return leave_one_out(log.drop_duplicates(["user_id", "item_id"]))


SMALL = dict(n_items=N_ITEMS, max_len=6, epochs=2, verbose=False)


@pytest.fixture(scope="module")
def teacher_path(split, tmp_path_factory):
    teacher = ContextRec(**SMALL, d_model=16).fit(split.train, split.valid)
    path = tmp_path_factory.mktemp("teacher") / "teacher.pt"
    teacher.save(path)
    return path


def test_student_keeps_the_contract(split, teacher_path):
    done = check_recommender(lambda: DistilledContextRec(str(teacher_path), 2.0, 0.5, **SMALL, d_model=8),
                             split.train, split.valid)
    assert len(done) >= 5


def test_alpha_zero_is_the_plain_model_and_alpha_one_follows_the_teacher(split, teacher_path):
    plain = ContextRec(**SMALL, d_model=8).fit(split.train)
    same = DistilledContextRec(teacher_path, alpha=0.0, **SMALL, d_model=8).fit(split.train)
    users = sorted(split.test["user_id"].unique())
    assert torch.allclose(plain.score(users, split.train), same.score(users, split.train), atol=1e-6)
    soft = DistilledContextRec(teacher_path, alpha=1.0, **SMALL, d_model=8).fit(split.train)
    assert not torch.allclose(soft.score(users, split.train), plain.score(users, split.train), atol=1e-3)


def test_student_refuses_a_teacher_with_other_inputs(split, teacher_path):
    with pytest.raises(ValueError, match="teacher must read the student's inputs"):
        DistilledContextRec(teacher_path, **dict(SMALL, max_len=5), d_model=8).fit(split.train)
    with pytest.raises(ValueError, match="teacher must read the student's inputs"):
        DistilledContextRec(teacher_path, **dict(SMALL, n_items=N_ITEMS + 3), d_model=8).fit(split.train)
    with pytest.raises(FileNotFoundError):
        DistilledContextRec("no/such/teacher.pt", **SMALL).fit(split.train)
    for bad in (dict(temperature=0), dict(alpha=1.5), dict(loss="bpr"), dict(teacher=3)):
        with pytest.raises(ValueError):
            DistilledContextRec(**(dict(teacher=teacher_path) | bad), **SMALL)
