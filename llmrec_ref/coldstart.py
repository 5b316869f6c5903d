"""Cold-start items: hold some items out of training entirely, then rank only them.

Derived in notebooks/07_llm_context. An item nobody has interacted with yet has no ID
embedding worth the name and no popularity: an ID-only model (EASE, MF, ContextRec) scores
it from an untrained (or never-updated) vector. The protocol measures what a model can do
for such items:

1. ``cold_start_split``: choose ``frac`` of the items with a seed; *every* interaction with
   them leaves the training log (``train`` = warm items only; ``test`` = all interactions
   with cold items).
2. ``evaluate_cold_start``: for each user with at least one cold interaction, score every
   item from the user's training history, mask all warm items, and rank the cold items
   only (full ranking over the cold set); truth = the user's cold items.
3. Scorers that *can* rank a new item: ``AttributePopularity`` (how popular its genres or
   category are in training) and ``TextOnly`` (how close its text vector is to the user's
   history, optionally with a temperature, a text bias and a projection learned on the
   training log).

Works without the ``[llm]`` extra: ``TextOnly`` takes precomputed vectors (from
``llmrec_ref.text.item_vectors``, which needs it).
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F

from llmrec_ref import metrics, progress
from llmrec_ref.evaluation import interaction_matrix, validation_metrics
from llmrec_ref.recommender import Recommender, check_log, user_tensor

__all__ = ["ColdStartSplit", "cold_start_split", "evaluate_cold_start", "AttributePopularity", "history_weights",
           "TextOnly"]


class ColdStartSplit(NamedTuple):
    """``train``: interactions with warm items; ``test``: every interaction with a cold item."""

    train: pd.DataFrame
    test: pd.DataFrame
    cold_items: np.ndarray  # (n_cold,) sorted item ids
    n_items: int            # size of the catalogue (ids 1..n_items)


def cold_start_split(interactions: pd.DataFrame, frac: float = 0.1, seed: int = 0,
                     n_items: int | None = None) -> ColdStartSplit:
    """Hold ``frac`` of the items out of training entirely.

    ``n_cold = max(1, round(frac * m))`` items are drawn without replacement, with
    ``numpy.random.default_rng(seed)``, from the m items that occur in ``interactions``; every
    row with a cold item goes to ``test``, the rest to ``train`` (row order kept). ``n_items``
    (default: the largest item id) is the catalogue size the models must score.
    """
    for col in ("user_id", "item_id"):
        if col not in interactions.columns:
            raise ValueError(f"interactions needs a {col!r} column (the course's interaction schema)")
    if not 0.0 < frac < 1.0:
        raise ValueError(f"frac must lie strictly between 0 and 1 (share of items held out), got {frac!r}")
    present = np.unique(interactions["item_id"].to_numpy(dtype=np.int64))  # (m,)
    if len(present) < 2:
        raise ValueError("interactions must hold at least 2 distinct items to split them into warm and cold")
    n_items = int(present.max()) if n_items is None else int(n_items)
    if present.min() < 1 or present.max() > n_items:
        raise ValueError(f"item ids must lie in 1..n_items={n_items} (0 is padding)")
    n_cold = min(max(1, round(frac * len(present))), len(present) - 1)
    cold = np.sort(np.random.default_rng(seed).choice(present, size=n_cold, replace=False))
    is_cold = interactions["item_id"].isin(cold).to_numpy()
    return ColdStartSplit(interactions.loc[~is_cold].reset_index(drop=True),
                          interactions.loc[is_cold].reset_index(drop=True), cold, n_items)


def evaluate_cold_start(model: object, split: ColdStartSplit, ks: Sequence[int] = (10,),
                        n_boot: int = 1000, seed: int = 0) -> dict:
    """Rank only the cold items for every user who interacted with one.

    Users U = sorted unique ``split.test.user_id``; scores = ``model.score(U, split.train)``
    (U, n_items + 1); every warm item (and padding) is masked, so each user's top-K comes from
    the ``len(split.cold_items)`` cold items; truth = the user's cold items. Returns
    ``metrics.evaluate``'s ``Result`` (means with 95% bootstrap intervals, ``per_user``) with
    ``users`` and ``n_candidates``. A random scorer reaches Recall@K ~ K / n_candidates.
    """
    n = split.n_items
    users = torch.as_tensor(np.sort(split.test["user_id"].unique()), dtype=torch.long)  # (U,)
    scores = torch.as_tensor(model.score(users, split.train)).float()  # (U, n + 1)
    if tuple(scores.shape) != (len(users), n + 1):
        raise ValueError(f"model.score returned shape {tuple(scores.shape)}, expected (len(users), n_items + 1) "
                         f"= ({len(users)}, {n + 1}); fit the model with n_items={n} so it scores cold items too")
    warm = torch.ones(n, dtype=torch.bool)
    warm[torch.as_tensor(split.cold_items - 1)] = False                # (I,) True = masked
    truth = interaction_matrix(split.test, users, n)[:, 1:]             # (U, I)
    result = metrics.evaluate(scores[:, 1:], truth, warm.expand(len(users), -1), ks=ks,
                              n_boot=n_boot, seed=seed)
    result.users, result.n_candidates = users[result.evaluated], len(split.cold_items)
    return result


class AttributePopularity(Recommender):
    """Score an item by how popular its attributes are in training (non-personal).

    pop(a) = number of training interactions with items that have attribute a;
    s_i = sum_{a in attrs(i)} pop(a) (``agg="sum"``) or their mean (``agg="mean"``). The
    ``column`` of ``items`` holds one value (shop ``category``) or a list (MovieLens
    ``genres``) per item. An item never seen in training still gets a score.
    """

    def __init__(self, items: pd.DataFrame, column: str = "genres", agg: str = "sum") -> None:
        if "item_id" not in items.columns or column not in items.columns:
            raise ValueError(f"items needs the columns 'item_id' and {column!r}, got {list(items.columns)}")
        if agg not in ("sum", "mean"):
            raise ValueError(f"agg must be 'sum' or 'mean', got {agg!r}")
        self.items, self.column, self.agg = items, column, agg

    def fit(self, train: pd.DataFrame, valid: pd.DataFrame | None = None) -> "AttributePopularity":
        """pop = counts @ A over the training interactions (nothing to select: ``valid`` is not used)."""
        self.n_items_, self.train_log_ = int(self.items["item_id"].max()), []
        exploded = self.items[["item_id", self.column]].explode(self.column).dropna()
        self.values_ = sorted(exploded[self.column].astype(str).unique())
        self.A_ = torch.zeros(self.n_items_ + 1, len(self.values_))      # (n + 1, n_attr) 0/1 membership
        cols = pd.Index(self.values_).get_indexer(exploded[self.column].astype(str))
        self.A_[torch.tensor(exploded["item_id"].to_numpy(dtype=np.int64)), torch.tensor(cols)] = 1.0
        counts = torch.bincount(torch.tensor(train["item_id"].to_numpy(dtype=np.int64)),
                                minlength=self.n_items_ + 1).float()     # (n + 1,)
        self.pop_ = counts @ self.A_                                      # (n_attr,)
        s = self.A_ @ self.pop_                                          # (n + 1,)
        if self.agg == "mean":
            s = s / self.A_.sum(1).clamp(min=1)
        self.item_scores_ = s
        return self

    def score(self, users, history: pd.DataFrame, query: pd.DataFrame | None = None) -> torch.Tensor:
        """(U,) -> (U, n_items + 1): the same attribute-popularity row for every user."""
        self._check_fitted("item_scores_")
        n_users = len(user_tensor(users))
        s = self.item_scores_.clone()
        s[0] = float("-inf")
        return s.expand(n_users, -1).clone()


# ----------------------------------------------------------------------------- text-only scoring
def history_weights(history: pd.DataFrame, users, n_items: int, weighting: str = "rating",
                    half_life_days: float = 30.0) -> torch.Tensor:
    """(U, n_items + 1) weights w_uj of each user's history items (repeats add up).

    ``"uniform"``: 1 per interaction; ``"rating"``: the rating (1 if there is no ``rating``
    column); ``"recency"``: 0.5 ** ((t_last(u) - t) / half-life), so the latest item weighs 1.
    """
    check_log(history, "history", timestamps=weighting == "recency", allow_empty=True)
    users = torch.as_tensor(np.asarray(users), dtype=torch.long).reshape(-1)  # (U,)
    out = torch.zeros(len(users), n_items + 1)
    if len(history) == 0:
        return out
    rows = history["user_id"].map(pd.Series(np.arange(len(users)), index=users.numpy()))
    h = history.loc[rows.notna().to_numpy()]
    rows = rows.dropna().to_numpy(dtype=np.int64)
    if weighting == "uniform" or (weighting == "rating" and "rating" not in h.columns):
        w = np.ones(len(h))
    elif weighting == "rating":
        w = h["rating"].to_numpy(dtype=np.float64)
    elif weighting == "recency":
        t = h["timestamp"].to_numpy(dtype=np.float64)
        last = h.groupby("user_id")["timestamp"].transform("max").to_numpy(dtype=np.float64)
        w = 0.5 ** ((last - t) / (half_life_days * 86400.0))
    else:
        raise ValueError(f"weighting must be 'rating', 'uniform' or 'recency', got {weighting!r}")
    items = h["item_id"].to_numpy(dtype=np.int64)
    if len(items) and (items.min() < 1 or items.max() > n_items):
        raise ValueError(f"history item ids must lie in 1..{n_items}; the item vectors do not cover them")
    out.index_put_((torch.tensor(rows), torch.tensor(items)), torch.tensor(w, dtype=torch.float32),
                   accumulate=True)
    return out


class TextOnly(Recommender):
    """Score items from their text vectors alone, so never-seen items can be recommended.

    With unit item vectors v_i (row 0 = padding) and history weights w_uj (``history_weights``):

    - ``mode="mean"``: profile p_u = sum_j w_uj v_j / sum_j w_uj; s_ui = cos(p_u, v_i) / tau.
    - ``mode="attention"``: each candidate attends over the history, a soft nearest neighbour:
      s_ui = log( sum_j w_uj exp((v_i . v_j - 1) / tau) / sum_j w_uj ).

    ``learn=True`` trains, on the training log only, the temperature tau, a text bias b
    (+ b . v_i: what makes an item popular, read from its text) and, with ``rank > 0``, a
    projection v -> normalise(v + v A B^T). Training mimics the test: each step hides a random
    ``frac`` of the training items (pseudo-cold), and the user's other items must rank the
    hidden ones (softmax over the hidden items). Early stopping watches NDCG@10 on ``valid``
    (history = ``train``) when it is given, else on a fixed share ``frac`` of the training
    items held out of training the same way (pseudo-cold). ``train_log_``: one row per check.
    """

    def __init__(self, item_vectors: torch.Tensor, mode: str = "attention", weighting: str = "rating",
                 tau: float = 0.1, learn: bool = True, rank: int = 0, steps: int = 300, lr: float = 0.01,
                 weight_decay: float = 0.01, batch_users: int = 256, frac: float = 0.1, eval_every: int = 25,
                 patience: int = 4, half_life_days: float = 30.0, seed: int = 0, verbose: bool = True) -> None:
        v = torch.as_tensor(item_vectors).detach().float()
        if v.dim() != 2 or len(v) < 2:
            raise ValueError(f"item_vectors must be (n_items + 1, d) with row 0 = padding, got {tuple(v.shape)}")
        if mode not in ("mean", "attention"):
            raise ValueError(f"mode must be 'mean' or 'attention', got {mode!r}")
        if not tau > 0:
            raise ValueError(f"tau must be > 0, got {tau!r}")
        if min(steps, eval_every, patience, batch_users) < 1 or not 0 < frac < 1:
            raise ValueError("steps, eval_every, patience and batch_users must be >= 1 and frac in (0, 1); got "
                             f"{steps}, {eval_every}, {patience}, {batch_users}, frac={frac}")
        self.V = F.normalize(v, dim=1)                                        # (n + 1, d)
        self.V[0] = 0.0
        self.mode, self.weighting, self.learn, self.rank = mode, weighting, learn, int(rank)
        self.steps, self.lr, self.weight_decay, self.batch_users = steps, lr, weight_decay, batch_users
        self.frac, self.eval_every, self.patience = frac, eval_every, patience
        self.half_life_days, self.seed, self.verbose, self.tau = half_life_days, seed, verbose, tau
        self._init_params()

    @property
    def n_items_(self) -> int:
        return len(self.V) - 1  # fixed by the item vectors

    def _init_params(self) -> None:
        d, gen = self.V.shape[1], torch.Generator().manual_seed(self.seed)
        self.log_tau_ = torch.tensor(float(np.log(self.tau)))
        self.bias_ = torch.zeros(d)                                            # (d,) text bias b
        self.A_ = torch.randn(d, self.rank, generator=gen) * 0.01              # (d, r)
        self.B_ = torch.zeros(d, self.rank)                                    # (d, r) starts at identity

    def _params(self) -> list[torch.Tensor]:
        return [self.log_tau_, self.bias_] + ([self.A_, self.B_] if self.rank else [])

    def _queries(self) -> torch.Tensor:
        """Projected unit item vectors (n + 1, d)."""
        if not self.rank:
            return self.V
        q = F.normalize(self.V + (self.V @ self.A_) @ self.B_.T, dim=1)
        return q * (torch.arange(len(q)) > 0)[:, None]                       # padding stays 0

    def _scores(self, w: torch.Tensor, cand: torch.Tensor | None = None) -> torch.Tensor:
        """History weights (U, n + 1) -> scores (U, C) of the candidates ``cand`` (default: all items)."""
        q = self._queries()
        qc = q if cand is None else q[cand]                                    # (C, d)
        tau = self.log_tau_.exp().clamp(min=0.02)
        total = w.sum(1, keepdim=True)                                        # (U, 1)
        has = total > 0
        if self.mode == "mean":
            p = F.normalize(w @ q, dim=1)                                     # (U, d)
            s = p @ qc.T / tau                                                # (U, C)
        else:
            s = torch.cat([torch.log(w @ torch.exp((q @ qc[c:c + 2048].T - 1.0) / tau) + 1e-30)
                           for c in range(0, len(qc), 2048)], dim=1)          # (U, C)
            s = torch.where(has, s - torch.log(total.clamp(min=1e-30)), torch.zeros_like(s))
        return s * has + (qc @ self.bias_)[None, :]                            # (U, C)

    def fit(self, train: pd.DataFrame, valid: pd.DataFrame | None = None) -> "TextOnly":
        """With ``learn=True``, train tau, b (and A, B) on pseudo-cold episodes of ``train``."""
        self.train_log_ = []
        if not self.learn:
            return self
        self._init_params()  # every fit starts from tau, b = 0 (and the identity projection)
        users = np.unique(train["user_id"].to_numpy())
        W = history_weights(train, users, self.n_items_, self.weighting, self.half_life_days)  # (N, n + 1)
        X = (W > 0).float()                                                   # (N, n + 1) targets
        gen = torch.Generator().manual_seed(self.seed)
        items = torch.as_tensor(np.unique(train["item_id"].to_numpy()), dtype=torch.long)
        items = items[torch.randperm(len(items), generator=gen)]
        selecting_on_valid = valid is not None and len(valid) > 0
        n_val = 0 if selecting_on_valid else max(1, round(self.frac * len(items)))
        val, rest = items[:n_val], items[n_val:]
        W[:, val] = 0.0                                                       # validation items: never seen
        for p in self._params():
            p.requires_grad_(True)
        opt = torch.optim.Adam(self._params(), lr=self.lr, weight_decay=self.weight_decay)
        best, best_state, bad = -1.0, None, 0
        bar = progress.bar(range(self.steps), "TextOnly", self.verbose)  # a plain range when no one watches
        for step in bar:
            hidden = rest[torch.randperm(len(rest), generator=gen)[:max(1, round(self.frac * len(rest)))]]
            rows = torch.randperm(len(W), generator=gen)[:self.batch_users]
            w = W[rows].clone()
            w[:, hidden] = 0.0
            y = X[rows][:, hidden]                                            # (b, H)
            keep = (y.sum(1) > 0) & (w.sum(1) > 0)
            logp = self._scores(w[keep], hidden).log_softmax(1)               # (b', H)
            loss = -((logp * y[keep]).sum(1) / y[keep].sum(1)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            if (step + 1) % self.eval_every == 0 or step + 1 == self.steps:
                with torch.no_grad():
                    if selecting_on_valid:
                        ndcg = validation_metrics(self, train, valid)["valid_ndcg@10"]
                    else:
                        ndcg = self._valid_ndcg(W, X[:, val], val)
                self.train_log_.append({"step": step + 1, "loss": loss.item(), "valid_ndcg@10": ndcg})
                if hasattr(bar, "set_postfix"):
                    bar.set_postfix(loss=f"{loss.item():.3f}", ndcg=f"{ndcg:.3f}")
                if ndcg > best:
                    best, bad, best_state = ndcg, 0, [p.detach().clone() for p in self._params()]
                else:
                    bad += 1
                    if bad >= self.patience:
                        break
        for p, b in zip(self._params(), best_state, strict=True):
            p.requires_grad_(False)
            p.copy_(b)
        best_step = max(self.train_log_, key=lambda r: r["valid_ndcg@10"])["step"]
        progress.report(f"TextOnly: {self.train_log_[-1]['step']} steps, best validation NDCG@10 {best:.4f} "
                        f"at step {best_step}, tau {float(self.log_tau_.exp()):.3f}", self.verbose)
        return self

    def _valid_ndcg(self, W: torch.Tensor, truth: torch.Tensor, cand: torch.Tensor) -> float:
        users = truth.sum(1) > 0
        s = self._scores(W[users], cand)                                      # (U', n_val)
        res = metrics.evaluate(s, truth[users].bool(), ks=(10,), n_boot=0)
        return res["ndcg@10"].mean

    @torch.no_grad()
    def score(self, users, history: pd.DataFrame, query: pd.DataFrame | None = None) -> torch.Tensor:
        """(U,) -> (U, n_items + 1) text scores from each user's ``history``; column 0 = -inf.
        A user with no history gets the text bias b . v_i alone (zero without ``learn``)."""
        self._check_fitted("train_log_")
        w = history_weights(history, users, self.n_items_, self.weighting, self.half_life_days)  # (U, n + 1)
        s = self._scores(w)                                                   # (U, n + 1)
        s[:, 0] = float("-inf")
        return s
