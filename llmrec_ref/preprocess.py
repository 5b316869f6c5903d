"""Cleaning an interaction log and turning it into model inputs.

Derived in notebooks/01_data_preprocessing. The steps, in the order ``preprocess`` applies
them: clean -> deduplicate -> to_implicit -> k_core -> remap_ids -> add_context_features;
then user_sequences. Every function takes a DataFrame in the interaction schema
(``user_id, item_id, timestamp`` + optional ``rating``, ``behavior``, context columns),
returns a new one with a fresh 0..n-1 index, and never modifies its input.

Time order. "A user's interactions in time order" always means sorted by
``(timestamp, item_id)``, remaining ties (exact duplicates) in row order. Sorting on
``item_id`` too makes the order independent of how rows happen to be arranged (shuffled,
or train and validation concatenated), so sequences, gaps and splits agree everywhere.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields
from functools import cached_property
from typing import Any, NamedTuple, Sequence

import numpy as np
import pandas as pd

REQUIRED = ("user_id", "item_id", "timestamp")
BEHAVIORS = ("browse", "favorite", "cart", "purchase")  # codes 1..4, 0 = padding
N_GAP_BUCKETS = 32  # gap_bucket is 0..31


def require_columns(df: Any, columns: Sequence[str] = REQUIRED, name: str = "interactions",
                    allow_missing: bool = False) -> None:
    """Raise a ``ValueError`` naming ``name`` unless ``df`` is a non-empty DataFrame with ``columns``
    and, unless ``allow_missing``, no missing value (NaN, None, NaT) in those of ``columns`` that are
    ``user_id``, ``item_id`` or ``timestamp``, and a ``timestamp`` of finite numbers or datetimes:
    every function that sorts by time or counts ids checks its frame here, so a NaN is refused
    instead of being sorted, counted or given an id.
    """
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(
            f"{name} is missing column(s) {missing} (it has {list(df.columns)}); rename yours to the "
            "interaction schema, e.g. df.rename(columns={'userId': 'user_id', 'movieId': 'item_id'})"
        )
    if len(df) == 0:
        raise ValueError(f"{name} is empty; pass at least one row (check the filters applied before)")
    if allow_missing:
        return
    for column in (c for c in REQUIRED if c in columns):
        missing = df[column].isna().to_numpy()
        if missing.any():
            raise ValueError(
                f"{name}.{column} has {int(missing.sum())} missing value(s) (NaN/None), the first in row "
                f"{int(np.argmax(missing))}; drop those rows first, e.g. {name} = llmrec_ref.preprocess.clean({name})"
            )
    if "timestamp" in columns:
        ts = df["timestamp"]
        if pd.api.types.is_bool_dtype(ts) or not (pd.api.types.is_numeric_dtype(ts)
                                                  or pd.api.types.is_datetime64_any_dtype(ts)):
            raise ValueError(f"{name}.timestamp holds {ts.dtype} values such as {ts.iloc[0]!r}, not times; convert "
                             f"them to seconds first, e.g. {name} = llmrec_ref.preprocess.clean({name})")
        if pd.api.types.is_float_dtype(ts) and not np.isfinite(ts.to_numpy()).all():
            raise ValueError(f"{name}.timestamp holds an infinite value; drop it first, e.g. "
                             f"{name} = llmrec_ref.preprocess.clean({name})")


def time_order(df: pd.DataFrame) -> np.ndarray:
    """Row positions that sort ``df`` by (user_id, timestamp, item_id), remaining ties by row order."""
    keys = [pd.factorize(df[c], sort=True)[0] for c in ("item_id", "timestamp", "user_id")]
    return np.lexsort([np.arange(len(df))] + keys)  # last key is the primary one


def _positions_from_end(sorted_codes: np.ndarray) -> np.ndarray:
    """For user codes sorted ascending (0, 0, 1, 1, 1, ...): 0 at each user's last row, 1 before it, ..."""
    counts = np.bincount(sorted_codes)
    starts = np.cumsum(counts) - counts
    rank = np.arange(len(sorted_codes)) - starts[sorted_codes]
    return counts[sorted_codes] - 1 - rank


