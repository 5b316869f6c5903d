"""Matrix factorisation trained with BPR: the course's general-recommendation model.

Derived in notebooks/05_loss_derivation (BPR) and compared in notebooks/06_evaluation. Each
user u and item i get vectors p_u, q_i and the item a bias b_i; s_ui = p_u . q_i + b_i.
Training minimises BPR, mean of -log sigma(s_ui - s_uj), over the training pairs (u, i) and
``n_negatives`` items j drawn uniformly among those u never interacted with. It has the
interface of every recommender in the course (``fit`` / ``score``; ``save`` / ``load`` from
``models``' shared plumbing); the loop itself is ``llmrec_ref.train.fit``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from llmrec_ref import losses
from llmrec_ref.models import _check_items, _popularity, _Scorer

__all__ = ["MFConfig", "MF"]


@dataclass
class MFConfig:
    """Sizes and training settings of ``MF``; ``n_users``/``n_items`` are filled by ``fit``."""

    n_users: int | None = None
    n_items: int | None = None
    d_model: int = 64
    init_std: float = 0.05
    n_negatives: int = 16               # negatives per positive, drawn uniformly among the user's unseen items
    epochs: int = 300                   # an upper bound: early stopping ends ML-100k after about 60
    lr: float = 1e-3
    weight_decay: float = 1e-5
    batch_size: int = 1024
    patience: int = 10
    seed: int = 0
    device: str = "cpu"
    verbose: bool = True


class MF(_Scorer):
    """Matrix factorisation s_ui = p_u . q_i + b_i, trained with BPR on (user, item, sampled negative)."""

    def __init__(self, config: MFConfig | None = None, **overrides) -> None:
        super().__init__()
        self.config = dataclasses.replace(config or MFConfig(), **overrides)
        self.built = False
        if self.config.n_users is not None and self.config.n_items is not None:
            self._build()

    def _build(self) -> None:
        c = self.config
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(c.seed)
            self.user_emb, self.item_emb = nn.Embedding(c.n_users + 1, c.d_model), nn.Embedding(c.n_items + 1, c.d_model)
            for emb in (self.user_emb, self.item_emb):
                nn.init.normal_(emb.weight, std=c.init_std)
        self.item_bias = nn.Parameter(torch.zeros(c.n_items + 1))
        self.register_buffer("item_counts", torch.zeros(c.n_items + 1))
        self.built = True

    def prepare(self, train: pd.DataFrame, valid: pd.DataFrame | None = None) -> None:
        c = self.config
        if not self.built:
            frames = [f for f in (train, valid) if f is not None and len(f)]
            c.n_users = c.n_users or max(int(f["user_id"].max()) for f in frames)
            c.n_items = c.n_items or max(int(f["item_id"].max()) for f in frames)
            self._build()
        _check_items(train, c.n_items)
        self.item_counts = _popularity(train, c.n_items).to(self.item_counts.device)

    def train_tensors(self, train: pd.DataFrame) -> dict[str, torch.Tensor]:
        """One row per training interaction: users (N,), items (N,). Also notes which (user,
        item) pairs are positives, so that negatives can avoid them."""
        users = torch.tensor(train["user_id"].to_numpy(dtype=np.int64))
        items = torch.tensor(train["item_id"].to_numpy(dtype=np.int64))
        c = self.config
        self._positive = torch.zeros(c.n_users + 1, c.n_items + 1, dtype=torch.bool, device=self.item_bias.device)
        self._positive[users.to(self._positive.device), items.to(self._positive.device)] = True  # (U + 1, V)
        return {"users": users, "items": items}

    def _negatives(self, users: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """(B, n_negatives) items drawn uniformly; draws that are the user's positives are redrawn
        (up to 10 rounds; on ML-100k, 6% of draws hit a positive, so one round in 10^12 survives)."""
        c, positive = self.config, getattr(self, "_positive", None)
        neg = torch.randint(1, c.n_items + 1, (len(users), c.n_negatives), generator=generator).to(users.device)
        for _ in range(10 if positive is not None else 0):
            hit = positive[users[:, None], neg]  # (B, N)
            if not hit.any():
                break
            redraw = torch.randint(1, c.n_items + 1, neg.shape, generator=generator).to(users.device)
            neg = torch.where(hit, redraw, neg)
        return neg

    def batch_loss(self, batch: dict[str, torch.Tensor], generator: torch.Generator | None = None) -> torch.Tensor:
        """BPR over ``n_negatives`` sampled unseen items per (user, positive) pair:
        mean over pairs and negatives of -log sigma(s_ui - s_uj)."""
        u, pos = self.user_emb(batch["users"]), batch["items"]  # (B, d), (B,)
        neg = self._negatives(batch["users"], generator)  # (B, N)
        s_pos = (u * self.item_emb(pos)).sum(-1) + self.item_bias[pos]  # (B,)
        s_neg = (u[:, None] * self.item_emb(neg)).sum(-1) + self.item_bias[neg]  # (B, N)
        return losses.bpr_loss(s_pos, s_neg)

    def fit(self, train: pd.DataFrame, valid: pd.DataFrame | None = None) -> MF:
        """Train with BPR (validation NDCG@10 each epoch, early stopping); returns self."""
        from llmrec_ref.train import fit

        self.history_ = fit(self, train, valid)
        return self

    @torch.no_grad()
    def score(self, users, history: pd.DataFrame) -> torch.Tensor:
        """s_ui for every item: (len(users),) -> (len(users), n_items + 1). ``history`` is not used
        (the user vector holds it); users unseen in training get popularity, with a warning."""
        if not self.built:
            raise ValueError("MF is not fitted: call fit(train) (or MF.load(path)) first")
        users = torch.as_tensor(np.asarray(users), dtype=torch.long).reshape(-1).to(self.item_bias.device)
        unknown = (users < 1) | (users > self.config.n_users)
        u = self.user_emb(users.clamp(0, self.config.n_users))  # (U, d)
        s = u @ self.item_emb.weight.T + self.item_bias  # (U, V)
        return self._fallback(s, unknown, "training interactions").cpu()
