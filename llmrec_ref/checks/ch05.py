"""Checks for exercises/05_loss_derivation: the BPR gradient carried into the embeddings, a top-K
list that puts unseen items first and fills up with seen ones, a gradient-descent loop that picks its own learning rate, and two graded
questions (what a request may carry on MovieLens; what a learning rate does to a valley).

Every case is drawn afresh inside the check (the global torch generator moves between runs);
expected values come from autograd, a stationarity condition, torch.topk on a different
formulation, or the definitions. No hint prints an expected value.
"""

from __future__ import annotations

import torch

from llmrec_ref.checks._common import call, expect, passed, require
from llmrec_ref.checks._fresh import torch_generator


def _unchanged(name: str, given: list[torch.Tensor], kept: list[torch.Tensor]) -> None:
    expect(all(torch.equal(g, k) for g, k in zip(given, kept, strict=True)), name,
           "your function changed its input tensors in place; leave them as they are (no `+=`, `masked_fill_`, "
           "`.sub_` on an argument: work on new tensors).")


# ----------------------------------------------------------------------------- exercise 1


def ex1(ns: dict) -> None:
    """``bpr_embedding_grads(u, p, n)`` -> (dL/du, dL/dp, dL/dn) of L = mean_b -log sigma(u_b.p_b - u_b.n_b)."""
    name = "Exercise 1"
    fn = require(ns, "bpr_embedding_grads", name, callable)
    gen = torch_generator()
    for B, d, scale in ((1, 3, 1.0), (7, 4, 1.0), (12, 5, 3.0)):  # one pair; a batch; saturated pairs
        u, p, n = (scale * torch.randn(B, d, generator=gen, dtype=torch.float64) for _ in range(3))
        given = [u.clone(), p.clone(), n.clone()]
        out = call(fn, name, *given)
        _unchanged(name, given, [u, p, n])
        expect(isinstance(out, tuple) and len(out) == 3, name,
               "return a tuple of three gradients (dL/du, dL/dp, dL/dn), one per input.")
        got = [torch.as_tensor(g, dtype=torch.float64) for g in out]
        expect(all(g.shape == (B, d) for g in got), name, f"each gradient has the shape of its input, ({B}, {d}).")
        leaves = [x.clone().requires_grad_() for x in (u, p, n)]
        a, b, c = leaves
        (-torch.nn.functional.logsigmoid((a * b).sum(1) - (a * c).sum(1))).mean().backward()
        want = [x.grad for x in leaves]
        nonzero = not torch.allclose(want[0], torch.zeros_like(want[0]))
        if nonzero and all(torch.allclose(g, -w) for g, w in zip(got, want, strict=True)):
            expect(False, name, "your signs are flipped: the loss falls when u.p rises, so dL/dp points against u.")
        if B > 1 and all(torch.allclose(g, w * B) for g, w in zip(got, want, strict=True)):
            expect(False, name, "the loss is a mean over the B pairs: divide each pair's gradient by B.")
        x = (u * p).sum(1) - (u * n).sum(1)
        if torch.allclose(got[1], -(torch.sigmoid(x) / B)[:, None] * u):
            expect(False, name, "d/dx [-log sigma(x)] = -(1 - sigma(x)) = -sigma(-x): weigh each pair by "
                   "sigma(u.n - u.p), not sigma(u.p - u.n).")
        if torch.allclose(got[0], -(torch.sigmoid(-x) / B)[:, None] * p):
            expect(False, name, "dL/du: u appears in both scores, u.p and u.n; its gradient has a part from each.")
        for g, w, label in zip(got, want, ("dL/du", "dL/dp", "dL/dn"), strict=True):
            expect(torch.allclose(g, w), name, f"{label} differs from autograd's; with x_b = u_b.p_b - u_b.n_b, "
                   "chain dL/dx_b = -sigma(-x_b) / B through dx_b/du_b, dx_b/dp_b and dx_b/dn_b.")
    passed(name, "the BPR gradients with respect to the user and both item embeddings match autograd")


