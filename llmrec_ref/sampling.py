"""Negative sampling and next-item training batches.

Derived in notebooks/01_data_preprocessing. ``sample_negatives`` draws items a user has
not interacted with (for BPR/BCE losses and sampled evaluation); ``SequenceDataset`` and
``collate`` turn a log into left-padded tensors for sequence models: the input is a user's
history seq[:-1], the target at each position is the next item seq[1:], 0 is padding.
Ids must already be contiguous 1..n (``llmrec_ref.preprocess.remap_ids``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from llmrec_ref.preprocess import (
    BEHAVIORS,
    N_GAP_BUCKETS,
    _positions_from_end,
    require_columns,
    time_order,
)

CONTEXT_FEATURES = ("behavior_code", "hour", "weekday", "gap_bucket")  # used by default when present
ONE_BASED = ("item_id", "behavior_code")  # already 0 = padding; every other feature is stored + 1
KNOWN_VOCAB = {"item_id": 1, "behavior_code": len(BEHAVIORS) + 1, "hour": 25, "weekday": 8, "gap_bucket": N_GAP_BUCKETS + 1}


def _int_arg(value: object, name: str, hint: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be an int >= 1 ({hint}), got {value!r}")
    return int(value)


def sample_negatives(
    interactions: pd.DataFrame,
    n_items: int,
    n: int = 1,
    method: str = "uniform",
    seed: int = 0,
    positives: pd.DataFrame | None = None,
    power: float = 1.0,
) -> np.ndarray:
    """``n`` negative items for each row of ``interactions``: an int64 array (n_rows, n),
    row i holding negatives for the user of row i, never one of that user's positives.

    Positives are the (user, item) pairs of ``positives`` (default: ``interactions``; pass
    train + valid + test to exclude every known item). ``method="uniform"``: p(i) = 1/n_items
    over 1..n_items; ``"popularity"``: p(i) proportional to count(i)^power in
    ``interactions`` (items never seen are never drawn). Draws are with replacement across a
    row; rejected draws (positives) are redrawn until none is left.
    """
    require_columns(interactions, ("user_id", "item_id"))
    pos = interactions if positives is None else positives
    require_columns(pos, ("user_id", "item_id"), name="positives")
    n_items = _int_arg(n_items, "n_items", "the largest item id")
    n = _int_arg(n, "n", "negatives per row")
    if method not in ("uniform", "popularity"):
        raise ValueError(f"method must be 'uniform' or 'popularity', got {method!r}")
    for name, frame in (("interactions", interactions), ("positives", pos)):
        items = frame["item_id"].to_numpy()
        if items.min() < 1 or items.max() > n_items:
            raise ValueError(f"{name}.item_id must lie in 1..n_items={n_items}; remap ids first (remap_ids)")
    users = interactions["user_id"].to_numpy(dtype=np.int64)
    stride = n_items + 1
    pos_keys = np.unique(pos["user_id"].to_numpy(dtype=np.int64) * stride + pos["item_id"].to_numpy(dtype=np.int64))

    def is_positive(u: np.ndarray, i: np.ndarray) -> np.ndarray:
        keys = u * stride + i
        found = np.minimum(np.searchsorted(pos_keys, keys), len(pos_keys) - 1)
        return pos_keys[found] == keys

    p = None
    if method == "popularity":
        counts = np.bincount(interactions["item_id"].to_numpy(), minlength=stride).astype(np.float64)
        p = np.where(counts > 0, counts, 1.0) ** power * (counts > 0)  # (n_items + 1,), p[0] = 0
        p /= p.sum()
    # every user needs at least one item it may draw, otherwise rejection never ends
    support = np.ones(stride, dtype=bool) if p is None else p > 0
    support[0] = False
    pos_in_support = pos_keys[support[pos_keys % stride]] // stride
    full = np.unique(pos_in_support, return_counts=True)
    full_users = full[0][full[1] >= support.sum()]
    if np.isin(users, full_users).any():
        raise ValueError(f"users {full_users[:5].tolist()} have interacted with every item that {method!r} can "
                         "draw; drop them or use method='uniform'")

    rng = np.random.default_rng(seed)
    draw = (lambda size: rng.integers(1, stride, size=size)) if p is None else (lambda size: rng.choice(stride, size=size, p=p))
    out = draw((len(users), n)).astype(np.int64)  # (n_rows, n)
    bad = is_positive(users[:, None], out)
    while bad.any():
        rows, cols = np.nonzero(bad)
        out[rows, cols] = draw(len(rows))
        bad[rows, cols] = is_positive(users[rows], out[rows, cols])
    return out


class SequenceDataset(Dataset):
    """One example per user: the most recent interactions, left-padded with 0.

    With ``train=True`` a row keeps the last ``max_len + 1`` items s and yields
    ``items = s[:-1]`` and ``targets = s[1:]``, each (max_len,), targets 0 where the input
    is padding (use ``ignore_index=0``); users with fewer than 2 interactions are skipped.
    With ``train=False`` it yields the last ``max_len`` items as ``items`` (for scoring;
    ``users`` fixes the order, a user without history gets an all-padding row). Context
    ``features`` (default: those of CONTEXT_FEATURES present) are aligned with ``items``;
    values must be non-negative ints; all but item_id and behavior_code are stored + 1 so
    that 0 stays padding (hour 0..23 -> 1..24). ``vocab_sizes`` gives embedding table sizes.
    """

    def __init__(
        self,
        interactions: pd.DataFrame,
        max_len: int = 50,
        features: Sequence[str] | None = None,
        users: Sequence[int] | None = None,
        train: bool = True,
    ) -> None:
        require_columns(interactions)
        self.max_len, self.train = _int_arg(max_len, "max_len", "e.g. 50"), train
        if features is None:
            features = [c for c in CONTEXT_FEATURES if c in interactions.columns]
        require_columns(interactions, features)
        self.features = list(features)
        order = time_order(interactions)
        user_ids, codes = np.unique(interactions["user_id"].to_numpy(dtype=np.int64)[order], return_inverse=True)
        if users is None:
            users = user_ids[np.bincount(codes) >= 2] if train else user_ids
        if len(set(np.asarray(users).tolist())) != len(users):
            raise ValueError("users must not repeat a user id; pass each user once, e.g. sorted(set(users))")
        self.users = torch.as_tensor(np.asarray(users, dtype=np.int64))  # (N,)
        width = self.max_len + 1 if train else self.max_len
        row_of_code = pd.Index(np.asarray(users, dtype=np.int64)).get_indexer(user_ids)  # -1: not asked for
        from_end = _positions_from_end(codes)
        keep = (from_end < width) & (row_of_code[codes] >= 0)
        rows, cols = row_of_code[codes[keep]], width - 1 - from_end[keep]
        self.data: dict[str, torch.Tensor] = {}
        self.vocab_sizes: dict[str, int] = {}
        for name in ["item_id"] + self.features:
            values = interactions[name].to_numpy()[order][keep]
            if not np.issubdtype(values.dtype, np.integer) or (len(values) and values.min() < 0):
                raise ValueError(f"feature {name!r} must hold non-negative ints; encode it first "
                                 "(e.g. add_context_features or pd.factorize)")
            if name == "item_id" and len(values) and values.min() < 1:
                raise ValueError("item_id 0 is padding; renumber items 1..n with remap_ids first")
            values = values.astype(np.int64) + (name not in ONE_BASED)
            matrix = np.zeros((len(self.users), width), dtype=np.int64)  # (N, width)
            matrix[rows, cols] = values
            self.data[name] = torch.from_numpy(matrix)
            self.vocab_sizes[name] = max(KNOWN_VOCAB.get(name, 1), int(matrix.max(initial=0)) + 1)

    def __len__(self) -> int:
        return len(self.users)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        seq = self.data["item_id"][i]  # (width,)
        if not self.train:
            return {"user": self.users[i], "items": seq, **{f: self.data[f][i] for f in self.features}}
        items = seq[:-1]  # (max_len,)
        targets = torch.where(items > 0, seq[1:], 0)  # (max_len,)
        return {"user": self.users[i], "items": items, "targets": targets,
                **{f: self.data[f][i, :-1] for f in self.features}}


def collate(batch: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Stack a list of examples into a batch: scalars -> (B,), sequences -> (B, T) left-padded
    with 0 to the longest one (T = max_len for SequenceDataset, whose rows are already padded)."""
    if not batch:
        raise ValueError("batch is empty; use a DataLoader with batch_size >= 1")
    out = {}
    for key in batch[0]:
        values = [example[key] for example in batch]
        width = max(len(v) for v in values) if values[0].dim() else 0
        if all(v.dim() == 0 or len(v) == width for v in values):
            out[key] = torch.stack(values)  # (B,) or (B, T): already padded
            continue
        padded = values[0].new_zeros((len(values), width))  # (B, T)
        for row, v in zip(padded, values, strict=True):
            if len(v):
                row[width - len(v):] = v
        out[key] = padded
    return out
