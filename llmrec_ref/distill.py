"""Knowledge distillation: a small student learns from a large teacher's softened scores.

Derived in notebooks/10_small_and_fast, where the loss and its gradient are written by hand
and checked against autograd. Parts:

1. ``distillation_loss(student, teacher, temperature)``: with p = softmax(z_t / T) the
   teacher's and q = softmax(z_s / T) the student's distribution over the catalogue,

       L_KD = T^2 * mean_rows KL(p || q) = T^2 * mean_rows sum_i p_i (log p_i - log q_i),

   whose gradient is dL_KD / dz_s,i = T (q_i - p_i) / rows. Dividing the logits by T > 1
   spreads the probability over more items (the teacher's "dark knowledge": which wrong items
   are nearly right); the factor T^2 undoes the 1 / T^2 that softening puts on the gradient,
   so the soft term keeps its weight against the hard one when T changes.
2. ``DistilledContextRec``: a ``ContextRec`` (usually smaller: fewer dimensions, layers) whose
   training loss is (1 - alpha) * CE(z_s, y) + alpha * L_KD(z_s, z_t) at every position that has
   a target, z_t from a fitted teacher ``ContextRec`` with the same inputs (catalogue, context
   features, max_len). Everything else (fit, score, save, load) is ContextRec's.
"""

from __future__ import annotations

import os

import torch

from llmrec_ref import losses
from llmrec_ref.models import ContextRec, ContextRecConfig

__all__ = ["distillation_loss", "DistilledContextRec"]


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor, temperature: float = 2.0) -> torch.Tensor:
    """T^2 * mean over rows of KL(softmax(teacher / T) || softmax(student / T)); a scalar.

    ``student`` and ``teacher`` are (N, V) logits; -inf marks items that cannot be
    recommended and must be -inf in both (they carry probability 0 and add nothing). The
    teacher is a fixed target: no gradient flows into it.
    """
    if student.shape != teacher.shape or student.dim() != 2 or len(student) == 0:
        raise ValueError(f"student and teacher must be (N, V) logits of one shape with N >= 1, got "
                         f"{tuple(student.shape)} and {tuple(teacher.shape)}")
    if not isinstance(temperature, (int, float)) or isinstance(temperature, bool) or not temperature > 0:
        raise ValueError(f"temperature must be a number > 0, got {temperature!r}")
    if not torch.equal(torch.isneginf(student), torch.isneginf(teacher)):
        raise ValueError("student and teacher must have -inf at the same items (mask both the same way)")
    log_q = torch.log_softmax(student / temperature, dim=-1)  # (N, V)
    log_p = torch.log_softmax(teacher.detach() / temperature, dim=-1)  # (N, V)
    p = log_p.exp()
    kl = torch.where(p > 0, p * (log_p - log_q), torch.zeros_like(p)).sum(-1)  # (N,) 0 log 0 = 0
    return temperature ** 2 * kl.mean()


class DistilledContextRec(ContextRec):
    """A ContextRec trained on (1 - alpha) * CE + alpha * T^2 KL(teacher || student) (module docstring).

    ``teacher`` is a fitted ``ContextRec`` or the path of its checkpoint; it must share the
    student's catalogue, context features and ``max_len`` (checked when ``fit`` starts). The
    student's own settings are ContextRec's (``config`` and keyword overrides); it trains with
    the full softmax (``loss="softmax"``).
    """

    def __init__(self, teacher: ContextRec | str | os.PathLike | None = None, temperature: float = 2.0, alpha: float = 0.5,
                 config: ContextRecConfig | None = None, **overrides) -> None:
        super().__init__(config, **overrides)
        if not isinstance(teacher, (ContextRec, str, os.PathLike)):
            raise ValueError(f"teacher must be a fitted ContextRec or the path of its checkpoint, got "
                             f"{type(teacher).__name__}")
        if not isinstance(temperature, (int, float)) or isinstance(temperature, bool) or not temperature > 0:
            raise ValueError(f"temperature must be a number > 0, got {temperature!r}")
        if not isinstance(alpha, (int, float)) or isinstance(alpha, bool) or not 0 <= alpha <= 1:
            raise ValueError(f"alpha must be a number in [0, 1], got {alpha!r}")
        if self.config.loss != "softmax":
            raise ValueError(f"DistilledContextRec trains with the full softmax; got loss={self.config.loss!r}")
        self.teacher, self.temperature, self.alpha = teacher, float(temperature), float(alpha)

    def _teacher(self) -> ContextRec:
        if isinstance(self.teacher, ContextRec):
            teacher = self.teacher
        else:
            with torch.random.fork_rng(devices=[]):  # building its network must not move the student's dropout draws
                teacher = ContextRec.load(self.teacher)
        teacher._check_fitted()
        mine, theirs = self.net_config_, teacher.net_config_
        if (theirs.n_items, theirs.features, theirs.request_features, theirs.max_len) != \
                (mine.n_items, mine.features, mine.request_features, mine.max_len) or teacher.vocab_ != self.vocab_:
            raise ValueError(f"the teacher must read the student's inputs: teacher n_items={theirs.n_items}, features="
                             f"{theirs.features}, max_len={theirs.max_len}; student n_items={mine.n_items}, features="
                             f"{mine.features}, max_len={mine.max_len}; fit the teacher on the same training log "
                             "with the same features and max_len")
        return teacher

    def batch_loss(self, batch: dict[str, torch.Tensor], generator: torch.Generator | None = None) -> torch.Tensor:
        """(1 - alpha) CE(student, targets) + alpha T^2 KL(teacher || student) over the positions with a target."""
        if self.teacher_ is None:  # read once per fit, when the student's sizes are known
            self.teacher_ = self._teacher().network_.eval()
        s, y = self.position_scores(batch)  # (P, V), (P,)
        with torch.no_grad():
            z, _ = self.position_scores(batch, self.teacher_)  # (P, V) the teacher, no dropout
        hard = losses.full_softmax_loss(s, y)
        return (1 - self.alpha) * hard + self.alpha * distillation_loss(s, z, self.temperature)

    def fit(self, train, valid=None) -> DistilledContextRec:
        """ContextRec's ``fit`` with the distillation loss; the teacher is read when training starts."""
        self.teacher_ = None
        try:
            super().fit(train, valid)
        finally:
            self.teacher_ = None  # the teacher's network is neither kept nor saved
        return self

    def _state(self) -> tuple[dict, dict[str, torch.Tensor]]:
        meta, tensors = super()._state()
        return meta | {"distill": {"temperature": self.temperature, "alpha": self.alpha}}, tensors

    @classmethod
    def _from_state(cls, meta: dict, tensors: dict[str, torch.Tensor], device: str) -> DistilledContextRec:
        """The student alone: its teacher is not saved (``teacher`` is ``""``; a refit needs a new one)."""
        plain = ContextRec._from_state(meta, tensors, device)
        model = cls.__new__(cls)
        model.__dict__.update(vars(plain))
        d = meta.get("distill", {})
        model.teacher, model.temperature, model.alpha = "", d.get("temperature", 2.0), d.get("alpha", 0.5)
        model.teacher_ = None
        return model
