"""The chapter 05 exercise checks accept right answers and explain typical wrong ones."""

from __future__ import annotations

import torch
from check_contract import (  # noqa: F401 - the generic tests, run on RIGHT / WRONG below
    test_missing_answer_fails_with_a_hint,
    test_right_answer_passes,
    test_typical_wrong_answer_fails_with_its_hint,
)

from llmrec_ref.checks import ExerciseFailed, ch05

# ----------------------------------------------------------------------------- exercise 1


def _bpr(u, p, n, scale=1.0, sign=1.0, sigma_of=-1.0, du_from_p_only=False):
    x = (u * p).sum(1) - (u * n).sum(1)
    dx = sign * -torch.sigmoid(sigma_of * x)[:, None] / len(u) * scale
    return dx * (p if du_from_p_only else p - n), dx * u, -dx * u


def bpr_embedding_grads(u, p, n):
    return _bpr(u, p, n)


def bpr_in_place(u, p, n):
    out = _bpr(u.clone(), p.clone(), n.clone())
    u.mul_(0)
    return out


# ----------------------------------------------------------------------------- exercise 2


def _fill(scores, k, seen, seen_value=None, stable=True, flip_ties=False):
    s = scores.flip(1) if flip_ties else scores
    sn = seen.flip(1) if flip_ties else seen
    if seen_value is not None:
        s = s.masked_fill(sn, seen_value)
    order = s.sort(dim=1, descending=True, stable=stable).indices  # best first, ties by index
    order = order.gather(1, sn.gather(1, order).to(torch.int64).sort(dim=1, stable=True).indices)  # unseen first
    if flip_ties:
        order = scores.shape[1] - 1 - order
    return order[:, :k]


def top_k_fill(scores, k, seen):
    return _fill(scores, k, seen)


def top_k_in_place(scores, k, seen):
    out = _fill(scores, k, seen)
    scores.add_(1)
    return out


# ----------------------------------------------------------------------------- exercise 3


def _gd(A, y, alpha, steps, lr=None, penalty=True, mean=True, lr_from_data_only=False):
    N, d = A.shape
    c = 2 / N if mean else 2.0  # without the mean, the data term's gradient (and Hessian) is N times too big
    H = c * A.T @ A + (0 if lr_from_data_only else 2 * alpha) * torch.eye(d, dtype=A.dtype)
    top = torch.linalg.eigvalsh(H)[-1]
    lr = 1 / top if lr is None else 2 / top if lr == "edge" else lr
    theta = torch.zeros(d, dtype=A.dtype)

    def loss(t):
        return ((A @ t - y) ** 2).mean() + alpha * t @ t

    losses = [loss(theta)]
    for _ in range(steps):
        grad = c * A.T @ (A @ theta - y) + (2 * alpha * theta if penalty else 0)
        theta = theta - lr * grad
        losses.append(loss(theta))
    return theta, torch.stack(losses)


def train_ridge(A, y, alpha, steps):
    return _gd(A, y, alpha, steps)


def train_ridge_closed_form(A, y, alpha, steps):
    N, d = A.shape
    theta = torch.linalg.solve(A.T @ A / N + alpha * torch.eye(d, dtype=A.dtype), A.T @ y / N)
    L0 = (y**2).mean()
    L1 = ((A @ theta - y) ** 2).mean() + alpha * theta @ theta
    return theta, torch.linspace(float(L0), float(L1), steps + 1, dtype=A.dtype)


# ----------------------------------------------------------------------------- exercises 4 and 5

RIGHT = {
    ch05.ex1: {"bpr_embedding_grads": bpr_embedding_grads},
    ch05.ex2: {"top_k_fill": top_k_fill},
    ch05.ex3: {"train_ridge": train_ridge},
    ch05.ex4: {"MOVIELENS_REQUEST": {"user_id", "timestamp", "hour", "weekday"}},
    ch05.ex5: {"GD_ANSWER": "b"},
}

