"""Item vectors from a knowledge graph, so that any scorer of item vectors can use the graph.

Derived in notebooks/08_knowledge_graph. Two ways to turn what the graph says about a film
into a vector, both needing no interaction at all (so a film nobody has rated gets one):

- ``neighbour_vectors``: the film's one-hop neighbours (its director, actors, writers, genres,
  country, awards, a sequel ...) as a sparse bag, each neighbour weighted by its inverse
  document frequency idf(a) = log(n_films / df(a)) (a director shared by 3 films says more than
  "English language" shared by 1,300), rows L2-normalised. The cosine of two rows is then the
  idf-weighted overlap of their neighbourhoods: "shares a director and two actors".
- ``entity_vectors``: the film's entity vector from a knowledge-graph embedding (TransE,
  ``llmrec_ref.kg``), which also reflects two-hop structure.

Items without a linked entity get a zero row (a scorer then leaves them at its bias). The
vectors plug into ``ContextRec``'s item table (``item_repr="id+kg"``, ``set_item_vectors("kg", x)``),
and into ``coldstart.TextOnly`` (a profile of the user's history vectors, or
candidate-to-history attention) exactly as text vectors do; ``fuse`` concatenates blocks of
unit vectors so that cos(fused) = weighted mean of the blocks' cosines.

Shapes: V = n_items + 1 (row 0 = padding), A attributes, d embedding width.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch.nn import functional as F

__all__ = ["item_neighbours", "neighbour_vectors", "entity_vectors", "fuse", "link_agreement"]


def item_neighbours(triples: np.ndarray, item_entity: np.ndarray, relations: Sequence[int] | None = None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(item ids (M,), neighbour entity codes (M,), relation codes (M,)): one row per triple that
    touches a linked item, as head or as tail, the neighbour being the other end; ``relations``
    keeps only those relation codes (None = all)."""
    t = np.asarray(triples)
    if t.ndim != 2 or t.shape[1] != 3:
        raise ValueError(f"triples must be (N, 3) codes, got shape {t.shape}")
    item_entity = np.asarray(item_entity)
    owner = np.full(max(int(t[:, [0, 2]].max()), int(item_entity.max())) + 1, -1, dtype=np.int64)
    linked = np.flatnonzero(item_entity >= 0)
    owner[item_entity[linked]] = linked                                            # entity code -> item id
    if relations is not None:
        t = t[np.isin(t[:, 1], np.asarray(relations))]
    rows = []
    for a, b in ((0, 2), (2, 0)):
        hit = owner[t[:, a]] >= 0
        rows.append(np.stack([owner[t[hit, a]], t[hit, b], t[hit, 1]], 1))
    out = np.concatenate(rows)
    return out[:, 0], out[:, 1], out[:, 2]


def neighbour_vectors(triples: np.ndarray, item_entity: np.ndarray, relations: Sequence[int] | None = None,
                      min_items: int = 2, self_loops: bool = True) -> torch.Tensor:
    """(n_items + 1, A) idf-weighted, L2-normalised bags of each item's one-hop neighbours.

    Attributes are the neighbour entities shared by at least ``min_items`` items (one shared by a
    single item cannot make two items alike); ``self_loops`` adds each item's own entity, so a film
    and its sequel (each the other's neighbour) share two attributes. x_ia = idf(a) if a is a
    neighbour of i, idf(a) = log(n_linked / df(a)); rows normalised, unlinked items 0.
    """
    if min_items < 1:
        raise ValueError(f"min_items must be >= 1, got {min_items!r}")
    item_entity = np.asarray(item_entity)
    items, neigh, _ = item_neighbours(triples, item_entity, relations)
    if self_loops:
        linked = np.flatnonzero(item_entity >= 0)
        items, neigh = np.concatenate([items, linked]), np.concatenate([neigh, item_entity[linked]])
    pairs = np.unique(np.stack([neigh, items], 1), axis=0)                          # distinct (attribute, item)
    attrs, df = np.unique(pairs[:, 0], return_counts=True)
    keep = attrs[df >= min_items]
    pairs = pairs[np.isin(pairs[:, 0], keep)]
    col = np.searchsorted(keep, pairs[:, 0])
    n_linked = max(1, int((item_entity >= 0).sum()))
    idf = np.log(n_linked / df[df >= min_items])                                    # (A,)
    X = torch.zeros(len(item_entity), len(keep))                                    # (V, A)
    X[torch.as_tensor(pairs[:, 1]), torch.as_tensor(col)] = torch.as_tensor(idf[col], dtype=torch.float32)
    X = F.normalize(X, dim=1)
    X[0] = 0.0
    return X


