"""Baselines every sequence model must beat: random, popularity, item-kNN and EASE.

Derived in notebooks/06_evaluation. Every model keeps the course's contract
(``llmrec_ref.recommender``): ``fit(train, valid=None) -> self`` and
``score(users, history, query=None) -> (len(users), n_items + 1)`` float tensor, column 0 =
padding (-inf). Interactions are implicit: every row of the log is a 1 in the user-item
matrix X (repeats collapse to 1).

The item-item models (``ItemKNN``, ``EASE``) learn an item-item matrix B from ``train`` and
score a user by the items in ``history``: ``scores = X_history @ B`` (U, I). Given a ``grid``
and ``valid``, they choose their hyperparameters on the validation split (fit on train,
history = train, truth = valid, best NDCG@10 by full ranking); ``train_log_`` lists every
value tried. The final model is fitted with the chosen values on train only, unless
``refit=True`` asks for train + valid (all data before the test part: a closed-form model has
no early stopping to spend ``valid`` on; never evaluate such a model on ``valid``). The test
split is never read.
"""

from __future__ import annotations

import itertools
import math
import time

import numpy as np
import pandas as pd
import torch

from llmrec_ref.evaluation import interaction_matrix
from llmrec_ref.metrics import evaluate, topk_items
from llmrec_ref.recommender import Recommender, check_log, largest_id, user_tensor

__all__ = ["RandomScorer", "Popularity", "ItemKNN", "EASE", "ITEMKNN_GRID", "EASE_GRID"]

ITEMKNN_GRID = {"k": (50, 100, 200, 400), "shrink": (0.0, 10.0, 100.0)}
EASE_GRID = {"lam": (100.0, 200.0, 300.0, 500.0, 800.0, 1500.0)}


class _Baseline(Recommender):
    """Shared plumbing: the catalogue size and the hyperparameter search."""

    n_items: int | None = None   # fixed catalogue size, or None: learned by fit into n_items_
    grid: dict | None = None
    refit: bool = False
    _hyper: tuple = ()           # names of the hyperparameters (init arguments a grid may search)

    def _prepare(self, train: pd.DataFrame):  # pragma: no cover - each model defines it
        """What fitting needs from ``train`` whatever the hyperparameters (computed once per search)."""
        raise NotImplementedError

    def _fit_from(self, state) -> None:  # pragma: no cover - each model defines it
        raise NotImplementedError

    def fit(self, train: pd.DataFrame, valid: pd.DataFrame | None = None) -> "_Baseline":
        """Fit on ``train``; with a ``grid``, choose hyperparameters on ``valid`` first.

        The search fits on ``train`` and ranks ``valid`` with history = ``train``. The final model
        is then fitted on ``train`` only, or on ``train + valid`` when ``refit=True`` and ``valid``
        is given (all data before the test part; never evaluate it on ``valid`` afterwards).
        """
        start, state = time.perf_counter(), None
        check_log(train, "train")
        check_log(valid, "valid", allow_empty=True)
        self.n_items_ = self.n_items or largest_id("item_id", train, valid)
        self.train_log_ = []
        if self.grid:
            if valid is None or len(valid) == 0:
                raise ValueError(f"{type(self).__name__}(grid=...) chooses hyperparameters on the validation "
                                 "split: call fit(train, valid), or pass grid=None to use the given values")
            state = self._prepare(train)
            users = torch.as_tensor(np.unique(valid["user_id"].to_numpy()))          # (U,)
            truth = interaction_matrix(valid, users, self.n_items_)[:, 1:]  # (U, I)
            seen = interaction_matrix(train, users, self.n_items_)[:, 1:]   # (U, I)
            for values in itertools.product(*self.grid.values()):
                self.params_ = self.hyperparameters(fitted=False) | dict(zip(self.grid, values, strict=True))
                self._fit_from(state)
                scores = self.score(users, train)[:, 1:]              # (U, I) history = train
                res = evaluate(scores, truth, seen, ks=(10,), n_boot=0)  # = full_ranking(stage="valid")
                self.train_log_.append({**self.params_, "valid_ndcg@10": res["ndcg@10"].mean})
            best = max(self.train_log_, key=lambda row: row["valid_ndcg@10"])  # first best wins ties
            self.params_ = {k: best[k] for k in self.params_}
        else:
            self.params_ = self.hyperparameters(fitted=False)
        self.search_s_ = time.perf_counter() - start
        if self.refit and valid is not None and len(valid):
            state = self._prepare(pd.concat([train, valid], ignore_index=True))
        self._fit_from(self._prepare(train) if state is None else state)
        self.fit_s_ = time.perf_counter() - start - self.search_s_
        return self

    def hyperparameters(self, fitted: bool = True) -> dict:
        """The hyperparameters in use: after ``fit`` the ones it used (``params_``: the chosen ones
        after a grid search), else (or with ``fitted=False``) the ones given to ``__init__``."""
        if fitted and hasattr(self, "params_"):
            return dict(self.params_)
        return {name: getattr(self, name) for name in self._hyper}


class RandomScorer(_Baseline):
    """Uniform random scores: the floor every model must clear. Same ``seed``, same scores."""

    def __init__(self, n_items: int | None = None, seed: int = 0) -> None:
        self.n_items, self.seed = n_items, seed

    def _prepare(self, train: pd.DataFrame) -> None:
        return None

    def _fit_from(self, state) -> None:
        pass

    def score(self, users, history: pd.DataFrame, query: pd.DataFrame | None = None) -> torch.Tensor:
        """s_ui ~ U(0, 1), drawn from a generator seeded with ``seed``: (U,) -> (U, I + 1)."""
        self._check_fitted()
        gen = torch.Generator().manual_seed(self.seed)
        return self._pad(torch.rand(len(user_tensor(users)), self.n_items_, generator=gen))


