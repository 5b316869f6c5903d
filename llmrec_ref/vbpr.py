"""VBPR-style matrix factorisation: ID vectors plus fixed item content (text, image, ...), fused.

Derived in notebooks/09_multimodal (after He & McAuley's VBPR, 2016). Each item i has fixed
content vectors f_i^m, one per modality m (text from MiniLM, image from a CNN, ...); an all-zero
row means "this item has no such content" (a missing image). The score

    s_ui = [p_u . q_i + b_i]  (ID part, ``use_id``)  +  c_ui  (content part)

with the content part fused in one of three ways:

- ``"early"``: concatenate, then project: c_ui = theta_u . E [f_i^1; f_i^2; ...];
- ``"late"``: one projection and one user vector per modality, scores summed:
  c_ui = sum_m theta_u^m . E_m f_i^m;
- ``"gated"``: the item chooses how much each modality speaks,
  c_ui = theta_u . sum_m g_im E_m f_i^m, g_i = softmax_m(w_m . f_i^m + a_m) over the modalities the
  item has (a missing one gets weight 0 exactly).

An item never seen in training has no trained ID vector: its q_i and b_i are set to 0 when
scoring (``seen_``), so a cold item is ranked by its content alone. Trained with BPR over
``n_negatives`` uniform negatives per (user, positive), like ``llmrec_ref.mf.MF``.
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
from llmrec_ref.mf import MFConfig
from llmrec_ref.recommender import (
    Recommender,
    check_items,
    config_from,
    item_counts,
    largest_id,
    user_tensor,
)
from llmrec_ref.train import train_loop

__all__ = ["FUSIONS", "VBPRConfig", "VBPRNet", "VBPR"]

FUSIONS = ("early", "late", "gated")


@dataclass(frozen=True)
class VBPRConfig:
    """Settings of ``VBPR``; ``n_users``/``n_items`` None = learned from the data by ``fit``."""

    n_users: int | None = None
    n_items: int | None = None
    d_model: int = 32                   # width of p_u, q_i (ID part)
    d_content: int = 32                 # width of theta_u and of the projected content
    fusion: str = "early"               # "early", "late" or "gated"
    use_id: bool = True                 # False: content only (the ID part is left out)
    init_std: float = 0.05
    n_negatives: int = 8
    epochs: int = 30
    lr: float = 3e-3
    weight_decay: float = 1e-5
    batch_size: int = 1024
    patience: int = 5
    seed: int = 0
    device: str = "cpu"
    verbose: bool = True

    def __post_init__(self) -> None:
        # the settings VBPR shares with MF are checked by MFConfig, with the same messages
        MFConfig(**{f.name: getattr(self, f.name) for f in dataclasses.fields(MFConfig) if hasattr(self, f.name)})
        if isinstance(self.d_content, bool) or not isinstance(self.d_content, int) or self.d_content < 1:
            raise ValueError(f"d_content must be an int >= 1, got {self.d_content!r}")
        if self.fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, got {self.fusion!r}")


class VBPRNet(nn.Module):
    """s_ui = p_u . q_i + b_i + c_ui (see the module docstring) for users against given items.

    ``dims`` lists the width of each modality's content vectors (empty: plain MF). The content
    itself lives outside the network (the estimator passes it in), so the module stays small.

    Shape:
        - users: (B,) int64; items: (B, C) int64; content: list of (B, C, d_m) tensors, one per
          modality, and present: (B, C, M) bool
        - output: (B, C) scores
    """

    def __init__(self, n_users: int, n_items: int, dims: tuple, d_model: int, d_content: int, fusion: str,
                 use_id: bool, init_std: float = 0.05) -> None:
        super().__init__()
        if not use_id and not dims:
            raise ValueError("a model without the ID part needs at least one content modality")
        self.fusion, self.use_id, M = fusion, use_id, len(dims)
        self.user_emb = nn.Embedding(n_users + 1, d_model) if use_id else None     # P: (U + 1, d)
        self.item_emb = nn.Embedding(n_items + 1, d_model) if use_id else None     # Q: (V, d)
        self.item_bias = nn.Parameter(torch.zeros(n_items + 1)) if use_id else None
        n_theta = M if fusion == "late" else min(M, 1)
        self.theta = nn.ModuleList([nn.Embedding(n_users + 1, d_content) for _ in range(n_theta)])  # (U + 1, d_c)
        if fusion == "early" and M:
            self.proj = nn.ModuleList([nn.Linear(sum(dims), d_content, bias=False)])  # E: (d_c, sum d_m)
        else:
            self.proj = nn.ModuleList([nn.Linear(d, d_content, bias=False) for d in dims])  # E_m: (d_c, d_m)
        self.gate = nn.ModuleList([nn.Linear(d, 1) for d in dims]) if fusion == "gated" else None
        self.content_bias = nn.ModuleList([nn.Linear(d, 1, bias=False) for d in dims])  # beta_m . f_i^m
        for emb in [self.user_emb, self.item_emb, *self.theta]:
            if emb is not None:
                nn.init.normal_(emb.weight, std=init_std)

    def item_content(self, feats: list[torch.Tensor], present: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Projected content of items, user-independent: M tensors (..., d_m), present (..., M) ->
        (e (..., K, d_c), beta (...)); K = M for late fusion (one per modality), else 1."""
        if not feats:
            return present.new_zeros(present.shape[:-1] + (0, 1), dtype=torch.float), \
                present.new_zeros(present.shape[:-1], dtype=torch.float)
        bias = sum(b(f).squeeze(-1) for b, f in zip(self.content_bias, feats, strict=True))    # (...,)
        if self.fusion == "early":
            return self.proj[0](torch.cat(feats, dim=-1)).unsqueeze(-2), bias                  # (..., 1, d_c)
        if self.fusion == "late":
            return torch.stack([p(f) for p, f in zip(self.proj, feats, strict=True)], -2), bias  # (..., M, d_c)
        logits = torch.cat([g(f) for g, f in zip(self.gate, feats, strict=True)], dim=-1)      # (..., M)
        g = torch.nan_to_num(logits.masked_fill(~present, float("-inf")).softmax(-1), nan=0.0)  # missing -> 0
        e = sum(g[..., m:m + 1] * p(f) for m, (p, f) in enumerate(zip(self.proj, feats, strict=True)))
        return e.unsqueeze(-2), bias                                                           # (..., 1, d_c)

    def user_content(self, users: torch.Tensor) -> torch.Tensor:
        """theta_u: (B,) -> (B, K, d_c)."""
        return torch.stack([t(users) for t in self.theta], -2)

    def forward(self, users: torch.Tensor, items: torch.Tensor, feats: list[torch.Tensor],
                present: torch.Tensor, id_mask: torch.Tensor | None = None) -> torch.Tensor:
        e, s = self.item_content(feats, present)                                               # (B, C, K, d_c), (B, C)
        if len(self.theta):
            s = s + (self.user_content(users)[:, None] * e).sum((-1, -2))
        if self.use_id:
            q, b = self.item_emb(items), self.item_bias[items]                                 # (B, C, d), (B, C)
            if id_mask is not None:                                                            # cold items: no ID part
                q, b = q * id_mask[..., None], b * id_mask
            s = s + (self.user_emb(users)[:, None] * q).sum(-1) + b
        return s


