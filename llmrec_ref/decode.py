"""Decoding: turn a model's scores into a recommendation list.

Derived in notebooks/05_loss_derivation. Standalone: imports only the standard library,
numpy and torch, so the file can be copied into another project.

- ``top_k``: the K best items per user, already-seen items masked (what evaluation uses);
- ``sample``: K distinct items drawn from softmax(scores / temperature) (diverse lists);
- ``greedy_sequence`` / ``beam_sequence``: autoregressive lists, as a language model writes
  a sentence: each chosen item is appended to the history, the model scores again, and
  chosen items are masked so the list never repeats.

Conventions: ``scores`` is a float (B, n) tensor, higher = better (column 0 may be the
padding item: give it -inf or put it in ``exclude``). ``exclude`` is a bool (B, n) mask
(True = never recommend) or one list of item ids per row. A ``model`` for the sequence
decoders is any callable mapping a (B, T) int64 history (left padded with 0) to (B, n)
next-item scores, or to (B, T, n) scores of every position (the last one is used).
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch

__all__ = ["top_k", "sample", "greedy_sequence", "beam_sequence"]

NEG_INF = float("-inf")


def _check_scores(scores: torch.Tensor) -> torch.Tensor:
    scores = torch.as_tensor(scores)
    if scores.dim() != 2 or not scores.is_floating_point():
        raise ValueError(f"scores must be a 2-D float tensor (B, n_items), got {scores.dtype} {tuple(scores.shape)}")
    if torch.isnan(scores).any():
        raise ValueError("scores contain NaN; fix the model or replace NaN with -inf first")
    return scores


def _as_mask(exclude, shape: tuple[int, int], device: torch.device) -> torch.Tensor:
    """A bool (B, n) mask from a mask or from per-row lists of item ids."""
    if exclude is None:
        return torch.zeros(shape, dtype=torch.bool, device=device)
    if isinstance(exclude, (list, tuple)):
        if len(exclude) != shape[0]:
            raise ValueError(f"exclude has {len(exclude)} id lists but scores has {shape[0]} rows")
        mask = torch.zeros(shape, dtype=torch.bool, device=device)
        for row, ids in enumerate(exclude):
            ids = torch.as_tensor(list(ids), dtype=torch.long, device=device)
            if len(ids) and (ids.min() < 0 or ids.max() >= shape[1]):
                raise ValueError(f"exclude[{row}] holds ids outside 0..{shape[1] - 1}")
            mask[row, ids] = True
        return mask
    mask = torch.as_tensor(exclude, device=device)
    if tuple(mask.shape) != tuple(shape) or mask.dtype != torch.bool:
        raise ValueError(f"exclude must be a bool tensor of shape {tuple(shape)} or a list of id lists, "
                         f"got {mask.dtype} {tuple(mask.shape)}")
    return mask


def _check_k(k: int, available: torch.Tensor) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    if len(available) and int(available.min()) < k:
        raise ValueError(f"k={k} but a row has only {int(available.min())} items left after exclusion; "
                         "lower k or exclude fewer items")
    return k


def top_k(scores: torch.Tensor, k: int, exclude=None) -> torch.Tensor:
    """Indices (B, k) of the k highest scores per row, best first, skipping ``exclude``.

    Masked entries become -inf before a *stable* descending sort, so ties go to the lower
    index (as in ``llmrec_ref.metrics``) and an excluded item is never returned. Items with
    score -inf (e.g. padding) count as excluded.
    """
    scores = _check_scores(scores)
    mask = _as_mask(exclude, tuple(scores.shape), scores.device) | (scores == NEG_INF)
    _check_k(k, (~mask).sum(1))
    masked = scores.masked_fill(mask, NEG_INF)  # (B, n)
    return masked.sort(dim=1, descending=True, stable=True).indices[:, :k]  # (B, k)


def sample(scores: torch.Tensor, k: int, temperature: float = 1.0,
           generator: torch.Generator | None = None, exclude=None) -> torch.Tensor:
    """k distinct items (B, k) per row drawn without replacement from softmax(scores / temperature).

    p_i = exp(s_i / tau) / sum_j exp(s_j / tau) over the items not excluded. tau -> 0 tends to
    ``top_k`` (``temperature=0`` *is* top_k); tau = 1 samples the model's own distribution;
    large tau tends to uniform. Draws use ``generator`` (same seed, same list).
    """
    scores = _check_scores(scores)
    if not temperature >= 0:
        raise ValueError(f"temperature must be >= 0, got {temperature!r}")
    if temperature == 0:
        return top_k(scores, k, exclude)
    mask = _as_mask(exclude, tuple(scores.shape), scores.device) | (scores == NEG_INF)
    _check_k(k, (~mask).sum(1))
    logits = (scores.double() / temperature).masked_fill(mask, NEG_INF)  # (B, n)
    probs = (logits - logits.max(1, keepdim=True).values).exp()  # (B, n), 0 where masked
    return torch.multinomial(probs, k, replacement=False, generator=generator)  # (B, k)


def _next_scores(model: Callable, history: torch.Tensor) -> torch.Tensor:
    """Call ``model`` on a (B, T) history; keep the last position if it scored all of them."""
    out = model(history)
    if out.dim() == 3:
        out = out[:, -1]  # (B, n)
    if out.dim() != 2 or out.shape[0] != history.shape[0]:
        raise ValueError(f"model must return (B, n) or (B, T, n) scores for a (B, T) history, got {tuple(out.shape)}")
    if torch.isnan(out).any():
        raise ValueError(f"model returned NaN scores ({int(torch.isnan(out).sum())} of them) for a history of "
                         f"length {history.shape[1]}; fix the model (or give unwanted items -inf)")
    if int(history.max()) >= out.shape[1]:
        raise ValueError(f"history holds item id {int(history.max())} but the model scores only {out.shape[1]} "
                         f"items (ids 0..{out.shape[1] - 1}); pass ids the model knows")
    return out.float()


def _check_history(history: torch.Tensor, steps: int) -> torch.Tensor:
    history = torch.as_tensor(history)
    if history.dim() == 1:
        history = history[None]
    if history.dim() != 2 or history.dtype != torch.long:
        raise ValueError(f"history must be a (B, T) int64 tensor of item ids (0 = padding), got "
                         f"{history.dtype} {tuple(history.shape)}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if history.numel() and int(history.min()) < 0:
        raise ValueError(f"history holds item id {int(history.min())}: ids are >= 1, and 0 is padding")
    return history


def _seen(history: torch.Tensor, n: int, exclude_seen: bool) -> torch.Tensor:
    """Bool (B, n): padding (item 0) always, plus the history's items if ``exclude_seen``."""
    mask = torch.zeros(history.shape[0], n, dtype=torch.bool, device=history.device)
    if exclude_seen:
        mask.scatter_(1, history, True)  # ids were checked against n by _next_scores
    mask[:, 0] = True
    return mask


