"""Tests of llmrec_ref.embedding_quality: genre share@k and sequel hit@k on hand-made vectors."""

from __future__ import annotations

import numpy as np
import pytest
from gensim.models import KeyedVectors

from llmrec_ref.embedding_quality import (
    FRANCHISES,
    genre_share,
    random_genre_share,
    sequel_hits,
    top_k,
)


@pytest.fixture
def kv() -> KeyedVectors:
    """Items 1, 2 point one way, 3, 4 another (orthogonal), 5 between 3 and 4, 6 opposite 1."""
    vectors = {1: [1.0, 0.0, 0.0], 2: [0.9, 0.1, 0.0], 3: [0.0, 1.0, 0.0], 4: [0.0, 0.9, 0.3],
               5: [0.0, 0.7, 0.7], 6: [-1.0, 0.0, 0.1]}
    out = KeyedVectors(3)
    out.add_vectors(list(vectors), np.array(list(vectors.values()), dtype=np.float32))
    return out


def test_top_k_ranks_by_cosine_and_skips_the_query(kv):
    assert top_k(kv, [1, 3], k=2) == {1: [2, 3], 3: [4, 5]}  # 3, 4, 5 tie at 0 for 1: lower row first
    assert top_k(kv, [6], k=5)[6][-1] == 1  # the opposite vector comes last


def test_genre_share_counts_neighbours_that_share_a_genre(kv):
    genres = {1: {"a"}, 2: {"a"}, 3: {"b"}, 4: {"b", "c"}, 5: {"c"}, 6: {"a"}}
    # k=1: 1 -> 2 (a: yes), 3 -> 4 (b: yes), 5 -> 4 (c: yes), 6 -> 5 or 3 (no)
    assert genre_share(kv, genres, [1, 3, 5, 6], k=1) == pytest.approx(3 / 4)
    assert genre_share(kv, genres, [1, 99], k=1) == 1.0  # a query without a vector is left out
    # a random other query: 1 shares with {2, 6} of {2, 3, 4, 5, 6}, and so on
    expected = np.mean([2 / 5, 2 / 5, 1 / 5, 2 / 5, 1 / 5, 2 / 5])
    assert random_genre_share(genres, [1, 2, 3, 4, 5, 6]) == pytest.approx(expected)


def test_sequel_hits_is_the_share_of_members_with_a_sibling_among_their_neighbours(kv):
    series = {"ones": (1, 2), "threes": (3, 5), "lonely": (6, 99)}
    # k=1: 1 -> 2 hit, 2 -> 1 hit, 3 -> 4 miss, 5 -> 4 miss, 6 -> not 99 miss (99 has no vector)
    assert sequel_hits(kv, series, k=1) == pytest.approx(2 / 5)
    assert sequel_hits(kv, series, k=2) == pytest.approx(4 / 5)  # 3 -> [4, 5], 5 -> [4, 3]


def test_franchises_are_series_of_real_movielens_ids():
    films = [f for series in FRANCHISES.values() for f in series]
    assert len(FRANCHISES) == 22 and len(films) == 61 == len(set(films))
    assert all(1 <= f <= 1682 for f in films)


def test_bad_input_is_a_clear_error(kv):
    with pytest.raises(ValueError, match="k must be a positive int"):
        top_k(kv, [1], k=0)
    with pytest.raises(ValueError, match="have no vector"):
        top_k(kv, [1, 42], k=1)
    with pytest.raises(ValueError, match="none of the queries"):
        genre_share(kv, {}, [42])
    with pytest.raises(ValueError, match="no film of the series"):
        sequel_hits(kv, {"x": (41, 42)})
    with pytest.raises(ValueError, match="at least 2 queries"):
        random_genre_share({1: {"a"}}, [1])
