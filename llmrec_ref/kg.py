"""TransE: knowledge-graph embeddings where a relation is a translation, h + r ~ t.

Derived in notebooks/08_knowledge_graph. A knowledge graph is a set of triples (h, r, t) of
integer codes (entity, relation, entity). TransE (Bordes et al., 2013) gives every entity and
every relation a vector in R^d and asks that h + r lies close to t:

    d(h, r, t) = || e_h + w_r - e_t ||_2                      (small for a true triple)

and learns them with the margin ranking loss over *corrupted* triples (h', r, t') (the head or
the tail replaced by a random entity), entity vectors kept on the unit sphere:

    L = mean_i max(0, gamma + d(h_i, r_i, t_i) - d(h'_i, r_i, t'_i))

Its gradient for an active pair (the hinge > 0) of a batch of B, with u = e_h + w_r - e_t and
u' = e_h' + w_r - e_t': each triple's entities get +-u/||u|| / B from the true triple and
-+u'/||u'|| / B from the corrupted one (dL/de_h = u/||u|| / B, dL/de_t = -u/||u|| / B, dL/dw_r
= (u/||u|| - u'/||u'||) / B; inactive pairs give 0; checked against autograd in the chapter).

The margin loss learns slowly: a pair whose hinge is inactive teaches nothing, and one random
corruption per triple is mostly too easy. ``self_adversarial_loss`` (Sun et al., 2019, the RotatE
paper) scores each true triple against k corruptions at once, as a logistic loss around a
distance threshold gamma, weighting the corruptions by how hard they are (p_j, held constant):

    L = mean_i [ -log s(gamma - d_i) - sum_j p_ij log s(d'_ij - gamma) ],
    p_ij = exp(alpha (gamma - d'_ij)) / sum_l exp(alpha (gamma - d'_il))        (s: the sigmoid)

``train_transe(loss="self_adversarial")`` draws the k candidates once per batch (shared by its
triples: one (B, k) distance matrix), keeps entity vectors unnormalised and decays Adam's rate.

Evaluation is link prediction with the *filtered* protocol: for a held-out (h, r, t), rank
the true tail t among all entities by score (other known true tails (h, r, t'') removed from
the ranking), and likewise the head; report MRR and Hits@K. ``degree_scores`` is the baseline
every embedding must beat: rank candidates by how often they are the tail (head) of r.

This file copies alone: it imports only numpy and torch.

Shapes: B batch, d dim, E entities, R relations, N triples.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import nn

__all__ = ["transe_distance", "margin_loss", "self_adversarial_loss", "typed_pools", "corrupt", "bernoulli_p_head", "split_triples", "TransE",
           "train_transe", "degree_scores", "filtered_ranks", "link_prediction"]


def _check_triples(triples, n_entities: int | None = None, n_relations: int | None = None) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(triples) if not isinstance(triples, torch.Tensor) else triples)
    if t.dim() != 2 or t.shape[1] != 3 or t.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"triples must be an (N, 3) integer array of (head, relation, tail) codes, got "
                         f"{t.dtype} {tuple(t.shape)}")
    t = t.long()
    if len(t) and (t.min() < 0 or (n_entities is not None and max(t[:, 0].max(), t[:, 2].max()) >= n_entities)
                   or (n_relations is not None and t[:, 1].max() >= n_relations)):
        raise ValueError(f"triple codes must lie in 0..n_entities-1 ({n_entities}) for heads and tails and in "
                         f"0..n_relations-1 ({n_relations}) for relations")
    return t


def transe_distance(h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """d = ||h + r - t||_2 over the last axis: (..., d) x3 -> (...)."""
    return (h + r - t).norm(dim=-1)


def margin_loss(d_pos: torch.Tensor, d_neg: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    """mean(max(0, margin + d_pos - d_neg)): a true triple must be ``margin`` closer than its corruption."""
    if d_pos.shape != d_neg.shape:
        raise ValueError(f"d_pos and d_neg must have one shape, got {tuple(d_pos.shape)} and {tuple(d_neg.shape)}")
    return torch.relu(margin + d_pos - d_neg).mean()


def self_adversarial_loss(d_pos: torch.Tensor, d_neg: torch.Tensor, gamma: float = 6.0,
                          alpha: float = 1.0) -> torch.Tensor:
    """(B,), (B, k) -> scalar: mean_i [-log s(gamma - d_i) - sum_j p_ij log s(d'_ij - gamma)], s the sigmoid.

    A true triple is pushed inside distance gamma and each of its k corruptions outside, the
    corruptions weighted by p_i = softmax_j(alpha (gamma - d'_ij)), *held constant* (no gradient
    through p): the closer, harder corruptions count most; alpha = 0 weighs them all 1/k. Gradient:
    dL/dd_i = s(d_i - gamma) / B, dL/dd'_ij = -p_ij s(gamma - d'_ij) / B (Sun et al., 2019)."""
    if d_pos.dim() != 1 or d_neg.dim() != 2 or len(d_neg) != len(d_pos):
        raise ValueError(f"d_neg must be (B, k) for d_pos of shape (B,), got {tuple(d_pos.shape)} and "
                         f"{tuple(d_neg.shape)}")
    if not gamma > 0 or not alpha >= 0:
        raise ValueError(f"gamma must be > 0 and alpha >= 0, got {gamma!r} and {alpha!r}")
    p = torch.softmax(alpha * (gamma - d_neg), dim=1).detach()                        # (B, k)
    return (-nn.functional.logsigmoid(gamma - d_pos)
            - (p * nn.functional.logsigmoid(d_neg - gamma)).sum(1)).mean()


def typed_pools(triples) -> dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """For "head" and "tail": (pool, start, size), the entities seen in that position of each relation r
    stored as ``pool[start[r]:start[r] + size[r]]`` (what ``corrupt(typed=...)`` draws from)."""
    t = _check_triples(triples)
    out = {}
    for side, col in (("head", 0), ("tail", 2)):
        pairs = torch.unique(t[:, [1, col]], dim=0)                                 # (P, 2) sorted by relation
        size = torch.bincount(pairs[:, 0], minlength=int(t[:, 1].max()) + 1)        # (R,)
        out[side] = (pairs[:, 1], torch.cumsum(size, 0) - size, size)
    return out


def corrupt(triples: torch.Tensor, n_entities: int, generator: torch.Generator | None = None,
            p_head: torch.Tensor | float = 0.5, typed: dict | None = None) -> torch.Tensor:
    """(B, 3) -> (B, 3): each triple with its head (probability ``p_head``, a float or one per
    relation (R,)) or else its tail replaced by an entity drawn uniformly from 0..n_entities-1, or,
    with ``typed=typed_pools(train)``, from the entities seen in that position of the same relation
    (an actor for an actor: harder negatives than a random entity, which is mostly an actor)."""
    triples = _check_triples(triples)
    p = torch.as_tensor(p_head, dtype=torch.float)
    p = p[triples[:, 1]] if p.dim() else p.expand(len(triples))                     # (B,)
    head = torch.rand(len(triples), generator=generator) < p                        # (B,)
    if typed is None:
        random = torch.randint(n_entities, (len(triples),), generator=generator)    # (B,)
    else:
        u = torch.rand(len(triples), generator=generator)                           # (B,)
        random = torch.empty(len(triples), dtype=torch.long)
        for side, rows in (("head", head), ("tail", ~head)):
            pool, start, size = typed[side]
            r = triples[rows, 1]
            random[rows] = pool[start[r] + (u[rows] * size[r]).long().clamp(max=size[r] - 1)]
    out = triples.clone()
    out[:, 0] = torch.where(head, random, triples[:, 0])
    out[:, 2] = torch.where(head, triples[:, 2], random)
    return out


def bernoulli_p_head(triples, n_relations: int) -> torch.Tensor:
    """(R,) the probability of corrupting the head of relation r, tph / (tph + hpt) (tails per head,
    heads per tail; Wang et al., 2014): a film's many actors are rarely turned into another of its actors."""
    t = _check_triples(triples, n_relations=n_relations)
    tph, hpt = torch.zeros(n_relations), torch.zeros(n_relations)
    for r in t[:, 1].unique():
        rows = t[t[:, 1] == r]
        tph[r] = len(rows) / len(rows[:, 0].unique())
        hpt[r] = len(rows) / len(rows[:, 2].unique())
    return tph / (tph + hpt).clamp(min=1e-12)


def split_triples(triples, frac: float = 0.05, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, valid, test) triples. Every triple between the same two entities (a fact and its
    inverse, e.g. directed_by / director.film) goes to the same part, so a held-out fact cannot be
    read off its inverse; held-out triples whose head or tail never occurs in training are dropped
    (no embedding can rank an entity it never saw). ``frac`` of the entity pairs go to each of
    valid and test, drawn with ``numpy.random.default_rng(seed)``."""
    t = _check_triples(triples).numpy()
    if not 0 < frac < 0.5:
        raise ValueError(f"frac must lie in (0, 0.5) (the share of entity pairs held out for each of valid and "
                         f"test), got {frac!r}")
    pair = np.minimum(t[:, 0], t[:, 2]) * (int(t[:, [0, 2]].max()) + 1) + np.maximum(t[:, 0], t[:, 2])  # (N,)
    pairs, inverse = np.unique(pair, return_inverse=True)
    part = np.random.default_rng(seed).random(len(pairs))[inverse]                 # (N,) one draw per pair
    train, valid, test = t[part >= 2 * frac], t[part < frac], t[(part >= frac) & (part < 2 * frac)]
    seen = np.zeros(int(t[:, [0, 2]].max()) + 1, dtype=bool)
    seen[train[:, 0]] = seen[train[:, 2]] = True
    return train, valid[seen[valid[:, 0]] & seen[valid[:, 2]]], test[seen[test[:, 0]] & seen[test[:, 2]]]


class TransE(nn.Module):
    """Entity vectors E (E, d) and relation vectors W (R, d); ``forward`` gives d(h, r, t).

    Initialised as in the paper: uniform in [-6/sqrt(d), 6/sqrt(d)], relation vectors then
    normalised once, entity vectors normalised before every training step (``normalise_``);
    ``unit_norm=False`` keeps the uniform draw as it is (the self-adversarial loss trains the
    vectors unnormalised).

    Shape:
        - triples: (B, 3) int64 (head, relation, tail)
        - output: (B,) distances ||e_h + w_r - e_t||
    """

    def __init__(self, n_entities: int, n_relations: int, dim: int = 64, seed: int = 0, unit_norm: bool = True) -> None:
        super().__init__()
        if min(n_entities, n_relations, dim) < 1:
            raise ValueError(f"n_entities, n_relations and dim must be >= 1, got {n_entities}, {n_relations}, {dim}")
        gen = torch.Generator().manual_seed(seed)
        bound = 6 / dim ** 0.5
        # sparse=True: a step's gradient touches only the batch's rows (SparseAdam updates those alone),
        # ten times faster than a dense (E, d) gradient on a graph of 34,628 entities
        self.entity_emb = nn.Embedding(n_entities, dim, sparse=True)                # (E, d)
        self.relation_emb = nn.Embedding(n_relations, dim, sparse=True)             # (R, d)
        with torch.no_grad():
            self.entity_emb.weight.copy_((torch.rand(n_entities, dim, generator=gen) * 2 - 1) * bound)
            relation = (torch.rand(n_relations, dim, generator=gen) * 2 - 1) * bound
            self.relation_emb.weight.copy_(relation / relation.norm(dim=1, keepdim=True) if unit_norm else relation)
        if unit_norm:
            self.normalise_()

    @property
    def entity(self) -> torch.Tensor:
        """(E, d) entity vectors."""
        return self.entity_emb.weight

    @property
    def relation(self) -> torch.Tensor:
        """(R, d) relation vectors."""
        return self.relation_emb.weight

    @torch.no_grad()
    def normalise_(self) -> None:
        """Put every entity vector back on the unit sphere (else the loss shrinks by inflating norms)."""
        self.entity.div_(self.entity.norm(dim=1, keepdim=True).clamp(min=1e-12))

    def forward(self, triples: torch.Tensor) -> torch.Tensor:
        return transe_distance(self.entity_emb(triples[:, 0]), self.relation_emb(triples[:, 1]),
                               self.entity_emb(triples[:, 2]))

    def corrupted(self, triples: torch.Tensor, candidates: torch.Tensor, head: torch.Tensor) -> torch.Tensor:
        """(B, 3), (k,), (B,) bool -> (B, k) distances of each triple with its tail (its head where
        ``head``) replaced by each candidate c: ||e_h + w_r - e_c||, or ||e_c + w_r - e_t|| = ||e_c - (e_t - w_r)||."""
        rows = self.entity_emb(torch.cat([triples[:, 0], triples[:, 2], candidates]))  # (2B + k, d): one sparse grad
        h, t, c = rows[:len(triples)], rows[len(triples):2 * len(triples)], rows[2 * len(triples):]
        r = self.relation_emb(triples[:, 1])                                        # (B, d)
        q = torch.where(head[:, None], t - r, h + r)                                # (B, d)
        return torch.cdist(q, c)                                                    # (B, k)

    @torch.no_grad()
    def scores(self, anchors: torch.Tensor, relations: torch.Tensor, side: str = "tail") -> torch.Tensor:
        """(B,), (B,) -> (B, E) scores -d of every entity as the tail of (anchor, r, ?) (``side="tail"``)
        or as the head of (?, r, anchor) (``"head"``). ||q - e||^2 = ||q||^2 + ||e||^2 - 2 q.e."""
        r = self.relation[relations]                                                # (B, d)
        q = self.entity[anchors] + r if side == "tail" else self.entity[anchors] - r  # tail ~ h + r; head ~ t - r
        sq = (q * q).sum(1, keepdim=True) + (self.entity * self.entity).sum(1) - 2 * q @ self.entity.T  # (B, E)
        return -sq.clamp(min=0).sqrt()


def train_transe(triples, n_entities: int, n_relations: int, dim: int = 64, margin: float | None = None,
                 epochs: int = 50, batch_size: int = 2048, lr: float = 0.01, bernoulli: bool = True,
                 typed: bool = True, seed: int = 0, log_every: int = 0, loss: str = "margin", negatives: int = 128,
                 alpha: float = 1.0, lr_decay: str = "none") -> tuple[TransE, list[dict]]:
    """Train ``TransE`` with (sparse) Adam on ``loss``: "margin" or "self_adversarial".

    "margin" (``margin_loss``, gamma = ``margin``, default 1.0): one corrupted triple per true one,
    entity vectors back on the unit sphere before each step. ``typed``: draw the replacement among
    the entities seen in that position of the same relation (``typed_pools``), not among all entities.

    "self_adversarial" (``self_adversarial_loss``, gamma = ``margin``, default 6.0, and ``alpha``):
    ``negatives`` candidate entities drawn uniformly once per batch replace the head or the tail of
    every triple of the batch ((B, negatives) corruptions, ``TransE.corrupted``); vectors are not
    normalised (``typed`` is not used: the weights p already single out the hard corruptions).

    ``bernoulli`` (both): corrupt the head of relation r with probability tph / (tph + hpt) (tails
    per head, heads per tail; Wang et al., 2014), so a film's many actors are not corrupted into
    another of its actors. ``lr_decay="cosine"``: step s of S uses lr (1 + cos(pi s / S)) / 2.
    Returns the model and a log (epoch, mean loss) every ``log_every`` epochs (0: only the last).
    Same seed, same machine: same vectors.
    """
    t = _check_triples(triples, n_entities, n_relations)
    if loss not in ("margin", "self_adversarial"):
        raise ValueError(f"loss must be 'margin' or 'self_adversarial', got {loss!r}")
    if lr_decay not in ("none", "cosine"):
        raise ValueError(f"lr_decay must be 'none' or 'cosine', got {lr_decay!r}")
    if negatives < 1:
        raise ValueError(f"negatives must be >= 1 (corruptions per batch for the self-adversarial loss), got {negatives}")
    if not alpha >= 0:
        raise ValueError(f"alpha must be >= 0 (0: every corruption weighs the same), got {alpha!r}")
    adversarial = loss == "self_adversarial"
    margin = (6.0 if adversarial else 1.0) if margin is None else margin
    if min(epochs, batch_size) < 1 or not lr > 0 or not margin > 0:
        raise ValueError(f"epochs and batch_size must be >= 1, lr and margin > 0; got {epochs}, {batch_size}, "
                         f"{lr}, {margin}")
    model = TransE(n_entities, n_relations, dim, seed, unit_norm=not adversarial)
    p_head = bernoulli_p_head(t, n_relations) if bernoulli else torch.full((n_relations,), 0.5)
    pools = typed_pools(t) if typed and not adversarial else None
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.SparseAdam(list(model.parameters()), lr=lr)
    steps, step = epochs * -(-len(t) // batch_size), 0
    log = []
    for epoch in range(1, epochs + 1):
        total = 0.0
        for idx in torch.randperm(len(t), generator=gen).split(batch_size):
            if lr_decay == "cosine":
                opt.param_groups[0]["lr"] = lr * (1 + np.cos(np.pi * step / steps)) / 2
            step += 1
            pos = t[idx]                                                            # (B, 3)
            if adversarial:
                head = torch.rand(len(idx), generator=gen) < p_head[pos[:, 1]]      # (B,)
                candidates = torch.randint(n_entities, (negatives,), generator=gen)  # (k,)
                batch_loss = self_adversarial_loss(model(pos), model.corrupted(pos, candidates, head), margin, alpha)
            else:
                neg = corrupt(pos, n_entities, gen, p_head, pools)                  # (B, 3)
                model.normalise_()
                batch_loss = margin_loss(model(pos), model(neg), margin)
            opt.zero_grad()
            batch_loss.backward()
            opt.step()
            total += batch_loss.item() * len(idx)
        if epoch == epochs or (log_every and epoch % log_every == 0):
            log.append({"epoch": epoch, "loss": total / len(t)})
    if not adversarial:
        model.normalise_()
    return model, log


def degree_scores(train, n_entities: int, n_relations: int) -> Callable[[torch.Tensor, torch.Tensor, str], torch.Tensor]:
    """The baseline: a candidate tail of relation r scores how often it is a tail of r in ``train``
    (a head: how often it is a head of r), whatever the anchor. Returns a ``scores(anchors,
    relations, side)`` function with ``TransE.scores``' signature."""
    t = _check_triples(train, n_entities, n_relations)
    as_tail = torch.zeros(n_relations, n_entities).index_put_((t[:, 1], t[:, 2]), torch.ones(len(t)), accumulate=True)
    as_head = torch.zeros(n_relations, n_entities).index_put_((t[:, 1], t[:, 0]), torch.ones(len(t)), accumulate=True)

    def scores(anchors: torch.Tensor, relations: torch.Tensor, side: str = "tail") -> torch.Tensor:
        return (as_tail if side == "tail" else as_head)[relations].clone()         # (B, E)

    return scores


def filtered_ranks(scores: torch.Tensor, target: torch.Tensor, known: torch.Tensor | None = None) -> torch.Tensor:
    """(B, E) scores, (B,) true column, (B, E) bool mask of the known true answers (the target may be
    among them: it is never masked out of its own ranking) -> (B,) ranks.

    rank = 1 + #(candidates scored above the target) + #(ties) / 2, other true answers left out
    (the filtered protocol; ties split evenly, so a constant scorer is not rewarded)."""
    own = scores.gather(1, target[:, None])                                         # (B, 1)
    s = scores.masked_fill(known, float("-inf")) if known is not None else scores.clone()
    s.scatter_(1, target[:, None], float("-inf"))                                  # the target is not its rival
    return 1 + (s > own).sum(1).double() + (s == own).sum(1).double() / 2


def link_prediction(scores: Callable, test, known, ks=(1, 10), batch_size: int = 512) -> dict[str, float]:
    """Filtered MRR and Hits@K of ``scores(anchors, relations, side)`` on ``test`` triples, tails and
    heads both predicted (2 len(test) queries); ``known``: every true triple (train + valid + test),
    removed from each query's ranking except its own answer."""
    test_t, known_t = _check_triples(test), _check_triples(known)
    if len(test_t) == 0:
        raise ValueError("test holds no triple to rank")
    n_entities = int(known_t[:, [0, 2]].max()) + 1
    key = lambda a, r: a * (int(known_t[:, 1].max()) + 1) + r  # noqa: E731 - one (anchor, relation) number
    ranks = []
    for side, anchor_col, answer_col in (("tail", 0, 2), ("head", 2, 0)):
        # for each (anchor, r): the sorted list of its true answers
        k_known = key(known_t[:, anchor_col], known_t[:, 1])
        order = torch.argsort(k_known)
        k_sorted, answers = k_known[order], known_t[order, answer_col]
        for batch in test_t.split(batch_size):
            s = scores(batch[:, anchor_col], batch[:, 1], side)                    # (B, E)
            if s.shape[1] < n_entities:
                raise ValueError(f"scores gave {s.shape[1]} columns for {n_entities} entities")
            k = key(batch[:, anchor_col], batch[:, 1])
            lo, hi = torch.searchsorted(k_sorted, k), torch.searchsorted(k_sorted, k, right=True)
            counts = hi - lo
            rows = torch.repeat_interleave(torch.arange(len(batch)), counts)
            cols = answers[torch.cat([torch.arange(a, b) for a, b in zip(lo.tolist(), hi.tolist(), strict=True)])]
            known_mask = torch.zeros_like(s, dtype=torch.bool)
            known_mask[rows, cols] = True
            ranks.append(filtered_ranks(s, batch[:, answer_col], known_mask))
    r = torch.cat(ranks)
    return {"mrr": (1 / r).mean().item(), **{f"hits@{k}": (r <= k).double().mean().item() for k in ks},
            "queries": len(r)}