# ----------------------------------------------------------------------------- exercise 2


def ex2(ns: dict) -> None:
    """``top_k_fill(scores, k, seen)``: (U, k) item indices; unseen items first, then seen ones, each
    group best first, ties to the lower index; inputs unchanged."""
    name = "Exercise 2"
    fn = require(ns, "top_k_fill", name, callable)
    gen = torch_generator()
    # (users, items, k, share seen): first distinct scores with half the items seen and two seen
    # fillers, so each mistake shows on its own whatever the draw; then plenty unseen; some rows short
    # of k unseen; rows with none unseen
    for U, n, k, share in ((2, 8, 6, None), (1, 6, 1, 0.3), (4, 9, 3, 0.4), (5, 12, 6, 0.7), (3, 5, 4, 1.0)):
        if share is None:
            scores = torch.stack([torch.randperm(n, generator=gen) for _ in range(U)]).double() - n // 2
            seen = torch.zeros(U, n, dtype=torch.bool)
            for row, order in zip(seen, scores.argsort(dim=1, descending=True), strict=True):
                # the best item seen, the worst (negative) unseen, and half the rest seen
                middle = order[1:-1][torch.randperm(n - 2, generator=gen)]
                row[order[0]] = True
                row[middle[: n // 2 - 1]] = True
        else:
            scores = torch.randint(-3, 3, (U, n), generator=gen).double()  # few values: ties; negative scores
            seen = torch.rand(U, n, generator=gen) < share
        seen[0, int(scores[0].argmax())] = True  # user 0's best item is seen: forgetting the mask shows
        given = [scores.clone(), seen.clone()]
        out = call(fn, name, given[0], k, given[1])
        _unchanged(name, given, [scores, seen])
        try:
            out = torch.as_tensor(out)
        except (TypeError, ValueError, RuntimeError):
            expect(False, name, f"return one (n_users, k) = ({U}, {k}) tensor of item indices, not a "
                   f"{type(out).__name__} (a (values, indices) pair? return the indices only).")
        expect(tuple(out.shape) == (U, k), name, f"return a (n_users, k) = ({U}, {k}) tensor of item indices, "
               f"got {tuple(out.shape)}" + (" (the list always holds k items, seen ones filling it up)."
                                            if share is None or share > 0.5 else "."))
        out = out.long()
        expect(bool(((out >= 0) & (out < n)).all()) and all(len(set(r)) == k for r in out.tolist()), name,
               "each row must hold k different item indices in 0..n_items-1.")
        key = (~seen).double() * 100 * (n + 1) + scores * (n + 1) - torch.arange(n)  # distinct keys
        want = key.topk(k, dim=1).indices
        if torch.equal(out, want):
            continue
        got_seen, want_seen = seen.gather(1, out), seen.gather(1, want)
        expect(torch.equal(got_seen.sum(1), want_seen.sum(1)) and bool((got_seen[:, 1:] >= got_seen[:, :-1]).all()),
               name,
               "unseen items come first: a seen item may only fill the list once every unseen item is in it.")
        got_scores, want_scores = scores.gather(1, out), scores.gather(1, want)
        expect(not (torch.equal(got_scores[~got_seen], want_scores[~want_seen])
                    and not torch.equal(got_scores[got_seen], want_scores[want_seen])), name,
               "the seen items that fill the list must come best first too: setting them all to -inf makes "
               "them equal, and their scores are lost.")
        expect(not torch.equal(got_scores, want_scores), name,
               "on equal scores the lower item index comes first: use a stable sort "
               "(sort(descending=True, stable=True)); topk does not promise an order among ties.")
        expect(False, name, "your list is not best first within the unseen items (then within the seen ones); "
               "scores can be negative, so a seen item set to 0 can still beat an unseen one.")
    passed(name, "unseen items first, then seen ones, each best first, ties to the lower index, on fresh cases")


# ----------------------------------------------------------------------------- exercise 3


def _ridge_case(gen: torch.Generator, N: int, d: int, col_scale: float, shift: float):
    A = torch.randn(N, d, generator=gen, dtype=torch.float64) * col_scale + shift  # not centred
    y = A @ torch.randn(d, generator=gen, dtype=torch.float64) + torch.randn(N, generator=gen, dtype=torch.float64)
    return A, y


def ex3(ns: dict) -> None:
    """``train_ridge(A, y, alpha, steps)`` -> (theta, losses): gradient descent from theta = 0 on
    L(theta) = mean((A theta - y)^2) + alpha ||theta||^2 with a learning rate chosen from the Hessian."""
    name = "Exercise 3"
    fn = require(ns, "train_ridge", name, callable)
    gen = torch_generator()

    def loss(A, y, alpha, theta):
        return float(((A @ theta - y) ** 2).mean() + alpha * (theta @ theta))

    # (N, d, column scale, shift, alpha, steps): a plain case, large inputs (a fixed small-looking
    # rate diverges), a strong penalty (a rate from the data's Hessian alone diverges), one row.
    cases = [(40, 3, 1.0, 1.0, 0.1, 400), (60, 4, 8.0, 5.0, 0.5, 400), (30, 2, 0.5, 0.0, 40.0, 400),
             (1, 2, 1.0, 0.5, 1.0, 400)]
    for N, d, scale, shift, alpha, steps in cases:
        A, y = _ridge_case(gen, N, d, scale, shift)
        given = [A.clone(), y.clone()]
        out = call(fn, name, given[0], given[1], alpha, steps)
        _unchanged(name, given, [A, y])
        expect(isinstance(out, tuple) and len(out) == 2, name, "return a tuple (theta, losses).")
        theta = torch.as_tensor(out[0], dtype=torch.float64)
        losses = torch.as_tensor(out[1], dtype=torch.float64).flatten()
        expect(theta.shape == (d,), name, f"theta has one entry per column of A, shape ({d},).")
        expect(len(losses) == steps + 1, name, "losses holds L(theta_0), ..., L(theta_steps): steps + 1 values, "
               "the start included.")
        expect(abs(float(losses[0]) - float((y**2).mean())) <= 1e-9 * (1 + float((y**2).mean())), name,
               "losses[0] is the loss at the start, theta_0 = 0 (start from zeros, record before the first step).")
        grad = 2 / N * A.T @ (A @ theta - y) + 2 * alpha * theta  # zero at the minimum: stationarity
        tol = 1e-6 * (1 + float((2 / N * A.T @ y).norm()))
        if bool(torch.isfinite(theta).all()) and float(grad.norm()) > tol:
            expect(float((A.T @ (A @ theta - y)).norm()) > tol, name,
                   "you reached the least-squares minimum, without the penalty: the gradient of alpha ||theta||^2 "
                   "is 2 alpha theta.")
            expect(float((2 * A.T @ (A @ theta - y) + 2 * alpha * theta).norm()) > tol, name,
                   "the data term is a mean: its gradient is 2/N A^T (A theta - y), with the 1/N.")
        if not bool(torch.isfinite(losses).all()) or bool((losses[1:] > losses[:-1] * (1 + 1e-9) + 1e-12).any()):
            data_only = float(torch.linalg.eigvalsh(2 / N * A.T @ A)[-1])
            if alpha > 10:
                expect(False, name, "your loss grows on a problem with a strong penalty: the Hessian is "
                       "2/N A^T A + 2 alpha I, so alpha raises every eigenvalue, and the safe rate with it.")
            expect(data_only > 10, name, "your loss grows: the learning rate is too large for this problem.")
            expect(False, name, "your loss grows on inputs of large scale: a fixed learning rate cannot fit "
                   "every problem; compute lambda_max of the Hessian and stay below 2 / lambda_max.")
        expect(abs(float(losses[-1]) - loss(A, y, alpha, theta)) <= 1e-8 * (1 + abs(float(losses[-1]))), name,
               "losses[-1] must be the loss at the theta you return, L = mean((A theta - y)^2) + alpha ||theta||^2.")
        if float(grad.norm()) > tol:
            expect(float(losses[0] - losses[1]) > 0, name, "your first step did not lower the loss: step against the gradient.")
            expect(False, name, f"after {steps} steps your theta is not yet at the minimum: the learning rate is "
                   "too small (or exactly 2 / lambda_max, where the steepest direction bounces forever). "
                   "Pick one from the Hessian's largest eigenvalue, e.g. 1 / lambda_max.")
    # one step from zero is -eta * grad(0) = eta * 2/N A^T y: a multiple of A^T y (no closed form)
    A, y = _ridge_case(gen, 25, 3, 1.0, 1.0)
    theta1 = torch.as_tensor(call(fn, name, A.clone(), y.clone(), 0.3, 1)[0], dtype=torch.float64)
    g0 = 2 / 25 * A.T @ y
    ratio = float(theta1 @ g0) / float(g0 @ g0)
    expect(ratio > 0 and torch.allclose(theta1, ratio * g0, rtol=1e-6, atol=1e-12), name,
           "with steps=1 theta must be one gradient step from 0, a multiple of -grad L(0): "
           "write the loop, do not solve for the minimum in closed form.")
    lam_max = float(torch.linalg.eigvalsh(2 / 25 * A.T @ A + 0.6 * torch.eye(3, dtype=torch.float64))[-1])
    expect(ratio * lam_max < 2, name, "your learning rate is at or above 2 / lambda_max: it cannot converge.")
    passed(name, "gradient descent reaches the ridge minimum with a learning rate chosen from the Hessian")


# ----------------------------------------------------------------------------- exercises 4 and 5

REQUEST_CHOICES = frozenset({"user_id", "timestamp", "hour", "weekday", "gap", "item_id", "rating", "genres"})


def ex4(ns: dict) -> None:
    """``MOVIELENS_REQUEST``: the columns a MovieLens model may read about the request it answers."""
    name = "Exercise 4"
    answer = require(ns, "MOVIELENS_REQUEST", name)
    expect(isinstance(answer, (set, frozenset, list, tuple)) and all(isinstance(c, str) for c in answer), name,
           "answer with a set of column names, e.g. {'user_id', ...}.")
    answer = set(answer)
    expect(answer <= REQUEST_CHOICES, name, f"choose among {sorted(REQUEST_CHOICES)}; "
           f"{sorted(answer - REQUEST_CHOICES)} is not one of them.")
    expect(not answer & {"item_id", "rating", "genres"}, name,
           "your set holds something about the event being predicted (what the user picks, how they rate it, "
           "what it is): none of it exists when the user opens the app.")
    expect("gap" not in answer, name,
           "one of your columns is known at request time but leaks on MovieLens: ratings typed in the same "
           "second are ordered by item id (chapter 01), so it tells the model which side of the last item to look.")
    expect({"user_id", "timestamp"} <= answer, name, "you left out something the system always knows when a "
           "request arrives: who is asking, and when.")
    expect({"hour", "weekday"} <= answer, name, "you left out a feature computed from the request's own time: "
           "known at request time, and it carries no trace of the answer.")
    passed(name, "the request carries who and when, never the answer, and not the gap on MovieLens")


def ex5(ns: dict) -> None:
    """``GD_ANSWER``: a letter, what gradient descent does on a valley with Hessian eigenvalues 0.5 and 8 at eta = 0.2."""
    name = "Exercise 5"
    answer = require(ns, "GD_ANSWER", name, str)
    letter = answer.strip().lower().strip("()")
    expect(letter in {"a", "b", "c", "d"}, name, "answer with one letter: 'a', 'b', 'c' or 'd'.")
    expect(letter != "a", name, "work out 1 - eta * lambda for the steep direction: its sign says whether each "
           "step overshoots.")
    expect(letter not in {"c", "d"}, name, "a direction diverges only when |1 - eta * lambda| > 1; compute it for "
           "both eigenvalues.")
    passed(name, "eta * lambda_max = 1.6: the steep direction overshoots by -0.6 each step and still converges")
