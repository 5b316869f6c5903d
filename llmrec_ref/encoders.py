"""Sequence encoders for a user's history: positions, bidirectional RNNs, Transformers.

Derived in notebooks/03_encoders. This file imports only torch, so it can be
copied alone into another project; the multi-head attention it needs is a copy
of ``llmrec_ref.attention.MultiHeadAttention`` (same parameter names, same math).

Conventions: inputs are batch first, (B, T, d). A boolean ``mask`` is True where a
query may attend to a key (torch SDPA's convention); ``key_mask`` (B, T) is True for
real items and False for padding -- the opposite of torch.nn's ``src_mask`` /
``src_key_padding_mask``, so pass ``~mask`` to those. Histories are **left padded**
(``[0, 0, i1, i2, i3]``: the most recent item is always in the last slot); every
encoder here also accepts right padding. Padded query rows that see no key get
zeros, never NaN, so a causal mask plus a key mask is safe.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

__all__ = [
    "BiRNNEncoder",
    "LearnedPositionalEmbedding",
    "MultiHeadAttention",
    "PositionalEncoding",
    "SequenceEncoder",
    "TransformerEncoder",
    "TransformerEncoderLayer",
    "causal_mask",
]


def causal_mask(length: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Lower-triangular (T, T) bool mask: query t may attend to keys 0..t (True = may attend)."""
    if length < 1:
        raise ValueError(f"length must be >= 1, got {length}")
    return torch.ones(length, length, dtype=torch.bool, device=device).tril()


def _key_mask_check(key_mask: torch.Tensor | None, B: int, T: int) -> None:
    if key_mask is not None and (key_mask.dtype != torch.bool or tuple(key_mask.shape) != (B, T)):
        raise ValueError(
            f"key_mask must be a bool (B={B}, T={T}) tensor, True = real item; "
            f"got {key_mask.dtype} {tuple(key_mask.shape)}"
        )


