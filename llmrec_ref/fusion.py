"""Late fusion: one recommender whose scores are a weighted mix of two others' z-scores.

Derived in notebooks/08_knowledge_graph (text + knowledge graph on cold items). With each
model's scores standardised per user over the items it scores (``text.mix_scores``):

    s_ui = (1 - w) z(s^a)_ui + w z(s^b)_ui

so neither scale dominates and w = 0 / w = 1 give back model a / model b's ranking.
``fit`` fits copies of both into ``a_`` and ``b_`` (``refit=False`` uses the models as they
were fitted before, e.g. a slow scorer shared by several mixes).
"""

from __future__ import annotations

import copy

import pandas as pd
import torch

from llmrec_ref.recommender import Recommender
from llmrec_ref.text import mix_scores

__all__ = ["ScoreMix"]


class ScoreMix(Recommender):
    """(1 - weight) z(a's scores) + weight z(b's scores), per user; entries a scores -inf stay -inf."""

    uses_query = False

    def __init__(self, a: object, b: object, weight: float = 0.5, refit: bool = True) -> None:
        if not 0.0 <= weight <= 1.0:
            raise ValueError(f"weight must lie in [0, 1] (0 = model a alone, 1 = model b alone), got {weight!r}")
        # the two models are kept private: the contract compares settings by value, models by identity
        self._a, self._b, self.weight, self.refit = a, b, weight, refit

    @property
    def a(self) -> object:
        return self._a

    @property
    def b(self) -> object:
        return self._b

    def fit(self, train: pd.DataFrame, valid: pd.DataFrame | None = None) -> "ScoreMix":
        if self.refit:
            self.a_, self.b_ = copy.deepcopy(self.a).fit(train, valid), copy.deepcopy(self.b).fit(train, valid)
        else:
            self.a_, self.b_ = self.a, self.b
        if self.a_.n_items_ != self.b_.n_items_:
            raise ValueError(f"both models must score the same catalogue, got {self.a_.n_items_} and {self.b_.n_items_}")
        self.n_items_, self.train_log_ = self.a_.n_items_, []
        return self

    def score(self, users, history: pd.DataFrame, query: pd.DataFrame | None = None) -> torch.Tensor:
        self._check_fitted()
        return mix_scores(self.a_.score(users, history), self.b_.score(users, history), self.weight)