class VBPR(Recommender):
    """VBPR-style MF with fused item content (see the module docstring).

    ``VBPR(content={"text": T, "image": I}, fusion="gated", ...)``: each tensor (n_items + 1, d_m),
    row = item id, row 0 = padding, an all-zero row = the item lacks that modality. ``content={}``
    (or None) is plain BPR-MF. The content is fixed (never trained) and saved with the model.
    """

    def __init__(self, content: dict | None = None, config: VBPRConfig | None = None, **overrides) -> None:
        if config is not None and not isinstance(config, VBPRConfig):
            raise ValueError(f"config must be a VBPRConfig, got {type(config).__name__}")
        unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(VBPRConfig)})
        if unknown:
            raise ValueError(f"VBPR has no setting {unknown[0]!r}; the settings are the fields of VBPRConfig")
        self.config = dataclasses.replace(config or VBPRConfig(), **overrides)
        content = dict(content or {})
        for name, v in content.items():
            if v is None:
                raise ValueError(f"content[{name!r}] is None: pass its (n_items + 1, d) vectors (for images, e.g. "
                                 "multimodal.item_table(encoder, images)), or leave the modality out")
        rows = {name: torch.as_tensor(v).detach().float() for name, v in content.items()}
        for name, v in rows.items():
            if v.dim() != 2 or len(v) < 2 or not torch.isfinite(v).all():
                raise ValueError(f"content[{name!r}] must be a finite (n_items + 1, d) tensor (row 0 = padding), "
                                 f"got shape {tuple(v.shape)}")
        if len({len(v) for v in rows.values()}) > 1:
            raise ValueError("every content tensor must have one row per item id (n_items + 1 rows), got "
                             f"{ {k: len(v) for k, v in rows.items()} }")
        self.content = rows
        if not self.config.use_id and not rows:
            raise ValueError("use_id=False needs at least one content modality, e.g. content={'text': vectors}")

    def _content_rows(self, n_items: int) -> tuple[list[torch.Tensor], torch.Tensor]:
        feats = list(self.content.values())
        for name, v in self.content.items():
            if len(v) != n_items + 1:
                raise ValueError(f"content[{name!r}] has {len(v)} rows but the data has n_items = {n_items}: "
                                 f"give one row per item id 0..{n_items}")
        present = torch.stack([v.abs().amax(1) > 0 for v in feats], 1) if feats else torch.zeros(n_items + 1, 0,
                                                                                                dtype=torch.bool)
        return feats, present                                                   # (V, d_m) each, (V, M)

    def _scores(self, users: torch.Tensor, items: torch.Tensor, id_mask: torch.Tensor | None = None) -> torch.Tensor:
        feats = [f[items] for f in self.feats_]
        return self.network_(users, items, feats, self.present_[items], id_mask)

    def fit(self, train: pd.DataFrame, valid: pd.DataFrame | None = None) -> VBPR:
        """BPR on the training pairs (validation NDCG@10 on ``valid`` each epoch, early stopping); returns self."""
        c = self.config
        n_users = c.n_users or largest_id("user_id", train, valid)
        n_items = c.n_items or largest_id("item_id", train, valid)
        check_items(train, n_items)
        feats, present = self._content_rows(n_items)
        self.feats_, self.present_ = [f.to(c.device) for f in feats], present.to(c.device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(c.seed)
            self.network_ = VBPRNet(n_users, n_items, tuple(f.shape[1] for f in feats), c.d_model, c.d_content,
                                    c.fusion, c.use_id, c.init_std).to(c.device)
        self.n_users_, self.n_items_ = n_users, n_items
        self.item_counts_ = item_counts(train, n_items)
        self.seen_ = self.item_counts_ > 0                                       # (V,) items with an ID vector
        users = torch.tensor(train["user_id"].to_numpy(dtype=np.int64))
        items = torch.tensor(train["item_id"].to_numpy(dtype=np.int64))
        positive = torch.zeros(n_users + 1, n_items + 1, dtype=torch.bool, device=c.device)  # (U + 1, V)
        positive[users.to(c.device), items.to(c.device)] = True
        candidates = torch.nonzero(self.seen_).squeeze(1).to(c.device)                 # negatives: items seen in training

        def batch_loss(batch: dict[str, torch.Tensor], generator: torch.Generator) -> torch.Tensor:
            u, pos = batch["users"], batch["items"]                              # (B,)
            neg = candidates[torch.randint(len(candidates), (len(u), c.n_negatives), generator=generator)
                             .to(c.device)]                                      # (B, N)
            s = self._scores(u, torch.cat([pos[:, None], neg], 1))               # (B, 1 + N)
            keep = ~positive[u[:, None], neg]                                    # a drawn positive is no negative
            return losses.bpr_loss(s[:, 0], torch.where(keep, s[:, 1:], s[:, :1].detach() - 30.0))

        validate = None
        if valid is not None and len(valid):
            def validate() -> dict[str, float]:
                return validation_metrics(self, train, valid)
        self.train_log_ = train_loop(self.network_, {"users": users, "items": items}, batch_loss, epochs=c.epochs,
                                     lr=c.lr, batch_size=c.batch_size, patience=c.patience,
                                     weight_decay=c.weight_decay, seed=c.seed, device=c.device, verbose=c.verbose,
                                     validate=validate, name=f"VBPR ({c.fusion})")
        return self

    @torch.no_grad()
    def score(self, users, history: pd.DataFrame, query: pd.DataFrame | None = None) -> torch.Tensor:
        """s_ui for every item: (len(users),) -> (len(users), n_items + 1), column 0 = -inf. Items
        unseen in training are scored by their content alone; unknown users get popularity."""
        self._check_fitted()
        device = self.present_.device
        users = user_tensor(users).to(device)
        unknown = (users < 1) | (users > self.n_users_)
        net, was = self.network_, self.network_.training
        net.eval()
        e, bias = net.item_content(self.feats_, self.present_)                  # (V, K, d_c), (V,)
        seen = self.seen_.to(device).float()                                    # cold items: no ID part
        u = users.clamp(0, self.n_users_)
        scores = bias.expand(len(u), -1).clone()                                # (U, V)
        if len(net.theta):
            scores += torch.einsum("ukd,vkd->uv", net.user_content(u), e)
        if net.use_id:
            scores += net.user_emb(u) @ (net.item_emb.weight * seen[:, None]).T + net.item_bias * seen
        net.train(was)
        return self._fallback(scores, unknown, self.item_counts_, "training interactions").cpu()

    # ---------------------------------------------------------------- checkpoints
    def _state(self) -> tuple[dict, dict[str, torch.Tensor]]:
        self._check_fitted()
        meta = {"config": dataclasses.asdict(self.config), "n_users": self.n_users_, "n_items": self.n_items_,
                "modalities": list(self.content), "train_log": getattr(self, "train_log_", [])}
        tensors = {"net." + k: v for k, v in self.network_.state_dict().items()}
        tensors |= {"content." + k: v for k, v in self.content.items()}
        return meta, tensors | {"item_counts": self.item_counts_}

    @classmethod
    def _from_state(cls, meta: dict, tensors: dict[str, torch.Tensor], device: str) -> VBPR:
        content = {k: tensors["content." + k] for k in meta["modalities"]}
        model = cls(content, config_from(VBPRConfig, meta["config"], device=device))
        model.n_users_, model.n_items_ = meta["n_users"], meta["n_items"]
        feats, present = model._content_rows(model.n_items_)
        model.feats_, model.present_ = [f.to(device) for f in feats], present.to(device)
        c = model.config
        model.network_ = VBPRNet(model.n_users_, model.n_items_, tuple(f.shape[1] for f in feats), c.d_model,
                                 c.d_content, c.fusion, c.use_id, c.init_std)
        try:
            model.network_.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")})
        except RuntimeError as err:
            raise ValueError(f"the checkpoint's weights do not fit its VBPR config: {err}") from err
        model.network_.to(device).eval()
        model.item_counts_, model.train_log_ = tensors["item_counts"], meta["train_log"]
        model.seen_ = model.item_counts_ > 0
        return model
