"""Attention from scratch: scaled dot-product, multi-head, additive, target attention.

Derived in notebooks/04_attention. This file imports only torch, so it can be
copied alone into another project.

Mask convention (the same in every function and class here, and in
``encoders.py``): a boolean ``mask`` is **True where a query may attend to a
key** -- the convention of ``torch.nn.functional.scaled_dot_product_attention``.
``key_mask`` (B, T_k) is True for real keys and False for padding. Note that
``torch.nn.MultiheadAttention`` uses the opposite: its ``attn_mask`` and
``key_padding_mask`` are True where attention is *forbidden*; pass ``~mask``
to it. A query row with no key to attend to gets all-zero weights and a
zero output (never NaN), so left-padded batches with a causal mask are safe.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "AdditiveAttention",
    "MultiHeadAttention",
    "TargetAttention",
    "causal_mask",
    "masked_softmax",
    "scaled_dot_product_attention",
]


def causal_mask(length: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Lower-triangular (T, T) bool mask: query t may attend to keys 0..t (True = may attend)."""
    if length < 1:
        raise ValueError(f"length must be >= 1, got {length}")
    return torch.ones(length, length, dtype=torch.bool, device=device).tril()


def _check_mask(mask: torch.Tensor, shape: tuple[int, ...], name: str = "mask") -> None:
    """Raise ValueError unless ``mask`` is bool and broadcasts to ``shape``."""
    if mask.dtype != torch.bool:
        raise ValueError(f"{name} must be a bool tensor (True = may attend), got {mask.dtype}")
    if mask.dim() > len(shape) or any(
        m not in (1, s) for m, s in zip(mask.shape, shape[len(shape) - mask.dim() :], strict=True)
    ):
        raise ValueError(
            f"{name} of shape {tuple(mask.shape)} does not broadcast to the scores' shape "
            f"{tuple(shape)}; give it shape (T_q, T_k), (B, T_q, T_k) or (B, 1, T_k)"
        )


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor | None, dim: int = -1) -> torch.Tensor:
    """softmax(scores) over ``dim`` with masked entries set to 0; an all-masked row gives zeros.

    Masked scores are replaced by the most negative finite number (not -inf), so
    a fully masked row's softmax is finite (uniform) and is then zeroed by the
    mask: no NaN in the output or in its gradient.
    """
    if mask is None:
        return scores.softmax(dim)
    scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    return scores.softmax(dim) * mask


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    dropout_p: float = 0.0,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention(Q, K, V) = softmax(Q K^T / sqrt(d) + masking) V; returns ``(out, weights)``.

    ``q`` (..., T_q, d), ``k`` (..., T_k, d), ``v`` (..., T_k, d_v); ``mask`` bool,
    broadcastable to (..., T_q, T_k), True = may attend. Dividing by sqrt(d) keeps
    the scores' variance near 1 when q and k have unit-variance entries, so the
    softmax does not saturate. ``out`` is (..., T_q, d_v); ``weights`` (..., T_q, T_k)
    are the attention probabilities *before* dropout (what you plot). Rows with no
    allowed key get zero weights and zero output. Dropout (``dropout_p`` > 0) draws
    from ``generator`` when given.
    """
    if q.dim() < 2 or q.dim() != k.dim() or k.dim() != v.dim():
        raise ValueError(
            f"q, k, v must have the same number (>= 2) of dims, got {q.dim()}, {k.dim()}, {v.dim()}"
        )
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k must share the last dim d, got {q.shape[-1]} and {k.shape[-1]}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"k and v must have the same length T_k, got {k.shape[-2]} and {v.shape[-2]}")
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"dropout_p must be in [0, 1), got {dropout_p}")
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., T_q, T_k)
    if mask is not None:
        _check_mask(mask, tuple(scores.shape))
    weights = masked_softmax(scores, mask)  # (..., T_q, T_k)
    dropped = weights
    if dropout_p > 0.0:
        keep = torch.rand(weights.shape, generator=generator, device=weights.device) >= dropout_p
        dropped = weights * keep / (1.0 - dropout_p)
    return dropped @ v, weights  # (..., T_q, d_v), (..., T_q, T_k)


class MultiHeadAttention(nn.Module):
    """Multi-head attention: h heads of size d/h attend in parallel, then are mixed by W_o.

    head_i = Attention(x W_q^i, c W_k^i, c W_v^i), out = [head_1; ...; head_h] W_o,
    with c = x for self-attention. Q, K, V come from one fused (d, 3d) projection laid
    out like ``torch.nn.MultiheadAttention.in_proj_weight``, so weights copy across
    with :meth:`load_torch_weights`. Input (B, T, d) (batch first).
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

    def _split(self, t: torch.Tensor) -> torch.Tensor:
        B, T, _ = t.shape
        return t.view(B, T, self.n_heads, -1).transpose(1, 2)  # (B, h, T, d/h)

    def forward(
        self,
        x: torch.Tensor,
        context: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        key_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Attend from ``x`` (B, T_q, d) to ``context`` (B, T_k, d; default ``x``).

        ``mask`` bool broadcastable to (B, T_q, T_k) or (B, h, T_q, T_k) (e.g. a
        (T, T) causal mask); ``key_mask`` (B, T_k) bool, True = real key. Both use
        True = may attend. Returns ``out`` (B, T_q, d) and per-head ``weights``
        (B, h, T_q, T_k).
        """
        if x.dim() != 3 or x.shape[-1] != self.d_model:
            raise ValueError(f"x must be (B, T, {self.d_model}), got {tuple(x.shape)}")
        if context is None:
            q, k, v = self.qkv(x).chunk(3, dim=-1)  # 3 x (B, T, d)
        else:
            if context.dim() != 3 or context.shape[0] != x.shape[0] or context.shape[-1] != self.d_model:
                raise ValueError(
                    f"context must be (B={x.shape[0]}, T_k, {self.d_model}), got {tuple(context.shape)}"
                )
            w, b = self.qkv.weight, self.qkv.bias
            bq, bkv = (None, None) if b is None else (b[: self.d_model], b[self.d_model :])
            q = F.linear(x, w[: self.d_model], bq)  # (B, T_q, d)
            k, v = F.linear(context, w[self.d_model :], bkv).chunk(2, dim=-1)  # (B, T_k, d)
        B, T_q, T_k = x.shape[0], x.shape[1], k.shape[1]
        mask4 = None
        if mask is not None:
            _check_mask(mask, (B, T_q, T_k) if mask.dim() <= 3 else (B, self.n_heads, T_q, T_k))
            mask4 = mask.unsqueeze(1) if mask.dim() == 3 else mask  # broadcasts over heads
        if key_mask is not None:
            if key_mask.dtype != torch.bool or tuple(key_mask.shape) != (B, T_k):
                raise ValueError(
                    f"key_mask must be a bool (B={B}, T_k={T_k}) tensor, True = real key; "
                    f"got {key_mask.dtype} {tuple(key_mask.shape)}"
                )
            km = key_mask[:, None, None, :]  # (B, 1, 1, T_k)
            mask4 = km if mask4 is None else mask4 & km
        p = self.dropout if self.training else 0.0
        heads, weights = scaled_dot_product_attention(
            self._split(q), self._split(k), self._split(v), mask4, p
        )  # (B, h, T_q, d/h), (B, h, T_q, T_k)
        merged = heads.transpose(1, 2).reshape(B, T_q, self.d_model)  # (B, T_q, d)
        return self.out(merged), weights

    @torch.no_grad()
    def load_torch_weights(self, mha: nn.MultiheadAttention) -> MultiHeadAttention:
        """Copy the weights of a ``torch.nn.MultiheadAttention`` (same d, heads) into self; returns self."""
        if mha.embed_dim != self.d_model or mha.num_heads != self.n_heads or mha.in_proj_weight is None:
            raise ValueError(
                f"need a torch MultiheadAttention with embed_dim={self.d_model}, "
                f"num_heads={self.n_heads} and kdim = vdim = embed_dim"
            )
        self.qkv.weight.copy_(mha.in_proj_weight)
        self.out.weight.copy_(mha.out_proj.weight)
        if self.qkv.bias is not None:
            self.qkv.bias.copy_(mha.in_proj_bias)
            self.out.bias.copy_(mha.out_proj.bias)
        return self


class AdditiveAttention(nn.Module):
    """Additive (Bahdanau) attention, with softmax weights or pairwise sigmoid gates.

    Score e_ij = v^T tanh(W_a [q_i; k_j] + b), with W_a = [W_q | W_k] split so the
    (B, T_q, T_k, d_q + d_k) concatenation is never built. ``gate="softmax"``:
    a_ij = softmax_j(e_ij), the weights of query i sum to one (Bahdanau).
    ``gate="sigmoid"``: a_ij = sigmoid(e_ij), each pair is gated on its own in
    (0, 1), so a query may keep many keys, or none. The tanh layer matters: a purely
    linear sigmoid(w^T [h_i; h_j]) = sigmoid(w_1.h_i + w_2.h_j) cannot model how
    i and j *interact*.
    """

    def __init__(self, d_query: int, d_key: int, d_hidden: int, gate: str = "softmax"):
        super().__init__()
        if min(d_query, d_key, d_hidden) < 1:
            raise ValueError(f"dims must be >= 1, got {d_query}, {d_key}, {d_hidden}")
        if gate not in ("softmax", "sigmoid"):
            raise ValueError(f"gate must be 'softmax' or 'sigmoid', got {gate!r}")
        self.gate = gate
        self.w_q = nn.Linear(d_query, d_hidden, bias=True)  # the bias is b
        self.w_k = nn.Linear(d_key, d_hidden, bias=False)
        self.v = nn.Linear(d_hidden, 1, bias=False)

    def forward(
        self,
        query: torch.Tensor,
        keys: torch.Tensor,
        values: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``query`` (B, T_q, d_q), ``keys`` (B, T_k, d_k), ``values`` (B, T_k, d_v; default keys).

        ``mask`` bool broadcastable to (B, T_q, T_k), True = may attend. Returns
        ``out`` = sum_j a_ij values_j (B, T_q, d_v) and ``weights`` a (B, T_q, T_k).
        """
        values = keys if values is None else values
        if query.dim() != 3 or keys.dim() != 3 or values.dim() != 3:
            raise ValueError("query, keys and values must be 3-d (B, T, d) tensors")
        if query.shape[-1] != self.w_q.in_features or keys.shape[-1] != self.w_k.in_features:
            raise ValueError(
                f"query's last dim must be {self.w_q.in_features} and keys' {self.w_k.in_features}, "
                f"got {query.shape[-1]} and {keys.shape[-1]}"
            )
        if keys.shape[:2] != values.shape[:2] or query.shape[0] != keys.shape[0]:
            raise ValueError("query, keys and values must share B, and keys/values must share T_k")
        hidden = torch.tanh(self.w_q(query)[:, :, None] + self.w_k(keys)[:, None])  # (B, T_q, T_k, h)
        scores = self.v(hidden).squeeze(-1)  # (B, T_q, T_k)
        if mask is not None:
            _check_mask(mask, tuple(scores.shape))
        if self.gate == "softmax":
            weights = masked_softmax(scores, mask)
        else:
            weights = torch.sigmoid(scores) if mask is None else torch.sigmoid(scores) * mask
        return weights @ values, weights  # (B, T_q, d_v), (B, T_q, T_k)


class TargetAttention(nn.Module):
    """Target attention (DIN): a candidate item weighs the user's past items.

    For candidate c and history items h_t, a small MLP scores each pair from
    [h_t, c, h_t - c, h_t * c]; the user vector for that candidate is
    u(c) = sum_t a_t(c) h_t. ``normalize="softmax"`` makes the weights sum to one;
    ``"sigmoid"`` gates each item in (0, 1); ``"none"`` keeps raw scores as DIN's
    paper does (it keeps the "intensity" of interest). One user, different
    candidates, different user vectors.
    """

    def __init__(self, d: int, d_hidden: int = 32, normalize: str = "softmax"):
        super().__init__()
        if d < 1 or d_hidden < 1:
            raise ValueError(f"d and d_hidden must be >= 1, got {d}, {d_hidden}")
        if normalize not in ("softmax", "sigmoid", "none"):
            raise ValueError(f"normalize must be 'softmax', 'sigmoid' or 'none', got {normalize!r}")
        self.d, self.normalize = d, normalize
        self.mlp = nn.Sequential(nn.Linear(4 * d, d_hidden), nn.ReLU(), nn.Linear(d_hidden, 1))

    def forward(
        self, history: torch.Tensor, candidates: torch.Tensor, key_mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``history`` (B, T, d), ``candidates`` (B, N, d) or (B, d), ``key_mask`` (B, T) True = real.

        Returns user vectors (B, N, d) (or (B, d) for 2-d candidates) and weights
        (B, N, T) (or (B, T)). Padded history items get weight 0; an empty history
        gives a zero user vector.
        """
        squeeze = candidates.dim() == 2
        cand = candidates[:, None] if squeeze else candidates  # (B, N, d)
        if history.dim() != 3 or history.shape[-1] != self.d or cand.dim() != 3 or cand.shape[-1] != self.d:
            raise ValueError(
                f"history must be (B, T, {self.d}) and candidates (B, N, {self.d}) or (B, {self.d}); "
                f"got {tuple(history.shape)} and {tuple(candidates.shape)}"
            )
        if history.shape[0] != cand.shape[0]:
            raise ValueError(f"batch sizes differ: history {history.shape[0]}, candidates {cand.shape[0]}")
        B, T, N = history.shape[0], history.shape[1], cand.shape[1]
        if key_mask is not None and (key_mask.dtype != torch.bool or tuple(key_mask.shape) != (B, T)):
            raise ValueError(f"key_mask must be a bool (B={B}, T={T}) tensor, True = real item")
        h = history[:, None].expand(B, N, T, self.d)  # (B, N, T, d)
        c = cand[:, :, None].expand(B, N, T, self.d)  # (B, N, T, d)
        scores = self.mlp(torch.cat([h, c, h - c, h * c], dim=-1)).squeeze(-1)  # (B, N, T)
        mask = None if key_mask is None else key_mask[:, None, :]  # (B, 1, T)
        if self.normalize == "softmax":
            weights = masked_softmax(scores, mask)
        else:
            weights = torch.sigmoid(scores) if self.normalize == "sigmoid" else scores
            weights = weights if mask is None else weights * mask
        users = weights @ history  # (B, N, d)
        return (users[:, 0], weights[:, 0]) if squeeze else (users, weights)
