"""Checks for exercises/07_llm_context: masked max pooling, item sentences, cold-start HR@K, int8
quantisation of a weight matrix, and a graded question on what int8 saves.

Cases are drawn afresh inside the checks (the global torch generator moves between runs);
expected values come from a different formulation (a loop over rows with torch built-ins),
properties (bounds, ranges) or definitions. No hint prints an expected value.
"""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import torch

from llmrec_ref.checks._common import call, expect, passed, require
from llmrec_ref.checks._fresh import torch_generator
from llmrec_ref.coldstart import ColdStartSplit
from llmrec_ref.gradefixtures import FixedScorer


def ex1(ns: dict) -> None:
    """``max_pool(token_embeddings, attention_mask)``: (B, T, d), (B, T) 0/1 ints -> (B, d), the
    largest value of each dimension over the real tokens; zeros for a text without real tokens."""
    name = "Exercise 1"
    fn = require(ns, "max_pool", name, callable)
    gen = torch_generator()
    for B, T, d in ((1, 3, 2), (5, 7, 4), (8, 12, 6)):
        h = torch.randn(B, T, d, generator=gen) - 2.0  # mostly negative: a 0 for padding would win
        mask = (torch.rand(B, T, generator=gen) < 0.6).long()
        mask[0] = 1  # a text without padding
        if B > 1:
            mask[1] = 0  # a text without any real token
        given = [h.clone(), mask.clone()]
        out = call(fn, name, *given)
        expect(torch.equal(given[0], h) and torch.equal(given[1], mask), name,
               "your function changed its inputs in place; leave them as they are (no masked_fill_ on them).")
        expect(isinstance(out, torch.Tensor) and tuple(out.shape) == (B, d), name,
               f"return a (B, d) = ({B}, {d}) tensor, got {getattr(out, 'shape', type(out).__name__)}.")
        expect(out.is_floating_point(), name, "the result must be a float tensor.")
        want = torch.stack([h[b, mask[b].bool()].amax(0) if mask[b].any() else torch.zeros(d) for b in range(B)])
        if torch.allclose(out, want):
            continue
        real = mask.any(1)
        expect(bool(torch.isfinite(out).all()), name, "a text without any real token must give a zero vector, "
               "not -inf or NaN: handle the rows whose mask is all zeros.")
        expect(not torch.allclose(out[real], h[real].amax(1)), name,
               "you took the maximum over the padding tokens too: they must never win.")
        expect(not torch.allclose(out[real], (h * mask[..., None])[real].amax(1)), name,
               "multiplying by the mask sets padding to 0, and 0 beats every negative value: set padding "
               "to -inf before the max instead.")
        expect(not torch.allclose(out[real], want[real]), name,
               "a text without any real token must give a zero vector.")
        expect(False, name, "e_b[k] = max over the real tokens t of h[b, t, k]: take the max over the token "
               "axis (dim 1) only.")
    passed(name, "the max runs over real tokens only, even when every value is negative")


# ----------------------------------------------------------------------------- exercise 2
_TITLES = ["Toy Story", "Heat", "Casino", "Fargo", "Se7en", "Babe", "Clerks", "Ed Wood", "Persuasion", "Nixon"]
_GENRES = ["Action", "Animation", "Children's", "Comedy", "Crime", "Drama", "Romance", "Thriller"]


def _items(rng: random.Random, n: int) -> pd.DataFrame:
    genres = [rng.sample(_GENRES, rng.choice([0, 1, 2, 3, 4])) for _ in range(n)]
    genres[0] = rng.sample(_GENRES, 3)
    genres[-1] = []
    years = [None if rng.random() < 0.3 else rng.randint(1930, 1998) for _ in range(n)]
    years[1], years[0] = None, rng.randint(1930, 1998)  # at least one missing year, one known
    return pd.DataFrame({"item_id": rng.sample(range(1, 500), n), "title": rng.sample(_TITLES, n),
                         "year": pd.array(years, dtype="Int64"), "genres": genres})


