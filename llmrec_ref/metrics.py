"""Top-K ranking metrics, rating metrics and a vectorised, bootstrapped ``evaluate``.

Derived in notebooks/06_evaluation. Standalone: imports only the standard library,
numpy and torch, so the file can be copied into another project.

Conventions shared by every ranking metric ``f(scores, truth, k, exclude=None)``:

- ``scores`` is a float ``(n_users, n_items)`` tensor, higher = better; no NaN.
- ``truth`` marks each user's held-out (relevant) items: a boolean ``(n_users, n_items)``
  tensor, or one list of item indices per user (indices in ``[0, n_items)``).
- ``exclude`` (same forms) marks items never to recommend (e.g. training items). They
  still count in ``|R_u|`` if they are also in ``truth`` (they can simply never be hit).
- The top-K list is ``L_u = [i_1, ..., i_K]``, sorted by score; ties are broken
  deterministically: **the lower item index ranks first**. ``h_j = 1`` if ``i_j`` is in
  ``R_u`` (the truth set). If fewer than K items can be recommended the list is shorter.
- The result is a ``(n_users,)`` tensor; users with an empty truth set get NaN
  (undefined), and ``evaluate`` skips and counts them.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import numpy as np
import torch

__all__ = [
    "topk_items", "precision_at_k", "recall_at_k", "f1_at_k", "hit_rate_at_k", "mrr_at_k",
    "ndcg_at_k", "map_at_k", "auc", "accuracy", "rmse", "coverage", "novelty", "Metric", "Result", "Ranked",
    "rank_users", "concat_ranked", "summarise", "evaluate",
]

RANKING_METRICS = ("precision", "recall", "f1", "hr", "mrr", "ndcg", "map")


# ----------------------------------------------------------------------------- input checks
def _check_scores(scores: torch.Tensor) -> torch.Tensor:
    scores = torch.as_tensor(scores)
    if scores.ndim != 2 or not scores.is_floating_point():
        raise ValueError(f"scores must be a 2-D float tensor (n_users, n_items), got "
                         f"shape {tuple(scores.shape)} and dtype {scores.dtype}")
    if torch.isnan(scores.sum()) and torch.isnan(scores).any():  # cheap test first
        raise ValueError("scores contains NaN: fix the model (or replace NaN by -inf) first")
    return scores


def _check_mask(mask, shape: tuple, name: str) -> torch.Tensor:
    """A boolean (n_users, n_items) tensor from a mask or from per-user lists of item ids."""
    if isinstance(mask, (list, tuple)):
        if len(mask) != shape[0]:
            raise ValueError(f"{name} has {len(mask)} id lists but scores has {shape[0]} users")
        out = torch.zeros(shape, dtype=torch.bool)
        for u, ids in enumerate(mask):
            ids = torch.as_tensor(list(ids), dtype=torch.long)
            if len(ids) and (ids.min() < 0 or ids.max() >= shape[1]):
                raise ValueError(f"{name}[{u}] holds item ids out of range [0, {shape[1]}): "
                                 f"{ids[(ids < 0) | (ids >= shape[1])].tolist()}")
            out[u, ids] = True
        return out
    mask = torch.as_tensor(mask)
    if tuple(mask.shape) != tuple(shape):
        raise ValueError(f"{name} must have the shape of scores {tuple(shape)}, got {tuple(mask.shape)}")
    if mask.dtype != torch.bool:
        if not ((mask == 0) | (mask == 1)).all():
            raise ValueError(f"{name} must be boolean (or 0/1), got other values")
        mask = mask != 0
    return mask


def _check_ks(ks) -> list[int]:
    ks = [_check_k(k) for k in (ks if isinstance(ks, (list, tuple)) else [ks])]
    if not ks:
        raise ValueError("ks must hold at least one K, e.g. (5, 10, 20)")
    return ks


def _check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k <= 0:
        raise ValueError(f"k must be a positive int, got {k!r}")
    return int(k)


# ----------------------------------------------------------------------------- the top-K list
def topk_items(scores: torch.Tensor, k: int, exclude=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of each user's top-K items with deterministic ties, and which slots are real.

    Excluded items are set to -inf (real -inf scores are first lifted to the lowest float) so
    they come last. One ``torch.topk`` over K + 1 slots finds the K-th best score ``t_u``; in
    the rare rows where slot K + 1 ties with it, every item above ``t_u`` is kept and the
    lowest-index items equal to ``t_u`` fill the remaining slots. A stable sort of the K
    columns, taken in index order, then orders them by score descending, index ascending.
    Returns ``items (U, K')`` and ``valid (U, K')``, ``K' = min(K, n_items)``; ``valid`` is
    False where a slot holds an excluded item (fewer than K items could be recommended).
    """
    scores = _check_scores(scores)
    k = min(_check_k(k), scores.shape[1])
    masked = scores
    if exclude is not None:
        exclude = _check_mask(exclude, tuple(scores.shape), "exclude")
        if torch.isneginf(scores.amin()):
            masked = masked.clamp(min=torch.finfo(scores.dtype).min)
        masked = masked.masked_fill(exclude, float("-inf"))           # (U, I)
    n_items = scores.shape[1]
    vals, idx = masked.topk(min(k + 1, n_items), dim=1)               # (U, k+1) one extra slot
    kth = vals[:, k - 1]                                              # (U,) K-th best score
    idx = idx[:, :k]                                                  # (U, k)
    if k < n_items:
        straddle = (vals[:, k] == kth).nonzero()[:, 0]                # rows where a tie crosses slot K
        if len(straddle):
            m = masked[straddle]                                      # (R, I)
            above, tied = m > kth[straddle, None], m == kth[straddle, None]
            need = k - above.sum(1, keepdim=True)                     # (R, 1) slots left for ties
            chosen = above | (tied & (tied.cumsum(1) <= need))        # (R, I) exactly k per row
            idx = idx.clone()
            idx[straddle] = chosen.nonzero()[:, 1].view(-1, k)        # lowest tied indices win
    idx = idx.sort(dim=1).values                                      # (U, k) index ascending
    order = masked.gather(1, idx).sort(dim=1, descending=True, stable=True).indices
    items = idx.gather(1, order)                                      # (U, k) best first
    valid = torch.ones_like(items, dtype=torch.bool) if exclude is None else ~exclude.gather(1, items)
    return items, valid


