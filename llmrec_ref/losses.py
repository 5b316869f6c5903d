"""Training objectives for recommenders, each with its gradient derived by hand.

Derived in notebooks/05_loss_derivation. Standalone: imports only the standard library,
numpy and torch, so the file can be copied into another project.

Every model in the course minimises an empirical risk min_theta (1/N) sum_i L(y_i, y_hat_i).
The losses differ in what they compare a positive item's score with:

- ``bce_loss``: each score alone against its 0/1 label (pointwise);
- ``bpr_loss``: a positive against a sampled negative (pairwise);
- ``sampled_softmax_loss``: a positive against N sampled negatives (listwise, optionally
  corrected for the sampler with log Q);
- ``full_softmax_loss``: a positive against every item (listwise, exact);
- ``alignment_loss``: -log sigmoid(y^T y_hat), a form sometimes proposed in tutorials. It
  never looks at the negatives, so it cannot push them down; the chapter shows it failing.

Each ``*_grad`` function returns dL/d(inputs) in closed form for the *mean* reduction that
the loss uses; the tests check every one against ``torch.autograd`` (gradcheck, float64).
Notation: sigma(x) = 1 / (1 + e^-x), softplus(x) = log(1 + e^x) = -log sigma(-x).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

__all__ = [
    "bce_loss", "bce_grad", "bpr_loss", "bpr_grad", "sampled_softmax_loss", "sampled_softmax_grad",
    "full_softmax_loss", "full_softmax_grad", "alignment_loss", "alignment_grad",
]


def _float(x: torch.Tensor, name: str) -> torch.Tensor:
    x = torch.as_tensor(x)
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a float tensor, got {x.dtype}; call .float() on it")
    return x


def _same_shape(a: torch.Tensor, b: torch.Tensor, na: str, nb: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{na} and {nb} must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")


# ----------------------------------------------------------------------------- pointwise: BCE
def _labels(scores: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(scores, labels) as float tensors of one shape, labels in [0, 1] (a 2 or a NaN is a bug upstream)."""
    scores, labels = _float(scores, "scores"), torch.as_tensor(labels, dtype=scores.dtype)
    _same_shape(scores, labels, "scores", "labels")
    if not ((labels >= 0) & (labels <= 1)).all():
        raise ValueError("labels must lie in [0, 1] (1 = positive, 0 = negative); got "
                         f"{labels[~((labels >= 0) & (labels <= 1))][0].item()}")
    return scores, labels