@torch.no_grad()
def greedy_sequence(model: Callable, history: torch.Tensor, steps: int, exclude_seen: bool = True,
                    exclude: Sequence | torch.Tensor | None = None) -> torch.Tensor:
    """Autoregressive greedy list (B, steps): i_t = argmax_i s(i | history, i_1..i_{t-1}).

    At each step the chosen item is appended to the history (so the model conditions on it)
    and masked, so the list has no repeats; item 0 (padding), items the model scores -inf and,
    with ``exclude_seen``, the history's items are never chosen (``ValueError`` when a row has
    nothing left, when the model returns NaN, or when ``history`` holds an id outside 0..n-1). Unlike one ``top_k`` call, later picks can react to
    earlier ones (e.g. not three phones in a row if the model learned that).
    """
    history = _check_history(history, steps)
    chosen = []
    mask = None
    for _ in range(steps):
        scores = _next_scores(model, history)  # (B, n)
        if mask is None:
            mask = _seen(history, scores.shape[1], exclude_seen) | _as_mask(exclude, tuple(scores.shape), scores.device)
        masked = scores.masked_fill(mask, NEG_INF)  # (B, n)
        if int((masked > NEG_INF).sum(1).min()) == 0:
            raise ValueError(f"no item left to choose at step {len(chosen) + 1}: every item is excluded, already "
                             "chosen or scored -inf by the model; lower steps or exclude fewer items")
        item = masked.argmax(1)  # (B,)
        mask[torch.arange(len(item)), item] = True
        chosen.append(item)
        history = torch.cat([history, item[:, None]], dim=1)  # (B, T + 1)
    return torch.stack(chosen, dim=1)  # (B, steps)


