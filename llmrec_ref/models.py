"""ContextRec, the course's context-aware sequential recommender, as an estimator.

Derived in notebooks/05_loss_derivation. The network itself (embed -> encode -> attend ->
decode) is ``llmrec_ref.contextrec.ContextRecNet``, a pure ``nn.Module`` built from a complete
``ContextRecNetConfig``. This module is what turns interaction logs into that config and that
network, and back into scores:

1. ``ContextRecConfig``: the settings a user chooses (sizes, loss, training), frozen and
   checked where it is made. ``features=None`` means "every known context column present".
2. ``ContextRec``: ``fit(train, valid=None)`` learns the catalogue size and the vocabulary of
   each context feature into a *new* ``net_config_``, builds a fresh ``network_`` (seeded by
   ``config.seed``; ``warm_start=True`` keeps the current weights when the sizes agree),
   trains it with ``llmrec_ref.train.train_loop`` on every window of every history at once,
   early-stopping on validation NDCG@10, and keeps ``train_log_``. ``score`` reads each user's
   last ``max_len`` events (and the request context in ``query`` when ``request_context`` is
   on). ``save``/``load`` use the course's one checkpoint format (``llmrec_ref.recommender``).
   The item table's fixed vectors (``item_repr`` sources "text", "kg", "image") are given
   before ``fit`` with ``set_item_vectors(source, vectors)`` and saved with the weights.

``MF`` (matrix factorisation with BPR) lives in ``llmrec_ref.mf``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pandas as pd
import torch

from llmrec_ref import losses
from llmrec_ref.context import (
    AUTO_CATEGORICAL,
    KNOWN_FEATURES,
    OUTCOME_FEATURES,
    encode_context,
    request_codes,
)
from llmrec_ref.contextrec import (
    ENCODERS,
    FIXED_SOURCES,
    ContextRecNet,
    ContextRecNetConfig,
    item_sources,
)
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
from llmrec_ref.sampling import SequenceDataset
from llmrec_ref.train import check_settings, train_loop

__all__ = ["ContextRecConfig", "ContextRec", "LOSSES"]

LOSSES = ("softmax", "sampled_softmax", "bpr", "bce")
WINDOWS = ("all", "last")


@dataclass(frozen=True)
class ContextRecConfig:
    """What a user chooses for ``ContextRec``; sizes learned from data go into ``ContextRec.net_config_``."""

    n_items: int | None = None          # largest item id; None = learned from the data
    d_model: int = 64
    n_heads: int = 2
    n_layers: int = 1                   # one block: better validation NDCG than two within a minute on ML-100k
    d_ff: int | None = None             # width of the Transformer's MLP (None = 4 d_model)
    max_len: int = 50                   # most recent items a user is represented by
    windows: str = "all"                # training rows: "all" events, or the "last" max_len + 1 per user
    dropout: float = 0.2
    encoder: str = "transformer"        # "transformer" (causal self-attention) or "gru"
    features: tuple | None = None       # context columns; None = every known one present, () = none
    target_attention: bool = False      # add a candidate -> history attention term to each score
    request_context: bool = False       # also embed, at each position, the context of the request it
                                        # answers (the next event's hour, weekday, gap, device, ...): only
                                        # where timestamps are request times (not MovieLens: see DESIGN)
    request_features: tuple | None = None  # which of them (None = every feature but the behaviour)
    item_repr: str = "id"               # item table sources: "id", "id+text", "text", "id+kg", "id+image",
                                        # "id+text+image", ... (see set_item_vectors and contextrec)
    init_std: float = 0.02              # N(0, std^2) init: tied outputs start near log(n_items)
    loss: str = "softmax"               # "softmax", "sampled_softmax", "bpr" or "bce"
    n_negatives: int = 1000             # sampled_softmax: negatives per batch (bpr/bce: one per position)
    mask_seen: bool = True              # leave a position's past items out of its training softmax (and
                                        # exclude history items when validating); False for protocols
                                        # that rank history items too
    epochs: int = 16                    # about a minute on ML-100k on a 2-core CPU
    lr: float = 3e-3
    weight_decay: float = 0.0
    sparse_items: bool = False          # train the ID item table row-sparse with lazy Adam (SparseAdam): a step
                                        # costs the rows its batch touches, not the catalogue (large
                                        # catalogues; sampled losses only; a different optimiser than Adam)
    batch_size: int = 64
    patience: int = 5                   # epochs without a better validation NDCG@10 before stopping
    warm_start: bool = False            # fit continues from the current weights (same sizes) instead of anew
    seed: int = 0
    device: str = "cpu"
    verbose: bool = True

    def __post_init__(self) -> None:
        for name in ("features", "request_features"):
            value = getattr(self, name)
            if value is not None:
                if isinstance(value, str) or not all(isinstance(f, str) for f in value):
                    raise ValueError(f"{name} must be a list of column names or None, got {value!r}")
                object.__setattr__(self, name, tuple(value))
        item_sources(self.item_repr)  # a clear ValueError for an unknown source or order
        choices = {"encoder": ENCODERS, "loss": LOSSES, "windows": WINDOWS}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.n_items is not None and (isinstance(self.n_items, bool) or not isinstance(self.n_items, int)
                                         or self.n_items < 1):
            raise ValueError(f"n_items must be None or an int >= 1, got {self.n_items!r}")
        if isinstance(self.n_negatives, bool) or not isinstance(self.n_negatives, int) or self.n_negatives < 1:
            raise ValueError(f"n_negatives must be an int >= 1, got {self.n_negatives!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {self.seed!r}")
        check_settings(self.epochs, self.lr, self.batch_size, self.patience, self.weight_decay, self.device)
        if not isinstance(self.sparse_items, bool):
            raise ValueError(f"sparse_items must be True or False, got {self.sparse_items!r}")
        if self.sparse_items:
            why = ("the full softmax touches every row at every step (use loss='sampled_softmax')"
                   if self.loss == "softmax" else "SparseAdam has no weight decay (set weight_decay=0)"
                   if self.weight_decay else "item_repr has no 'id' table to train row-sparse"
                   if "id" not in item_sources(self.item_repr) else "")
            if why:
                raise ValueError(f"sparse_items=True does not apply here: {why}")
        dims = {f"{s}_dim": 1 for s in item_sources(self.item_repr) if s in FIXED_SOURCES}
        self.net_config(n_items=self.n_items or 1, features=(), request_features=(), **dims)  # sizes make a network

    def net_config(self, n_items: int, features: tuple, request_features: tuple, text_dim: int | None = None,
                   kg_dim: int | None = None, image_dim: int | None = None) -> ContextRecNetConfig:
        """The complete network config for these learned sizes (``*_dim``: widths of the fixed item vectors)."""
        return ContextRecNetConfig(
            n_items=n_items, d_model=self.d_model, n_heads=self.n_heads, n_layers=self.n_layers, d_ff=self.d_ff,
            max_len=self.max_len, dropout=self.dropout, encoder=self.encoder, features=features,
            request_features=request_features, target_attention=self.target_attention,
            item_repr=self.item_repr, text_dim=text_dim, kg_dim=kg_dim, image_dim=image_dim,
            init_std=self.init_std)


class ContextRec(Recommender):
    """Context-aware sequential recommender (see the module docstring).

    ``ContextRec(config)`` or ``ContextRec(**settings)`` or both (settings override the
    config's fields in a new config; the one passed in is never changed).
    """

    def __init__(self, config: ContextRecConfig | None = None, **overrides) -> None:
        if config is not None and not isinstance(config, ContextRecConfig):
            raise ValueError(f"config must be a ContextRecConfig, got {type(config).__name__}")
        unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(ContextRecConfig)})
        if unknown:
            raise ValueError(f"ContextRec has no setting {unknown[0]!r}; the settings are the fields of "
                             "ContextRecConfig")
        self.config = dataclasses.replace(config or ContextRecConfig(), **overrides)
        self.item_init: torch.Tensor | None = None   # starting ID item vectors (init_item_embeddings)
        self.item_fixed: dict[str, torch.Tensor] = {}  # fixed item vectors by source (set_item_vectors)

    @property
    def item_text(self) -> torch.Tensor | None:
        """The fixed item text vectors given to ``set_item_text`` (None before)."""
        return self.item_fixed.get("text")

    @property
    def uses_query(self) -> bool:
        return self.config.request_context

    @property
    def n_items_(self) -> int | None:
        net = getattr(self, "net_config_", None)
        return None if net is None else net.n_items

    # ---------------------------------------------------------------- inputs set before fit
    def init_item_embeddings(self, weight: torch.Tensor | torch.nn.Embedding, std: float | None = None) -> ContextRec:
        """Start the ID item table of every later ``fit`` from pretrained vectors (n_items + 1,
        d_model), e.g. ``embeddings.to_embedding`` of item2vec, rescaled to standard deviation
        ``std`` (default ``config.init_std``); returns self."""
        if "id" not in item_sources(self.config.item_repr):
            raise ValueError(f"item_repr={self.config.item_repr!r} has no ID item table to initialise; give its "
                             "fixed vectors with set_item_vectors(source, vectors) (set_item_text for text)")
        w = (weight.weight if isinstance(weight, torch.nn.Embedding) else torch.as_tensor(weight)).detach().float()
        if w.dim() != 2 or w.shape[1] != self.config.d_model or not torch.isfinite(w).all():
            raise ValueError(f"pretrained item vectors must be a finite (n_items + 1, d_model={self.config.d_model})"
                             f" tensor, got shape {tuple(w.shape)}")
        self.item_init = w * ((std or self.config.init_std) / w[1:].std().clamp(min=1e-12))
        return self

    def set_item_vectors(self, source: str, vectors: torch.Tensor) -> ContextRec:
        """Fixed vectors of every item from one ``source`` ("text", "kg" or "image"), (n_items + 1,
        d_s) with row 0 = padding (set to 0 when the network is built), fused into the item table
        through a learned projection P_s: e_i = E_id[i] (if "id" is in ``item_repr``) + sum_s P_s v_i^s
        over the sources of ``item_repr``. E.g. ``text.item_vectors`` for "text",
        ``knowledge.entity_vectors`` for "kg", ``multimodal.item_table`` for "image". An item
        whose vectors are all 0 gets nothing from that source. Used by every later ``fit`` and
        saved with the model; returns self."""
        if source not in FIXED_SOURCES:
            raise ValueError(f"source must be one of {FIXED_SOURCES} (the ID table is learned, not set: see "
                             f"init_item_embeddings), got {source!r}")
        if source not in item_sources(self.config.item_repr):
            raise ValueError(f"item_repr is {self.config.item_repr!r}: build the model with an item_repr that "
                             f"contains {source!r} (e.g. 'id+{source}' or '{source}') to use {source} vectors")
        v = torch.as_tensor(vectors).detach().float()
        if v.dim() != 2 or len(v) < 2 or not torch.isfinite(v).all():
            raise ValueError(f"{source} vectors must be a finite (n_items + 1, d_{source}) tensor, got shape "
                             f"{tuple(v.shape)}")
        self.item_fixed[source] = v
        return self

    def set_item_text(self, vectors: torch.Tensor) -> ContextRec:
        """``set_item_vectors("text", vectors)``: fixed text vectors (n_items + 1, d_text) of every
        item (e.g. ``text.item_vectors``), e_i = E_id[i] + P v_i (``item_repr="id+text"``) or
        e_i = P v_i (``"text"``); returns self."""
        return self.set_item_vectors("text", vectors)

    # ---------------------------------------------------------------- what fit learns
    def _learn_sizes(self, train: pd.DataFrame, valid: pd.DataFrame | None) -> tuple[ContextRecNetConfig, dict]:
        """(network config, vocabulary of each categorical feature) from the training log."""
        c = self.config
        fixed = [s for s in item_sources(c.item_repr) if s in FIXED_SOURCES]
        for s in fixed:
            if s not in self.item_fixed:
                how = " or set_item_text(vectors), e.g. text.item_vectors(...)" if s == "text" else ""
                raise ValueError(f"item_repr={c.item_repr!r} needs the item {s} vectors: call "
                                 f"model.set_item_vectors({s!r}, vectors){how} before fit")
        n_items = c.n_items or largest_id("item_id", train, valid)
        if c.features is None:
            names = [f for f in KNOWN_FEATURES if f != "behavior_code" or "behavior" in train.columns]
            names += [f for f in AUTO_CATEGORICAL if f in train.columns]
        else:
            names = list(c.features)
        vocab = {}
        for f in names:
            if f in KNOWN_FEATURES:
                continue
            if f not in train.columns:
                raise ValueError(f"feature {f!r} is not a column of the training log (columns: {list(train.columns)})"
                                 f"; known features computed from the timestamp: {sorted(KNOWN_FEATURES)}")
            vocab[f] = sorted(train[f].astype(str).unique().tolist())
        sizes = tuple((f, KNOWN_FEATURES.get(f, len(vocab.get(f, ())) + 2)) for f in names)
        if not c.request_context:
            request = ()
        else:
            request = tuple(f for f in names if f not in OUTCOME_FEATURES
                            and (c.request_features is None or f in c.request_features))
        dims = {f"{s}_dim": self.item_fixed[s].shape[1] for s in fixed}
        return c.net_config(n_items, sizes, request, **dims), vocab

    def _build(self, net_config: ContextRecNetConfig) -> ContextRecNet:
        """A fresh network seeded by ``config.seed`` (the global generator is left as it was)."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.config.seed)
            net = ContextRecNet(net_config)
        V = net_config.n_items + 1
        pairs = [("pretrained item vectors", self.item_init, net.item_emb and net.item_emb.weight)]
        pairs += [(f"item {s} vectors", self.item_fixed[s], getattr(net, f"item_{s}")) for s in net.fixed_sources]
        for name, new, target in pairs:
            if new is None or target is None:
                continue
            if new.shape[0] != V:
                raise ValueError(f"{name} must have n_items + 1 = {V} rows, got {tuple(new.shape)}")
            with torch.no_grad():
                target.copy_(new)
                target[0].zero_()
        return net

    def _sequences(self, frame: pd.DataFrame, users=None, train: bool = True, max_len: int | None = None) -> dict:
        """Left-padded (U, width) codes of the item and every feature (``SequenceDataset.data``)."""
        features = [f for f, _ in self.net_config_.features]
        frame = encode_context(frame, features, self.vocab_)
        return SequenceDataset(frame, max_len or self.config.max_len, features, users=users, train=train).data

    def training_rows(self, train: pd.DataFrame) -> dict[str, torch.Tensor]:
        """Training rows: inputs (N, T), targets (N, T) (0 = no target) and context codes; with
        ``request_context``, also ``"next_" + f``: the codes of the target event (the request).

        ``windows="last"``: one row per user, the most recent max_len + 1 events. ``"all"``: every
        event, each history cut from its end into windows of max_len + 1 events that overlap by
        one, so every transition is a target exactly once per epoch (more rows, same T).
        """
        T = self.config.max_len
        longest = int(train.groupby("user_id").size().max()) if self.config.windows == "all" else T
        n_win = max(1, -(-(longest - 1) // T))  # ceil((longest - 1) / T) windows cover the longest history
        data = self._sequences(train, max_len=n_win * T)  # (U, n_win * T + 1), left padded
        out = {name: seq.unfold(1, T + 1, T).reshape(-1, T + 1) for name, seq in data.items()}  # (U n_win, T + 1)
        keep = (out["item_id"] > 0).sum(1) >= 2  # a window needs an input and a target
        items = out["item_id"][keep, :-1]
        rows = {"items": items, "targets": torch.where(items > 0, out["item_id"][keep, 1:], 0)}
        rows |= {"next_" + f: torch.where(items > 0, out[f][keep, 1:], 0) for f in self.net_config_.request_features}
        return rows | {f: out[f][keep, :-1] for f, _ in self.net_config_.features}

    def position_scores(self, batch: dict[str, torch.Tensor],
                        network: ContextRecNet | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(P, V) scores of ``network`` (default: the model's own) at the P positions of a training
        batch that have a target, the past items set to -inf under ``mask_seen``; and the (P,) targets.
        Only those positions go through the output layer: padding costs nothing."""
        net, items, targets = network or self.network_, batch["items"], batch["targets"]
        E = net.item_table()  # (V, d) computed once per batch
        h, x = net.encode(items, batch, E)
        keep = targets > 0  # (B, T)
        b, t = keep.nonzero(as_tuple=True)  # (P,), (P,)
        if net.ta_scale is None:
            s = net.logits(h[b, t][:, None], x, keep, last=True, table=E)  # (P, V)
        else:
            s = net.logits(h, x, items != 0, table=E)[b, t]  # (P, V)
        if self.config.mask_seen:  # item v was seen at or before t: its first occurrence is <= t (the target stays)
            B, T = items.shape
            steps = torch.arange(T, device=s.device)
            first = torch.full((B, s.shape[1]), T, device=s.device).scatter_reduce(
                1, items, steps.expand(B, T), "amin")  # (B, V)
            seen = (first[:, None, :] <= steps[None, :, None])[b, t]  # (B, T, V) bool -> (P, V)
            seen[torch.arange(len(t)), targets[b, t]] = False
            s = s.masked_fill(seen, float("-inf"))
        return s, targets[b, t]

    def _negative_distribution(self) -> torch.Tensor:
        """q_i = (count_i + 1)^0.75 / sum_j (count_j + 1)^0.75 over items 1..n: what sampled_softmax
        draws its negatives from; computed once per fit (a million-item catalogue would pay it every step)."""
        cached = getattr(self, "negative_q_", None)
        if cached is None or cached[0] is not self.item_counts_:
            q = (self.item_counts_[1:] + 1) ** 0.75
            self.negative_q_ = cached = (self.item_counts_, (q / q.sum()).cpu())
        return cached[1]

    def batch_loss(self, batch: dict[str, torch.Tensor], generator: torch.Generator | None = None) -> torch.Tensor:
        """The configured loss on every position of a batch that has a target."""
        c, net, items, targets = self.config, self.network_, batch["items"], batch["targets"]
        if c.loss == "softmax":
            return losses.full_softmax_loss(*self.position_scores(batch))
        V = net.config.n_items + 1
        keep = targets > 0  # (B, T)
        pos = targets[keep]  # (P,) the targets of the positions that have one
        if c.loss == "sampled_softmax":  # N negatives shared by the batch, drawn ~ count^0.75, log-Q corrected
            q = self._negative_distribution()  # (V - 1,) over items 1..n, on the CPU
            neg = torch.multinomial(q, c.n_negatives, replacement=True, generator=generator).to(items.device) + 1
        else:
            neg = torch.randint(1, V, pos.shape, generator=generator).to(items.device)  # one uniform negative
        if c.sparse_items:  # only the rows the batch touches, gathered so their gradient is row-sparse
            rows = torch.unique(torch.cat([items.new_zeros(1), items.reshape(-1), pos, neg]))  # (R,) rows[0] = 0
            E = net.item_rows(rows, sparse=True)  # (R, d)
            items, pos_e, neg_e = (torch.searchsorted(rows, t) for t in (items, pos, neg))  # ids -> rows of E
        else:
            E, pos_e, neg_e = net.item_table(), pos, neg  # (V, d) computed once per batch
        h, x = net.encode(items, batch, E)
        hk = h[keep]  # (P, d)
        bias = net.item_bias if net.item_bias is not None else torch.zeros(V, device=E.device)
        pos_s = (hk * E[pos_e]).sum(-1) + bias[pos]  # (P,)
        if c.loss == "sampled_softmax":
            neg_s = hk @ E[neg_e].T + bias[neg]  # (P, N)
            neg_s = neg_s.masked_fill(neg[None, :] == pos[:, None], float("-inf"))  # accidental hits
            q = q.to(items.device)
            log_q = torch.cat([q[pos - 1].log()[:, None], q[neg - 1].log()[None, :].expand(len(pos), -1)], 1)
            return losses.sampled_softmax_loss(pos_s, neg_s, log_q=log_q)
        neg_s = (hk * E[neg_e]).sum(-1) + bias[neg]  # (P,)
        if c.loss == "bpr":
            return losses.bpr_loss(pos_s, neg_s)
        return losses.bce_loss(torch.cat([pos_s, neg_s]), torch.cat([torch.ones_like(pos_s), torch.zeros_like(neg_s)]))

    # ---------------------------------------------------------------- the interface
    def fit(self, train: pd.DataFrame, valid: pd.DataFrame | None = None, shard=None,
            checkpoint: str | None = None) -> ContextRec:
        """Learn sizes and vocabularies, build a fresh network (or keep it: ``warm_start``), train
        it with validation NDCG@10 on ``valid`` after each epoch and early stopping; returns self.

        ``shard`` (``llmrec_ref.distributed.Shard``): train data-parallel, this process on its
        block of users, every process on the whole ``train`` and ``valid`` frames (sizes,
        vocabularies and validation are global); see ``llmrec_ref.distributed``. ``checkpoint``:
        a file for the training state after each epoch, resumed from if it exists (``train_loop``)."""
        c = self.config
        check_log(train, "train", timestamps=True)
        check_log(valid, "valid", timestamps=True, allow_empty=True)
        if int(train.groupby("user_id").size().max()) < 2:
            raise ValueError("train has no user with two or more events, so there is no (history, next item) "
                             "pair to learn from; pass a log where users have several events (leave_one_out "
                             "keeps users with fewer than 3 events in train)")
        net_config, vocab = self._learn_sizes(train, valid)
        check_items(train, net_config.n_items)
        keep = (c.warm_start and getattr(self, "network_", None) is not None
                and self.net_config_ == net_config and self.vocab_ == vocab)
        if not keep:
            self.network_ = self._build(net_config)
        self.net_config_, self.vocab_ = net_config, vocab
        self.item_counts_ = item_counts(train, net_config.n_items)
        validate = None
        if valid is not None and len(valid):
            def validate() -> dict[str, float]:
                return validation_metrics(self, train, valid, exclude_seen=c.mask_seen, shard=shard)
        rows = self.training_rows(train if shard is None else shard.own(train))
        self.train_log_ = train_loop(self.network_, rows, self.batch_loss, epochs=c.epochs,
                                     lr=c.lr, batch_size=c.batch_size, patience=c.patience,
                                     weight_decay=c.weight_decay, seed=c.seed, device=c.device,
                                     verbose=c.verbose, validate=validate, name="ContextRec", shard=shard,
                                     batch_weight=lambda batch: int((batch["targets"] > 0).sum()),
                                     checkpoint=checkpoint,
                                     sparse=[self.network_.item_emb.weight] if c.sparse_items else ())
        return self

    def inputs(self, users, history: pd.DataFrame, query: pd.DataFrame | None = None) -> dict[str, torch.Tensor]:
        """The network's inputs for ``users``: each one's last ``max_len`` events in ``history``,
        left padded, (U, T) codes of the item (``"item_id"``) and of every context feature; with
        ``request_context``, ``"next_" + f`` (U, T): the context each position answers, the last
        one being the request described by ``query`` (see ``score``)."""
        self._check_fitted()
        users = user_tensor(users).numpy()
        if len(history):
            check_log(history, "history", self.n_items_, timestamps=True)
            data = self._sequences(history, users=users, train=False)
        else:
            data = {f: torch.zeros(len(users), 1, dtype=torch.long) for f in ["item_id"]
                    + [f for f, _ in self.net_config_.features]}
        request = list(self.net_config_.request_features)
        nxt = request_codes(request, self.vocab_, users, data, history, query)
        return data | {"next_" + f: torch.cat([data[f][:, 1:], nxt[f][:, None]], 1) for f in nxt}  # shift by one

    @torch.no_grad()
    def score(self, users, history: pd.DataFrame, query: pd.DataFrame | None = None) -> torch.Tensor:
        """Next-item scores (len(users), n_items + 1) from each user's last ``max_len`` events in ``history``.

        ``query`` (read when ``request_context`` is on) describes each user's request: one row
        per user with ``user_id``, ``timestamp`` and context columns (``device``, ...), e.g. the
        held-out events without their item and behaviour; without it a user is assumed to
        continue their last session. A user without events in ``history`` gets popularity
        scores (with a warning); an item id the model does not know raises ``KeyError``.
        Column 0 (padding) is -inf.
        """
        self._check_fitted()
        users = user_tensor(users)
        net = self.network_
        device, out = next(net.parameters()).device, []
        was_training = net.training
        net.eval()
        table = net.item_table()
        for start in range(0, len(users), 512):
            batch = {k: v.to(device) for k, v in self.inputs(users[start:start + 512], history, query).items()}
            h, x = net.encode(batch["item_id"], batch, table)
            key_mask = batch["item_id"][:, -h.shape[1]:] != 0
            s = net.logits(h, x, key_mask, last=True, table=table)  # (U, V)
            out.append(self._fallback(s, ~key_mask.any(1), self.item_counts_, "history").cpu())
        net.train(was_training)
        if len(out) == 1:  # one block (evaluation's blocks have at most 512 users): no copy
            return out[0]
        return torch.cat(out) if out else torch.zeros(0, self.n_items_ + 1)

    # ---------------------------------------------------------------- checkpoints
    def _state(self) -> tuple[dict, dict[str, torch.Tensor]]:
        self._check_fitted()
        meta = {"config": dataclasses.asdict(self.config), "net_config": dataclasses.asdict(self.net_config_),
                "vocab": self.vocab_, "train_log": getattr(self, "train_log_", [])}
        tensors = {"net." + k: v for k, v in self.network_.state_dict().items()}
        return meta, tensors | {"item_counts": self.item_counts_}

    @classmethod
    def _from_state(cls, meta: dict, tensors: dict[str, torch.Tensor], device: str) -> ContextRec:
        model = cls(config_from(ContextRecConfig, meta["config"], device=device))
        model.net_config_, model.vocab_ = config_from(ContextRecNetConfig, meta["net_config"]), meta["vocab"]
        model.network_ = ContextRecNet(model.net_config_)
        state = {k[4:]: v for k, v in tensors.items() if k.startswith("net.")}
        try:
            model.network_.load_state_dict(state)
        except RuntimeError as err:
            raise ValueError(f"the checkpoint's weights do not fit its ContextRec config: {err}") from err
        model.network_.to(device).eval()
        model.item_counts_, model.train_log_ = tensors["item_counts"], meta["train_log"]
        model.item_fixed = {s: getattr(model.network_, f"item_{s}").detach().cpu().clone()
                            for s in model.network_.fixed_sources}
        return model