# ----------------------------------------------------------------------------- cleaning
@dataclass
class CleanReport:
    """How many rows each rule of ``clean`` removed, applied in this order."""

    n_in: int
    missing: int = 0
    invalid_id: int = 0
    rating_out_of_range: int = 0
    future: int = 0

    @property
    def n_removed(self) -> int:
        return sum(getattr(self, f.name) for f in fields(self)[1:])

    @property
    def n_out(self) -> int:
        return self.n_in - self.n_removed

    def __str__(self) -> str:
        rules = ", ".join(f"{f.name} {getattr(self, f.name)}" for f in fields(self)[1:])
        return f"clean: {self.n_in} rows in, {self.n_removed} removed ({rules}), {self.n_out} out"


def clean(
    interactions: pd.DataFrame,
    rating_range: tuple[float, float] | None = None,
    now: int | None = None,
    return_report: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, CleanReport]:
    """Drop rows that cannot be right, rule by rule; cast ids and timestamps to int64 (datetimes
    become seconds since the epoch) and a numeric rating to float64.

    Rules: ``missing`` (user_id, item_id or timestamp null; timestamp not a finite number),
    ``invalid_id`` (an id that is not a positive integer: 0, -3, 2.5, "u7"),
    ``rating_out_of_range`` (only when ``rating_range=(lo, hi)`` is given: rating outside
    [lo, hi]; a null rating is kept, see ``impute_missing``), ``future`` (timestamp > ``now``,
    default: the current time). Returns the cleaned frame, or ``(frame, CleanReport)`` with
    ``return_report=True``.
    """
    require_columns(interactions, allow_missing=True)
    df = interactions
    report = CleanReport(n_in=len(df))
    ts = df["timestamp"]
    if pd.api.types.is_datetime64_any_dtype(ts):
        ts = (ts - pd.Timestamp(0, tz=ts.dt.tz)) // pd.Timedelta(seconds=1)
    values = {c: pd.to_numeric(df[c] if c != "timestamp" else ts, errors="coerce") for c in REQUIRED}
    now = int(time.time()) if now is None else now
    null = interactions[list(REQUIRED)].isna().any(axis=1).to_numpy()
    rules = {"missing": null | ~np.isfinite(values["timestamp"].to_numpy(dtype=np.float64, na_value=np.nan))}
    bad_id = np.zeros(len(df), dtype=bool)
    for c in ("user_id", "item_id"):
        v = values[c].to_numpy(dtype=np.float64, na_value=np.nan)
        bad_id |= ~np.isfinite(v) | (v <= 0) | (v % 1 != 0)
    rules["invalid_id"] = bad_id
    if rating_range is not None:
        if "rating" not in df.columns:
            raise ValueError("rating_range was given but interactions has no 'rating' column; drop rating_range")
        lo, hi = rating_range
        r = pd.to_numeric(df["rating"], errors="coerce")
        rules["rating_out_of_range"] = (r.notna() & ~r.between(lo, hi)).to_numpy()
    rules["future"] = (values["timestamp"] > now).to_numpy()
    keep = np.ones(len(df), dtype=bool)
    for name, bad in rules.items():
        bad = bad & keep
        setattr(report, name, int(bad.sum()))
        keep &= ~bad
    out = df.iloc[np.flatnonzero(keep)].reset_index(drop=True)
    out = out.assign(**{c: values[c].to_numpy()[keep].astype(np.int64) for c in REQUIRED})
    if "rating" in out.columns and pd.api.types.is_numeric_dtype(out["rating"]):
        out = out.assign(rating=out["rating"].astype(np.float64))
    return (out, report) if return_report else out


def deduplicate(interactions: pd.DataFrame, per: str = "event", keep: str = "first") -> pd.DataFrame:
    """Remove repeated interactions, keeping the surviving rows in their original order.

    ``per="event"``: rows with the same (user_id, item_id, timestamp) are one event; keep the
    ``"first"`` or ``"last"`` of them in row order. ``per="pair"``: one row per (user_id,
    item_id); ``keep="last"`` keeps the latest in time (e.g. the user's final rating),
    ``"first"`` the earliest.
    """
    require_columns(interactions)
    if per not in ("event", "pair"):
        raise ValueError(f"per must be 'event' or 'pair', got {per!r}")
    if keep not in ("first", "last"):
        raise ValueError(f"keep must be 'first' or 'last', got {keep!r}")
    if per == "event":
        dup = interactions.duplicated(subset=list(REQUIRED), keep=keep).to_numpy()
    else:
        order = time_order(interactions)
        dup = np.empty(len(interactions), dtype=bool)
        dup[order] = interactions.iloc[order].duplicated(["user_id", "item_id"], keep=keep).to_numpy()
    return interactions.iloc[np.flatnonzero(~dup)].reset_index(drop=True)