def _from_hits(hits: torch.Tensor, n_rel: torch.Tensor, k: int) -> dict[str, torch.Tensor]:
    """Every ranking metric at K from the hit matrix; one row per user, NaN where |R_u| = 0."""
    hits = hits[:, :k]                                                # (U, K')
    pos = torch.arange(1, hits.shape[1] + 1, dtype=torch.float32)     # (K',) ranks 1..K'
    disc = 1.0 / torch.log2(pos + 1.0)                                # (K',)
    n_hit = hits.sum(1)                                               # (U,)
    n_ideal = torch.minimum(n_rel, torch.tensor(float(k))).clamp(min=1)  # min(|R_u|, K)
    ideal = torch.cat([torch.zeros(1), disc.cumsum(0)])               # IDCG for 0..K' hits
    p, r = n_hit / k, n_hit / n_rel.clamp(min=1)
    out = {
        "precision": p,
        "recall": r,
        "f1": torch.where(p + r > 0, 2 * p * r / (p + r).clamp(min=1e-12), torch.zeros_like(p)),
        "hr": (n_hit > 0).float(),
        "mrr": (hits / pos).max(1).values if hits.shape[1] else torch.zeros_like(p),
        "ndcg": (hits * disc).sum(1) / ideal[n_ideal.long().clamp(max=hits.shape[1])],
        "map": (hits.cumsum(1) / pos * hits).sum(1) / n_ideal,
    }
    empty = n_rel == 0
    return {name: v.masked_fill(empty, float("nan")) for name, v in out.items()}


def _metric(name: str, scores, truth, k, exclude) -> torch.Tensor:
    """One ranking metric from the hit matrix h (U, K'): h_uj = 1 if slot j holds a relevant item."""
    scores = _check_scores(scores)
    truth = _check_mask(truth, tuple(scores.shape), "truth")
    items, valid = topk_items(scores, k, exclude)
    hits = (truth.gather(1, items) & valid).float()                   # (U, K')
    return _from_hits(hits, truth.sum(1).float(), _check_k(k))[name]


# ----------------------------------------------------------------------------- per-user metrics at K
def precision_at_k(scores: torch.Tensor, truth, k: int, exclude=None) -> torch.Tensor:
    """Precision@K = (1/K) * sum_{j<=K} h_j, the share of the K slots holding a relevant item
    (divided by K even when fewer than K items could be recommended). ``(U, I)`` -> ``(U,)``."""
    return _metric("precision", scores, truth, k, exclude)