WRONG = [
    (ch05.ex1, {"bpr_embedding_grads": lambda u, p, n: _bpr(u, p, n, sign=-1.0)}, "signs are flipped"),
    (ch05.ex1, {"bpr_embedding_grads": lambda u, p, n: _bpr(u, p, n, scale=len(u))}, "divide each pair's gradient by B"),
    (ch05.ex1, {"bpr_embedding_grads": lambda u, p, n: _bpr(u, p, n, sigma_of=1.0)}, "sigma\\(u.n - u.p\\)"),
    (ch05.ex1, {"bpr_embedding_grads": lambda u, p, n: _bpr(u, p, n, du_from_p_only=True)}, "a part from each"),
    (ch05.ex1, {"bpr_embedding_grads": lambda u, p, n: _bpr(u, p, n)[:2]}, "tuple of three gradients"),
    (ch05.ex1, {"bpr_embedding_grads": bpr_in_place}, "changed its input tensors in place"),
    (ch05.ex1, {"bpr_embedding_grads": lambda u, p, n: tuple(g[:1] for g in _bpr(u, p, n)) if len(u) == 1
                else tuple(torch.zeros_like(u) for _ in range(3))}, "differs from autograd"),
    (ch05.ex2, {"top_k_fill": lambda s, k, seen: s.sort(dim=1, descending=True, stable=True).indices[:, :k]},
     "unseen items come first"),
    (ch05.ex2, {"top_k_fill": lambda s, k, seen: s.masked_fill(seen, 0.0).sort(dim=1, descending=True, stable=True)
                .indices[:, :k]}, "unseen items come first"),
    (ch05.ex2, {"top_k_fill": lambda s, k, seen: _fill(s, k, seen, seen_value=float("-inf"))}, "-inf"),
    (ch05.ex2, {"top_k_fill": top_k_in_place}, "changed its input tensors in place"),
    (ch05.ex2, {"top_k_fill": lambda s, k, seen: _fill(s, k, seen, flip_ties=True)}, "lower item index comes first"),
    (ch05.ex2, {"top_k_fill": lambda s, k, seen: _fill(-s, k, seen)}, "not best first"),
    (ch05.ex2, {"top_k_fill": lambda s, k, seen: _fill(s, k + 1, seen)}, "tensor of item indices"),
    (ch05.ex2, {"top_k_fill": lambda s, k, seen: s.masked_fill(seen, float("-inf")).topk(k).indices},
     "k different item indices|unseen items come first|-inf|lower item index|not best first"),
    (ch05.ex3, {"train_ridge": lambda A, y, a, s: _gd(A, y, a, s, lr=0.01)}, "fixed learning rate|too small"),
    (ch05.ex3, {"train_ridge": lambda A, y, a, s: _gd(A, y, a, s, lr=1e-4)}, "too small"),
    (ch05.ex3, {"train_ridge": lambda A, y, a, s: _gd(A, y, a, s, lr="edge")}, "2 / lambda_max"),
    (ch05.ex3, {"train_ridge": lambda A, y, a, s: _gd(A, y, a, s, penalty=False)}, "without the penalty"),
    (ch05.ex3, {"train_ridge": lambda A, y, a, s: _gd(A, y, a, s, mean=False)}, "data term is a mean|loss grows"),
    (ch05.ex3, {"train_ridge": lambda A, y, a, s: _gd(A, y, a, s, lr_from_data_only=True)},
     "alpha raises every eigenvalue"),
    (ch05.ex3, {"train_ridge": lambda A, y, a, s: (_gd(A, y, a, s)[0], _gd(A, y, a, s)[1][1:])}, "steps \\+ 1 values"),
    (ch05.ex3, {"train_ridge": train_ridge_closed_form}, "closed form"),
    (ch05.ex4, {"MOVIELENS_REQUEST": {"user_id", "timestamp", "hour", "weekday", "gap"}}, "leaks on MovieLens"),
    (ch05.ex4, {"MOVIELENS_REQUEST": {"user_id", "timestamp", "hour", "weekday", "item_id"}}, "the event being predicted"),
    (ch05.ex4, {"MOVIELENS_REQUEST": {"user_id", "hour", "weekday"}}, "who is asking, and when"),
    (ch05.ex4, {"MOVIELENS_REQUEST": {"user_id", "timestamp"}}, "request's own time"),
    (ch05.ex4, {"MOVIELENS_REQUEST": "user_id"}, "set of column names|choose among"),
    (ch05.ex5, {"GD_ANSWER": "a"}, "overshoots"),
    (ch05.ex5, {"GD_ANSWER": "c"}, "diverges only when"),
    (ch05.ex5, {"GD_ANSWER": "yes"}, "one letter"),
]


def test_checks_draw_fresh_cases_each_run():
    seen = []

    def spy(u, p, n):
        seen.append(u.clone())
        return bpr_embedding_grads(u, p, n)

    torch.manual_seed(0)
    ch05.ex1({"bpr_embedding_grads": spy})
    ch05.ex1({"bpr_embedding_grads": spy})
    assert not torch.equal(seen[1], seen[4])


def test_an_answer_that_raises_is_reported_not_crashed():
    def broken(u, p, n):
        raise NotImplementedError

    import pytest

    with pytest.raises(ExerciseFailed, match="not implemented"):
        ch05.ex1({"bpr_embedding_grads": broken})
