"""The ContextRec network: embed -> encode -> attend -> decode, as one pure ``nn.Module``.

Derived in notebooks/05_loss_derivation, where a smaller version is written inline, trained,
and then loaded into this class with identical logits. This file is the one to lift into
another project: it needs torch and ``llmrec_ref.encoders`` (itself torch only), nothing else
of the course. Parts before the whole:

1. ``ContextRecNetConfig``: every size, complete and frozen. It is checked where it is made,
   and the network never reads data: vocabularies and the catalogue size were learned before
   (by the estimator, ``llmrec_ref.models.ContextRec``) and are written here as numbers.
2. ``ContextRecNet``:
   - **embed**  x_t = e(i_t) + sum_f E_f[c_t,f] + sum_f E'_f[c_t+1,f] + P[t]: the item, the
     context of the event (hour, weekday, gap, behaviour, device, ...), optionally the context
     of the *request* position t answers (the next event's, never its outcome), a position
     counted from the most recent event;
   - **encode** a causal pre-norm Transformer (or a GRU): h_t sees x_1..x_t;
   - **attend** self-attention inside the encoder, optionally target attention: each candidate
     c attends over the inputs, + w * sum_j softmax_j(x_j . e_c) (x_j . e_c);
   - **decode** s_t(c) = h_t . e_c + b_c with the *tied* item table e (input and output).

   The item table e is built from *sources*, ``item_repr`` joining them with "+" in the
   canonical order id, text, kg, image (``"id"``, ``"id+text"``, ``"text"``, ``"id+kg"``,
   ``"id+text+image"``, ...; another order such as ``"text+id"`` is refused, not reordered):
   e_i = E[i] (with "id") + sum_s P_s v_i^s over the fixed sources s in it -- "text" (e.g.
   MiniLM vectors), "kg" (e.g. TransE entity vectors) and "image" (e.g. an image encoder's
   vectors) -- each v^s a fixed (V, d_s) buffer ``item_<s>`` (saved, never trained) and P_s a
   learned bias-free (d, d_s) projection ``<s>_proj``. Without "id" there is no ID table and no
   item bias: any item with vectors can be scored, even one never seen in training.

Shapes: B batch, T history length (<= max_len), d = d_model, V = n_items + 1 (row 0 = padding).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import asdict, dataclass

import torch
from torch import nn

from llmrec_ref.encoders import BiRNNEncoder, TransformerEncoder, causal_mask

__all__ = ["ContextRecNetConfig", "ContextRecNet", "ENCODERS", "ITEM_SOURCES", "FIXED_SOURCES", "ITEM_REPRS",
           "item_sources"]

ENCODERS = ("transformer", "gru")
ITEM_SOURCES = ("id", "text", "kg", "image")  # the canonical order of the sources in item_repr
FIXED_SOURCES = ITEM_SOURCES[1:]              # sources of fixed vectors: buffer item_<s>, projection <s>_proj
ITEM_REPRS = tuple("+".join(c) for n in range(1, len(ITEM_SOURCES) + 1)
                   for c in itertools.combinations(ITEM_SOURCES, n))  # every item_repr: "id", "text", ..., "id+text"


def item_sources(item_repr: str) -> tuple[str, ...]:
    """The sources of an ``item_repr``: ``"id+text+image"`` -> ("id", "text", "image").

    One to four distinct names of ``ITEM_SOURCES`` joined by "+", in that (canonical) order;
    anything else is a ``ValueError`` that says how to write it."""
    if not isinstance(item_repr, str):
        raise ValueError(f"item_repr must be a string such as 'id' or 'id+text', got {item_repr!r}")
    parts = tuple(item_repr.split("+"))
    unknown = [p for p in parts if p not in ITEM_SOURCES]
    if unknown or len(set(parts)) != len(parts):
        raise ValueError(f"item_repr must join distinct sources of {ITEM_SOURCES} with '+' (e.g. 'id', 'id+text', "
                         f"'id+kg', 'text+image'), got {item_repr!r}")
    canonical = tuple(s for s in ITEM_SOURCES if s in parts)
    if parts != canonical:
        raise ValueError(f"item_repr lists its sources in the order {'+'.join(ITEM_SOURCES)}: write "
                         f"{'+'.join(canonical)!r}, not {item_repr!r}")
    return parts


@dataclass(frozen=True)
class ContextRecNetConfig:
    """Every size of a ``ContextRecNet``; complete, frozen, checked in ``__post_init__``.

    ``features`` lists (name, table size) of each context feature of past events, codes
    0..size-1 with 0 = padding; ``request_features`` names those of them that also describe the
    request (they get tables of their own). ``text_dim``, ``kg_dim``, ``image_dim``: the widths
    of the fixed item vectors of each source, each given exactly when ``item_repr`` uses it.
    """

    n_items: int                        # largest item id (ids 1..n_items, 0 = padding)
    d_model: int = 64
    n_heads: int = 2
    n_layers: int = 1
    d_ff: int | None = None             # width of the Transformer's MLP (None = 4 d_model)
    max_len: int = 50                   # most recent events a history is cut to
    dropout: float = 0.2
    encoder: str = "transformer"        # "transformer" (causal self-attention) or "gru"
    features: tuple = ()                # ((name, table size), ...) of the past events' context
    request_features: tuple = ()        # (name, ...) subset of the features, for the request
    target_attention: bool = False
    item_repr: str = "id"               # sources of the item table: "id", "id+text", "text", "id+kg", ...
    text_dim: int | None = None         # width of the item text vectors ("text" in item_repr)
    kg_dim: int | None = None           # width of the item knowledge-graph vectors ("kg" in item_repr)
    image_dim: int | None = None        # width of the item image vectors ("image" in item_repr)
    init_std: float = 0.02              # N(0, std^2) embeddings: tied outputs start near log(V)

    def __post_init__(self) -> None:
        # JSON gives lists back: store tuples so the config stays hashable and immutable
        object.__setattr__(self, "features", tuple((str(n), int(s)) for n, s in self.features))
        object.__setattr__(self, "request_features", tuple(str(n) for n in self.request_features))
        for name in ("n_items", "d_model", "n_heads", "n_layers", "max_len"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be a multiple of n_heads ({self.n_heads})")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if self.encoder not in ENCODERS:
            raise ValueError(f"encoder must be one of {ENCODERS}, got {self.encoder!r}")
        sources = item_sources(self.item_repr)
        for source in FIXED_SOURCES:
            dim = getattr(self, f"{source}_dim")
            if (source in sources) != (dim is not None):
                raise ValueError(f"{source}_dim must be given exactly when item_repr uses {source}; got item_repr="
                                 f"{self.item_repr!r}, {source}_dim={dim!r}")
            if dim is not None and (isinstance(dim, bool) or not isinstance(dim, int) or dim < 1):
                raise ValueError(f"{source}_dim must be an int >= 1 (the width of the {source} vectors), got {dim!r}")
        names = [n for n, _ in self.features]
        if len(set(names)) != len(names) or any(s < 2 for _, s in self.features):
            raise ValueError(f"features must be distinct (name, size >= 2) pairs, got {self.features!r}")
        if not set(self.request_features) <= set(names):
            raise ValueError(f"request_features {self.request_features!r} must be among the features {names}")
        if not 0 < self.init_std < float("inf"):
            raise ValueError(f"init_std must be a finite number > 0 (e.g. 0.02), got {self.init_std!r}")

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ContextRecNetConfig:
        return cls(**json.loads(text))


class ContextRecNet(nn.Module):
    """Next-item scores for every position of left-padded histories (see the module docstring).

    Shape:
        - items: (B, T) int64 item ids, 0 = padding on the left; T > max_len keeps the last max_len
        - context: {feature: (B, T) codes, "next_" + feature: (B, T) codes of the request}
        - output: (B, T, V) scores, column 0 = -inf
    """

    def __init__(self, config: ContextRecNetConfig) -> None:
        super().__init__()
        if not isinstance(config, ContextRecNetConfig):
            raise ValueError(f"config must be a ContextRecNetConfig, got {type(config).__name__}")
        self.config = c = config
        size = dict(c.features)
        V, d = c.n_items + 1, c.d_model
        self.sources = item_sources(c.item_repr)
        self.fixed_sources = tuple(s for s in FIXED_SOURCES if s in self.sources)  # e.g. ("text", "image")
        self.item_emb = nn.Embedding(V, d, padding_idx=0) if "id" in self.sources else None  # (V, d)
        # P_s: (d, d_s), bias-free, made in canonical order (a seed draws the same weights as before "kg", "image")
        self.text_proj = nn.Linear(c.text_dim, d, bias=False) if "text" in self.sources else None
        self.kg_proj = nn.Linear(c.kg_dim, d, bias=False) if "kg" in self.sources else None
        self.image_proj = nn.Linear(c.image_dim, d, bias=False) if "image" in self.sources else None
        self.feature_emb = nn.ModuleDict({f: nn.Embedding(n, d, padding_idx=0) for f, n in c.features})
        self.next_emb = nn.ModuleDict({f: nn.Embedding(size[f], d, padding_idx=0) for f in c.request_features})
        self.pos_emb = nn.Embedding(c.max_len, d)  # row max_len - 1 = the most recent event
        self.drop = nn.Dropout(c.dropout)
        if c.encoder == "transformer":
            self.encoder = TransformerEncoder(d, c.n_heads, c.n_layers, c.d_ff, c.dropout, "gelu", norm_first=True)
        else:
            self.encoder = BiRNNEncoder(d, d, "gru", bidirectional=False, n_layers=c.n_layers, dropout=c.dropout)
            self.out_norm = nn.LayerNorm(d)
        self.item_bias = nn.Parameter(torch.zeros(V)) if self.item_emb is not None else None  # b: (V,)
        self.ta_scale = nn.Parameter(torch.zeros(())) if c.target_attention else None   # w of target attention
        for emb in [self.item_emb, self.pos_emb, *self.feature_emb.values(), *self.next_emb.values()]:
            if emb is None:
                continue
            nn.init.normal_(emb.weight, std=c.init_std)
            if emb.padding_idx is not None:
                emb.weight.data[emb.padding_idx].zero_()
        for s in self.fixed_sources:  # fixed item vectors v^s, saved with the weights, never trained
            self.register_buffer(f"item_{s}", torch.zeros(V, getattr(c, f"{s}_dim")))  # (V, d_s)

    def item_table(self) -> torch.Tensor:
        """e = E (with "id") + sum_s P_s v^s: the (V, d) item vectors of the inputs and the scores (row 0 = 0)."""
        e = None if self.item_emb is None else self.item_emb.weight  # (V, d)
        for s in self.fixed_sources:
            part = getattr(self, f"{s}_proj")(getattr(self, f"item_{s}"))  # (V, d_s) @ (d_s, d) -> (V, d)
            e = part if e is None else e + part
        return e

    def item_rows(self, rows: torch.Tensor, sparse: bool = False) -> torch.Tensor:
        """(R,) item ids -> (R, d): those rows of ``item_table()`` alone. With ``sparse`` the ID
        table's gradient is a sparse tensor holding only these rows (for ``torch.optim.SparseAdam``),
        so a training step over a huge catalogue costs the rows it touches."""
        e = None if self.item_emb is None else nn.functional.embedding(
            rows, self.item_emb.weight, padding_idx=0, sparse=sparse)  # (R, d)
        for s in self.fixed_sources:
            part = getattr(self, f"{s}_proj")(getattr(self, f"item_{s}")[rows])  # (R, d_s) @ (d_s, d) -> (R, d)
            e = part if e is None else e + part
        return e

    def encode(self, items: torch.Tensor, context: dict | None = None,
               table: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Embed + encode (B, T) ids -> (hidden h (B, T, d), inputs x (B, T, d)); T cut to max_len.

        ``context`` maps a feature to its (B, T) codes and ``"next_" + feature`` to the request's;
        a feature missing from it contributes nothing."""
        if items.dim() != 2 or items.dtype != torch.long:
            raise ValueError(f"items must be a (B, T) int64 tensor, got {items.dtype} {tuple(items.shape)}")
        items = items[:, -self.config.max_len:]
        T, key_mask = items.shape[1], items != 0  # (B, T) True at real events
        e = self.item_table() if table is None else table  # (V, d)
        x = nn.functional.embedding(items, e, padding_idx=0)  # (B, T, d)
        for prefix, embs in (("", self.feature_emb), ("next_", self.next_emb)):
            for name, emb in embs.items():
                if context is not None and prefix + name in context:
                    x = x + emb(context[prefix + name][:, -T:])  # (B, T, d)
        x = self.drop(x + self.pos_emb.weight[-T:]) * key_mask[..., None]  # padded inputs are exactly 0
        if self.config.encoder == "transformer":
            h = self.encoder(x, causal_mask(T, items.device), key_mask)  # (B, T, d)
        else:
            h = self.out_norm(self.encoder(x, key_mask)[0])  # (B, T, d)
        return h, x

    def logits(self, h: torch.Tensor, x: torch.Tensor, key_mask: torch.Tensor, last: bool = False,
               table: torch.Tensor | None = None) -> torch.Tensor:
        """Decode: s_t(c) = h_t . e_c + b_c (+ target attention) -> (B, T, V), or (B, V) with ``last``.

        Target attention: each candidate c attends over the inputs x_j, j <= t, with weights
        softmax_j(x_j . e_c) and adds w * sum_j softmax_j(x_j . e_c) (x_j . e_c)."""
        e = self.item_table() if table is None else table  # (V, d)
        s = (h[:, -1] if last else h) @ e.T  # (B, [T,] V)
        if self.item_bias is not None:
            s += self.item_bias  # in place: a million-item catalogue makes every copy of s costly
        if self.ta_scale is not None:
            a = x @ e.T  # (B, T, V) history-candidate affinities
            w = torch.exp(a - a.amax(1, keepdim=True)) * key_mask[..., None]  # (B, T, V), 0 at padding
            if last:
                ta = (w * a).sum(1) / w.sum(1).clamp(min=1e-30)  # (B, V)
            else:
                ta = (w * a).cumsum(1) / w.cumsum(1).clamp(min=1e-30)  # (B, T, V) causal weighted mean
            s = s + self.ta_scale * ta
        s[..., 0] = float("-inf")
        return s

    def forward(self, items: torch.Tensor, context: dict | None = None) -> torch.Tensor:
        """(B, T) ids (+ context codes) -> (B, T', V) next-item scores at every position, T' = min(T, max_len)."""
        table = self.item_table()
        h, x = self.encode(items, context, table)
        return self.logits(h, x, items[:, -h.shape[1]:] != 0, table=table)
