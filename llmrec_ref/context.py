"""Context as model input: the context of past events, and of the request a model answers.

Derived in notebooks/05_loss_derivation. Parts:

1. ``KNOWN_FEATURES``: context columns with a fixed vocabulary (``preprocess.add_context_features``
   computes them from the timestamp and the behaviour); any other feature (``device``, ...)
   is categorical with a vocabulary learned from the training log.
2. ``encode_context``: a log's context columns -> small int codes.
3. ``request_codes``: the context of each user's *request* - when it comes, after how long,
   on which device - as codes, from a ``query`` frame. What the user then does (the item,
   the behaviour, the rating: ``OUTCOME_COLUMNS``) is never part of it.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import torch

from llmrec_ref.preprocess import add_context_features, gap_buckets

__all__ = ["KNOWN_FEATURES", "OUTCOME_FEATURES", "AUTO_CATEGORICAL", "encode_context", "request_codes"]

# context columns with a fixed vocabulary (codes as stored by SequenceDataset, 0 = padding)
KNOWN_FEATURES = {"behavior_code": 5, "hour": 25, "weekday": 8, "gap_bucket": 33}
OUTCOME_FEATURES = ("behavior_code",)  # what the user did: known for past events, never for the request
OUTCOME_COLUMNS = ("behavior", "behavior_code", "rating")
AUTO_CATEGORICAL = ("device",)  # string columns used by default when present


def encode_context(frame: pd.DataFrame, features: list, categories: dict) -> pd.DataFrame:
    """A copy of ``frame`` whose ``features`` are non-negative int codes.

    ``behavior_code``/``hour``/``weekday``/``gap_bucket`` come from ``add_context_features``
    (computed from the timestamp and the behaviour when missing); any other feature is
    categorical: its values (as strings) are looked up in ``categories[name]``, unknown ones
    get the extra code len(vocabulary). A feature the frame cannot provide (no ``behavior`` or
    no such column) becomes "unknown", with a warning.
    """
    if any(f in KNOWN_FEATURES and f not in frame.columns for f in features):
        frame = add_context_features(frame)
    out = {}
    for name in features:
        missing = name not in frame.columns
        if missing:
            warnings.warn(f"history has no {name!r} column: that context is treated as unknown", stacklevel=3)
        if name in KNOWN_FEATURES:
            if missing:  # only behavior_code can be missing here; 0 is its padding code
                out[name] = np.zeros(len(frame), dtype=np.int64)
            continue
        vocab = categories[name]
        codes = np.full(len(frame), -1) if missing else pd.Index(vocab).get_indexer(frame[name].astype(str))
        out[name] = np.where(codes < 0, len(vocab), codes).astype(np.int64)
    return frame.assign(**out)



def request_codes(features: list, categories: dict, users: np.ndarray, data: dict, history: pd.DataFrame,
                  query: pd.DataFrame | None) -> dict[str, torch.Tensor]:
    """Codes (U,) of each user's request context, stored as in the sequences (+1, 0 = padding).

    ``data`` holds each user's left-padded (U, T) codes (``SequenceDataset.data`` of
    ``history`` for ``users``). From ``query`` (its earliest row per user: ``timestamp`` +
    context columns such as ``device``; ``hour``/``weekday`` are computed from the timestamp
    when absent, the gap is measured from the user's last event in ``history``). A user
    without a query row is assumed to continue where they stopped: the last event's context,
    a gap of 0 s.
    """
    codes = {f: data[f][:, -1].clone() for f in features}  # (U,) the last event's context
    if "gap_bucket" in codes:
        codes["gap_bucket"] = (data["item_id"][:, -1] > 0).long()  # gap 0 s -> bucket 0 -> code 1
    if not features or query is None or not len(query):
        return codes
    if "user_id" not in query.columns or "timestamp" not in query.columns:
        raise ValueError(f"query needs user_id and timestamp columns (+ context such as device), "
                         f"got {list(query.columns)}")
    q = query[query["user_id"].isin(users)].sort_values(["user_id", "timestamp"], kind="stable")
    q = q.drop_duplicates("user_id").drop(columns=["item_id", *OUTCOME_COLUMNS, "gap", "gap_bucket"], errors="ignore")
    if not len(q):
        return codes
    q = add_context_features(q.assign(item_id=1))  # hour/weekday from the timestamp unless given
    last_ts = history.groupby("user_id")["timestamp"].max() if len(history) else pd.Series(dtype="int64")
    ts = q["timestamp"].to_numpy(dtype=np.int64)
    q["gap_bucket"] = gap_buckets(ts - q["user_id"].map(last_ts).fillna(pd.Series(ts, index=q.index)).to_numpy())
    q = encode_context(q, features, categories)
    rows = torch.as_tensor(pd.Index(users).get_indexer(q["user_id"]))
    for f in features:
        codes[f][rows] = torch.as_tensor(q[f].to_numpy(dtype=np.int64) + 1)
    return codes
