"""The chapter 07 exercise checks accept right answers and explain typical wrong ones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from check_contract import (  # noqa: F401 - the generic tests, run on RIGHT / WRONG below
    test_missing_answer_fails_with_a_hint,
    test_right_answer_passes,
    test_typical_wrong_answer_fails_with_its_hint,
)

from llmrec_ref.checks import ExerciseFailed, ch07

# ----------------------------------------------------------------------------- exercise 1


def max_pool(h, mask):
    best = h.masked_fill(mask[..., None] == 0, float("-inf")).amax(1)
    return best.masked_fill(~mask.bool().any(1, keepdim=True), 0.0)


def max_pool_in_place(h, mask):
    out = max_pool(h.clone(), mask)
    h.masked_fill_(mask[..., None] == 0, float("-inf"))
    return out


# ----------------------------------------------------------------------------- exercise 2


def _sentences(items, last="and", year=True, skip_na=True, empty_colon=False):
    out = []
    for row in items.itertuples(index=False):
        if not skip_na:
            head = f"{row.title} ({row.year})"
        else:
            head = row.title if pd.isna(row.year) or not year else f"{row.title} ({int(row.year)})"
        g = list(row.genres)
        if not g:
            out.append(f"{head}:." if empty_colon else f"{head}.")
            continue
        listed = g[0] if len(g) == 1 else (", ".join(g) if last == "comma" else
                                           " and ".join(g) if last == "all" else ", ".join(g[:-1]) + " and " + g[-1])
        out.append(f"{head}: {listed}.")
    return out


def movie_sentences(items):
    return _sentences(items)


def movie_sentences_in_place(items):
    out = _sentences(items)
    items["title"] = items["title"].str.upper()
    return out


# ----------------------------------------------------------------------------- exercise 3


def cold_start_hr(model, split, k=10):
    users = np.sort(split.test["user_id"].unique())
    scores = torch.as_tensor(model.score(users, split.train)).float().clone()  # (U, n + 1)
    keep = torch.zeros(scores.shape[1], dtype=torch.bool)
    keep[torch.as_tensor(split.cold_items)] = True
    scores[:, ~keep] = -float("inf")
    top = scores.topk(k, dim=1).indices  # (U, k) item ids
    hits = [bool(set(top[r].tolist()) & set(split.test.loc[split.test.user_id == u, "item_id"])) for r, u in enumerate(users)]
    return float(np.mean(hits))


def hr_all_items(model, split, k=10):
    users = np.sort(split.test["user_id"].unique())
    top = torch.as_tensor(model.score(users, split.train)).topk(k, dim=1).indices
    return float(np.mean([bool(set(top[r].tolist()) & set(split.test.loc[split.test.user_id == u, "item_id"]))
                          for r, u in enumerate(users)]))


def hr_all_users(model, split, k=10):
    users = np.sort(split.train["user_id"].unique())
    n_test = split.test["user_id"].nunique()
    return cold_start_hr(model, split, k) * n_test / len(users)


def hr_off_by_one(model, split, k=10):
    users = np.sort(split.test["user_id"].unique())
    scores = torch.as_tensor(model.score(users, split.train)).float()[:, 1:].clone()  # column j = item j + 1
    keep = torch.zeros(scores.shape[1], dtype=torch.bool)
    keep[torch.as_tensor(split.cold_items) - 1] = True
    scores[:, ~keep] = -float("inf")
    top = scores.topk(k, dim=1).indices  # forgot the + 1
    return float(np.mean([bool(set(top[r].tolist()) & set(split.test.loc[split.test.user_id == u, "item_id"]))
                          for r, u in enumerate(users)]))


RIGHT = {
    ch07.ex1: {"max_pool": max_pool},
    ch07.ex2: {"movie_sentences": movie_sentences},
    ch07.ex3: {"cold_start_hr": cold_start_hr},
    ch07.ex4: {"quantize_rows": lambda W: _quant(W)},
    ch07.ex5: {"INT8_BYTES": 1000 * 384 + 4 * 1000},
}


def _quant(W, per="row", rounding=torch.round, div=127, guard=True):
    if per == "row":
        scale = W.abs().amax(1) / div
        safe = torch.where(scale > 0, scale, torch.ones_like(scale)) if guard else scale
        q = rounding(W / safe[:, None])
    elif per == "tensor":
        scale = W.abs().max().reshape(1) / div
        q = rounding(W / scale)
    else:
        scale = W.abs().amax(0) / div
        q = rounding(W / torch.where(scale > 0, scale, torch.ones_like(scale)))
    return q.clamp(-128, 127).to(torch.int8), scale


WRONG = [
    (ch07.ex1, {"max_pool": lambda h, m: h.amax(1)}, "padding tokens too"),
    (ch07.ex1, {"max_pool": lambda h, m: (h * m[..., None]).amax(1)}, "0 beats every negative value"),
    (ch07.ex1, {"max_pool": lambda h, m: h.masked_fill(m[..., None] == 0, float("-inf")).amax(1)}, "not -inf or NaN"),
    (ch07.ex1, {"max_pool": lambda h, m: (h * m[..., None]).sum(1) / m.sum(1, keepdim=True).clamp(min=1)},
     "max over the token"),
    (ch07.ex1, {"max_pool": max_pool_in_place}, "changed its inputs in place"),
    (ch07.ex1, {"max_pool": lambda h, m: max_pool(h, m)[:1]}, r"return a \(B, d\)"),
    (ch07.ex2, {"movie_sentences": lambda it: _sentences(it, last="comma")}, "joined by ' and ', not by a comma"),
    (ch07.ex2, {"movie_sentences": lambda it: _sentences(it, last="all")}, "only the last two genres"),
    (ch07.ex2, {"movie_sentences": lambda it: _sentences(it, skip_na=False)}, "missing year"),
    (ch07.ex2, {"movie_sentences": lambda it: _sentences(it, empty_colon=True)}, "without genres"),
    (ch07.ex2, {"movie_sentences": lambda it: _sentences(it.sort_values("title"))}, "row order"),
    (ch07.ex2, {"movie_sentences": lambda it: _sentences(it, year=False)}, "year in brackets"),
    (ch07.ex2, {"movie_sentences": movie_sentences_in_place}, "changed the frame"),
    (ch07.ex3, {"cold_start_hr": hr_all_items}, "rank only the cold items"),
    (ch07.ex3, {"cold_start_hr": hr_all_users}, "users who have a cold item"),
    (ch07.ex3, {"cold_start_hr": hr_off_by_one}, "add 1 to the indices"),
    (ch07.ex4, {"quantize_rows": lambda W: _quant(W, per="tensor")}, "not one for the whole matrix"),
    (ch07.ex4, {"quantize_rows": lambda W: _quant(W, per="column")}, "not one per input column"),
    (ch07.ex4, {"quantize_rows": lambda W: _quant(W, rounding=torch.trunc)}, "do not truncate|truncating can land"),
    (ch07.ex4, {"quantize_rows": lambda W: _quant(W, div=128)}, "full range|-127..127|scale / 2"),
    (ch07.ex4, {"quantize_rows": lambda W: (_quant(W)[0], _quant(W)[1].masked_fill(_quant(W)[1] == 0, float("nan")))},
     "divide by zero"),
    (ch07.ex4, {"quantize_rows": lambda W: (W.round().to(torch.int8), torch.ones(len(W)))}, "full range|-127..127|scale / 2"),
    (ch07.ex4, {"quantize_rows": lambda W: (_quant(W)[0].float(), _quant(W)[1])}, "int8 tensor"),
    (ch07.ex5, {"INT8_BYTES": 4 * 1000 * 384}, "float32 size"),
    (ch07.ex5, {"INT8_BYTES": 1000 * 384}, "scales take room"),
    (ch07.ex5, {"INT8_BYTES": 1000 * 384 + 4 * 384}, "output channels"),
    (ch07.ex5, {"INT8_BYTES": 1000 * 384 + 1000}, "one byte per weight plus four"),
]


def test_an_unfinished_answer_fails_with_a_hint():
    def max_pool(*args):
        raise NotImplementedError

    with pytest.raises(ExerciseFailed, match="not implemented yet"):
        ch07.ex1({"max_pool": max_pool})


def test_checks_draw_fresh_cases_each_run():
    seen = []

    def spy(h, m):
        seen.append(h.clone())
        return max_pool(h, m)

    ch07.ex1({"max_pool": spy})
    ch07.ex1({"max_pool": spy})
    assert not torch.equal(seen[0], seen[3])