def ex2(ns: dict) -> None:
    """``movie_sentences(items) -> list[str]``: "Title (year): A, B and C." per row, in row order."""
    name = "Exercise 2"
    fn = require(ns, "movie_sentences", name, callable)
    rng = random.Random(int(torch.randint(0, 2**31 - 1, ()).item()))
    for n in (3, 6, 10):
        items = _items(rng, n)
        given = items.copy(deep=True)
        out = call(fn, name, given)
        expect(given.equals(items) and list(given.index) == list(items.index), name,
               "your function changed the frame it was given; leave it as it is.")
        expect(isinstance(out, list) and len(out) == n and all(isinstance(t, str) for t in out), name,
               f"return a list of {n} strings, one per row.")
        for t, row in zip(out, items.itertuples(index=False), strict=True):
            head = row.title if pd.isna(row.year) else f"{row.title} ({int(row.year)})"
            expect(t.startswith(row.title), name, "keep the frame's row order; each sentence starts with its title.")
            expect("<NA>" not in t and "nan" not in t.lower().replace(row.title.lower(), ""), name,
                   "a missing year (pd.NA) is left out: 'Title: Drama.'")
            expect(t.startswith(head), name, "write the year in brackets after the title: 'Toy Story (1995)'.")
            g = list(row.genres)
            if not g:
                expect(t == head + ".", name, "an item without genres has no colon and no genre part: 'Heat (1995).'")
                continue
            expect(", ".join(g) + "." != t[len(head) + 2:] or len(g) < 2, name,
                   "the last two genres are joined by ' and ', not by a comma: 'Crime, Drama and Thriller'.")
            expect(" and ".join(g) + "." != t[len(head) + 2:] or len(g) < 3, name,
                   "only the last two genres are joined by ' and '; the others by ', '.")
            listed = g[0] if len(g) == 1 else ", ".join(g[:-1]) + " and " + g[-1]
            expect(t == f"{head}: {listed}.", name, "each sentence is 'Title (year): A, B and C.' with the genres in "
                   "the frame's order, one genre alone: 'Heat (1995): Crime.'")
    passed(name, "item sentences, with missing years and genres and the ' and ' before the last genre")


# ----------------------------------------------------------------------------- exercise 3
def _toy_split() -> ColdStartSplit:
    """6 items; items 5 and 6 are cold. Users 1 and 2 rated item 5, user 3 item 6, user 4 none."""
    train = pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 4, 4], "item_id": [1, 2, 2, 3, 4, 1, 3]})
    test = pd.DataFrame({"user_id": [1, 2, 3], "item_id": [5, 5, 6]})
    return ColdStartSplit(train, test, np.array([5, 6]), 6)


# cold item 6 first (off-by-one answers then credit item 5); then cold item 5 first with every
# warm item scored higher still and a finite, highest padding column
_MODELS = [FixedScorer([float("-inf"), 0.0, 0.0, 0.0, 0.0, 1.0, 2.0]), FixedScorer([9.0, 3.0, 4.0, 5.0, 6.0, 2.0, 1.0])]


def _random_cold_case(gen: torch.Generator):
    """A fresh split: n items, some cold; users with warm training rows, most with cold test rows;
    one score row for everyone (a FixedScorer), padding column finite and highest."""
    n = int(torch.randint(10, 20, (), generator=gen))
    perm = torch.randperm(n, generator=gen) + 1
    cold, warm = perm[:4].sort().values, perm[4:]
    train_rows, test_rows = [], []
    for u in range(1, 9):
        train_rows += [(u, int(warm[int(i)])) for i in torch.randint(0, len(warm), (2,), generator=gen)]
        if u < 7:  # users 7 and 8 have no cold item: they are not in the average
            test_rows += [(u, int(cold[int(i)])) for i in torch.randint(0, len(cold), (2,), generator=gen)]
    train = pd.DataFrame(train_rows, columns=["user_id", "item_id"]).drop_duplicates(ignore_index=True)
    test = pd.DataFrame(test_rows, columns=["user_id", "item_id"]).drop_duplicates(ignore_index=True)
    row = torch.randperm(n, generator=gen).double().tolist()
    return ColdStartSplit(train, test, cold.numpy(), n), FixedScorer([float(n + 5)] + row)