def impute_missing(
    interactions: pd.DataFrame,
    column: str,
    strategy: Any = "drop",
    fill_value: Any = None,
    by: str | None = None,
) -> pd.DataFrame:
    """Handle nulls in ``column``: drop the rows, or fill them.

    ``strategy``: ``"drop"``; ``"mean"``/``"median"`` of the observed values (per group of
    ``by``, e.g. ``by="user_id"`` fills a missing rating with that user's mean, falling back
    to the global one); ``"mode"`` (most frequent, smallest on ties); ``"constant"`` with
    ``fill_value``, or any non-string value used directly as the constant (``strategy=0``).
    """
    require_columns(interactions, [column] + ([by] if by else []), allow_missing=True)
    col = interactions[column]
    if strategy == "drop":
        return interactions.iloc[np.flatnonzero(col.notna().to_numpy())].reset_index(drop=True)
    if isinstance(strategy, str) and strategy not in ("mean", "median", "mode", "constant"):
        raise ValueError(
            f"strategy must be 'drop', 'mean', 'median', 'mode' or 'constant', got {strategy!r}; "
            "for a constant string use strategy='constant', fill_value='unknown'"
        )
    if col.notna().sum() == 0 and strategy in ("mean", "median", "mode"):
        raise ValueError(f"column {column!r} has no observed values to compute a {strategy}; use a constant")
    if strategy in ("mean", "median"):
        if not pd.api.types.is_numeric_dtype(col):
            raise ValueError(f"strategy={strategy!r} needs a numeric column; {column!r} is {col.dtype}")
        fill = col.agg(strategy)
        if by is not None:
            fill = col.groupby(interactions[by]).transform(strategy).fillna(fill)
    elif strategy == "mode":
        fill = col.mode().iloc[0]
    elif strategy == "constant":
        if fill_value is None:
            raise ValueError("strategy='constant' needs fill_value=..., e.g. fill_value=0")
        fill = fill_value
    else:
        fill = strategy
    return interactions.assign(**{column: col.fillna(fill)}).reset_index(drop=True)


# ----------------------------------------------------------------------------- feedback
def normalize_ratings(
    interactions: pd.DataFrame, method: str = "center", column: str = "rating", out: str = "rating_norm"
) -> pd.DataFrame:
    """Normalise each user's ratings into a new column ``out`` (pass ``out="rating"`` to replace).

    ``"center"``: r_ui - mean_u (a harsh rater's 3 becomes positive). ``"minmax"``:
    (r_ui - min_u) / (max_u - min_u) in [0, 1]; a user whose ratings are all equal has no
    preference signal and gets 0.5. Null ratings stay null.
    """
    require_columns(interactions, ("user_id", column))
    if method not in ("center", "minmax"):
        raise ValueError(f"method must be 'center' or 'minmax', got {method!r}")
    r = pd.to_numeric(interactions[column], errors="raise").astype(np.float64)
    g = r.groupby(interactions["user_id"].to_numpy())
    if method == "center":
        values = r - g.transform("mean")
    else:
        lo, span = g.transform("min"), g.transform("max") - g.transform("min")
        values = ((r - lo) / span.where(span > 0)).where(span > 0, 0.5).where(r.notna())
    return interactions.assign(**{out: values.to_numpy()}).reset_index(drop=True)


def to_implicit(
    interactions: pd.DataFrame, threshold: float | None = 4, column: str = "rating", keep_rating: bool = False
) -> pd.DataFrame:
    """Explicit -> implicit feedback: keep rows with ``column >= threshold`` as positives.

    ``threshold=None`` keeps every row (every rating means "watched"). The rating column
    is dropped unless ``keep_rating=True``.
    """
    require_columns(interactions)
    df = interactions
    if threshold is not None:
        require_columns(df, (column,))
        df = df.iloc[np.flatnonzero((df[column] >= threshold).to_numpy())]
    if not keep_rating and column in df.columns:
        df = df.drop(columns=column)
    return df.reset_index(drop=True)