class MultiHeadAttention(nn.Module):
    """Multi-head self-attention, softmax(Q K^T / sqrt(d_head)) V per head (copy of attention.py's).

    Q, K, V come from one fused (d, 3d) projection laid out like torch's
    ``in_proj_weight``; rows with no allowed key give zeros, not NaN.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        if d_model < 1 or n_heads < 1 or d_model % n_heads != 0:
            raise ValueError(
                f"d_model ({d_model}) must be a positive multiple of n_heads ({n_heads}); "
                "pick n_heads that divides d_model"
            )
        self.d_model, self.n_heads, self.dropout = d_model, n_heads, dropout
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=bias)
        self.out = nn.Linear(d_model, d_model, bias=bias)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None, key_mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` (B, T, d); ``mask`` (T, T) or (B, T, T) bool; ``key_mask`` (B, T). Returns (out, weights (B, h, T, T))."""
        if x.dim() != 3 or x.shape[-1] != self.d_model:
            raise ValueError(f"x must be (B, T, {self.d_model}), got {tuple(x.shape)}")
        B, T, d = x.shape
        _key_mask_check(key_mask, B, T)
        if mask is not None and (mask.dtype != torch.bool or mask.shape[-2:] != (T, T) or mask.dim() > 3):
            raise ValueError(f"mask must be a bool (T, T) or (B, T, T) tensor with T={T}, got {tuple(mask.shape)}")
        q, k, v = (t.view(B, T, self.n_heads, -1).transpose(1, 2) for t in self.qkv(x).chunk(3, -1))  # (B, h, T, d/h)
        scores = q @ k.transpose(-2, -1) / math.sqrt(d // self.n_heads)  # (B, h, T, T)
        full = None if mask is None else (mask if mask.dim() == 2 else mask[:, None])
        if key_mask is not None:
            km = key_mask[:, None, None, :]  # (B, 1, 1, T)
            full = km if full is None else full & km
        if full is None:
            weights = scores.softmax(-1)
        else:  # finite fill, then zero: a fully masked row gives zeros, not NaN
            weights = scores.masked_fill(~full, torch.finfo(scores.dtype).min).softmax(-1) * full
        attn = F.dropout(weights, self.dropout, self.training)
        out = (attn @ v).transpose(1, 2).reshape(B, T, d)  # (B, T, d)
        return self.out(out), weights

    @torch.no_grad()
    def load_torch_weights(self, mha: nn.MultiheadAttention) -> MultiHeadAttention:
        """Copy a ``torch.nn.MultiheadAttention``'s weights (same d, heads) into self; returns self."""
        if mha.embed_dim != self.d_model or mha.num_heads != self.n_heads or mha.in_proj_weight is None:
            raise ValueError(f"need a torch MultiheadAttention with embed_dim={self.d_model}, num_heads={self.n_heads}")
        self.qkv.weight.copy_(mha.in_proj_weight)
        self.out.weight.copy_(mha.out_proj.weight)
        if self.qkv.bias is not None:
            self.qkv.bias.copy_(mha.in_proj_bias)
            self.out.bias.copy_(mha.out_proj.bias)
        return self


class PositionalEncoding(nn.Module):
    """Sinusoidal positions (Vaswani et al.): x + PE, PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(...).

    Fixed, not learned; nearby positions get similar vectors and PE[p + k] is a
    rotation of PE[p]. Positions are slot indices 0..T-1, so with left padding the
    most recent item always sits at position T-1 (positions encode recency).
    """

    def __init__(self, d_model: int, max_len: int = 512):
        super().__init__()
        if d_model < 2 or d_model % 2 or max_len < 1:
            raise ValueError(f"d_model must be even and >= 2 and max_len >= 1, got {d_model}, {max_len}")
        pos = torch.arange(max_len, dtype=torch.float64)[:, None]  # (L, 1)
        freq = torch.exp(-math.log(10000.0) * torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
        pe = torch.zeros(max_len, d_model, dtype=torch.float64)
        pe[:, 0::2], pe[:, 1::2] = torch.sin(pos * freq), torch.cos(pos * freq)  # (L, d)
        self.register_buffer("pe", pe.float(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (B, T, d) -> x + PE[:T] (B, T, d)."""
        if x.dim() != 3 or x.shape[-1] != self.pe.shape[1] or x.shape[1] > self.pe.shape[0]:
            raise ValueError(f"x must be (B, T <= {self.pe.shape[0]}, {self.pe.shape[1]}), got {tuple(x.shape)}")
        return x + self.pe[: x.shape[1]].to(x.dtype)


class LearnedPositionalEmbedding(nn.Module):
    """Learned positions: x + P[0..T-1], one trained vector per slot (BERT, SASRec), init N(0, std^2)."""

    def __init__(self, max_len: int, d_model: int, init_std: float = 0.02):
        super().__init__()
        if max_len < 1 or d_model < 1:
            raise ValueError(f"max_len and d_model must be >= 1, got {max_len}, {d_model}")
        self.emb = nn.Embedding(max_len, d_model)
        nn.init.normal_(self.emb.weight, std=init_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (B, T, d) -> x + P[:T] (B, T, d)."""
        L, d = self.emb.weight.shape
        if x.dim() != 3 or x.shape[-1] != d or x.shape[1] > L:
            raise ValueError(f"x must be (B, T <= max_len={L}, {d}), got {tuple(x.shape)}")
        return x + self.emb.weight[: x.shape[1]]


class BiRNNEncoder(nn.Module):
    """GRU/LSTM over packed sequences: padding never enters a hidden state.

    The forward direction reads a history oldest -> newest, the backward direction
    newest -> oldest; output t is [h_fwd_t; h_bwd_t], so with ``bidirectional=True``
    position t has seen the *future* items too (do not use it to predict item t+1).
    Packing needs the real items first, so each row is reordered (real items to the
    front, order kept), packed, run, and scattered back: left padding, right padding
    and holes all work and give the same outputs for the real items.
    """

    def __init__(
        self, d_in: int, d_hidden: int, cell: str = "gru", bidirectional: bool = True,
        n_layers: int = 1, dropout: float = 0.0,
    ):
        super().__init__()
        if cell not in ("gru", "lstm"):
            raise ValueError(f"cell must be 'gru' or 'lstm', got {cell!r}")
        rnn = nn.GRU if cell == "gru" else nn.LSTM
        self.rnn = rnn(d_in, d_hidden, num_layers=n_layers, batch_first=True,
                       bidirectional=bidirectional, dropout=dropout if n_layers > 1 else 0.0)
        self.n_dir = 2 if bidirectional else 1
        self.d_out = self.n_dir * d_hidden

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` (B, T, d_in), ``key_mask`` (B, T) True = real item.

        Returns per-position outputs (B, T, D * d_hidden), zero at padding, and a
        summary (B, D * d_hidden) = [last forward state; last backward state] (the
        backward one has read back to the oldest item); zero for an empty history.
        """
        if x.dim() != 3 or x.shape[-1] != self.rnn.input_size:
            raise ValueError(f"x must be (B, T, {self.rnn.input_size}), got {tuple(x.shape)}")
        B, T, _ = x.shape
        _key_mask_check(key_mask, B, T)
        if key_mask is None:
            key_mask = torch.ones(B, T, dtype=torch.bool, device=x.device)
        lengths = key_mask.sum(1)  # (B,)
        order = torch.argsort((~key_mask).to(torch.int8), dim=1, stable=True)  # (B, T) real slots first
        front = x.gather(1, order[..., None].expand_as(x))  # (B, T, d_in) right padded
        packed = pack_padded_sequence(front, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False)
        out, h = self.rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=T)  # (B, T, D*H)
        out = torch.zeros_like(out).scatter(1, order[..., None].expand_as(out), out)  # back to the slots
        h = h[0] if isinstance(h, tuple) else h  # (layers * D, B, H), LSTM: drop the cell state
        summary = h[-self.n_dir :].transpose(0, 1).reshape(B, self.d_out)  # (B, D*H)
        return out * key_mask[..., None], summary * (lengths > 0)[:, None]


class TransformerEncoderLayer(nn.Module):
    """One Transformer encoder block: self-attention then a position-wise MLP, each with a residual.

    Post-norm (``norm_first=False``, the 2017 paper): x = LN(x + Attn(x)); x = LN(x + FF(x)).
    Pre-norm (``norm_first=True``, GPT-2, SASRec code): x = x + Attn(LN(x)); x = x + FF(LN(x)).
    FF(x) = W_2 act(W_1 x + b_1) + b_2. Parameters line up one to one with
    ``torch.nn.TransformerEncoderLayer``; copy them with :meth:`load_torch_weights`.
    """

    def __init__(
        self, d_model: int, n_heads: int, d_ff: int | None = None, dropout: float = 0.1,
        activation: str = "relu", norm_first: bool = False, eps: float = 1e-5,
    ):
        super().__init__()
        if activation not in ("relu", "gelu"):
            raise ValueError(f"activation must be 'relu' or 'gelu', got {activation!r}")
        d_ff = 4 * d_model if d_ff is None else d_ff
        self.attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.ff1, self.ff2 = nn.Linear(d_model, d_ff), nn.Linear(d_ff, d_model)
        self.norm1, self.norm2 = nn.LayerNorm(d_model, eps=eps), nn.LayerNorm(d_model, eps=eps)
        self.drop = nn.Dropout(dropout)
        self.act = F.relu if activation == "relu" else F.gelu
        self.norm_first = norm_first

    def _sa(self, x: torch.Tensor, mask: torch.Tensor | None, key_mask: torch.Tensor | None) -> torch.Tensor:
        return self.drop(self.attn(x, mask, key_mask)[0])  # (B, T, d)

    def _ff(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.ff2(self.drop(self.act(self.ff1(x)))))  # (B, T, d)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None, key_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``x`` (B, T, d), ``mask`` (T, T) or (B, T, T), ``key_mask`` (B, T) -> (B, T, d)."""
        if self.norm_first:
            x = x + self._sa(self.norm1(x), mask, key_mask)
            return x + self._ff(self.norm2(x))
        x = self.norm1(x + self._sa(x, mask, key_mask))
        return self.norm2(x + self._ff(x))

    @torch.no_grad()
    def load_torch_weights(self, layer: nn.TransformerEncoderLayer) -> TransformerEncoderLayer:
        """Copy a ``torch.nn.TransformerEncoderLayer``'s weights into self (same sizes); returns self."""
        if layer.norm_first != self.norm_first:
            raise ValueError(f"norm_first differs: torch layer {layer.norm_first}, ours {self.norm_first}")
        self.attn.load_torch_weights(layer.self_attn)
        for ours, theirs in [(self.ff1, layer.linear1), (self.ff2, layer.linear2),
                             (self.norm1, layer.norm1), (self.norm2, layer.norm2)]:
            ours.load_state_dict(theirs.state_dict())
        return self


class TransformerEncoder(nn.Module):
    """A stack of ``n_layers`` :class:`TransformerEncoderLayer`, plus a final LayerNorm for pre-norm stacks."""

    def __init__(
        self, d_model: int, n_heads: int, n_layers: int, d_ff: int | None = None, dropout: float = 0.1,
        activation: str = "relu", norm_first: bool = False, final_norm: bool | None = None,
    ):
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {n_layers}")
        self.layers = nn.ModuleList(
            TransformerEncoderLayer(d_model, n_heads, d_ff, dropout, activation, norm_first)
            for _ in range(n_layers)
        )
        final_norm = norm_first if final_norm is None else final_norm  # pre-norm leaves x un-normalised
        self.norm = nn.LayerNorm(d_model) if final_norm else nn.Identity()

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None, key_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``x`` (B, T, d) through every layer with the same masks -> (B, T, d)."""
        for layer in self.layers:
            x = layer(x, mask, key_mask)
        return self.norm(x)

    @torch.no_grad()
    def load_torch_weights(self, enc: nn.TransformerEncoder) -> TransformerEncoder:
        """Copy a ``torch.nn.TransformerEncoder`` (same depth, final norm iff ours has one); returns self."""
        if len(enc.layers) != len(self.layers) or (enc.norm is None) != isinstance(self.norm, nn.Identity):
            raise ValueError(
                f"torch encoder has {len(enc.layers)} layers and norm={enc.norm}; ours has {len(self.layers)} "
                f"layers and final_norm={not isinstance(self.norm, nn.Identity)}: make them agree"
            )
        for ours, theirs in zip(self.layers, enc.layers, strict=True):
            ours.load_torch_weights(theirs)
        if enc.norm is not None:
            self.norm.load_state_dict(enc.norm.state_dict())
        return self


class SequenceEncoder(nn.Module):
    """Item ids -> contextual vectors: embedding + positions + Transformer, causal or bidirectional.

    h = Encoder(E[items] + P, mask), with E an item table (row 0 = padding, zero,
    init N(0, init_std^2): N(0, 1) with tied output weights trains badly), P learned
    or sinusoidal positions, and mask = causal & real-key (``causal=True``: position
    t sees items <= t, for next-item prediction, SASRec) or real-key only
    (``causal=False``: every item sees the whole history, BERT4Rec). The stack is
    pre-norm with GELU by default. Padded positions come out as zeros.
    """

    def __init__(
        self, n_items: int, d_model: int = 64, n_heads: int = 2, n_layers: int = 2, max_len: int = 50,
        d_ff: int | None = None, dropout: float = 0.2, causal: bool = True, positional: str = "learned",
        norm_first: bool = True, init_std: float = 0.02,
    ):
        super().__init__()
        if n_items < 1 or max_len < 1:
            raise ValueError(f"n_items and max_len must be >= 1, got {n_items}, {max_len}")
        if positional not in ("learned", "sinusoidal", "none"):
            raise ValueError(f"positional must be 'learned', 'sinusoidal' or 'none', got {positional!r}")
        self.n_items, self.max_len, self.causal = n_items, max_len, causal
        self.item_emb = nn.Embedding(n_items + 1, d_model, padding_idx=0)
        with torch.no_grad():
            nn.init.normal_(self.item_emb.weight, std=init_std)
            self.item_emb.weight[0].zero_()
        self.pos = {"learned": lambda: LearnedPositionalEmbedding(max_len, d_model, init_std),
                    "sinusoidal": lambda: PositionalEncoding(d_model, max_len),
                    "none": nn.Identity}[positional]()
        self.drop = nn.Dropout(dropout)
        self.encoder = TransformerEncoder(d_model, n_heads, n_layers, d_ff, dropout, "gelu", norm_first)

    def forward(self, items: torch.Tensor) -> torch.Tensor:
        """``items`` (B, T) int64 ids in 0..n_items, 0 = padding (left padded) -> (B, T, d)."""
        if items.dim() != 2 or items.dtype != torch.long:
            raise ValueError(f"items must be a (B, T) int64 tensor, got {items.dtype} {tuple(items.shape)}")
        if items.shape[1] > self.max_len:
            raise ValueError(f"sequence length {items.shape[1]} > max_len={self.max_len}; keep the last max_len items")
        if items.numel() and (items.min() < 0 or items.max() > self.n_items):
            raise ValueError(f"item ids must lie in 0..{self.n_items} (0 = padding)")
        key_mask = items != 0  # (B, T)
        x = self.drop(self.pos(self.item_emb(items))) * key_mask[..., None]  # (B, T, d), zero at padding
        mask = causal_mask(items.shape[1], items.device) if self.causal else None
        return self.encoder(x, mask, key_mask) * key_mask[..., None]  # (B, T, d)