def ex3(ns: dict) -> None:
    """``cold_start_hr(model, split, k)``: share of users with a cold item in their top-k cold items."""
    name = "Exercise 3"
    fn = require(ns, "cold_start_hr", name, callable)
    gen = torch_generator()
    cases = [(_toy_split(), model, 1) for model in _MODELS]
    cases += [_random_cold_case(gen) + (k,) for k in (1, 2)]
    for split, model, k in cases:
        # one score row for all users: their top-k cold items are the same k items
        cold = torch.as_tensor(split.cold_items)
        top = set(cold[model.row[cold].topk(k).indices].tolist())
        users = split.test.groupby("user_id")["item_id"].apply(set)
        want = float(np.mean([bool(items & top) for items in users]))
        got = call(fn, name, model, split, k)
        expect(isinstance(got, (float, int, np.floating)) or (isinstance(got, torch.Tensor) and got.numel() == 1),
               name, f"return one number (a float), got {type(got).__name__}.")
        got = float(got)
        if abs(got - want) < 1e-6:
            continue
        n_all = split.train["user_id"].nunique()
        expect(got != 0.0 or want == 0.0, name,
               "no user got a hit: rank only the cold items. Set the score of every warm item (and of "
               "column 0, padding) to -inf before taking the top-k.")
        expect(abs(got - want * len(users) / n_all) > 1e-6, name,
               "average over the users who have a cold item in split.test only (a user without one "
               "cannot be hit).")
        expect(False, name, f"HR@{k} differs on a fresh split. Column j of the scores is item id j (column 0 = "
               "padding): if you slice off column 0, add 1 to the indices; only cold items may be ranked.")
    passed(name, "only cold items are ranked, for the users who have one, on fresh splits")


# ----------------------------------------------------------------------------- exercise 4


def ex4(ns: dict) -> None:
    """``quantize_rows(W) -> (q, scale)``: symmetric int8 per output channel, q = round(W / scale)."""
    name = "Exercise 4"
    fn = require(ns, "quantize_rows", name, callable)
    gen = torch_generator()
    for out_f, in_f in ((1, 5), (6, 9), (16, 32)):
        row_scale = torch.exp(3 * torch.randn(out_f, 1, generator=gen))  # rows of very different sizes
        W = torch.randn(out_f, in_f, generator=gen) * row_scale
        if out_f > 1:
            W[1] = 0.0  # a row of zeros
        given = W.clone()
        res = call(fn, name, given)
        expect(torch.equal(given, W), name, "your function changed W in place; leave it as it is.")
        expect(isinstance(res, tuple) and len(res) == 2, name, "return a tuple (q, scale).")
        q, scale = (torch.as_tensor(x) for x in res)
        expect(q.dtype == torch.int8 and tuple(q.shape) == (out_f, in_f), name,
               f"q is an int8 tensor of W's shape ({out_f}, {in_f}): one byte per weight (.to(torch.int8)).")
        scale = scale.reshape(-1).double()
        expect(scale.numel() == out_f, name, f"one scale per output channel (row of W): {out_f} scales"
               + (", not one per input column." if scale.numel() == in_f else
                  ", not one for the whole matrix." if scale.numel() == 1 else "."))
        expect(bool(torch.isfinite(scale).all()) and bool((scale >= 0).all()), name,
               "every scale must be finite and >= 0; a row of zeros must not divide by zero.")
        qd = q.double()
        expect(bool((qd.abs() <= 127).all()), name, "symmetric int8 uses -127..127 (scale = max|w| / 127).")
        nonzero = W.abs().amax(1) > 0
        err = (W.double() - qd * scale[:, None]).abs()
        expect(bool((err <= scale[:, None] / 2 * (1 + 1e-4) + 1e-12).all()), name,
               "q * scale must be within scale / 2 of every w: round to the nearest integer (torch.round), "
               "do not truncate with .to(torch.int8) alone.")
        expect(bool((qd[nonzero].abs().amax(1) == 127).all()), name,
               "each row should use the full range: its largest |w| maps to 127 (scale = max|w| / 127 per row, "
               "then round to the nearest integer: truncating can land on 126).")
        expect(bool((q[~nonzero] == 0).all()), name, "a row of zeros quantises to zeros.")
    passed(name, "per-row symmetric int8: full range, error at most half a step, zero rows safe")


def ex5(ns: dict) -> None:
    """``INT8_BYTES``: the bytes of a Linear(384 -> 1000) weight as int8 with one float32 scale per output."""
    name = "Exercise 5"
    answer = require(ns, "INT8_BYTES", name)
    expect(isinstance(answer, (int, float, np.integer)) and not isinstance(answer, bool), name,
           "answer with a number of bytes.")
    answer = float(answer)
    weights = 384 * 1000
    expect(answer != 4 * weights, name, "that is the float32 size: an int8 weight takes one byte, not four.")
    expect(answer != weights, name, "the scales take room too: one float32 (4 bytes) per output channel.")
    expect(answer != weights + 4 * 384, name, "a Linear(384 -> 1000) has 1000 output channels (its weight is "
           "(1000, 384)); the scales go with the outputs.")
    expect(answer == weights + 4 * 1000, name, "count one byte per weight plus four per output channel's scale.")
    passed(name, "int8 weights plus per-channel scales: about a quarter of the float32 size")