def bce_loss(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy on logits: mean of -[y log sigma(s) + (1 - y) log(1 - sigma(s))].

    Written as softplus(s) - y s, which is exact and never takes log(0). ``scores`` (any
    shape) are logits, ``labels`` (same shape) are 0/1 (or soft targets in [0, 1]).
    Returns a scalar.
    """
    scores, labels = _labels(scores, labels)
    return (F.softplus(scores) - labels * scores).mean()


def bce_grad(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """dL/ds of ``bce_loss``: (sigma(s) - y) / N, same shape as ``scores`` (N = its numel).

    From d/ds softplus(s) = sigma(s) and d/ds (y s) = y: the gradient is the prediction error.
    """
    scores, labels = _labels(scores, labels)
    return (torch.sigmoid(scores) - labels) / scores.numel()


# ----------------------------------------------------------------------------- pairwise: BPR
def _pairs(pos: torch.Tensor, neg: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    pos, neg = _float(pos, "pos_scores"), _float(neg, "neg_scores")
    if neg.dim() == pos.dim() + 1 and neg.shape[:-1] == pos.shape:
        return pos, neg
    _same_shape(pos, neg, "pos_scores", "neg_scores (or pos_scores.shape + (N,))")
    return pos, neg


def bpr_loss(pos_scores: torch.Tensor, neg_scores: torch.Tensor) -> torch.Tensor:
    """Bayesian personalised ranking: mean of -log sigma(s_pos - s_neg) = softplus(s_neg - s_pos).

    ``pos_scores`` (B,), ``neg_scores`` (B,) or (B, N) for N negatives per positive (the
    positive is compared with each). Returns a scalar; it is log 2 when the two scores tie.
    """
    pos, neg = _pairs(pos_scores, neg_scores)
    if neg.dim() > pos.dim():
        pos = pos.unsqueeze(-1)  # (B, 1) against (B, N)
    return F.softplus(neg - pos).mean()


def bpr_grad(pos_scores: torch.Tensor, neg_scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(dL/ds_pos, dL/ds_neg) of ``bpr_loss``, shaped like the inputs.

    With x = s_pos - s_neg, d/dx [-log sigma(x)] = -(1 - sigma(x)) = -sigma(-x): each pair
    pushes the positive up and the negative down by sigma(s_neg - s_pos) / M (M pairs), a
    weight near 1 for a mis-ranked pair and near 0 for a well-separated one.
    """
    pos, neg = _pairs(pos_scores, neg_scores)
    many = neg.dim() > pos.dim()
    w = torch.sigmoid(neg - (pos.unsqueeze(-1) if many else pos)) / neg.numel()  # shape of neg
    return (-w.sum(-1) if many else -w), w


# ----------------------------------------------------------------------------- listwise: softmax
def _candidates(pos: torch.Tensor, neg: torch.Tensor, log_q: torch.Tensor | None) -> torch.Tensor:
    """Logits of [positive, negatives] with the log-Q correction: (B, 1 + N)."""
    pos, neg = _float(pos, "pos_scores"), _float(neg, "neg_scores")
    if pos.dim() != 1 or neg.dim() != 2 or neg.shape[0] != pos.shape[0]:
        raise ValueError(f"pos_scores must be (B,) and neg_scores (B, N), got {tuple(pos.shape)} and {tuple(neg.shape)}")
    logits = torch.cat([pos[:, None], neg], dim=1)  # (B, 1 + N)
    if log_q is not None:
        log_q = torch.as_tensor(log_q, dtype=logits.dtype, device=logits.device)
        try:
            log_q = log_q.expand_as(logits)
        except RuntimeError as err:
            raise ValueError(f"log_q must broadcast to (B, 1 + N) = {tuple(logits.shape)} (log sampling "
                             f"probabilities of [positive, negatives]), got {tuple(log_q.shape)}") from err
        logits = logits - log_q
    return logits


def sampled_softmax_loss(pos_scores: torch.Tensor, neg_scores: torch.Tensor,
                         log_q: torch.Tensor | None = None) -> torch.Tensor:
    """Softmax over the positive and N sampled negatives: mean of -log softmax(z)_0.

    z = [s_pos, s_neg_1, ..., s_neg_N] - log Q, shapes (B,) and (B, N) -> (B, 1 + N). Without
    ``log_q`` the sample is treated as if it were the catalogue, which over-penalises popular
    items when negatives are drawn by popularity; subtracting log Q(i), the log probability of
    drawing item i, corrects that (Bengio & Senecal 2008; Yi et al. 2019). ``log_q``
    broadcasts to (B, 1 + N), e.g. a (1 + N,) row or per-candidate values. Returns a scalar.
    """
    logits = _candidates(pos_scores, neg_scores, log_q)
    return -logits.log_softmax(dim=1)[:, 0].mean()


def sampled_softmax_grad(pos_scores: torch.Tensor, neg_scores: torch.Tensor,
                         log_q: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(dL/ds_pos (B,), dL/ds_neg (B, N)) of ``sampled_softmax_loss``.

    With p = softmax(z): dL/dz = (p - e_0) / B, and z = s - log Q shifts by a constant, so
    dL/ds = dL/dz: the positive gets (p_0 - 1) / B, each negative p_j / B -- every negative is
    pushed down in proportion to how much probability it steals.
    """
    logits = _candidates(pos_scores, neg_scores, log_q)
    g = logits.softmax(dim=1) / logits.shape[0]  # (B, 1 + N)
    return g[:, 0] - 1.0 / logits.shape[0], g[:, 1:]


def _target(logits: torch.Tensor, target: torch.Tensor, ignore_index: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits, target) checked: (..., C) floats and (...) int64 class ids in 0..C-1 (or ``ignore_index``)."""
    logits = _float(logits, "logits")
    target = torch.as_tensor(target, device=logits.device)
    if target.dtype != torch.long or logits.dim() < 2 or logits.shape[:-1] != target.shape:
        raise ValueError(f"logits must be (..., C) and target (...) int64 with the same leading shape, got "
                         f"{tuple(logits.shape)} and {target.dtype} {tuple(target.shape)}")
    n = logits.shape[-1]
    bad = (target < 0) | (target >= n)
    if ignore_index is not None:
        bad &= target != ignore_index
    if bad.any():
        raise ValueError(f"target holds class id {target[bad][0].item()} but logits has {n} classes (ids 0..{n - 1}); "
                         "pass ids the logits cover")
    return logits, target


def full_softmax_loss(logits: torch.Tensor, target: torch.Tensor, ignore_index: int | None = 0) -> torch.Tensor:
    """Cross-entropy over the whole catalogue: mean over rows of -log softmax(logits)_target.

    ``logits`` (N, C) (or (B, T, C), flattened), ``target`` (N,) (or (B, T)) int64 class ids.
    Rows whose target equals ``ignore_index`` (0 = padding by default) are left out of the
    mean. This is the exact objective that sampled softmax approximates.
    """
    logits, target = _target(logits, target, ignore_index)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1),
                           ignore_index=-100 if ignore_index is None else ignore_index)