class Popularity(_Baseline):
    """Most popular first: s_ui = number of training interactions of item i, the same for all users."""

    def __init__(self, n_items: int | None = None, refit: bool = False) -> None:
        self.n_items, self.refit = n_items, refit

    def _prepare(self, train: pd.DataFrame) -> torch.Tensor:
        return torch.tensor(train["item_id"].to_numpy(dtype=np.int64))

    def _fit_from(self, items: torch.Tensor) -> None:
        self.counts_ = torch.bincount(items, minlength=self.n_items_ + 1)[1:].float()  # (I,)

    def score(self, users, history: pd.DataFrame, query: pd.DataFrame | None = None) -> torch.Tensor:
        """(U,) -> (U, I + 1): the count vector repeated for every user (history is not used)."""
        self._check_fitted()
        return self._pad(self.counts_.expand(len(user_tensor(users)), -1))


class _ItemItem(_Baseline):
    """Models that score ``X_history @ B`` with a learned item-item matrix ``B_`` (I, I)."""

    def _prepare(self, train: pd.DataFrame) -> torch.Tensor:
        """Gram matrix G = X^T X of the binary user-item matrix (co-counts, exact in float32): (I, I)."""
        users = np.unique(train["user_id"].to_numpy())
        x = interaction_matrix(train, users, self.n_items_)[:, 1:].float()  # (n_users, I)
        return x.T @ x                                                # (I, I)

    def score(self, users, history: pd.DataFrame, query: pd.DataFrame | None = None) -> torch.Tensor:
        """s_u = x_u B with x_u the user's binary history row: (U,) -> (U, I + 1)."""
        self._check_fitted()
        check_log(history, "history", self.n_items_, allow_empty=True)
        x = interaction_matrix(history, user_tensor(users), self.n_items_)[:, 1:].float()  # (U, I)
        return self._pad(x @ self.B_)                                 # (U, I + 1)


class ItemKNN(_ItemItem):
    """Item-based k-nearest neighbours with shrunk cosine similarity.

    S_ij = (x_i . x_j) / (||x_i|| ||x_j|| + shrink) over the item columns of X (co-counts over
    the square root of the popularity product), S_ii = 0; for each target item j only its
    ``k`` most similar items i keep S_ij (B = S with the rest zeroed; ties: lower item id).
    Score s_uj = sum_{i in history(u)} S_ij. ``grid`` (e.g. ``ITEMKNN_GRID``) tries every
    combination on ``valid``.
    """

    _hyper = ("k", "shrink")

    def __init__(self, k: int = 100, shrink: float = 10.0, n_items: int | None = None,
                 grid: dict | None = None, refit: bool = False) -> None:
        if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
            raise ValueError(f"k (neighbourhood size) must be a positive int, got {k!r}")
        if not (isinstance(shrink, (int, float)) and 0 <= shrink < math.inf):
            raise ValueError(f"shrink must be a finite number >= 0 (e.g. 10), got {shrink!r}")
        if grid is not None and (not isinstance(grid, dict) or not set(grid) <= {"k", "shrink"}):
            raise ValueError(f"grid must be a dict with keys among 'k', 'shrink', got {grid!r}")
        self.k, self.shrink, self.n_items, self.grid, self.refit = k, float(shrink), n_items, grid, refit

    def _fit_from(self, gram: torch.Tensor) -> None:
        co = gram.double()                                            # (I, I) co-counts
        norm = co.diagonal().sqrt()                                   # (I,) ||x_i||
        sim = co / (norm[:, None] * norm[None, :] + self.params_["shrink"]).clamp(min=1e-12)
        sim.fill_diagonal_(0.0)
        top, _ = topk_items(sim.T, self.params_["k"])                          # (I, k) best sources per target
        keep = torch.zeros_like(sim, dtype=torch.bool).scatter_(1, top, True).T  # (I, I) ties: lower id
        self.B_ = (sim * keep).float()                                # (I, I)



class EASE(_ItemItem):
    """EASE (Steck 2019): the closed-form, zero-diagonal linear item-item model.

    min_B ||X - X B||^2 + lam ||B||^2 s.t. diag(B) = 0 has the solution
    P = (X^T X + lam I)^-1, B = I - P diag(1 / diag(P)), i.e. B_ij = -P_ij / P_jj, B_jj = 0.
    One (I, I) inverse in float64. ``grid`` (e.g. ``EASE_GRID``) tries each lam on ``valid``.
    """

    _hyper = ("lam",)

    def __init__(self, lam: float = 400.0, n_items: int | None = None, grid: dict | None = None,
                 refit: bool = False) -> None:
        if not (isinstance(lam, (int, float)) and 0 < lam < math.inf):
            raise ValueError(f"lam (L2 strength) must be a finite number > 0 (e.g. 400), got {lam!r}")
        if grid is not None and (not isinstance(grid, dict) or set(grid) != {"lam"}):
            raise ValueError(f"grid must be a dict {{'lam': [values]}}, got {grid!r}")
        self.lam, self.n_items, self.grid, self.refit = float(lam), n_items, grid, refit

    def _fit_from(self, gram: torch.Tensor) -> None:
        gram = gram.double().clone()                                  # (I, I) X^T X
        gram.diagonal().add_(self.params_["lam"])
        p = torch.linalg.inv(gram)                                    # (I, I) P
        b = -p / p.diagonal()[None, :]                                # B_ij = -P_ij / P_jj
        b.fill_diagonal_(0.0)
        self.B_ = b.float()                                           # (I, I)