def k_core(interactions: pd.DataFrame, k: int = 5, item_k: int | None = None) -> pd.DataFrame:
    """Keep the largest sub-log in which every user has >= ``k`` and every item >= ``item_k``
    (default ``k``) interactions (rows). Removing a user can push an item under its threshold
    and vice versa, so the filter repeats until nothing changes (a fixed point).
    """
    require_columns(interactions)
    for name, value in (("k", k), ("item_k", k if item_k is None else item_k)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an int >= 1 (5 is the usual choice), got {value!r}")
    item_k = k if item_k is None else item_k
    users = pd.factorize(interactions["user_id"])[0]
    items = pd.factorize(interactions["item_id"])[0]
    keep = np.ones(len(interactions), dtype=bool)
    while True:
        n_u = np.bincount(users[keep], minlength=users.max() + 1)
        n_i = np.bincount(items[keep], minlength=items.max() + 1)
        still = keep & (n_u[users] >= k) & (n_i[items] >= item_k)
        if still.sum() == keep.sum():
            return interactions.iloc[np.flatnonzero(keep)].reset_index(drop=True)
        keep = still


# ----------------------------------------------------------------------------- ids
@dataclass(frozen=True, eq=False)
class IdMaps:
    """Raw ids <-> contiguous ids 1..n (0 = padding): the raw id at position p gets p + 1."""

    users: pd.Index  # raw user ids, sorted
    items: pd.Index  # raw item ids, sorted

    n_users = property(lambda self: len(self.users))
    n_items = property(lambda self: len(self.items))
    user2idx = cached_property(lambda self: {u: i + 1 for i, u in enumerate(self.users.tolist())})
    item2idx = cached_property(lambda self: {u: i + 1 for i, u in enumerate(self.items.tolist())})
    idx2user = cached_property(lambda self: {i + 1: u for i, u in enumerate(self.users.tolist())})
    idx2item = cached_property(lambda self: {i + 1: u for i, u in enumerate(self.items.tolist())})

    def apply(self, frame: pd.DataFrame, unknown: str = "raise") -> pd.DataFrame:
        """Replace the raw ``user_id``/``item_id`` columns present in ``frame`` by new ids.
        ``unknown="drop"`` drops rows whose id is not in the maps instead of raising."""
        new, keep = {}, np.ones(len(frame), dtype=bool)
        for col, index in (("user_id", self.users), ("item_id", self.items)):
            if col in frame.columns:
                codes = index.get_indexer(frame[col])
                if unknown == "raise" and (codes < 0).any():
                    raise ValueError(
                        f"{col} values {frame[col][codes < 0].unique()[:5].tolist()} are not in the maps; "
                        "build them from a frame that has them (remap_ids(..., items=items)) or pass unknown='drop'"
                    )
                new[col], keep = codes.astype(np.int64) + 1, keep & (codes >= 0)
        return frame.assign(**new).iloc[np.flatnonzero(keep)].reset_index(drop=True)

    def invert(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Map the new ids of ``frame`` back to the raw ones (ids outside 1..n raise)."""
        new = {}
        for col, index in (("user_id", self.users), ("item_id", self.items)):
            if col in frame.columns:
                idx = frame[col].to_numpy(dtype=np.int64)
                if ((idx < 1) | (idx > len(index))).any():
                    raise ValueError(f"{col} holds ids outside 1..{len(index)}; padding (0) has no raw id")
                new[col] = index[idx - 1]
        return frame.assign(**new)


def remap_ids(interactions: pd.DataFrame, items: pd.DataFrame | None = None) -> tuple[pd.DataFrame, IdMaps]:
    """Renumber users and items 1..n in the order of their sorted raw ids (0 stays padding).

    Returns ``(frame, maps)``. Pass the ``items`` frame to give its never-interacted (cold
    start) items ids too, then remap it with ``maps.apply(items)``; ``maps.invert`` goes back.
    """
    require_columns(interactions)
    item_ids = interactions["item_id"]
    if items is not None:
        require_columns(items, ("item_id",), name="items")
        item_ids = pd.concat([item_ids, items["item_id"]], ignore_index=True)
    maps = IdMaps(pd.Index(interactions["user_id"].unique()).sort_values(), pd.Index(item_ids.unique()).sort_values())
    return maps.apply(interactions), maps


# ----------------------------------------------------------------------------- context and sequences
def gap_buckets(gap: np.ndarray) -> np.ndarray:
    """Log-scale buckets of time gaps in seconds: min(floor(log2(gap + 1)), 31), int64.

    0 s -> 0, 1 s -> 1, a minute -> 5, an hour -> 11, a day -> 16, a month -> 21; the same
    shape as ``gap`` (negative gaps are treated as 0)."""
    gap = np.maximum(np.asarray(gap, dtype=np.float64), 0.0)
    return np.minimum(np.frexp(gap + 1.0)[1] - 1, N_GAP_BUCKETS - 1).astype(np.int64)


def add_context_features(
    interactions: pd.DataFrame, behaviors: Sequence[str] = BEHAVIORS, overwrite: bool = False
) -> pd.DataFrame:
    """Add int64 context columns computed from the timestamp (UTC) and the behaviour.

    ``hour`` = (t // 3600) mod 24; ``weekday`` = (t // 86400 + 3) mod 7 with Monday = 0
    (1970-01-01 was a Thursday); ``gap`` = t_k - t_{k-1}, seconds since the user's previous
    interaction in time order (0 for the first); ``gap_bucket`` = min(floor(log2(gap + 1)), 31);
    ``behavior_code`` = 1 + position of ``behavior`` in ``behaviors`` (only when the column
    exists; 0 is padding). Existing ``hour``/``weekday`` columns are kept unless ``overwrite``.
    """
    require_columns(interactions)
    ts = interactions["timestamp"].to_numpy(dtype=np.int64)
    new: dict[str, np.ndarray] = {}
    if overwrite or "hour" not in interactions.columns:
        new["hour"] = (ts // 3600) % 24
    if overwrite or "weekday" not in interactions.columns:
        new["weekday"] = (ts // 86400 + 3) % 7
    order = time_order(interactions)
    users = pd.factorize(interactions["user_id"])[0][order]
    gap_sorted = np.diff(ts[order], prepend=ts[order][0])
    gap_sorted[np.r_[True, users[1:] != users[:-1]]] = 0  # each user's first interaction
    gap = np.empty_like(gap_sorted)
    gap[order] = gap_sorted
    new["gap"] = gap
    new["gap_bucket"] = gap_buckets(gap)
    if "behavior" in interactions.columns:
        codes = pd.Index(list(behaviors)).get_indexer(interactions["behavior"])
        if (codes < 0).any():
            unknown = interactions["behavior"][codes < 0].unique()[:5].tolist()
            raise ValueError(
                f"behavior has values {unknown} not in behaviors={tuple(behaviors)}; pass behaviors=(...) "
                "that lists them, or fill nulls first with impute_missing(df, 'behavior', 'mode')"
            )
        new["behavior_code"] = codes.astype(np.int64) + 1
    return interactions.assign(**new).reset_index(drop=True)


def user_sequences(interactions: pd.DataFrame, column: str = "item_id") -> dict[Any, list]:
    """Each user's ``column`` values in time order: ``{user_id: [v_1, ..., v_n]}``, users sorted.

    Time order is (timestamp, item_id), exact duplicates in row order (see the module
    docstring), so the result does not depend on how the rows are arranged.
    """
    require_columns(interactions, REQUIRED + ((column,) if column not in REQUIRED else ()))
    order = time_order(interactions)
    users = interactions["user_id"].to_numpy()[order]
    values = interactions[column].to_numpy()[order]
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    return {u: chunk.tolist() for u, chunk in zip(users[starts].tolist(), np.split(values, starts[1:]), strict=True)}


# ----------------------------------------------------------------------------- the pipeline
class Preprocessed(NamedTuple):
    interactions: pd.DataFrame
    maps: IdMaps | None
    report: CleanReport


def preprocess(
    interactions: pd.DataFrame,
    *,
    rating_range: tuple[float, float] | None = None,
    now: int | None = None,
    implicit_threshold: float | None = None,
    k: int | None = None,
    remap: bool = True,
    context: bool = False,
) -> Preprocessed:
    """clean -> deduplicate (per event) -> to_implicit (if ``implicit_threshold``) -> k_core (if
    ``k``) -> remap_ids (if ``remap``) -> add_context_features (if ``context``).
    Returns ``Preprocessed(interactions, maps, report)``; ``maps`` is None without ``remap``."""
    df, report = clean(interactions, rating_range=rating_range, now=now, return_report=True)
    df = deduplicate(df)
    if implicit_threshold is not None:
        df = to_implicit(df, implicit_threshold)
    if k is not None:
        df = k_core(df, k)
    maps = None
    if remap:
        df, maps = remap_ids(df)
    if context:
        df = add_context_features(df)
    return Preprocessed(df, maps, report)