def recall_at_k(scores: torch.Tensor, truth, k: int, exclude=None) -> torch.Tensor:
    """Recall@K = (1/|R_u|) * sum_{j<=K} h_j, the share of relevant items that were recommended
    (not the share that was missed, and not divided by K). ``(U, I)`` -> ``(U,)``."""
    return _metric("recall", scores, truth, k, exclude)


def f1_at_k(scores: torch.Tensor, truth, k: int, exclude=None) -> torch.Tensor:
    """F1@K = 2 P@K R@K / (P@K + R@K), the harmonic mean; 0 when both are 0. ``(U, I)`` -> ``(U,)``."""
    return _metric("f1", scores, truth, k, exclude)


def hit_rate_at_k(scores: torch.Tensor, truth, k: int, exclude=None) -> torch.Tensor:
    """HR@K = 1[sum_{j<=K} h_j > 0]: did any relevant item make the list? ``(U, I)`` -> ``(U,)``."""
    return _metric("hr", scores, truth, k, exclude)


def mrr_at_k(scores: torch.Tensor, truth, k: int, exclude=None) -> torch.Tensor:
    """MRR@K = 1 / (rank of the first relevant item), 0 if none is in the top K. ``(U, I)`` -> ``(U,)``."""
    return _metric("mrr", scores, truth, k, exclude)


def ndcg_at_k(scores: torch.Tensor, truth, k: int, exclude=None) -> torch.Tensor:
    """NDCG@K = DCG / IDCG, DCG = sum_{j<=K} h_j / log2(j + 1) (binary relevance), IDCG =
    sum_{j <= min(|R_u|, K)} 1 / log2(j + 1), the DCG of a perfect list. ``(U, I)`` -> ``(U,)``."""
    return _metric("ndcg", scores, truth, k, exclude)


def map_at_k(scores: torch.Tensor, truth, k: int, exclude=None) -> torch.Tensor:
    """AP@K = (1 / min(|R_u|, K)) * sum_{j<=K} h_j P@j; its mean over users is MAP@K. ``(U, I)`` -> ``(U,)``."""
    return _metric("map", scores, truth, k, exclude)


def auc(scores: torch.Tensor, truth, exclude=None) -> torch.Tensor:
    """Per-user ROC AUC over the candidate (non-excluded) items, by the Mann-Whitney rank sum.

    AUC_u = (1 / (|P| |N|)) * sum_{p in P, n in N} (1[s_p > s_n] + 0.5 * 1[s_p = s_n])
          = (sum_{p in P} rank_p - |P| (|P| + 1) / 2) / (|P| |N|),
    with P = relevant candidates, N = other candidates and rank = ascending mid-rank among
    candidates (tied scores share the mean of their ranks). NaN when P or N is empty.
    One sort of the score matrix. ``(U, I)`` -> ``(U,)``.
    """
    scores = _check_scores(scores)
    truth = _check_mask(truth, tuple(scores.shape), "truth")
    n_users, n_items = scores.shape
    masked, n_out = scores, torch.zeros(n_users)
    if exclude is not None:
        exclude = _check_mask(exclude, tuple(scores.shape), "exclude")
        masked = scores.clamp(min=torch.finfo(scores.dtype).min).masked_fill(exclude, float("-inf"))
        truth, n_out = truth & ~exclude, exclude.sum(1).float()       # excluded sort first
    vals, order = masked.sort(dim=1)                                  # (U, I) ascending
    pos = torch.arange(n_items).expand(n_users, n_items)              # (U, I) 0-based positions
    new = torch.ones_like(vals, dtype=torch.bool)
    new[:, 1:] = vals[:, 1:] != vals[:, :-1]                          # a tie group starts here
    if bool((new | (pos <= n_out[:, None])).all()):                  # no tie among candidates
        midrank = pos + 1 - n_out[:, None].double()                   # (U, I) 1-based ranks
    else:
        start = torch.where(new, pos, 0).cummax(1).values             # (U, I) group's first slot
        last = torch.ones_like(new)
        last[:, :-1] = new[:, 1:]                                     # a tie group ends here
        end = torch.where(last, pos, n_items).flip(1).cummin(1).values.flip(1)
        midrank = (start + end).double() / 2 + 1 - n_out[:, None]     # (U, I) mean of tied ranks
    n_pos = truth.sum(1).double()
    n_neg = n_items - n_out.double() - n_pos
    rank_sum = (midrank * truth.gather(1, order)).sum(1)              # (U,)
    out = ((rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)).float()
    return out.masked_fill((n_pos == 0) | (n_neg == 0), float("nan"))


