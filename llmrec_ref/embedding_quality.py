"""What item vectors learned, measured through their 10 nearest neighbours.

Derived in notebooks/02_word_embeddings (section 4.2); ``python -m llmrec_ref bench embeddings``
reports both measures, and its ``--sweep`` chose ``embeddings.ITEM2VEC_DEFAULTS`` with them.

- **genre share@k**: over query items (the chapter: films with at least 20 ratings), the mean
  share of their ``k`` cosine-nearest neighbours that share at least one genre with them;
  ``random_genre_share`` is what a random neighbour would give.
- **sequel hit@k**: over the members of film series (``FRANCHISES``: 61 films of 22 series in
  MovieLens-100k), the share whose ``k`` nearest neighbours include another film of the series.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from gensim.models import KeyedVectors

__all__ = ["FRANCHISES", "SEQUELS", "STAR_WARS", "genre_share", "random_genre_share", "sequel_hits", "top_k"]

# Film series in MovieLens-100k (item ids checked against the titles in u.item).
FRANCHISES: dict[str, tuple[int, ...]] = {
    "Star Wars": (50, 172, 181),
    "Godfather": (127, 187),
    "Indiana Jones": (174, 210),
    "Alien": (183, 176, 665, 343),
    "Terminator": (195, 96),
    "Die Hard": (144, 226, 550),
    "Batman": (403, 231, 29, 254),
    "Star Trek": (449, 228, 229, 230, 450, 227, 380, 222),
    "Three Colors": (60, 61, 59),
    "Wallace & Gromit": (189, 169, 408, 114),
    "Jaws": (234, 452, 453),
    "Free Willy": (78, 35, 457),
    "Jurassic Park": (82, 252),
    "Ace Ventura": (67, 364),
    "Home Alone": (94, 894),
    "Speed": (568, 1089),
    "Under Siege": (233, 1228),
    "Homeward Bound": (140, 1033),
    "Young Guns": (232, 1188),
    "Highlander": (431, 1419),
    "Evil Dead": (201, 184),
    "The Crow": (68, 743),
}
STAR_WARS, SEQUELS = 50, (172, 181)


def top_k(kv: KeyedVectors, keys: Sequence, k: int = 10) -> dict:
    """Each key's ``k`` cosine-nearest other keys, best first (ties: the lower row first).

    s_ij = cos(v_i, v_j) over the rows of ``kv`` (the key itself excluded) -> {key: [key, ...]}.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    unknown = [key for key in keys if key not in kv.key_to_index]
    if unknown:
        raise ValueError(f"{len(unknown)} key(s) have no vector, e.g. {unknown[0]!r}: query only keys of kv")
    vectors = kv.get_normed_vectors()  # (n, d)
    rows = np.array([kv.key_to_index[key] for key in keys], dtype=np.int64)  # (q,)
    sims = vectors[rows] @ vectors.T  # (q, n)
    sims[np.arange(len(rows)), rows] = -np.inf
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]  # (q, k)
    return {key: [kv.index_to_key[j] for j in row] for key, row in zip(keys, order, strict=True)}


def genre_share(kv: KeyedVectors, genres: Mapping[int, set], queries: Sequence[int], k: int = 10) -> float:
    """Mean over ``queries`` (those with a vector) of the share of their top-``k`` neighbours
    sharing a genre with them: mean_q |{n in top_k(q) : genres(q) & genres(n)}| / k."""
    queries = [q for q in queries if q in kv.key_to_index]
    if not queries:
        raise ValueError("none of the queries has a vector in kv: pass item ids that item2vec has seen")
    neighbours = top_k(kv, queries, k)
    return float(np.mean([np.mean([bool(genres[q] & genres[n]) for n in neighbours[q]]) for q in queries]))


def random_genre_share(genres: Mapping[int, set], queries: Sequence[int]) -> float:
    """The genre share a random neighbour (another query item, uniformly) would give."""
    if len(queries) < 2:
        raise ValueError(f"need at least 2 queries (a query's neighbour is another query), got {len(queries)}")
    share = [np.mean([bool(genres[q] & genres[o]) for o in queries if o != q]) for q in queries]
    return float(np.mean(share))


def sequel_hits(kv: KeyedVectors, franchises: Mapping[str, Sequence[int]] = FRANCHISES, k: int = 10) -> float:
    """Share of series members (those with a vector) whose top-``k`` neighbours contain another
    film of the same series."""
    members = [(m, films) for films in franchises.values() for m in films if m in kv.key_to_index]
    if not members:
        raise ValueError("no film of the series has a vector in kv: train on the data set the series ids refer to")
    neighbours = top_k(kv, [m for m, _ in members], k)
    return float(np.mean([any(o in neighbours[m] for o in films if o != m) for m, films in members]))
