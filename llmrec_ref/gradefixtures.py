"""Objects a check hands to a learner's function, kept outside ``llmrec_ref/checks``.

A check runs in the grader's process and sends its arguments to the learner's kernel as a
pickle; the kernel rebuilds them by importing the module that defines their class. While
grading, ``llmrec_ref/checks`` is replaced by stand-ins in the kernel (so no check's cases or
hints can be read there), so a class a check sends must live here instead. Nothing here knows
an answer.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["FixedScorer"]


class FixedScorer:
    """A "given scorer": the same score row for every user, ``score(users, history) -> (U, n_items + 1)``."""

    def __init__(self, row: list[float]) -> None:
        self.row = torch.tensor(row)

    def score(self, users, history) -> torch.Tensor:
        return self.row.expand(len(np.asarray(users).reshape(-1)), -1).clone()
