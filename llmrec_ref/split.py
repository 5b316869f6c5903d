"""Leakage-free train / validation / test splits of an interaction log.

Derived in notebooks/01_data_preprocessing. Three protocols:

- ``leave_one_out``: per user, time-ordered; last -> test, second last -> validation
  (the sequential protocol of the course).
- ``random_split``: per user, a seeded random 80/10/10 (the general protocol).
- ``temporal_split``: one global time cut; everything after it is test.
- ``next_session_split``: per user, the last session -> test, the one before -> validation
  (the task "what will this user look at when they next arrive", where the context of the
  arrival - hour, device - is all a model knows about the new session).

Every split returns ``Split(train, valid, test)``: frames with the input's columns and
dtypes, each in time order (user_id, timestamp, item_id) with a fresh 0..n-1 index.
Time order, ties included, is the one of ``llmrec_ref.preprocess.time_order``: many
MovieLens users rate dozens of films within the same second, and such ties are ordered by
item_id, so "last" is well defined and does not depend on the row order.
``check_no_leakage`` verifies a split and says what it found.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Sequence

import numpy as np
import pandas as pd

from llmrec_ref.preprocess import _positions_from_end, require_columns, time_order


class Split(NamedTuple):
    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame


def _make_split(df: pd.DataFrame, order: np.ndarray, part: np.ndarray) -> Split:
    """``part[j]`` in {0: train, 1: valid, 2: test} is the part of row ``order[j]``."""
    return Split(*(df.iloc[order[part == p]].reset_index(drop=True) for p in range(3)))


def _sorted_user_codes(df: pd.DataFrame, order: np.ndarray) -> np.ndarray:
    return pd.factorize(df["user_id"], sort=True)[0][order]  # contiguous blocks, as order sorts by user first


def leave_one_out(interactions: pd.DataFrame) -> Split:
    """Per user in time order: the last interaction -> test, the second last -> validation,
    the rest -> train. Users with fewer than 3 interactions keep everything in train (they
    appear in no validation or test part). A test interaction is never earlier than any of
    the user's train or validation ones; it may share their timestamp (ties are ordered by
    item_id, see the module docstring).
    """
    require_columns(interactions)
    order = time_order(interactions)
    users = _sorted_user_codes(interactions, order)
    from_end = _positions_from_end(users)
    eligible = np.bincount(users)[users] >= 3
    part = np.where(eligible & (from_end == 0), 2, np.where(eligible & (from_end == 1), 1, 0))
    return _make_split(interactions, order, part)


def session_index(interactions: pd.DataFrame, order: np.ndarray, session: str | None = "session_id",
                  gap: int = 1800) -> np.ndarray:
    """For the rows ``order`` (time order, users in blocks): each row's session number within
    its user, 0 for the first session. A session is a run of consecutive events with the same
    ``session`` value or, when that column is absent (or ``session=None``), a run without a
    pause longer than ``gap`` seconds."""
    users = _sorted_user_codes(interactions, order)
    new_user = np.r_[True, users[1:] != users[:-1]]
    if session is not None and session in interactions.columns:
        values = pd.factorize(interactions[session])[0][order]
        starts = new_user | np.r_[True, values[1:] != values[:-1]]
    else:
        ts = interactions["timestamp"].to_numpy(dtype=np.int64)[order]
        starts = new_user | np.r_[True, np.diff(ts) > gap]
    count = np.cumsum(starts)
    return count - count[new_user][np.cumsum(new_user) - 1]  # restart at 0 for every user


def next_session_split(interactions: pd.DataFrame, session: str | None = "session_id", gap: int = 1800) -> Split:
    """Per user in time order: every event of the last session -> test, of the second last ->
    validation, the rest -> train; users with fewer than 3 sessions keep everything in train.

    Sessions are defined by ``session_index`` (the ``session`` column, else pauses longer than
    ``gap`` seconds). At test time the history is every earlier event and the truth is every
    item of the new session; a context-aware model may also know when and on which device the
    session starts (``evaluation.request_context``), never what happens in it.
    """
    require_columns(interactions)
    if isinstance(gap, bool) or not isinstance(gap, (int, np.integer)) or gap <= 0:
        raise ValueError(f"gap must be a positive number of seconds (e.g. 1800), got {gap!r}")
    order = time_order(interactions)
    users = _sorted_user_codes(interactions, order)
    index = session_index(interactions, order, session, gap)
    n_sessions = np.zeros(users.max() + 1, dtype=np.int64)
    np.maximum.at(n_sessions, users, index + 1)
    from_end = n_sessions[users] - 1 - index
    eligible = n_sessions[users] >= 3
    part = np.where(eligible & (from_end == 0), 2, np.where(eligible & (from_end == 1), 1, 0))
    return _make_split(interactions, order, part)


def _check_ratios(ratios: Sequence[float]) -> tuple[float, float, float]:
    try:
        r = tuple(float(x) for x in ratios)
    except (TypeError, ValueError):
        r = ()
    if len(r) != 3 or not all(0 <= x <= 1 for x in r) or r[0] <= 0 or abs(sum(r) - 1) > 1e-6:
        raise ValueError(
            f"ratios must be 3 non-negative numbers (train, valid, test) summing to 1 with train > 0, "
            f"e.g. (0.8, 0.1, 0.1); got {ratios!r}"
        )
    return r  # type: ignore[return-value]


def random_split(interactions: pd.DataFrame, ratios: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0) -> Split:
    """Per user, shuffle the interactions (seeded) and cut them by ``ratios``.

    A user with n interactions gets n_train = max(1, round(n r_train)) and
    n_train + n_valid = round(n (r_train + r_valid)) (rounding halves up), the rest is test.
    The shuffle is drawn over the rows in time order, so the result depends on ``seed`` and
    the log's content, not on its row order. Not leakage-free in time, by design.
    """
    require_columns(interactions)
    r = _check_ratios(ratios)
    order = time_order(interactions)
    users = _sorted_user_codes(interactions, order)
    key = np.random.default_rng(seed).random(len(order))
    shuffled = np.lexsort((key, users))  # positions in `order`, users in blocks, shuffled inside
    rank = np.empty(len(order), dtype=np.int64)
    rank[shuffled] = _positions_from_end(users[shuffled])
    n = np.bincount(users)[users]
    n_train = np.maximum(1, np.floor(n * r[0] + 0.5))
    n_train_valid = np.maximum(n_train, np.floor(n * (r[0] + r[1]) + 0.5))
    part = np.where(rank < n_train, 0, np.where(rank < n_train_valid, 1, 2))
    return _make_split(interactions, order, part)


def _as_timestamp(value: float | int, ts: np.ndarray, name: str) -> int:
    """An int is a timestamp; a float in (0, 1) is a quantile q: the timestamp of the row at
    position ceil(q n) in sorted order, so about a fraction 1 - q of the rows is at or after it."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be an int timestamp or a float quantile in (0, 1), got {value!r}")
    if isinstance(value, (int, np.integer)):
        return int(value)
    if not 0 < value < 1:
        raise ValueError(f"{name}={value!r}: a float is a quantile and must be in (0, 1); pass an int timestamp for an absolute cut")
    s = np.sort(ts)
    return int(s[min(int(np.ceil(value * len(s))), len(s) - 1)])


