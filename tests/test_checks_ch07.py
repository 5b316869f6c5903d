"""The chapter 07 exercise checks accept right answers and explain typical wrong ones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from llmrec_ref.checks import ExerciseFailed, ch07

# ----------------------------------------------------------------------------- exercise 1


def mean_pool(token_embeddings, attention_mask):
    m = attention_mask.float().unsqueeze(-1)
    return (token_embeddings * m).sum(1) / m.sum(1).clamp(min=1e-9)


def mean_pool_ignores_mask(token_embeddings, attention_mask):
    return token_embeddings.mean(1)


def mean_pool_divides_by_t(token_embeddings, attention_mask):
    m = attention_mask.float().unsqueeze(-1)
    return (token_embeddings * m).sum(1) / token_embeddings.shape[1]


def mean_pool_nan_on_empty(token_embeddings, attention_mask):
    m = attention_mask.float().unsqueeze(-1)
    return (token_embeddings * m).sum(1) / m.sum(1)


# ----------------------------------------------------------------------------- exercise 2


def movie_texts(items):
    out = []
    for row in items.itertuples(index=False):
        head = row.title if pd.isna(row.year) else f"{row.title} ({int(row.year)})"
        out.append(f"{head}. Genres: {', '.join(row.genres)}." if len(row.genres) else f"{head}.")
    return out


def movie_texts_na_year(items):
    return [f"{r.title} ({r.year}). Genres: {', '.join(r.genres)}." if len(r.genres) else f"{r.title} ({r.year})."
            for r in items.itertuples(index=False)]


def movie_texts_empty_genres(items):
    return [(r.title if pd.isna(r.year) else f"{r.title} ({int(r.year)})") + f". Genres: {', '.join(r.genres)}."
            for r in items.itertuples(index=False)]


def movie_texts_sorted(items):
    return movie_texts(items.sort_values("item_id"))


def movie_texts_comma(items):
    return [t.replace(", ", ",") for t in movie_texts(items)]


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


CHECKS = {"ex1": (ch07.ex1, {"mean_pool": mean_pool}),
          "ex2": (ch07.ex2, {"movie_texts": movie_texts}),
          "ex3": (ch07.ex3, {"cold_start_hr": cold_start_hr})}


@pytest.mark.parametrize("check", sorted(CHECKS))
def test_a_right_answer_passes(check, capsys):
    fn, ns = CHECKS[check]
    fn(dict(ns))
    assert "passed" in capsys.readouterr().out


@pytest.mark.parametrize("check", sorted(CHECKS))
def test_a_missing_answer_fails_with_a_hint(check):
    fn, ns = CHECKS[check]
    with pytest.raises(ExerciseFailed, match="is not defined yet"):
        fn({})


@pytest.mark.parametrize("check", sorted(CHECKS))
def test_an_unfinished_answer_fails_with_a_hint(check):
    fn, ns = CHECKS[check]
    (name,) = ns

    def unfinished(*args, **kwargs):
        raise NotImplementedError

    unfinished.__name__ = name
    with pytest.raises(ExerciseFailed, match="not implemented yet"):
        fn({name: unfinished})


@pytest.mark.parametrize("check, name, fn, hint", [
    ("ex1", "mean_pool", mean_pool_ignores_mask, "averaged the padding tokens"),
    ("ex1", "mean_pool", mean_pool_divides_by_t, "not by the padded length T"),
    ("ex1", "mean_pool", mean_pool_nan_on_empty, "NaN"),
    ("ex2", "movie_texts", movie_texts_na_year, "missing year"),
    ("ex2", "movie_texts", movie_texts_empty_genres, "without genres"),
    ("ex2", "movie_texts", movie_texts_sorted, "row order"),
    ("ex2", "movie_texts", movie_texts_comma, "joined by ', '"),
    ("ex3", "cold_start_hr", hr_all_items, "rank only the cold items"),
    ("ex3", "cold_start_hr", hr_all_users, "users who have a cold item"),
    ("ex3", "cold_start_hr", hr_off_by_one, "add 1 to the indices"),
])
def test_a_typical_wrong_answer_fails_with_its_hint(check, name, fn, hint):
    with pytest.raises(ExerciseFailed, match=hint):
        CHECKS[check][0]({name: fn})
