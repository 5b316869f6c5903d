"""Checks for exercises/01_data_preprocessing: positives against each user's own mean, a k-core over
distinct users and items, the users a split leaks, and which splits leak.

Every case is drawn afresh inside the check (:func:`fresh_rng`), with the edge cases that expose
the usual mistakes forced in (ratings equal to a user's mean, repeated events, cascades that need
several passes, ties in time). The answers are verified by their definitions, not recomputed by
a copy of the solution; inputs the exercise says not to modify are fingerprinted before and after.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from llmrec_ref.checks._common import call, expect, passed, require
from llmrec_ref.checks._fresh import fingerprint, fresh_rng


def _untouched(fn, name: str, *frames: pd.DataFrame, args: tuple = ()):
    """Call ``fn(*frames, *args)`` and fail if it modified any of the frames."""
    before = [fingerprint(f) for f in frames]
    out = call(fn, name, *frames, *args)
    expect(all(fingerprint(f) == b for f, b in zip(frames, before, strict=True)), name,
           "your function modified its input frame (a new column, changed values, a sorted or reset "
           "index...); the exercise says not to: work on a copy or build new Series.")
    return out


def _event_ids(out, name: str, columns: list[str]) -> np.ndarray:
    expect(isinstance(out, pd.DataFrame), name, f"return a DataFrame (the kept rows), not {type(out).__name__}.")
    expect(list(out.columns) == columns, name, f"keep every column of the input, in order: {columns}.")
    return out["event"].to_numpy()


# --------------------------------------------------------------------------- exercise 1
def _ratings(rng: np.random.Generator, n_users: int) -> pd.DataFrame:
    rows = []
    for u in range(1, n_users + 1):
        n = int(rng.integers(1, 7))
        rows += [(u, int(i), int(r)) for i, r in zip(rng.integers(1, 50, n), rng.integers(1, 6, n), strict=True)]
    # users whose mean equals one of their ratings (ties), and a harsh and a generous rater
    rows += [(n_users + 1, 3, 3), (n_users + 1, 4, 3), (n_users + 1, 5, 3)]
    rows += [(n_users + 2, 6, 1), (n_users + 2, 7, 3), (n_users + 2, 8, 5)]
    rows += [(n_users + 3, 9, 1), (n_users + 3, 10, 2), (n_users + 3, 11, 2)]
    rows += [(n_users + 4, 12, 5), (n_users + 4, 13, 5), (n_users + 4, 14, 4)]
    df = pd.DataFrame(rows, columns=["user_id", "item_id", "rating"]).sample(frac=1.0, random_state=rng)
    df["rating"] = df["rating"].astype("float64")
    df["event"] = rng.permutation(len(df)) + 1000
    return df.set_index(rng.permutation(len(df)) * 3 + 7)  # a non-default index: reset it


def ex1(ns: dict) -> None:
    """``to_implicit_per_user(df)`` keeps the rows whose rating is at least the user's own mean."""
    name = "Exercise 1"
    fn = require(ns, "to_implicit_per_user", name, callable)
    rng = fresh_rng()
    for n_users in (1, 6, 40):
        df = _ratings(rng, n_users)
        out = _untouched(fn, name, df)
        kept = _event_ids(out, name, list(df.columns))
        # the definition, written as sums and counts per user
        codes, users = pd.factorize(df["user_id"])
        mean = np.bincount(codes, weights=df["rating"].to_numpy()) / np.bincount(codes)
        r, mu = df["rating"].to_numpy(), mean[codes]
        events = df["event"].to_numpy()
        want = set(events[r >= mu - 1e-9].tolist())
        got = kept.tolist()
        expect(len(got) == len(set(got)), name, "each input row appears at most once in the result.")
        if set(got) == set(events[r > mu + 1e-9].tolist()) and set(got) != want:
            expect(False, name, "a rating equal to the user's own mean counts as positive: use >=, not >.")
        one_cut = any(set(got) == set(events[r >= cut].tolist()) for cut in (*range(1, 6), df["rating"].mean()))
        if one_cut and set(got) != want:
            expect(False, name, "compare each rating with its own user's mean (a per-user mean, e.g. "
                   "groupby('user_id')['rating'].transform('mean')), not with one number for everybody "
                   "(a fixed star count or the mean of all ratings).")
        expect(set(got) == want, name, "some kept rows are below their user's mean rating, or some rows "
               "at or above it are missing; a harsh rater's 3 can be a positive, a generous rater's 4 not.")
        expect(list(out.index) == list(range(len(out))), name,
               "reset the index (reset_index(drop=True)) so rows are numbered 0..n-1.")
    passed(name, "positives at or above each user's own mean, input untouched")