# ----------------------------------------------------------------------------- rating / click metrics
def _check_pred(pred: torch.Tensor, target: torch.Tensor) -> None:
    """Same non-empty shape, and no NaN in ``pred`` (NaN >= t is False: a NaN would count as a 0)."""
    if pred.shape != target.shape or pred.numel() == 0:
        raise ValueError(f"pred and target must have the same non-empty shape, got "
                         f"{tuple(pred.shape)} and {tuple(target.shape)}")
    if torch.isnan(pred).any():
        raise ValueError(f"pred contains {int(torch.isnan(pred).sum())} NaN value(s): fix the model that made "
                         "them (a NaN is neither right nor wrong)")


def accuracy(pred: torch.Tensor, target: torch.Tensor, threshold: float = 0.5) -> float:
    """Accuracy = mean(1[(pred >= threshold) == target]) for click/like prediction; target is 0/1."""
    pred, target = torch.as_tensor(pred).float(), torch.as_tensor(target)
    _check_pred(pred, target)
    if not (isinstance(threshold, (int, float)) and math.isfinite(threshold)):
        raise ValueError(f"threshold must be a finite number (e.g. 0.5), got {threshold!r}")
    if not ((target == 0) | (target == 1)).all():
        raise ValueError("target must hold only 0/1 (or booleans)")
    return ((pred >= threshold) == (target != 0)).float().mean().item()


def rmse(pred: torch.Tensor, target: torch.Tensor) -> float:
    """RMSE = sqrt(mean((pred - target)^2)) for rating prediction."""
    pred, target = torch.as_tensor(pred).double(), torch.as_tensor(target).double()
    _check_pred(pred, target)
    if torch.isnan(target).any():
        raise ValueError("target contains NaN: drop the unrated pairs first")
    return math.sqrt(((pred - target) ** 2).mean().item())


# ----------------------------------------------------------------------------- beyond accuracy
def coverage(scores: torch.Tensor, k: int, exclude=None) -> float:
    """Catalogue coverage@K = |union_u L_u| / n_items: the share of items anyone gets recommended."""
    items, valid = topk_items(scores, k, exclude)
    return items[valid].unique().numel() / scores.shape[1]


def _check_popularity(popularity, n_items: int) -> torch.Tensor:
    p = torch.as_tensor(popularity, dtype=torch.float64)
    if p.shape != (n_items,) or not ((p > 0) & (p <= 1)).all():
        raise ValueError(f"popularity must be ({n_items},) shares in (0, 1]; "
                         "smooth zero counts, e.g. (count + 1) / (n_users + 1)")
    return p


def novelty(scores: torch.Tensor, k: int, popularity: torch.Tensor, exclude=None) -> torch.Tensor:
    """Novelty@K_u = (1/|L_u|) * sum_{i in L_u} -log2 p_i, the mean self-information of the list.

    ``popularity`` ``(n_items,)`` holds p_i in (0, 1], the share of users who interacted with
    item i (smooth zeros, e.g. ``(count + 1) / (n_users + 1)``). ``(U, I)`` -> ``(U,)``.
    """
    scores = _check_scores(scores)
    p = _check_popularity(popularity, scores.shape[1])
    items, valid = topk_items(scores, k, exclude)
    info = -torch.log2(p)[items] * valid                              # (U, K')
    return (info.sum(1) / valid.sum(1).clamp(min=1)).float()


