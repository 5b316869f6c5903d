"""Item vectors from a knowledge graph, checked on graphs small enough to work out by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from llmrec_ref.knowledge import (
    entity_vectors,
    fuse,
    item_neighbours,
    link_agreement,
    neighbour_vectors,
)

# entities: 0, 1, 2 = films of items 1, 2, 3; 3 = a director, 4 = an actor, 5 = a genre; relation 0
# directed_by, 1 actor, 2 genre, 3 director.film (the inverse of 0)
TRIPLES = np.array([[0, 0, 3], [1, 0, 3], [3, 3, 0], [0, 1, 4], [2, 1, 4], [0, 2, 5], [1, 2, 5], [2, 2, 5]])
ITEM_ENTITY = np.array([-1, 0, 1, 2, -1])  # item 4 is not linked


def test_item_neighbours_reads_both_directions():
    items, neigh, rel = item_neighbours(TRIPLES, ITEM_ENTITY)
    got = sorted(zip(items.tolist(), neigh.tolist(), rel.tolist(), strict=True))
    # item 1 (entity 0): director 3 twice (as head of 0 and as tail of 3), actor 4, genre 5
    assert [r for r in got if r[0] == 1] == [(1, 3, 0), (1, 3, 3), (1, 4, 1), (1, 5, 2)]
    items, neigh, _ = item_neighbours(TRIPLES, ITEM_ENTITY, relations=[1])
    assert sorted(zip(items.tolist(), neigh.tolist(), strict=True)) == [(1, 4), (3, 4)]


def test_neighbour_vectors_are_idf_weighted_cosines_of_shared_neighbours():
    X = neighbour_vectors(TRIPLES, ITEM_ENTITY, self_loops=False)  # attributes shared by >= 2 films: 3, 4, 5
    idf = np.log(3 / np.array([2, 2, 3]))  # director (films 1, 2), actor (films 1, 3), genre (all: idf 0)
    x1, x2 = np.array([idf[0], idf[1], idf[2]]), np.array([idf[0], 0, idf[2]])
    expected = x1 @ x2 / np.linalg.norm(x1) / np.linalg.norm(x2)
    assert X.shape == (5, 3)
    assert float(X[1] @ X[2]) == pytest.approx(expected, abs=1e-6)
    assert float(X[2] @ X[3]) == pytest.approx(0.0, abs=1e-7)  # share only the genre, whose idf is 0
    assert (X[0] == 0).all() and (X[4] == 0).all()  # padding and the unlinked item
    torch.testing.assert_close(X[1:4].norm(dim=1), torch.ones(3))
    with pytest.raises(ValueError, match="min_items"):
        neighbour_vectors(TRIPLES, ITEM_ENTITY, min_items=0)


def test_entity_vectors_and_fuse():
    E = torch.arange(12.0).reshape(6, 2)
    V = entity_vectors(E, ITEM_ENTITY)
    assert V.tolist() == [[0, 0], [0, 1], [2, 3], [4, 5], [0, 0]]
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(5, 3, generator=gen), torch.randn(5, 7, generator=gen)
    f = fuse([a, b], [1.0, 3.0])
    cos = lambda m: torch.nn.functional.normalize(m, dim=1) @ torch.nn.functional.normalize(m, dim=1).T  # noqa: E731
    torch.testing.assert_close(f @ f.T, 0.25 * cos(a) + 0.75 * cos(b))
    with pytest.raises(ValueError, match="one non-negative weight per block"):
        fuse([a, b], [1.0])
    with pytest.raises(ValueError, match="one row per item"):
        fuse([a, b[:3]])


def test_link_agreement_tells_a_right_link_from_a_scrambled_one():
    """200 films, 4 catalogue genres; the graph's genre entity of a film is its catalogue genre.
    The right link gives a high MI (log 4 = 1.39 nats at most); scrambling the link drops it to ~0."""
    rng = np.random.default_rng(0)
    genre = rng.integers(0, 4, 200)
    triples = np.stack([np.arange(200), np.zeros(200, int), 200 + genre], 1)
    labels = [[]] + [[f"g{k}"] for k in genre]
    right = np.concatenate([[-1], np.arange(200)])
    good = link_agreement(triples, right, 0, labels, n_shuffles=5)
    assert good["mi"] > 1.2 and good["shuffled_max"] < 0.1
    wrong = right.copy()
    wrong[1:] = rng.permutation(right[1:])
    assert link_agreement(triples, wrong, 0, labels, n_shuffles=5)["mi"] < 0.1
    with pytest.raises(ValueError, match="one entry per row of item_entity"):
        link_agreement(triples, right, 0, labels[:-1])