# --------------------------------------------------------------------------- exercise 2
def _repeat_log(rng: np.random.Generator, n_users: int, n_items: int, n_rows: int) -> pd.DataFrame:
    u = rng.integers(1, n_users + 1, n_rows)
    i = rng.integers(1, n_items + 1, n_rows)
    again = rng.integers(0, n_rows, n_rows // 2)  # repeated events: the same (user, item) again
    df = pd.DataFrame({"user_id": np.r_[u, u[again]], "item_id": np.r_[i, i[again]]})
    # a chain that needs several passes for k = 2: a user with two items, each held by nobody else
    # once the next user goes, repeated so that row counts reach 2 where distinct counts do not
    base = n_users + 100
    chain = [(base, 900), (base, 900), (base + 1, 900), (base + 1, 901), (base + 2, 901), (base + 2, 901)]
    df = pd.concat([df, pd.DataFrame(chain, columns=["user_id", "item_id"])], ignore_index=True)
    df = df.sample(frac=1.0, random_state=rng).reset_index(drop=True)
    df["event"] = rng.permutation(len(df)) + 1
    return df


def _peel(pairs: set[tuple], k: int) -> tuple[set, set]:
    """Users and items of the largest set of distinct (user, item) pairs with >= k per user and per
    item, found by removing one under-k user or item at a time (not the pass-wise filter)."""
    pairs = set(pairs)
    while True:
        by_user, by_item = {}, {}
        for u, i in pairs:
            by_user.setdefault(u, set()).add(i)
            by_item.setdefault(i, set()).add(u)
        weak_u = next((u for u, s in by_user.items() if len(s) < k), None)
        if weak_u is not None:
            pairs = {p for p in pairs if p[0] != weak_u}
            continue
        weak_i = next((i for i, s in by_item.items() if len(s) < k), None)
        if weak_i is None:
            return set(by_user), set(by_item)
        pairs = {p for p in pairs if p[1] != weak_i}


def _one_pass(df: pd.DataFrame, k: int) -> set:
    n_u = df.groupby("user_id")["item_id"].nunique()
    n_i = df.groupby("item_id")["user_id"].nunique()
    keep = (df["user_id"].map(n_u) >= k) & (df["item_id"].map(n_i) >= k)
    return set(df.loc[keep, "event"].tolist())


def ex2(ns: dict) -> None:
    """``k_core_distinct(df, k)``: the k-core over *distinct* items per user and users per item, every
    row (repeats included) of the surviving users and items kept."""
    name = "Exercise 2"
    fn = require(ns, "k_core_distinct", name, callable)
    rng = fresh_rng()
    cases = [(2, 8, 8, 20), (3, 30, 25, 260), (2, 15, 40, 60), (1, 10, 10, 30), (4, 5, 5, 12)]
    for k, n_users, n_items, n_rows in cases:
        df = _repeat_log(rng, n_users, n_items, n_rows)
        out = _untouched(fn, name, df, args=(k,))
        got = _event_ids(out, name, list(df.columns)).tolist()
        expect(len(got) == len(set(got)) and set(got) <= set(df["event"].tolist()), name,
               "return rows of the input, each at most once.")
        kept = df[df["event"].isin(got)]
        n_items_of = kept.groupby("user_id")["item_id"].nunique()
        n_users_of = kept.groupby("item_id")["user_id"].nunique()
        n_rows_of = kept.groupby("user_id").size()
        short = n_items_of[n_items_of < k]
        if set(got) == _one_pass(df, k) and (len(short) or (n_users_of < k).any()):
            expect(False, name, "one pass is not enough: removing a user can push an item under k, and "
                   "removing that item a user. Repeat the filter until nothing changes.")
        if len(short) and (n_rows_of[short.index] >= k).all() and (kept.groupby("item_id").size() >= k).all():
            expect(False, name, f"user {short.index[0]} keeps {n_rows_of[short.index[0]]} rows but only "
                   f"{short.iloc[0]} distinct item(s): count distinct items per user and distinct users per "
                   "item (nunique), not rows; a film watched three times is one item.")
        expect(not len(short) and not (n_users_of < k).any(), name,
               f"in your result some user has fewer than k = {k} distinct items or some item fewer than "
               f"{k} distinct users.")
        whole = df[df["user_id"].isin(kept["user_id"]) & df["item_id"].isin(kept["item_id"])]
        expect(len(whole) == len(kept), name, "keep every row of the surviving users and items, repeated "
               "events included: the k-core removes users and items, not duplicates.")
        users, items = _peel(set(zip(df["user_id"], df["item_id"], strict=True)), k)
        expect(set(kept["user_id"]) == users and set(kept["item_id"]) == items, name,
               "your core is smaller than it must be: some removed users and items could all be kept with "
               f"at least k = {k} distinct partners each (>= k, not > k; remove only what falls under k).")
        expect(list(out.index) == list(range(len(out))), name, "reset the index so rows are numbered 0..n-1.")
    passed(name, "a k-core over distinct users and items, repeats kept, filtered until stable")


# --------------------------------------------------------------------------- exercise 3
def _naive_split(rng: np.random.Generator, n_users: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = []
    for u in range(1, n_users + 1):
        n = int(rng.integers(1, 8))
        rows += [(u, int(i), int(t)) for i, t in zip(rng.integers(1, 99, n), rng.integers(0, 30, n), strict=True)]
    # forced cases: a tie with the test time (not a leak), a leak against the earliest test row only,
    # a user only in test, a user only in train
    b = n_users + 1
    train_rows = [(b, 1, 10), (b, 2, 5), (b + 1, 3, 7), (b + 1, 4, 3), (b + 3, 5, 50)]
    test_rows = [(b, 6, 10), (b + 1, 7, 5), (b + 1, 8, 9), (b + 2, 9, 1)]
    log = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"]).sample(frac=1.0, random_state=rng)
    cut = int(0.8 * len(log))
    cols = ["user_id", "item_id", "timestamp"]
    train = pd.concat([log.iloc[:cut], pd.DataFrame(train_rows, columns=cols)]).sample(frac=1.0, random_state=rng)
    test = pd.concat([log.iloc[cut:], pd.DataFrame(test_rows, columns=cols)]).sample(frac=1.0, random_state=rng)
    return train, test


def ex3(ns: dict) -> None:
    """``leaky_users(train, test)``: sorted ids of users with a training interaction strictly later
    than their earliest test interaction."""
    name = "Exercise 3"
    fn = require(ns, "leaky_users", name, callable)
    rng = fresh_rng()
    for n_users in (0, 5, 60):
        train, test = _naive_split(rng, n_users)
        for tr, te in ((train, test), (train, test.iloc[:0])):
            out = _untouched(fn, name, tr, te)
            try:
                got = [int(x) for x in np.asarray(out).ravel().tolist()] if out is not None else None
            except (TypeError, ValueError):
                got = None
            expect(got is not None, name, "return the user ids as a list or a 1-d array of ints.")
            latest_train = tr.groupby("user_id")["timestamp"].max()
            first_test, last_test = (te.groupby("user_id")["timestamp"].agg(f) for f in ("min", "max"))
            both = latest_train.index.intersection(first_test.index)
            leaks = sorted(u for u in both if latest_train[u] > first_test[u])
            if len(te) == 0:
                expect(got == [], name, "with an empty test set no user can leak: return an empty list.")
                continue
            expect(got == sorted(set(got)), name, "return each user once, in increasing order (sorted, no duplicates).")
            if got != leaks and got == sorted(u for u in both if latest_train[u] >= first_test[u]):
                expect(False, name, "a training interaction at the same time as the test one is not later: "
                       "a leak needs train time > test time, strictly.")
            if got != leaks and got == sorted(u for u in both if latest_train[u] > last_test[u]):
                expect(False, name, "compare with the user's *earliest* test interaction: one training row "
                       "later than any held-out one is already a leak.")
            if got != leaks and got == sorted(u for u in latest_train.index if latest_train[u] > te["timestamp"].min()):
                expect(False, name, "compare each user with their own test interactions, not with the whole "
                       "test set's times.")
            expect(got == leaks, name, "some ids are wrong: a user leaks when one of their training rows is "
                   "strictly later than one of their own test rows; users with no test row cannot leak.")
    passed(name, "the users a split leaks, ties and users without test rows included")


# --------------------------------------------------------------------------- exercise 4
def ex4(ns: dict) -> None:
    """``leaking_protocols``: the letters of the splits that can leak the future (a string)."""
    name = "Exercise 4"
    answer = require(ns, "leaking_protocols", name, str)
    letters = set(answer.replace(",", "").replace(" ", "").lower())
    expect(bool(letters) and letters <= set("abcde"), name, "answer with a string of letters among a-e, e.g. \"ab\".")
    leak = set("cde")
    # The hints name the reasoning, never a letter: the answer is not to be found by elimination.
    expect(not letters - leak, name, "you included a protocol that cannot leak: for each one, ask whether a "
           "user's training part can hold an interaction later than one of that user's held-out ones.")
    if "e" not in letters and leak - letters == {"e"}:
        expect(False, name, "you missed one that leaks: a log's row order is not necessarily its time order.")
    expect(letters == leak, name, "you missed a protocol that leaks: which ones ignore time inside a user's history?")
    passed(name, "the protocols that ignore time within a user's history are the ones that leak")


# --------------------------------------------------------------------------- exercise 5
def _draw(fn, name: str, counts: np.ndarray, positives: set, n: int, alpha: float, seed: int) -> np.ndarray:
    before_counts, before_pos = fingerprint(counts), set(positives)
    out = call(fn, name, counts, positives, n, alpha, seed)
    expect(fingerprint(counts) == before_counts and positives == before_pos, name,
           "your function modified `counts` or `positives`; the exercise says not to: work on copies.")
    try:
        arr = np.asarray(out)
    except (TypeError, ValueError):
        arr = np.zeros(0)
    expect(arr.shape == (n,), name, f"return n = {n} ids in a 1-d array; got shape {arr.shape}. (Drawing and then "
           "dropping the positives leaves fewer than n: exclude them before drawing.)")
    expect(arr.dtype.kind in "iu", name, f"return integer item ids, not {arr.dtype}.")
    return arr.astype(np.int64)


def ex5(ns: dict) -> None:
    """``popularity_negatives(counts, positives, n, alpha, seed)``: n ids drawn with replacement with
    p(i) proportional to counts[i] ** alpha over the items 1..len(counts)-1 that are not positives."""
    name = "Exercise 5"
    fn = require(ns, "popularity_negatives", name, callable)
    rng = fresh_rng()
    n_items = int(rng.integers(12, 25))
    counts = rng.integers(1, 60, n_items + 1).astype(np.int64)
    counts[0] = 10 * counts.sum()  # padding slots counted too (e.g. a bincount of padded histories)
    picked = rng.choice(np.arange(1, n_items + 1), 6, replace=False)
    counts[picked[:2]] = 0  # items nobody has seen (and that are not positives)
    positives = {int(i) for i in picked[2:]}
    seed = int(rng.integers(2**31))
    n = 40_000
    for alpha in (0.75, 0.0):
        arr = _draw(fn, name, counts, positives, n, alpha, seed)
        expect(not (arr == 0).any(), name, "id 0 is padding, never an item: counts[0] counts padding slots, so "
               "leave it out of the draw.")
        expect(bool(((arr >= 1) & (arr <= n_items)).all()), name, f"ids must lie in 1..len(counts) - 1 = 1..{n_items}.")
        hit = sorted(set(arr.tolist()) & positives)
        expect(not hit, name, "negatives must exclude the user's positives; some of yours are positives.")
        # the distribution, by its definition: counts ** alpha over allowed items, normalised
        weight = np.where(np.arange(n_items + 1) == 0, 0.0, counts.astype(float) ** alpha)
        weight[sorted(positives)] = 0.0
        p = weight / weight.sum()
        freq = np.bincount(arr, minlength=n_items + 1) / n
        tolerance = 5 * np.sqrt(p * (1 - p) / n) + 1e-4
        if not bool((np.abs(freq - p) <= tolerance).all()):
            allowed = (np.arange(n_items + 1) > 0) & ~np.isin(np.arange(n_items + 1), sorted(positives))
            uniform = np.where(allowed, 1.0 / allowed.sum(), 0.0)
            expect(not (alpha > 0 and (np.abs(freq - uniform) <= 5 * np.sqrt(uniform / n) + 1e-4).all()), name,
                   "your draw is uniform: weight each item by counts[i] ** alpha (popular items more often).")
            expect(False, name, f"with alpha = {alpha} the frequencies of your ids do not follow p(i) = counts[i]**alpha "
                   "/ (the sum over allowed items): with alpha = 0 every allowed item is equally likely, unseen ones "
                   "included (0 ** 0 = 1); with alpha > 0 an item nobody has seen is never drawn.")
    again = _draw(fn, name, counts, positives, n, 0.75, seed)
    first = _draw(fn, name, counts, positives, n, 0.75, seed)
    expect(np.array_equal(again, first), name, "the same seed must give the same draw: use np.random.default_rng(seed), "
           "not the global np.random.")
    other = _draw(fn, name, counts, positives, n, 0.75, seed + 1)
    expect(not np.array_equal(other, first), name, "another seed must give another draw: seed the generator with `seed`.")
    passed(name, "popularity negatives, p proportional to count ** alpha, positives and padding excluded, seeded")
