"""Evaluate any recommender on a split: full ranking, sampled ranking, paired bootstrap.

Derived in notebooks/06_evaluation. Every model has ``fit(train, valid=None)`` and
``score(users, history) -> (len(users), n_items + 1)`` (column 0 = padding), so the code
here never special-cases a model. The protocol of the course (see docs/design.md, section 4):

- stage ``"test"``: the model may condition on ``history = train + valid``; truth = test.
- stage ``"valid"``: ``history = train``; truth = valid (for choosing hyperparameters; the
  test part is never read).
- full ranking ranks every item except padding and, with ``exclude_seen``, the items the
  user has in ``history``. Sampled ranking ranks the held-out items against ``n_negatives``
  sampled items the user never interacted with; it inflates numbers and is taught only to
  show that.
- a model whose ``uses_query`` is True (a context-aware one) is told the *request
  context* of each held-out event: its time and context columns such as the device, never
  its item, rating or behaviour. A real system knows when and where a request comes from.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import torch

from llmrec_ref import metrics
from llmrec_ref.preprocess import require_columns

__all__ = ["interaction_matrix", "infer_n_items", "request_context", "rank_heldout", "validation_metrics",
           "full_ranking", "sampled_ranking", "paired_bootstrap"]


def interaction_matrix(frame: pd.DataFrame, users: torch.Tensor, n_items: int) -> torch.Tensor:
    """Boolean ``(len(users), n_items + 1)`` matrix: ``X[r, i] = 1`` if ``users[r]`` interacted
    with item ``i`` in ``frame`` (repeats collapse to 1; column 0 is padding and stays 0).
    Users absent from ``frame`` get an empty row."""
    users = torch.as_tensor(np.asarray(users), dtype=torch.long)
    out = torch.zeros(len(users), n_items + 1, dtype=torch.bool)
    if len(frame) == 0 or len(users) == 0:
        return out
    items = frame["item_id"].to_numpy()
    if items.min() < 1 or items.max() > n_items:
        raise ValueError(f"item ids must lie in 1..n_items={n_items}, got {items.min()}..{items.max()}; "
                         "pass n_items= large enough (ids are contiguous, 0 is padding)")
    row_of = pd.Series(np.arange(len(users)), index=users.numpy())
    rows = frame["user_id"].map(row_of)
    keep = rows.notna().to_numpy()
    out[torch.tensor(rows[keep].to_numpy(dtype=np.int64)), torch.tensor(items[keep], dtype=torch.long)] = True
    return out


def infer_n_items(model: object, *frames: pd.DataFrame, n_items: int | None = None) -> int:
    """``n_items`` if given, else the fitted ``model.n_items_``, else the largest item id in ``frames``."""
    if n_items is None:
        n_items = getattr(model, "n_items_", None)
    if n_items is None:
        n_items = max(int(f["item_id"].max()) for f in frames if len(f))
    if isinstance(n_items, bool) or int(n_items) != n_items or n_items <= 0:
        raise ValueError(f"n_items must be a positive int, got {n_items!r}")
    return int(n_items)


OUTCOMES = ("item_id", "rating", "behavior", "behavior_code")  # what the user did: never part of a request


def request_context(heldout: pd.DataFrame) -> pd.DataFrame:
    """What a recommender may know when a held-out event is requested: its user, time and
    context columns (device, ...), without its outcomes (item, rating, behaviour)."""
    return heldout.drop(columns=[c for c in OUTCOMES if c in heldout.columns])


def _score(model: object, users: torch.Tensor, history: pd.DataFrame, n_items: int,
           heldout: pd.DataFrame | None = None) -> torch.Tensor:
    """``model.score(users, history)``, checked; a model whose ``uses_query`` is True also gets
    the request context of the held-out events (``query=request_context(heldout)``)."""
    if heldout is not None and getattr(model, "uses_query", False):
        scores = torch.as_tensor(model.score(users, history, query=request_context(heldout)))
    else:
        scores = torch.as_tensor(model.score(users, history))
    if tuple(scores.shape) != (len(users), n_items + 1):
        raise ValueError(f"model.score returned shape {tuple(scores.shape)}, expected "
                         f"(len(users), n_items + 1) = ({len(users)}, {n_items + 1}) with column 0 = padding")
    return scores.float()


def _stage(split, stage: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(history, held-out) frames for ``stage``; ``ValueError`` when the held-out part is empty
    (nothing to evaluate: metrics over no user would be NaN) or holds a missing id."""
    if stage == "test":
        history, heldout = pd.concat([split.train, split.valid], ignore_index=True), split.test
    elif stage == "valid":
        history, heldout = split.train, split.valid
    else:
        raise ValueError(f"stage must be 'test' or 'valid', got {stage!r}")
    require_columns(heldout, ("user_id", "item_id"), name=f"split.{stage}")
    return history, heldout