def temporal_split(interactions: pd.DataFrame, cut: float | int = 0.9, valid_cut: float | int | None = None) -> Split:
    """Global time cuts: test = t >= ``cut``; valid = ``valid_cut`` <= t < ``cut``; train = t < ``valid_cut``.

    ``cut`` and ``valid_cut`` are int timestamps or float quantiles in (0, 1) of the
    timestamps. By default ``valid_cut`` makes validation the last stretch before the cut
    with about as many rows as test. Every test row is strictly later than every train and
    validation row of every user; users and items first seen after a cut (cold start) stay
    in valid/test.
    """
    require_columns(interactions)
    ts = interactions["timestamp"].to_numpy(dtype=np.int64)
    cut_ts = _as_timestamp(cut, ts, "cut")
    test = ts >= cut_ts
    if test.all() or not test.any():
        raise ValueError(f"cut={cut!r} puts {'every' if test.all() else 'no'} row in test; choose a cut "
                         f"between the first and last timestamp ({ts.min()}..{ts.max()}) or a quantile like 0.9")
    if valid_cut is None:
        before = np.sort(ts[~test])
        valid_ts = int(before[max(len(before) - int(test.sum()), 0)])
    else:
        valid_ts = _as_timestamp(valid_cut, ts, "valid_cut")
    if not ts.min() < valid_ts <= cut_ts:
        raise ValueError(f"valid_cut={valid_cut!r} (timestamp {valid_ts}) leaves train empty or follows cut; "
                         f"choose one after {ts.min()} and at most cut ({cut_ts})")
    part = np.where(test, 2, np.where(ts >= valid_ts, 1, 0))
    order = time_order(interactions)
    return _make_split(interactions, order, part[order])


@dataclass
class LeakageReport:
    """What ``check_no_leakage`` found; ``bool(report)`` is ``report.ok``."""

    ok: bool
    late_users: int  # users with a valid (test) interaction earlier than one of their train (train/valid)
    tied_users: int  # users whose valid/test shares the timestamp of an earlier part's row (allowed)
    shared_rows: int  # identical (user_id, item_id, timestamp) events in two parts

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        return (f"leakage check: {self.ok} ({self.late_users} users see the future, "
                f"{self.tied_users} users with ties, {self.shared_rows} events in two parts)")


def check_no_leakage(split: Split, temporal: bool = True, raise_on_leak: bool = False) -> LeakageReport:
    """Check that no event sits in two parts and, if ``temporal``, that per user
    max t(train) <= min t(valid) and max t(train, valid) <= min t(test).

    Ties in time are allowed and counted in ``tied_users``. Use ``temporal=False`` for a
    random split (its ``late_users`` count then shows how much future it lets the model see).
    With ``raise_on_leak=True`` a failed check raises ``ValueError`` with the report.
    """
    if not (isinstance(split, tuple) and len(split) == 3):
        raise ValueError(f"split must be a Split(train, valid, test), got {type(split).__name__}")
    keys = ["user_id", "item_id", "timestamp"]
    for name, part in zip(Split._fields, split, strict=True):
        if not isinstance(part, pd.DataFrame) or not set(keys) <= set(part.columns):
            raise ValueError(f"split.{name} must be a DataFrame with columns {keys}; build splits with this module")
    events = pd.concat([p[keys].drop_duplicates() for p in split], ignore_index=True)
    shared = int(events.duplicated(keep="first").sum())

    def bound(part: pd.DataFrame, how: str) -> pd.Series:
        return part.groupby("user_id")["timestamp"].agg(how)

    train_max, valid_min = bound(split.train, "max"), bound(split.valid, "min")
    before_test = bound(pd.concat([split.train, split.valid]), "max")
    test_min = bound(split.test, "min")
    late, tied = set(), set()
    for earlier, later in ((train_max, valid_min), (before_test, test_min)):
        e, l_ = earlier.align(later, join="inner")
        late |= set(e.index[(l_ < e).to_numpy()])
        tied |= set(e.index[(l_ == e).to_numpy()])
    ok = shared == 0 and (not temporal or not late)
    report = LeakageReport(ok, len(late), len(tied - late), shared)
    if raise_on_leak and not ok:
        raise ValueError(f"the split leaks: {report}")
    return report
