"""The course's context-aware model, ContextRec: embed -> encode -> attend -> decode.

Derived in notebooks/05_loss_derivation. Parts before the whole:

1. ``ContextRecConfig``: one dataclass with every size and training setting (CPU-fast defaults).
2. ``_Scorer``: the plumbing every trained model shares (popularity fallback, padding column,
   ``save``/``load``), also used by ``llmrec_ref.mf.MF``.
3. ``ContextRec``: item embedding + context embeddings (behaviour, hour, weekday, time gap,
   device, ...; coded by ``llmrec_ref.context``) + the context of the *request* each position
   answers (when the next event happens, after how long, on which device; never what the user
   then did) + positions -> a causal Transformer (or a GRU) -> scores of every item for every
   position through the *tied* item table (the "decoder" is the scoring head), optionally
   plus a target-attention term in which each candidate item attends over the history. One
   forward scores all positions of a batch, so an epoch over MovieLens-100k is one pass over
   943 sequences. The item table is an ID embedding (``item_repr="id"``), an ID embedding plus
   a learned projection of fixed item text vectors (``"id+text"``), or the projection alone
   (``"text"``: items never seen in training can still be scored).

``MF`` and ``MFConfig`` (matrix factorisation with BPR, the general-task model) live in
``llmrec_ref.mf`` and are importable from here too. Every model follows the interface of the
course: ``fit(train, valid=None)`` and ``score(users, history) -> (len(users), n_items + 1)``
with column 0 = padding (-inf). Training itself lives in ``llmrec_ref.train``.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import nn

from llmrec_ref import losses
from llmrec_ref.context import (
    AUTO_CATEGORICAL,
    KNOWN_FEATURES,
    OUTCOME_FEATURES,
    encode_context,
    request_codes,
)
from llmrec_ref.encoders import BiRNNEncoder, TransformerEncoder, causal_mask
from llmrec_ref.sampling import SequenceDataset

__all__ = ["ContextRecConfig", "ContextRec", "MFConfig", "MF", "encode_context", "KNOWN_FEATURES"]  # noqa: F822


def __getattr__(name: str):
    """``models.MF`` / ``models.MFConfig`` from ``llmrec_ref.mf`` (imported lazily: mf imports this module)."""
    if name in ("MF", "MFConfig"):
        from llmrec_ref import mf

        return getattr(mf, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

ITEM_REPRS = ("id", "id+text", "text")
LOSSES = ("softmax", "sampled_softmax", "bpr", "bce")


@dataclass
class ContextRecConfig:
    """Sizes and training settings of ``ContextRec``; ``n_items``/``features``/``categories`` are filled by ``fit``."""

    n_items: int | None = None          # largest item id (ids 1..n_items, 0 = padding)
    d_model: int = 64
    n_heads: int = 2
    n_layers: int = 1                   # one block: better validation NDCG than two within a minute on ML-100k
    d_ff: int | None = None             # width of the Transformer's MLP (None = 4 d_model)
    max_len: int = 50                   # most recent items a user is represented by
    windows: str = "all"                # training rows: "all" events, or the "last" max_len + 1 per user
    dropout: float = 0.2
    encoder: str = "transformer"        # "transformer" (causal self-attention) or "gru"
    features: list | None = None        # context columns; None = every known one present, [] = none
    categories: dict = field(default_factory=dict)  # vocabulary of each categorical feature
    target_attention: bool = False      # add a candidate -> history attention term to each score
    request_context: bool = False       # also embed, at each position, the context of the request it
                                        # answers (the next event's hour, weekday, gap, device, ...): only
                                        # where timestamps are request times (not MovieLens: see DESIGN)
    request_features: list | None = None  # which of them (None = every feature but the behaviour)
    item_repr: str = "id"               # item table: "id", "id+text" or "text" (see set_item_text)
    text_dim: int | None = None         # width of the item text vectors (set by set_item_text)
    init_std: float = 0.02              # N(0, std^2) init: tied outputs start near log(n_items)
    loss: str = "softmax"               # "softmax", "sampled_softmax", "bpr" or "bce"
    n_negatives: int = 1000             # sampled_softmax: negatives per batch (bpr/bce: one per position)
    mask_seen: bool = True              # leave a position's past items out of its training softmax (and
                                        # exclude history items when validating); False for protocols
                                        # that rank history items too
    epochs: int = 16                    # about a minute on ML-100k on a 2-core CPU
    lr: float = 3e-3
    weight_decay: float = 0.0
    batch_size: int = 64
    patience: int = 5                   # epochs without a better validation NDCG@10 before stopping
    seed: int = 0
    device: str = "cpu"
    verbose: bool = True

    def __post_init__(self) -> None:
        if self.encoder not in ("transformer", "gru"):
            raise ValueError(f"encoder must be 'transformer' or 'gru', got {self.encoder!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if self.item_repr not in ITEM_REPRS:
            raise ValueError(f"item_repr must be one of {ITEM_REPRS}, got {self.item_repr!r}")
        if self.windows not in ("last", "all"):
            raise ValueError(f"windows must be 'last' or 'all', got {self.windows!r}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be a multiple of n_heads ({self.n_heads})")


def _popularity(train: pd.DataFrame, n_items: int) -> torch.Tensor:
    return torch.bincount(torch.tensor(train["item_id"].to_numpy(dtype=np.int64)), minlength=n_items + 1).float()


def _check_items(frame: pd.DataFrame, n_items: int) -> None:
    items = frame["item_id"].to_numpy()
    bad = items[(items < 1) | (items > n_items)]
    if len(bad):
        raise KeyError(f"item id {int(bad[0])} is unknown to this model (it knows ids 1..{n_items}); "
                       "remap ids as in training, or refit with n_items large enough")


class _Scorer(nn.Module):
    """Plumbing shared by ContextRec and MF: fitted check, popularity fallback, padding column."""

    config: ContextRecConfig  # or MFConfig (llmrec_ref.mf)

    @property
    def n_items(self) -> int | None:
        return self.config.n_items

    def _fallback(self, scores: torch.Tensor, empty: torch.Tensor, what: str) -> torch.Tensor:
        """Rows flagged ``empty`` get popularity scores (log(1 + count)), with a warning."""
        if empty.any():
            warnings.warn(f"{int(empty.sum())} user(s) have no {what}: recommending by popularity", stacklevel=3)
            scores[empty] = torch.log1p(self.item_counts.to(scores.device))
        scores[:, 0] = float("-inf")
        return scores

    def save(self, path) -> None:
        """Write ``state_dict`` + config JSON to ``path`` (see ``llmrec_ref.train.save``)."""
        from llmrec_ref.train import save

        save(self, path)

    @classmethod
    def load(cls, path, device: str = "cpu"):
        """Rebuild a fitted model from ``path`` (``weights_only=True``; see ``llmrec_ref.train.load``)."""
        from llmrec_ref.train import load

        return load(path, cls=cls, device=device)


class ContextRec(_Scorer):
    """Context-aware sequential recommender: embed -> encode -> attend -> decode (see the module docstring)."""

    def __init__(self, config: ContextRecConfig | None = None, **overrides) -> None:
        super().__init__()
        self.config = dataclasses.replace(config or ContextRecConfig(), **overrides)
        self.built = False
        if self._ready():
            self._build()  # else fit builds the layers once the data has told the vocabularies

    def _ready(self) -> bool:
        c = self.config
        return (c.n_items is not None and c.features is not None
                and all(f in KNOWN_FEATURES or f in c.categories for f in c.features)
                and (c.item_repr == "id" or c.text_dim is not None))

    @property
    def request_features(self) -> list[str]:
        """The context features a request carries: every feature but the outcomes (behaviour)."""
        c = self.config
        if not c.request_context:
            return []
        if c.request_features is not None:
            return [f for f in c.features or [] if f in c.request_features and f not in OUTCOME_FEATURES]
        return [f for f in c.features or [] if f not in OUTCOME_FEATURES]

    # ---------------------------------------------------------------- parts
    def _build(self) -> None:
        """Create the layers; seeded by ``config.seed`` without touching the global RNG."""
        c = self.config

        def table(name: str) -> nn.Embedding:
            return nn.Embedding(KNOWN_FEATURES.get(name, len(c.categories.get(name, ())) + 2), c.d_model, padding_idx=0)

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(c.seed)
            # the item table (also the output layer): ID vectors, + projected text vectors
            self.item_emb = nn.Embedding(c.n_items + 1, c.d_model, padding_idx=0) if c.item_repr != "text" else None
            self.text_proj = nn.Linear(c.text_dim, c.d_model, bias=False) if c.item_repr != "id" else None
            self.feature_emb = nn.ModuleDict({f: table(f) for f in c.features})
            self.next_emb = nn.ModuleDict({f: table(f) for f in self.request_features})
            self.pos_emb = nn.Embedding(c.max_len, c.d_model)
            self.drop = nn.Dropout(c.dropout)
            if c.encoder == "transformer":
                self.encoder = TransformerEncoder(c.d_model, c.n_heads, c.n_layers, c.d_ff, c.dropout, "gelu",
                                                  norm_first=True)
            else:
                self.encoder = BiRNNEncoder(c.d_model, c.d_model, "gru", bidirectional=False, n_layers=c.n_layers,
                                            dropout=c.dropout)
                self.out_norm = nn.LayerNorm(c.d_model)
            # per-item bias; none in text mode, where an item must be scored from its text alone
            self.item_bias = nn.Parameter(torch.zeros(c.n_items + 1)) if c.item_repr != "text" else None
            self.ta_scale = nn.Parameter(torch.zeros(())) if c.target_attention else None
            embs = [self.pos_emb, *self.feature_emb.values(), *self.next_emb.values()]
            for emb in ([self.item_emb] if self.item_emb is not None else []) + embs:
                nn.init.normal_(emb.weight, std=c.init_std)
                if emb.padding_idx is not None:
                    emb.weight.data[emb.padding_idx].zero_()
        self.register_buffer("item_counts", torch.zeros(c.n_items + 1))
        if c.item_repr != "id":
            self.register_buffer("item_text", torch.zeros(c.n_items + 1, c.text_dim))  # fixed, not trained
        self.built = True

    def init_item_embeddings(self, weight: torch.Tensor | nn.Embedding, std: float | None = None) -> None:
        """Start the ID item table from pretrained vectors (n_items + 1, d_model), e.g. ``embeddings.to_embedding``
        of item2vec or text vectors, rescaled to standard deviation ``std`` (default ``config.init_std``).
        Before the layers exist (n_items or features unknown) the vectors are kept and applied by ``fit``."""
        if self.config.item_repr == "text":
            raise ValueError("item_repr='text' has no ID item table to initialise; use set_item_text(vectors)")
        w = (weight.weight if isinstance(weight, nn.Embedding) else torch.as_tensor(weight)).detach().float()
        self._pretrained = (w * ((std or self.config.init_std) / w[1:].std().clamp(min=1e-12)),)
        if self.built:
            self._apply_pretrained()

    def set_item_text(self, vectors: torch.Tensor) -> None:
        """Fixed text vectors of every item, (n_items + 1, d_text) with row 0 = padding (e.g.
        ``text.item_vectors``), fused into the item table through a learned projection P:
        e_i = E_id[i] + P t_i (``item_repr="id+text"``) or e_i = P t_i (``"text"``). Call it
        before ``fit`` (it sets ``config.text_dim``); the vectors are saved with the model."""
        if self.config.item_repr == "id":
            raise ValueError("item_repr is 'id': build the model with item_repr='id+text' or 'text' to use text")
        v = torch.as_tensor(vectors).detach().float()
        if v.dim() != 2 or not torch.isfinite(v).all():
            raise ValueError(f"vectors must be a finite (n_items + 1, d_text) tensor, got shape {tuple(v.shape)}")
        if self.config.text_dim not in (None, v.shape[1]):
            raise ValueError(f"vectors have width {v.shape[1]}, but the model was built with text_dim="
                             f"{self.config.text_dim}")
        self.config.text_dim = v.shape[1]
        self._text = v
        if not self.built and self._ready():
            self._build()
        if self.built:
            self._apply_pretrained()

    def _apply_pretrained(self) -> None:
        (w,) = self.__dict__.pop("_pretrained", (None,))
        text = self.__dict__.pop("_text", None)
        for name, new, target in [("pretrained item vectors", w, self.item_emb and self.item_emb.weight),
                                  ("item text vectors", text, getattr(self, "item_text", None))]:
            if new is None:
                continue
            if tuple(new.shape) != tuple(target.shape):
                width = "d_model" if target is not getattr(self, "item_text", None) else "d_text"
                raise ValueError(f"{name} must be (n_items + 1, {width}) = {tuple(target.shape)}, "
                                 f"got {tuple(new.shape)}")
            with torch.no_grad():
                target.copy_(new)
                target[0].zero_()

    def item_table(self) -> torch.Tensor:
        """The (n_items + 1, d_model) item vectors used for both the inputs and the scores (row 0 = 0)."""
        if self.text_proj is None:
            return self.item_emb.weight
        text = self.text_proj(self.item_text)  # (V, d_text) @ (d_text, d) -> (V, d)
        return text if self.item_emb is None else self.item_emb.weight + text

    def encode(self, items: torch.Tensor, context: dict | None = None,
               table: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Embed + encode a left-padded (B, T) history -> (hidden (B, T, d), input embeddings (B, T, d)).

        ``context`` maps each feature to its (B, T) codes and ``"next_" + feature`` to the codes
        of the request each position answers (the event after it); missing ones are left out."""
        if items.dim() != 2 or items.dtype != torch.long:
            raise ValueError(f"items must be a (B, T) int64 tensor, got {items.dtype} {tuple(items.shape)}")
        items = items[:, -self.config.max_len:]  # the most recent max_len items
        T, key_mask = items.shape[1], items != 0  # (B, T)
        x = nn.functional.embedding(items, self.item_table() if table is None else table, padding_idx=0)  # (B, T, d)
        for prefix, embs in (("", self.feature_emb), ("next_", self.next_emb)):
            for name, emb in embs.items():
                if context is not None and prefix + name in context:
                    x = x + emb(context[prefix + name][:, -T:])  # (B, T, d)
        x = self.drop(x + self.pos_emb.weight[-T:]) * key_mask[..., None]  # recency positions
        if self.config.encoder == "transformer":
            h = self.encoder(x, causal_mask(T, items.device), key_mask)  # (B, T, d)
        else:
            h = self.out_norm(self.encoder(x, key_mask)[0])  # (B, T, d)
        return h, x

    def logits(self, h: torch.Tensor, x: torch.Tensor, key_mask: torch.Tensor, last: bool = False,
               table: torch.Tensor | None = None) -> torch.Tensor:
        """Scores of every item at every position, (B, T, d) -> (B, T, n_items + 1), padding column -inf.

        s_t(c) = h_t . e_c + b_c (tied output weights). With target attention, each candidate c
        attends over the inputs x_j (j <= t): + w * sum_j softmax_j(x_j . e_c) (x_j . e_c).
        ``last=True`` scores only the last position: (B, n_items + 1).
        """
        E = self.item_table() if table is None else table  # (V, d)
        s = (h[:, -1] if last else h) @ E.T  # (B, [T,] V)
        if self.item_bias is not None:
            s = s + self.item_bias
        if self.ta_scale is not None:
            d = x @ E.T  # (B, T, V) history-candidate affinities
            w = torch.exp(d - d.amax(1, keepdim=True)) * key_mask[..., None]  # (B, T, V), 0 at padding
            if last:
                ta = (w * d).sum(1) / w.sum(1).clamp(min=1e-30)  # (B, V)
            else:
                ta = (w * d).cumsum(1) / w.cumsum(1).clamp(min=1e-30)  # (B, T, V) causal softmax-weighted mean
            s = s + self.ta_scale * ta
        s[..., 0] = float("-inf")
        return s

    def forward(self, items: torch.Tensor, context: dict | None = None) -> torch.Tensor:
        """(B, T) item ids (+ context codes) -> next-item scores (B, T, n_items + 1) at every position."""
        table = self.item_table()
        h, x = self.encode(items, context, table)
        return self.logits(h, x, items[:, -h.shape[1]:] != 0, table=table)

    # ---------------------------------------------------------------- training hooks (used by train.fit)
    def prepare(self, train: pd.DataFrame, valid: pd.DataFrame | None = None) -> None:
        """Settle n_items, the context features and their vocabularies from ``train``; build the layers."""
        c = self.config
        if c.item_repr != "id" and c.text_dim is None:
            raise ValueError(f"item_repr={c.item_repr!r} needs the item texts: call model.set_item_text(vectors) "
                             "(e.g. text.item_vectors(...)) before fit")
        if not self.built:
            frames = [f for f in (train, valid) if f is not None and len(f)]
            c.n_items = c.n_items or max(int(f["item_id"].max()) for f in frames)
            if c.features is None:
                c.features = [f for f in KNOWN_FEATURES if f != "behavior_code" or "behavior" in train.columns]
                c.features += [f for f in AUTO_CATEGORICAL if f in train.columns]
            c.features = list(c.features)
            for f in c.features:
                if f not in KNOWN_FEATURES and f not in c.categories:
                    c.categories[f] = sorted(train[f].astype(str).unique().tolist())
            self._build()
        self._apply_pretrained()
        _check_items(train, c.n_items)
        self.item_counts = _popularity(train, c.n_items).to(self.item_counts.device)

    def _dataset(self, frame: pd.DataFrame, users=None, train: bool = True, max_len: int | None = None) -> SequenceDataset:
        frame = encode_context(frame, self.config.features, self.config.categories)
        return SequenceDataset(frame, max_len or self.config.max_len, self.config.features, users=users, train=train)

    def train_tensors(self, train: pd.DataFrame) -> dict[str, torch.Tensor]:
        """Training rows: inputs (N, T), targets (N, T) (0 = no target) and context codes; with
        ``request_context``, also ``"next_" + f``: the codes of the target event (the request).

        ``windows="last"``: one row per user, the most recent max_len + 1 events. ``"all"``: every
        event, each history cut from its end into windows of max_len + 1 events that overlap by
        one, so every transition is a target exactly once per epoch (more rows, same T).
        """
        T = self.config.max_len
        longest = int(train.groupby("user_id").size().max()) if self.config.windows == "all" else T
        n_win = max(1, -(-(longest - 1) // T))  # ceil((longest - 1) / T) windows cover the longest history
        data = self._dataset(train, max_len=n_win * T).data  # (U, n_win * T + 1), left padded
        out = {}
        for name, seq in data.items():
            win = seq.unfold(1, T + 1, T)  # (U, n_win, T + 1): windows from the oldest to the newest
            out[name] = win.reshape(-1, T + 1)
        keep = (out["item_id"] > 0).sum(1) >= 2  # a window needs an input and a target
        items = out["item_id"][keep, :-1]
        rows = {"items": items, "targets": torch.where(items > 0, out["item_id"][keep, 1:], 0)}
        rows |= {"next_" + f: torch.where(items > 0, out[f][keep, 1:], 0) for f in self.request_features}
        return rows | {f: out[f][keep, :-1] for f in self.config.features}

    def batch_loss(self, batch: dict[str, torch.Tensor], generator: torch.Generator | None = None) -> torch.Tensor:
        """The configured loss on every position of a batch that has a target."""
        c, items, targets = self.config, batch["items"], batch["targets"]
        E = self.item_table()  # (V, d) computed once per batch
        h, x = self.encode(items, batch, E)
        keep = targets > 0  # (B, T)
        if c.loss == "softmax":  # only the P positions with a target: padding costs no output layer
            b, t = keep.nonzero(as_tuple=True)  # (P,), (P,)
            if self.ta_scale is None:
                s = self.logits(h[b, t][:, None], x, keep, last=True, table=E)  # (P, V)
            else:
                s = self.logits(h, x, items != 0, table=E)[b, t]  # (P, V)
            if c.mask_seen:  # item v was seen at or before t: its first occurrence is <= t (the target stays)
                B, T = items.shape
                steps = torch.arange(T, device=s.device)
                first = torch.full((B, s.shape[1]), T, device=s.device).scatter_reduce(
                    1, items, steps.expand(B, T), "amin")  # (B, V)
                seen = (first[:, None, :] <= steps[None, :, None])[b, t]  # (B, T, V) bool -> (P, V)
                seen[torch.arange(len(t)), targets[b, t]] = False
                s = s.masked_fill(seen, float("-inf"))
            return losses.full_softmax_loss(s, targets[b, t])
        hk, pos = h[keep], targets[keep]  # (P, d), (P,) positions with a target
        bias = self.item_bias if self.item_bias is not None else torch.zeros(len(E), device=E.device)
        pos_s = (hk * E[pos]).sum(-1) + bias[pos]  # (P,)
        if c.loss == "sampled_softmax":  # N negatives shared by the batch, drawn ~ count^0.75, log-Q corrected
            q = (self.item_counts[1:] + 1) ** 0.75
            q = q / q.sum()  # (V - 1,) sampling distribution over items 1..n
            neg = torch.multinomial(q.cpu(), c.n_negatives, replacement=True, generator=generator).to(h.device) + 1
            neg_s = hk @ E[neg].T + bias[neg]  # (P, N)
            neg_s = neg_s.masked_fill(neg[None, :] == pos[:, None], float("-inf"))  # accidental hits
            log_q = torch.cat([q[pos - 1][:, None], q[neg - 1][None, :].expand(len(pos), -1)], 1).log()
            return losses.sampled_softmax_loss(pos_s, neg_s, log_q=log_q)
        neg = torch.randint(1, c.n_items + 1, pos.shape, generator=generator).to(h.device)  # one uniform negative
        neg_s = (hk * E[neg]).sum(-1) + bias[neg]  # (P,)
        if c.loss == "bpr":
            return losses.bpr_loss(pos_s, neg_s)
        return losses.bce_loss(torch.cat([pos_s, neg_s]), torch.cat([torch.ones_like(pos_s), torch.zeros_like(neg_s)]))

    # ---------------------------------------------------------------- the interface
    def fit(self, train: pd.DataFrame, valid: pd.DataFrame | None = None) -> ContextRec:
        """Train on ``train`` (validation NDCG@10 on ``valid`` each epoch, early stopping); returns self."""
        from llmrec_ref.train import fit

        self.history_ = fit(self, train, valid)
        return self

    @torch.no_grad()
    def score(self, users, history: pd.DataFrame, query: pd.DataFrame | None = None) -> torch.Tensor:
        """Next-item scores (len(users), n_items + 1) from each user's last ``max_len`` events in ``history``.

        ``query`` (optional) describes each user's request: one row per user with ``user_id``,
        ``timestamp`` and context columns (``device``, ...), e.g. the held-out events without
        their item and behaviour; without it a user is assumed to continue their last session.
        A user without events in ``history`` gets popularity scores (with a warning); an item id
        the model does not know raises ``KeyError``. Column 0 (padding) is -inf.
        """
        if not self.built:
            raise ValueError("ContextRec is not fitted: call fit(train) (or ContextRec.load(path)) first")
        users = np.asarray(torch.as_tensor(np.asarray(users)).reshape(-1), dtype=np.int64)
        if len(history):
            _check_items(history, self.config.n_items)
        was_training, device = self.training, self.item_counts.device
        self.eval()
        table, out = self.item_table(), []
        for start in range(0, len(users), 512):
            chunk = users[start:start + 512]
            if len(history):
                data = self._dataset(history, users=chunk, train=False).data
            else:
                data = {"item_id": torch.zeros(len(chunk), 1, dtype=torch.long)}
                data |= {f: torch.zeros(len(chunk), 1, dtype=torch.long) for f in self.config.features}
            nxt = request_codes(self.request_features, self.config.categories, chunk, data, history, query)
            data |= {"next_" + f: torch.cat([data[f][:, 1:], nxt[f][:, None]], 1) for f in nxt}  # shift by one
            batch = {k: v.to(device) for k, v in data.items()}
            h, x = self.encode(batch["item_id"], batch, table)
            key_mask = batch["item_id"][:, -h.shape[1]:] != 0
            s = self.logits(h, x, key_mask, last=True, table=table)  # (U, V)
            out.append(self._fallback(s, ~key_mask.any(1), "history").cpu())
        self.train(was_training)
        return torch.cat(out) if out else torch.zeros(0, self.config.n_items + 1)