@torch.no_grad()
def beam_sequence(model: Callable, history: torch.Tensor, steps: int, beam_width: int = 4,
                  exclude_seen: bool = True, exclude: Sequence | torch.Tensor | None = None) -> torch.Tensor:
    """Autoregressive list (B, steps) by beam search over sum_t log p(i_t | history, i_<t).

    Keeps the ``beam_width`` best partial lists; each is extended by every allowed item
    (log_softmax of the masked scores), and the best ``beam_width`` of all extensions survive.
    Items already in a beam, padding and (with ``exclude_seen``) the history are masked, so
    no list repeats an item; items scored -inf are never chosen. ``beam_width=1`` is
    ``greedy_sequence``, and the same inputs raise the same ``ValueError``s. Returns the best list.
    """
    history = _check_history(history, steps)
    if isinstance(beam_width, bool) or not isinstance(beam_width, int) or beam_width < 1:
        raise ValueError(f"beam_width must be a positive int, got {beam_width!r}")
    B, W = history.shape[0], beam_width
    first = _next_scores(model, history)  # (B, n)
    n = first.shape[1]
    base = _seen(history, n, exclude_seen) | _as_mask(exclude, (B, n), first.device)  # (B, n)
    if int((~base).sum(1).min()) < steps:
        raise ValueError("fewer allowed items than steps: lower steps or exclude fewer items")
    beams = history.repeat_interleave(W, 0)  # (B*W, T)
    mask = base.repeat_interleave(W, 0)  # (B*W, n)
    total = torch.full((B, W), NEG_INF, device=first.device)
    total[:, 0] = 0.0  # one live beam at the start; the copies are dead until filled
    lists = torch.zeros(B * W, 0, dtype=torch.long, device=history.device)
    scores = first.repeat_interleave(W, 0)  # (B*W, n)
    for step in range(steps):
        logp = scores.masked_fill(mask, NEG_INF).log_softmax(1)  # (B*W, n)
        cand = (total.reshape(-1, 1) + logp).reshape(B, W * n)  # (B, W*n)
        cand = cand.masked_fill(torch.isnan(cand), NEG_INF)  # a beam with every item masked: no extension
        width = min(W, int(torch.isfinite(cand).sum(1).min()))
        if width == 0:
            raise ValueError(f"no item left to choose at step {step + 1}: every item is excluded, already chosen "
                             "or scored -inf by the model; lower steps or exclude fewer items")
        best = cand.topk(width, dim=1)  # (B, width)
        beam, item = best.indices // n, best.indices % n  # (B, width)
        rows = (torch.arange(B, device=beam.device)[:, None] * W + beam).reshape(-1)  # (B*width,)
        keep = torch.arange(B * W, device=beam.device).reshape(B, W)[:, :width].reshape(-1)
        new_lists = torch.cat([lists[rows], item.reshape(-1, 1)], 1)
        new_mask = mask[rows].clone()
        new_mask[torch.arange(len(rows)), item.reshape(-1)] = True
        new_beams = torch.cat([beams[rows], item.reshape(-1, 1)], 1)
        total = torch.full((B, W), NEG_INF, device=first.device)
        total[:, :width] = best.values
        lists = torch.zeros(B * W, step + 1, dtype=torch.long, device=history.device)
        mask, beams = base.repeat_interleave(W, 0).clone(), torch.zeros(B * W, new_beams.shape[1], dtype=torch.long,
                                                                         device=history.device)
        lists[keep], mask[keep], beams[keep] = new_lists, new_mask, new_beams
        if step + 1 < steps:
            scores = _next_scores(model, beams)  # (B*W, n)
    return lists.reshape(B, W, steps)[:, 0]  # (B, steps): topk sorted, beam 0 is the best
