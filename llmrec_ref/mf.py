"""Matrix factorisation trained with BPR: the course's general-recommendation model.

Derived in notebooks/05_loss_derivation (BPR) and compared in notebooks/06_evaluation. Each
user u and item i get vectors p_u, q_i and the item a bias b_i; s_ui = p_u . q_i + b_i.
Training minimises BPR, mean of -log sigma(s_ui - s_uj), over the training pairs (u, i) and
``n_negatives`` items j drawn uniformly among those u never interacted with. ``MFNet`` is the
network (a pure ``nn.Module``), ``MF`` the estimator with the course's contract
(``llmrec_ref.recommender``); the loop is ``llmrec_ref.train.train_loop``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from llmrec_ref import losses
from llmrec_ref.evaluation import validation_metrics
from llmrec_ref.recommender import (
    Recommender,
    check_items,
    check_log,
    config_from,
    item_counts,
    largest_id,
    user_tensor,
)
from llmrec_ref.train import check_settings, train_loop

__all__ = ["MFConfig", "MFNet", "MF"]


@dataclass(frozen=True)
class MFConfig:
    """Settings of ``MF``; ``n_users``/``n_items`` None = learned from the data by ``fit``."""

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
    warm_start: bool = False            # fit continues from the current weights (same sizes) instead of anew
    seed: int = 0
    device: str = "cpu"
    verbose: bool = True

    def __post_init__(self) -> None:
        for name in ("n_users", "n_items"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be None or an int >= 1, got {value!r}")
        for name in ("d_model", "n_negatives"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if not 0 < self.init_std < float("inf"):
            raise ValueError(f"init_std must be a finite number > 0 (e.g. 0.05), got {self.init_std!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {self.seed!r}")
        check_settings(self.epochs, self.lr, self.batch_size, self.patience, self.weight_decay, self.device)


class MFNet(nn.Module):
    """s_ui = p_u . q_i + b_i for a batch of users against every item.

    Shape:
        - users: (B,) int64 ids in 1..n_users
        - output: (B, n_items + 1) scores (column 0 is padding; the estimator sets it to -inf)
    """

    def __init__(self, n_users: int, n_items: int, d_model: int, init_std: float = 0.05) -> None:
        super().__init__()
        self.user_emb = nn.Embedding(n_users + 1, d_model)   # P: (U + 1, d)
        self.item_emb = nn.Embedding(n_items + 1, d_model)   # Q: (V, d)
        for emb in (self.user_emb, self.item_emb):
            nn.init.normal_(emb.weight, std=init_std)
        self.item_bias = nn.Parameter(torch.zeros(n_items + 1))  # b: (V,)

    def item_vectors(self, items: torch.Tensor | None = None) -> torch.Tensor:
        """q_i of ``items`` (any shape (...) -> (..., d)), or of every item (V, d) when None."""
        return self.item_emb.weight if items is None else self.item_emb(items)

    def forward(self, users: torch.Tensor) -> torch.Tensor:
        return self.user_emb(users) @ self.item_vectors().T + self.item_bias  # (B, d) @ (d, V) -> (B, V)


class MF(Recommender):
    """Matrix factorisation s_ui = p_u . q_i + b_i, trained with BPR on (user, item, sampled negative)."""

    config_class = MFConfig  # what a checkpoint's config is read back as

    def __init__(self, config: MFConfig | None = None, **overrides) -> None:
        if config is not None and not isinstance(config, MFConfig):
            raise ValueError(f"config must be an MFConfig, got {type(config).__name__}")
        unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(MFConfig)})
        if unknown:
            raise ValueError(f"MF has no setting {unknown[0]!r}; the settings are the fields of MFConfig")
        self.config = dataclasses.replace(config or MFConfig(), **overrides)

    def _negatives(self, users: torch.Tensor, positive: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """(B, n_negatives) items drawn uniformly; draws that are the user's positives are redrawn
        (up to 10 rounds; on ML-100k, 6% of draws hit a positive, so one round in 10^12 survives)."""
        n_items, n_neg = self.n_items_, self.config.n_negatives
        neg = torch.randint(1, n_items + 1, (len(users), n_neg), generator=generator).to(users.device)
        for _ in range(10):
            hit = positive[users[:, None], neg]  # (B, N)
            if not hit.any():
                break
            redraw = torch.randint(1, n_items + 1, neg.shape, generator=generator).to(users.device)
            neg = torch.where(hit, redraw, neg)
        return neg

    def fit(self, train: pd.DataFrame, valid: pd.DataFrame | None = None) -> MF:
        """Train with BPR (validation NDCG@10 on ``valid`` after each epoch, early stopping); returns self."""
        c = self.config
        check_log(train, "train")
        check_log(valid, "valid", allow_empty=True)
        n_users = c.n_users or largest_id("user_id", train, valid)
        n_items = c.n_items or largest_id("item_id", train, valid)
        check_items(train, n_items)
        if not (c.warm_start and getattr(self, "network_", None) is not None
                and (self.n_users_, self.n_items_) == (n_users, n_items)):
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(c.seed)
                self.network_ = self._network(n_users, n_items)
        self.n_users_, self.n_items_ = n_users, n_items
        self.item_counts_ = item_counts(train, n_items)
        users = torch.tensor(train["user_id"].to_numpy(dtype=np.int64))
        items = torch.tensor(train["item_id"].to_numpy(dtype=np.int64))
        positive = torch.zeros(n_users + 1, n_items + 1, dtype=torch.bool, device=c.device)  # (U + 1, V)
        positive[users.to(c.device), items.to(c.device)] = True

        def batch_loss(batch: dict[str, torch.Tensor], generator: torch.Generator) -> torch.Tensor:
            """BPR over ``n_negatives`` sampled unseen items per (user, positive) pair."""
            extra = self._extra_loss(generator)  # 0 here; a subclass's second objective (cke: the graph's)
            net, pos = self.network_, batch["items"]  # (B,)
            u = net.user_emb(batch["users"])  # (B, d)
            neg = self._negatives(batch["users"], positive, generator)  # (B, N)
            s_pos = (u * net.item_vectors(pos)).sum(-1) + net.item_bias[pos]  # (B,)
            s_neg = (u[:, None] * net.item_vectors(neg)).sum(-1) + net.item_bias[neg]  # (B, N)
            return losses.bpr_loss(s_pos, s_neg) + extra

        validate = None
        if valid is not None and len(valid):
            def validate() -> dict[str, float]:
                return validation_metrics(self, train, valid)
        self.train_log_ = train_loop(self.network_, {"users": users, "items": items}, batch_loss, epochs=c.epochs,
                                     lr=c.lr, batch_size=c.batch_size, patience=c.patience,
                                     weight_decay=c.weight_decay, seed=c.seed, device=c.device,
                                     verbose=c.verbose, validate=validate, name="MF")
        return self

    def _network(self, n_users: int, n_items: int) -> MFNet:
        """A fresh network (torch's global generator is seeded with ``config.seed`` just before)."""
        return MFNet(n_users, n_items, self.config.d_model, self.config.init_std)

    def _extra_loss(self, generator: torch.Generator) -> torch.Tensor | float:
        """A loss added to BPR at every step, computed first (before the step's negatives are drawn): none for MF."""
        return 0.0

    @torch.no_grad()
    def score(self, users, history: pd.DataFrame, query: pd.DataFrame | None = None) -> torch.Tensor:
        """s_ui for every item: (len(users),) -> (len(users), n_items + 1). ``history`` and ``query``
        are not used (the user vector holds the history); users unseen in training get
        popularity, with a warning."""
        self._check_fitted()
        device = self.network_.item_bias.device
        users = user_tensor(users).to(device)
        unknown = (users < 1) | (users > self.n_users_)
        s = self.network_(users.clamp(0, self.n_users_))  # (U, V)
        return self._fallback(s, unknown, self.item_counts_, "training interactions").cpu()

    # ---------------------------------------------------------------- checkpoints
    def _state(self) -> tuple[dict, dict[str, torch.Tensor]]:
        self._check_fitted()
        meta = {"config": dataclasses.asdict(self.config), "n_users": self.n_users_, "n_items": self.n_items_,
                "train_log": getattr(self, "train_log_", [])}
        tensors = {"net." + k: v for k, v in self.network_.state_dict().items()}
        return meta, tensors | {"item_counts": self.item_counts_}

    def _saved_network(self, meta: dict, tensors: dict[str, torch.Tensor]) -> MFNet:
        """An empty network of the shapes a checkpoint holds, for ``load`` to fill."""
        return MFNet(self.n_users_, self.n_items_, self.config.d_model, self.config.init_std)

    @classmethod
    def _from_state(cls, meta: dict, tensors: dict[str, torch.Tensor], device: str) -> MF:
        model = cls(config=config_from(cls.config_class, meta["config"], device=device))
        model.n_users_, model.n_items_ = meta["n_users"], meta["n_items"]
        model.network_ = model._saved_network(meta, tensors)
        try:
            model.network_.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")})
        except RuntimeError as err:
            raise ValueError(f"the checkpoint's weights do not fit its {cls.__name__} config: {err}") from err
        model.network_.to(device).eval()
        model.item_counts_, model.train_log_ = tensors["item_counts"], meta["train_log"]
        return model