# ----------------------------------------------------------------------------- all at once
def _bootstrap(values: torch.Tensor, n_boot: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """2.5% and 97.5% quantiles of the mean of each column over ``n_boot`` user resamples.

    ``values (n, M)``: each resample draws n users with replacement; a count matrix
    ``W (n_boot, n)`` turns all resample means into one matmul ``W @ values / n``.
    """
    n = values.shape[0]
    gen = torch.Generator().manual_seed(seed)
    idx = torch.randint(n, (n_boot, n), generator=gen)                # (B, n)
    w = torch.zeros(n_boot, n, dtype=torch.float64).scatter_add_(1, idx, torch.ones(n_boot, n, dtype=torch.float64))
    means = w @ values.double() / n                                   # (B, M)
    q = torch.quantile(means, torch.tensor([0.025, 0.975], dtype=torch.float64), dim=0)
    return q[0], q[1]


class Metric(NamedTuple):
    """One metric over users: the mean and its 95% bootstrap interval (None without a bootstrap)."""

    mean: float
    low: float | None = None
    high: float | None = None

    def __str__(self) -> str:
        return f"{self.mean:.3f}" + ("" if self.low is None else f" [{self.low:.3f}, {self.high:.3f}]")


class Result:
    """What ``evaluate`` returns: ``res["ndcg@10"].mean`` (a ``Metric``), ``res.ndcg[10]`` (every K
    of one metric), ``res.per_user["ndcg@10"]`` (n_users,), ``res.metrics`` (name -> Metric),
    ``res.n_users``, ``res.n_skipped``, ``res.ks``, ``res.message``, ``res.evaluated`` (U,) bool;
    code that ranks (``llmrec_ref.evaluation``) adds fields such as ``users`` or ``protocol``."""

    def __init__(self, metrics: dict[str, Metric], per_user: dict[str, torch.Tensor], **fields) -> None:
        self.metrics, self.per_user = metrics, per_user
        self.__dict__.update(fields)

    def __getitem__(self, name: str) -> Metric:
        if name not in self.metrics:
            raise KeyError(f"no metric {name!r} in this result; it has {sorted(self.metrics)}")
        return self.metrics[name]

    def __contains__(self, name: str) -> bool:
        return name in self.metrics

    def __getattr__(self, family: str):
        """``res.ndcg`` -> {10: Metric, 20: Metric}; ``res.auc`` -> Metric."""
        metrics = self.__dict__.get("metrics", {})
        if family in metrics:
            return metrics[family]
        found = {int(k.split("@")[1]): m for k, m in metrics.items() if k.split("@")[0] == family}
        if not found:
            raise AttributeError(f"Result has no field or metric {family!r}; metrics: {sorted(metrics)}")
        return found

    def means(self) -> dict[str, float]:
        """{"ndcg@10": mean, ...}: the flat view, e.g. for a table row."""
        return {name: m.mean for name, m in self.metrics.items()}

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={m}" for name, m in list(self.metrics.items())[:4])
        return f"Result(n_users={self.__dict__.get('n_users')}, {shown}{', ...' if len(self.metrics) > 4 else ''})"


class Ranked(NamedTuple):
    """What ranking a block of users leaves for the summary: ``per_user`` metrics (one value
    per *evaluated* user, i.e. with held-out items), their top-K' ``items`` and ``valid``
    slots, the ``(U,)`` boolean ``evaluated`` mask over all U users of the block, and
    ``n_items`` (for coverage). Blocks of users concatenate (``concat_ranked``) before one
    ``summarise``, so users can be ranked a block at a time, or on several processes."""

    per_user: dict[str, torch.Tensor]
    items: torch.Tensor
    valid: torch.Tensor
    evaluated: torch.Tensor
    n_items: int


def rank_users(scores: torch.Tensor, truth, exclude=None, ks: Sequence[int] = (5, 10, 20),
               popularity: torch.Tensor | None = None, with_auc: bool = False) -> Ranked:
    """The per-user half of ``evaluate``: one ``topk_items`` call at ``max(ks)`` gives the hit
    matrix, each metric at K reads its first K columns. Users with an empty truth set are
    left out (``evaluated`` says which)."""
    scores = _check_scores(scores)
    truth = _check_mask(truth, tuple(scores.shape), "truth")
    exclude = None if exclude is None else _check_mask(exclude, tuple(scores.shape), "exclude")
    ks = _check_ks(ks)
    n_rel = torch.bincount(truth.nonzero()[:, 0], minlength=len(truth))  # (U,) = truth.sum(1), 4x faster
    evaluated = n_rel > 0                                             # (U,)
    if not bool(evaluated.all()):
        scores, truth, n_rel = scores[evaluated], truth[evaluated], n_rel[evaluated]
        exclude = None if exclude is None else exclude[evaluated]
    items, valid = topk_items(scores, max(ks), exclude)               # (U, K') one top-K for all
    hits = (truth.gather(1, items) & valid).float()                   # (U, K')
    per_user = {}
    for k in ks:
        for name, v in _from_hits(hits, n_rel.float(), k).items():
            per_user[f"{name}@{k}"] = v
    if with_auc:
        per_user["auc"] = auc(scores, truth, exclude)
    if popularity is not None:
        info = -torch.log2(_check_popularity(popularity, scores.shape[1]))[items] * valid  # (U, K')
        for k in ks:
            per_user[f"novelty@{k}"] = (info[:, :k].sum(1) / valid[:, :k].sum(1).clamp(min=1)).float()
    return Ranked(per_user, items, valid, evaluated, scores.shape[1])


def concat_ranked(parts: Sequence[Ranked]) -> Ranked:
    """One ``Ranked`` from blocks of users, in the order given (the users' order)."""
    if not parts:
        raise ValueError("concat_ranked needs at least one block of ranked users")
    full = [p for p in parts if p.per_user]  # a block without held-out items has no per-user rows
    names = list(full[0].per_user) if full else []
    return Ranked({n: torch.cat([p.per_user[n] for p in full]) for n in names},
                  torch.cat([p.items for p in parts]), torch.cat([p.valid for p in parts]),
                  torch.cat([p.evaluated for p in parts]), parts[0].n_items)


def summarise(ranked: Ranked, ks: Sequence[int] = (5, 10, 20), n_boot: int = 1000, seed: int = 0) -> Result:
    """The summary half of ``evaluate``: means over users, bootstrap intervals, coverage."""
    ks = _check_ks(ks)
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 0:
        raise ValueError(f"n_boot must be an int >= 0, got {n_boot!r}")
    evaluated = ranked.evaluated
    result = Result({}, {}, n_users=int(evaluated.sum()), n_skipped=int((~evaluated).sum()), ks=ks,
                    n_boot=n_boot, seed=seed, message=None, evaluated=evaluated)
    if result.n_users == 0:
        result.message = "no user has held-out items: nothing to evaluate (metrics are empty)"
        return result
    per_user, items, valid = ranked.per_user, ranked.items, ranked.valid
    # AUC is NaN for a user with no negative candidate: its mean and interval skip that user
    groups = [[n for n in per_user if n != "auc"]] + ([["auc"]] if "auc" in per_user else [])
    for names in groups:
        table = torch.stack([per_user[n] for n in names], dim=1)      # (U, M)
        table = table[~table.isnan().any(1)]
        if table.shape[0] == 0:
            continue
        means = table.double().mean(0)
        low, high = _bootstrap(table, n_boot, seed) if n_boot > 0 else (None, None)
        for j, name in enumerate(names):
            result.metrics[name] = Metric(means[j].item(), None if low is None else low[j].item(),
                                          None if high is None else high[j].item())
    for k in ks:
        kk = min(k, items.shape[1])
        result.metrics[f"coverage@{k}"] = Metric(items[:, :kk][valid[:, :kk]].unique().numel() / ranked.n_items)
    result.per_user = per_user
    return result


def evaluate(scores: torch.Tensor, truth, exclude=None, ks: Sequence[int] = (5, 10, 20),
             n_boot: int = 1000, seed: int = 0, popularity: torch.Tensor | None = None,
             with_auc: bool = False) -> Result:
    """Every ranking metric at every K in ``ks``, for all users at once, with bootstrap intervals.

    ``summarise(rank_users(...))``: one ``topk_items`` call at ``max(ks)`` gives the hit
    matrix; each metric at K reads its first K columns (formulas in the per-metric
    functions). Users with an empty truth set are skipped and counted. Returns a ``Result``:
    ``res["ndcg@10"]`` is ``Metric(mean, low, high)``, ``res.per_user["ndcg@10"]`` the
    (n_users,) values, plus ``n_users``, ``n_skipped``, ``ks``, ``n_boot``, ``seed``,
    ``message`` and ``evaluated`` ((U,) bool: the users with held-out items); metrics include
    ``coverage@K`` (catalogue-level, no interval), ``auc`` and, given ``popularity``,
    ``novelty@K``. ``low``/``high`` bound the 95% percentile bootstrap interval of the mean
    over users (``n_boot`` resamples, ``seed``); ``n_boot=0`` skips it. If no user has
    held-out items, ``metrics`` is empty and ``message`` says so.
    """
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 0:
        raise ValueError(f"n_boot must be an int >= 0, got {n_boot!r}")
    ranked = rank_users(scores, truth, exclude, ks, popularity, with_auc)
    return summarise(ranked, ks, n_boot, seed)