def entity_vectors(entity: torch.Tensor, item_entity: np.ndarray) -> torch.Tensor:
    """(E, d) entity vectors (e.g. ``kg.TransE``'s ``entity``) + the item -> entity link
    ``item_entity`` ((n_items + 1,) entity codes, -1 = not linked, as ``KnowledgeGraph.item_entity``)
    -> the (n_items + 1, d) item matrix x_i = entity[item_entity[i]]. Unlinked items and row 0
    (padding) get a zero row: in ``ContextRec.set_item_vectors("kg", x)`` such an item gets
    nothing from the graph (P_kg 0 = 0) and keeps its ID vector, if any."""
    entity = torch.as_tensor(entity)
    link = np.asarray(item_entity)
    if link.ndim != 1 or not np.issubdtype(link.dtype, np.integer) or (link < -1).any():
        raise ValueError("item_entity must be a 1-D integer array of entity codes (-1 = not linked), got "
                         f"dtype {link.dtype}, shape {link.shape}")
    item_entity = torch.as_tensor(link, dtype=torch.long)
    if entity.dim() != 2 or (len(link) and int(item_entity.max()) >= len(entity)):
        raise ValueError(f"entity must be (E, d) with a row for every linked entity, got {tuple(entity.shape)}")
    if not torch.isfinite(entity).all():
        raise ValueError("entity vectors must be finite (a TransE run that diverged?)")
    out = entity.detach().float()[item_entity.clamp(min=0)].clone()                # (V, d)
    out[item_entity < 0] = 0.0
    out[0] = 0.0
    return out


def fuse(blocks: Sequence[torch.Tensor], weights: Sequence[float] | None = None) -> torch.Tensor:
    """Concatenate row-normalised blocks scaled by sqrt(w_k / sum w): for two items with vectors in
    every block, cos(fused_i, fused_j) = sum_k w_k cos_k(i, j) / sum_k w_k. (V, d_k) each -> (V, sum d_k)."""
    weights = [1.0] * len(blocks) if weights is None else list(weights)
    if not blocks or len(weights) != len(blocks) or min(weights) < 0 or sum(weights) <= 0:
        raise ValueError(f"need one non-negative weight per block (not all 0), got {len(blocks)} blocks and {weights}")
    if len({len(b) for b in blocks}) != 1:
        raise ValueError(f"every block needs one row per item, got {[len(b) for b in blocks]} rows")
    total = sum(weights)
    return torch.cat([F.normalize(b.float(), dim=1) * (w / total) ** 0.5 for b, w in zip(blocks, weights, strict=True)],
                     dim=1)


def link_agreement(triples: np.ndarray, item_entity: np.ndarray, relation: int, item_labels: Sequence[Sequence],
                   n_shuffles: int = 20, seed: int = 0) -> dict[str, float]:
    """Does the item -> entity link agree with what the catalogue itself says about the items?

    For every linked item i, every neighbour a of its entity through ``relation`` (e.g. the
    graph's genre entities) and every label l of the item in the catalogue (``item_labels[i]``,
    e.g. MovieLens' genres), count the pair (a, l); MI = sum p(a, l) log(p(a, l) / (p(a) p(l))) of
    that table, in nats. A correct link makes graph genres predict catalogue genres (MI well above
    0); a link that points at the wrong films gives the MI of a random link. Returns ``mi``, and
    ``shuffled_mean`` / ``shuffled_max`` of the MI over ``n_shuffles`` random permutations of the
    linked entities among the linked items (``numpy.random.default_rng(seed)``).
    """
    item_entity = np.asarray(item_entity)
    if len(item_labels) != len(item_entity):
        raise ValueError(f"item_labels needs one entry per row of item_entity ({len(item_entity)}), "
                         f"got {len(item_labels)}")
    label_names = sorted({lab for labels in item_labels for lab in labels})
    label_code = {lab: k for k, lab in enumerate(label_names)}
    L = np.zeros((len(item_entity), len(label_names)))                             # (V, labels) 0/1
    for i, labels in enumerate(item_labels):
        for lab in labels:
            L[i, label_code[lab]] = 1.0
    t = np.asarray(triples)
    t = t[t[:, 1] == relation]
    linked = np.flatnonzero(item_entity >= 0)

    def mi(link: np.ndarray) -> float:
        items, neigh, _ = item_neighbours(t, link)
        values, col = np.unique(neigh, return_inverse=True)
        A = np.zeros((len(link), len(values)))                                     # (V, graph values)
        np.add.at(A, (items, col), 1.0)
        C = A.T @ L                                                                # (graph values, labels) counts
        p = C / max(C.sum(), 1e-12)
        pa, pl = p.sum(1, keepdims=True), p.sum(0, keepdims=True)
        nz = p > 0
        return float((p[nz] * np.log(p[nz] / (pa @ pl)[nz])).sum())

    rng = np.random.default_rng(seed)
    shuffled = []
    for _ in range(n_shuffles):
        link = item_entity.copy()
        link[linked] = rng.permutation(item_entity[linked])
        shuffled.append(mi(link))
    return {"mi": mi(item_entity), "shuffled_mean": float(np.mean(shuffled)) if shuffled else float("nan"),
            "shuffled_max": float(np.max(shuffled)) if shuffled else float("nan")}