def full_softmax_grad(logits: torch.Tensor, target: torch.Tensor, ignore_index: int | None = 0) -> torch.Tensor:
    """dL/dlogits of ``full_softmax_loss``: (softmax(logits) - onehot(target)) / n_kept on kept rows, 0 elsewhere."""
    logits, target = _target(logits, target, ignore_index)
    keep = torch.ones_like(target, dtype=torch.bool) if ignore_index is None else target != ignore_index
    onehot = F.one_hot(target.clamp(min=0), logits.shape[-1]).to(logits.dtype)  # (..., C)
    g = (logits.softmax(-1) - onehot) * keep[..., None]
    return g / keep.sum().clamp(min=1)


# ----------------------------------------------------------------------------- a loss that fails
def alignment_loss(y: torch.Tensor, y_hat: torch.Tensor) -> torch.Tensor:
    """-log sigma(y^T y_hat), averaged over users; ``y`` (B, n) in {0, 1}, ``y_hat`` (B, n) in (0, 1).

    With y_hat = sigma(W_d h) both vectors are non-negative, so a = y^T y_hat >= 0 and the loss
    is at most log 2; it is minimised by y_hat = 1 for *every* item, and items with y = 0 never
    enter a, so they get no gradient at all (see ``alignment_grad``). Kept to show why BCE,
    BPR and softmax, which push negatives down, are used instead. Returns a scalar.
    """
    y, y_hat = _float(y, "y"), _float(y_hat, "y_hat")
    _same_shape(y, y_hat, "y", "y_hat")
    return F.softplus(-(y * y_hat).sum(-1)).mean()


def alignment_grad(y: torch.Tensor, y_hat: torch.Tensor) -> torch.Tensor:
    """dL/dy_hat of ``alignment_loss``: -sigma(-a) y / B with a = y^T y_hat, shape (B, n).

    Zero wherever y = 0 (negatives are never pushed down), and its size sigma(-a) <= 1/2
    shrinks as the positives accumulate score.
    """
    y, y_hat = _float(y, "y"), _float(y_hat, "y_hat")
    _same_shape(y, y_hat, "y", "y_hat")
    a = (y * y_hat).sum(-1, keepdim=True)  # (B, 1)
    return -torch.sigmoid(-a) * y / a.numel()
