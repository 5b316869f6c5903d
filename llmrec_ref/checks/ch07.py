"""Checks for exercises/07_llm_context: masked mean pooling, item texts, cold-start HR@K."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from llmrec_ref.checks._common import call, expect, passed, require
from llmrec_ref.coldstart import ColdStartSplit, evaluate_cold_start


def _close(a: object, b: torch.Tensor, atol: float = 1e-5) -> bool:
    return isinstance(a, torch.Tensor) and a.shape == b.shape and bool(torch.allclose(a.float(), b, atol=atol))


def ex1(ns: dict) -> None:
    """``mean_pool(token_embeddings, attention_mask)``: (B, T, d), (B, T) 0/1 ints -> (B, d)."""
    name = "Exercise 1"
    fn = require(ns, "mean_pool", name, callable)
    g = torch.Generator().manual_seed(0)
    h = torch.randn(3, 5, 4, generator=g)                             # (B=3, T=5, d=4)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [0, 0, 0, 0, 0]])  # int64, as a tokenizer returns
    out = call(fn, name, h.clone(), mask.clone())
    expect(isinstance(out, torch.Tensor) and out.shape == (3, 4), name,
           f"return a (B, d) = (3, 4) tensor, got {getattr(out, 'shape', type(out).__name__)}.")
    expect(out.is_floating_point(), name, "the result must be a float tensor: convert the mask with .float() first.")
    expect(not torch.isnan(out).any(), name,
           "a text with no real token (an all-zero mask row) gives 0/0 = NaN: divide by "
           "the count clamped to a small positive number, e.g. .clamp(min=1e-9), so that row is zeros.")
    expect(not _close(out[:2], h[:2].mean(1)), name,
           "you averaged the padding tokens too: multiply by the mask and divide by the number of "
           "real tokens (mask.sum), not by T.")
    expect(not _close(out[:2], (h[:2] * mask[:2, :, None]).sum(1) / h.shape[1]), name,
           "divide by the number of real tokens of each text (mask.sum(1)), not by the padded length T.")
    want = (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1e-9)
    expect(_close(out, want), name,
           "e = sum_t m_t h_t / sum_t m_t for each text: sum over the token axis (dim 1) only.")
    expect(bool((out[2] == 0).all()), name, "an all-padding row must give a zero vector.")
    passed(name, "padding is ignored and the mean is over real tokens only")


# ----------------------------------------------------------------------------- exercise 2
_ITEMS = pd.DataFrame({
    "item_id": [7, 3, 9, 4],
    "title": ["Toy Story", "Unknown Film", "Heat", "Casino"],
    "year": pd.array([1995, None, 1995, 1995], dtype="Int64"),
    "genres": [["Animation", "Children's", "Comedy"], ["Drama"], [], ["Drama", "Thriller"]],
})
_WANT = ["Toy Story (1995). Genres: Animation, Children's, Comedy.", "Unknown Film. Genres: Drama.",
         "Heat (1995).", "Casino (1995). Genres: Drama, Thriller."]


def ex2(ns: dict) -> None:
    """``movie_texts(items) -> list[str]``, one "Title (year). Genres: A, B." per row, in row order."""
    name = "Exercise 2"
    fn = require(ns, "movie_texts", name, callable)
    out = call(fn, name, _ITEMS.copy())
    expect(isinstance(out, list) and len(out) == len(_ITEMS), name,
           f"return a list with one string per row ({len(_ITEMS)}), got {type(out).__name__} of length "
           f"{len(out) if hasattr(out, '__len__') else '?'}.")
    expect(all(isinstance(t, str) for t in out), name, "every element must be a str.")
    expect(not any("<NA>" in t or "nan" in t for t in out), name,
           "a missing year (pd.NA) must be left out: check pd.isna(year) and write 'Title. Genres: ...'.")
    expect(not any("Genres: ." in t or t.endswith("Genres:") for t in out), name,
           "an item without genres has no 'Genres:' part at all: 'Heat (1995).'")
    expect(out[0].startswith("Toy Story (1995)"), name,
           "keep the frame's row order and write the year in brackets after the title: 'Toy Story (1995)'.")
    expect(all(t.endswith(".") for t in out), name, "each text ends with a full stop.")
    expect(out == _WANT, name, f"expected exactly {_WANT!r} (genres joined by ', '), got {out!r}.")
    passed(name, "MovieLens item texts, with missing years and genres handled")


# ----------------------------------------------------------------------------- exercise 3
def _toy_split() -> ColdStartSplit:
    """6 items; items 5 and 6 are cold. Users 1 and 2 rated item 5, user 3 item 6, user 4 none."""
    train = pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 4, 4], "item_id": [1, 2, 2, 3, 4, 1, 3]})
    test = pd.DataFrame({"user_id": [1, 2, 3], "item_id": [5, 5, 6]})
    return ColdStartSplit(train, test, np.array([5, 6]), 6)


class _Fixed:
    """Returns a fixed score row for every user (a 'given scorer')."""

    def __init__(self, row: list[float]) -> None:
        self.row = torch.tensor(row)

    def score(self, users, history: pd.DataFrame) -> torch.Tensor:
        return self.row.expand(len(np.asarray(users).reshape(-1)), -1).clone()


# cold item 6 first (off-by-one answers then credit item 5); then cold item 5 first with every
# warm item scored higher still and a finite, highest padding column
_MODELS = [_Fixed([float("-inf"), 0.0, 0.0, 0.0, 0.0, 1.0, 2.0]), _Fixed([9.0, 3.0, 4.0, 5.0, 6.0, 2.0, 1.0])]


def ex3(ns: dict) -> None:
    """``cold_start_hr(model, split, k)``: share of users with a cold item in their top-k cold items."""
    name = "Exercise 3"
    fn = require(ns, "cold_start_hr", name, callable)
    split = _toy_split()
    for model in _MODELS:
        want = evaluate_cold_start(model, split, ks=(1,), n_boot=0)["hr@1"].mean
        got = call(fn, name, model, split, 1)
        expect(isinstance(got, (float, int, np.floating)) or (isinstance(got, torch.Tensor) and got.numel() == 1),
               name, f"return one number (a float), got {type(got).__name__}.")
        got = float(got)
        if abs(got - want) < 1e-6:
            continue
        expect(got != 0.0 or want == 0.0, name,
               "no user got a hit: rank only the cold items. Set the score of every warm item (and of "
               "column 0, padding) to -inf before taking the top-k.")
        expect(abs(got - want * 3 / 4) > 1e-6, name,
               "average over the users who have a cold item in split.test only (a user without one "
               "cannot be hit).")
        expect(False, name, f"HR@1 should be {want:.3f} here, got {got:.3f}. Column j of the scores is item "
               "id j (column 0 = padding): if you slice off column 0, add 1 to the indices.")
    passed(name, "only cold items are ranked, for the users who have one")