CHUNK = 512          # users scored at once (fewer for a large catalogue): fixes which users share a batch
BLOCK_SCORES = 2**25  # at most this many scores (128 MiB of float32) in one block of users


def block_users(n_items: int) -> int:
    """How many users ``rank_heldout`` scores at once: ``CHUNK``, or fewer so that a block holds
    at most ``BLOCK_SCORES`` scores (33 users for a million items)."""
    return max(1, min(CHUNK, BLOCK_SCORES // max(n_items, 1)))


def _rows_of(frame: pd.DataFrame, users: np.ndarray) -> np.ndarray:
    """Position of each row's user in the sorted ``users`` (-1 if absent)."""
    ids = frame["user_id"].to_numpy()
    if len(users) == 0:
        return np.full(len(ids), -1)
    pos = np.searchsorted(users, ids).clip(max=len(users) - 1)
    return np.where(users[pos] == ids, pos, -1)


def _by_block(frame: pd.DataFrame, rows: np.ndarray):
    """``part(lo, hi)``: the rows of ``frame`` whose user is at positions lo..hi-1 of the sorted
    users (``rows`` from ``_rows_of``), in ``frame``'s order. One stable sort up front, so each
    block costs its own rows, not the whole log's (a million-item catalogue has 3,000 blocks)."""
    order = np.argsort(rows, kind="stable")
    sorted_rows = rows[order]

    def part(lo: int, hi: int) -> pd.DataFrame:
        a, b = np.searchsorted(sorted_rows, [lo, hi])
        return frame.iloc[np.sort(order[a:b])]

    return part


def _block_matrix(frame: pd.DataFrame, rows: np.ndarray, lo: int, hi: int, n_items: int) -> torch.Tensor:
    """Boolean (hi - lo, n_items) interaction matrix of the users at positions lo..hi-1."""
    keep = (rows >= lo) & (rows < hi)
    out = torch.zeros(hi - lo, n_items + 1, dtype=torch.bool)
    out[torch.as_tensor(rows[keep] - lo), torch.as_tensor(frame["item_id"].to_numpy()[keep], dtype=torch.long)] = True
    return out[:, 1:]


def rank_heldout(model: object, history: pd.DataFrame, heldout: pd.DataFrame, n_items: int | None = None,
                 ks: Sequence[int] = (5, 10, 20), exclude_seen: bool = True, n_boot: int = 1000,
                 seed: int = 0, with_auc: bool = False, shard=None) -> metrics.Result:
    """Full ranking of every user in ``heldout``: score, mask, rank, then summarise.

    Users = sorted unique ``heldout.user_id`` (the order of ``result.users`` and of every
    ``result.per_user`` tensor), scored a block at a time (``block_users``: 512 users, fewer for
    a catalogue over 65,536 items): scores ``(block, n_items)`` lose
    the padding column; with ``exclude_seen`` the user's ``history`` items are masked; each
    block is ranked (``metrics.rank_users``) and only its top-K and per-user metrics are
    kept, so users x items is never held at once. ``result.n_truth_excluded`` counts held-out
    items that were also in the history (masked, so they can never be hit). Novelty uses
    p_i = (users with i in history + 1) / (users + 1).

    Each block's users are scored with their own rows of ``history`` (and of ``heldout`` for
    the request context) only: the contract (``llmrec_ref.recommender``) says a user's scores
    depend on that user's rows alone, and passing the whole log to every block would make
    the evaluation of a large catalogue (many small blocks) cost blocks x log rows.

    ``shard`` (see ``llmrec_ref.distributed``) splits the blocks between processes: this one
    ranks blocks ``rank, rank + world, ...`` and ``shard.gather`` collects every process's
    blocks, which are put back in user order. The blocks, and so every score, are the same as
    in one process: the metrics are exactly equal, with no user counted twice.
    """
    n_items = infer_n_items(model, history, heldout, n_items=n_items)
    for frame in (history, heldout):
        if len(frame) and (frame["item_id"].min() < 1 or frame["item_id"].max() > n_items):
            raise ValueError(f"item ids must lie in 1..n_items={n_items}, got {frame['item_id'].min()}.."
                             f"{frame['item_id'].max()}; pass n_items= large enough (ids are contiguous, 0 is padding)")
    users_np = np.sort(heldout["user_id"].unique())
    users = torch.as_tensor(users_np, dtype=torch.long)                 # (U,)
    pairs = history.drop_duplicates(["user_id", "item_id"])
    counts = np.bincount(pairs["item_id"].to_numpy(dtype=np.int64), minlength=n_items + 1)[1:]
    popularity = torch.tensor((counts + 1) / (history["user_id"].nunique() + 1))  # (I,)
    truth_rows, seen_rows = _rows_of(heldout, users_np), _rows_of(history, users_np)
    history_of, heldout_of = _by_block(history, seen_rows), _by_block(heldout, truth_rows)
    rank, world = (0, 1) if shard is None else (shard.rank, shard.world)
    blocks, excluded = [], 0
    size = block_users(n_items)
    for start in range(rank * size, len(users), world * size):
        stop = min(start + size, len(users))
        block_history, block_heldout = history_of(start, stop), heldout_of(start, stop)
        scores = _score(model, users[start:stop], block_history, n_items, block_heldout)[:, 1:]  # (C, I)
        truth = _block_matrix(heldout, truth_rows, start, stop, n_items)  # (C, I)
        seen = _block_matrix(history, seen_rows, start, stop, n_items)    # (C, I)
        blocks.append((start, metrics.rank_users(scores, truth, seen if exclude_seen else None, ks,
                                                 popularity, with_auc)))
        excluded += int(seen[truth].sum()) if exclude_seen else 0  # held-out items also in the history
    if shard is not None:
        gathered = shard.gather((blocks, excluded))
        blocks = sorted((b for part, _ in gathered for b in part), key=lambda b: b[0])
        excluded = sum(n for _, n in gathered)
    if not blocks:  # no held-out user at all
        empty = torch.zeros(0, n_items, dtype=torch.bool)
        blocks = [(0, metrics.rank_users(torch.zeros(0, n_items), empty, None, ks, popularity, with_auc))]
    result = metrics.summarise(metrics.concat_ranked([b for _, b in blocks]), ks, n_boot, seed)
    result.users, result.exclude_seen, result.n_items = users[result.evaluated], exclude_seen, n_items
    result.n_truth_excluded = excluded
    return result


def validation_metrics(model: object, train: pd.DataFrame, valid: pd.DataFrame,
                       exclude_seen: bool = True, shard=None) -> dict[str, float]:
    """``{"valid_ndcg@10", "valid_hr@10"}``: full ranking of ``valid`` with history = ``train``
    (its items excluded unless ``exclude_seen`` is False), no bootstrap: what early stopping
    and hyperparameter searches compare. ``shard``: ranked over processes, as in ``rank_heldout``."""
    res = rank_heldout(model, train, valid, ks=(10,), n_boot=0, exclude_seen=exclude_seen, shard=shard)
    return {"valid_ndcg@10": res["ndcg@10"].mean, "valid_hr@10": res["hr@10"].mean}


def full_ranking(model: object, split, n_items: int | None = None, ks: Sequence[int] = (5, 10, 20),
                 exclude_seen: bool = True, stage: str = "test", protocol: str | None = None,
                 n_boot: int = 1000, seed: int = 0, with_auc: bool = False, shard=None) -> metrics.Result:
    """Full-ranking evaluation of a fitted ``model`` on ``split`` (``Split(train, valid, test)``).

    ``stage="test"``: history = train + valid, truth = test; ``stage="valid"``: history =
    train, truth = valid. Every non-padding item is ranked; ``exclude_seen`` masks the
    user's history items. ``protocol`` ("loo", "random", ...) only labels the result.
    Returns ``metrics.evaluate``'s ``Result`` with ``users``, ``stage``, ``protocol``, ``ranking`` added.
    ``shard``: ranked over processes, exactly as in one (see ``rank_heldout``).
    """
    history, heldout = _stage(split, stage)
    result = rank_heldout(model, history, heldout, n_items, ks, exclude_seen, n_boot, seed, with_auc, shard)
    result.stage, result.protocol, result.ranking = stage, protocol, "full"
    return result


def _sample_negatives(never: torch.Tensor, weight: torch.Tensor, n: int, gen: torch.Generator) -> torch.Tensor:
    """Boolean mask with min(n, available) items per row drawn without replacement from
    ``never`` (U, I), with probability proportional to ``weight`` (I,) (Efraimidis-Spirakis:
    the n largest keys log(u) / w_i; w_i = 0 is never drawn)."""
    u = torch.rand(never.shape, generator=gen, dtype=torch.float64).clamp(min=1e-300)
    keys = torch.log(u) / weight.double()                             # (U, I) -inf where w = 0
    keys = keys.masked_fill(~never, float("-inf"))
    top = keys.topk(min(n, keys.shape[1]), dim=1)                     # (U, n)
    out = torch.zeros_like(never)
    out.scatter_(1, top.indices, top.values > float("-inf"))
    return out


def sampled_ranking(model: object, split, n_negatives: int = 100, sampler: str = "uniform", seed: int = 0,
                    n_items: int | None = None, ks: Sequence[int] = (5, 10, 20), stage: str = "test",
                    n_boot: int = 1000, with_auc: bool = False) -> metrics.Result:
    """Rank each user's held-out items against ``n_negatives`` sampled items only.

    Negatives are items the user never interacted with in train, valid or test, drawn per
    user without replacement, uniformly (``sampler="uniform"``) or with probability
    proportional to their number of training interactions (``"popularity"``; items never
    seen in training are then never drawn). Candidates = held-out items + negatives; all
    else is masked and ``metrics.evaluate`` runs as in full ranking. With ``n_negatives`` at
    least the number of never-seen items this *is* full ranking with the history excluded.
    """
    if isinstance(n_negatives, bool) or not isinstance(n_negatives, int) or n_negatives <= 0:
        raise ValueError(f"n_negatives must be a positive int, got {n_negatives!r}")
    if sampler not in ("uniform", "popularity"):
        raise ValueError(f"sampler must be 'uniform' or 'popularity', got {sampler!r}")
    history, heldout = _stage(split, stage)
    everything = pd.concat([split.train, split.valid, split.test], ignore_index=True)
    n_items = infer_n_items(model, everything, n_items=n_items)
    users = torch.as_tensor(np.sort(heldout["user_id"].unique()), dtype=torch.long)  # (U,)
    truth = interaction_matrix(heldout, users, n_items)[:, 1:]        # (U, I)
    never = ~interaction_matrix(everything, users, n_items)[:, 1:]    # (U, I)
    if sampler == "uniform":
        weight = torch.ones(n_items)
    else:
        weight = torch.bincount(torch.tensor(split.train["item_id"].to_numpy(dtype=np.int64)), minlength=n_items + 1)[1:]
    gen = torch.Generator().manual_seed(seed)
    candidates = truth | _sample_negatives(never, weight, n_negatives, gen)  # (U, I)
    scores = _score(model, users, history, n_items, heldout)[:, 1:]  # (U, I)
    result = metrics.evaluate(scores, truth, ~candidates, ks=ks, n_boot=n_boot, seed=seed, with_auc=with_auc)
    result.users, result.stage, result.n_items = users[result.evaluated], stage, n_items
    result.ranking = f"sampled-{sampler}-{n_negatives}"
    return result


def paired_bootstrap(a_per_user: torch.Tensor, b_per_user: torch.Tensor, n_boot: int = 1000,
                     seed: int = 0) -> dict:
    """Mean difference mean(a - b) between two models on the same users, with a 95% interval.

    Each of ``n_boot`` resamples draws users with replacement and takes the *same* users for
    both models, so the per-user correlation cancels out. Returns ``mean_diff``, ``low``,
    ``high`` (2.5% / 97.5% quantiles of the resampled mean difference), ``p_a_better`` (share
    of resamples with mean(a) > mean(b)) and ``n_users``. Inputs: aligned ``(n_users,)``
    tensors, e.g. ``full_ranking(...).per_user["ndcg@10"]`` of two models on one split.
    """
    a = torch.as_tensor(a_per_user, dtype=torch.float64)
    b = torch.as_tensor(b_per_user, dtype=torch.float64)
    if a.ndim != 1 or a.shape != b.shape or a.numel() == 0:
        raise ValueError(f"a_per_user and b_per_user must be 1-D, non-empty and of the same length "
                         f"(the same users in the same order); got {tuple(a.shape)} and {tuple(b.shape)}")
    if torch.isnan(a).any() or torch.isnan(b).any():
        raise ValueError("a_per_user / b_per_user contain NaN: drop users without held-out items first")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot <= 0:
        raise ValueError(f"n_boot must be a positive int, got {n_boot!r}")
    diff = a - b                                                      # (n,)
    gen = torch.Generator().manual_seed(seed)
    idx = torch.randint(len(diff), (n_boot, len(diff)), generator=gen)  # (B, n)
    means = diff[idx].mean(1)                                         # (B,)
    low, high = torch.quantile(means, torch.tensor([0.025, 0.975], dtype=torch.float64))
    return {"mean_diff": diff.mean().item(), "low": low.item(), "high": high.item(),
            "p_a_better": (means > 0).double().mean().item(), "n_users": len(diff)}
