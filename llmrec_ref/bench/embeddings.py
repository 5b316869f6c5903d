"""``python -m llmrec_ref bench embeddings [--sweep]``: word2vec and item2vec, speed and quality.

Derived in notebooks/02_word_embeddings. The default run times word2vec on gensim's Lee
corpus (300 news articles) and item2vec on all MovieLens-100k sequences with the chapter's
settings (target: under 10 s each), then reports the analogy accuracy on gensim's
``questions-words.txt`` and two measures of what the item vectors learned
(``llmrec_ref.embedding_quality``):

- **genre share@10**: over items with at least 20 ratings, the mean share of their 10
  nearest neighbours that share at least one genre with them (compared with the share
  a random neighbour would have);
- **sequel hit@10**: over the members of 22 film series in MovieLens (Star Wars,
  Godfather, Alien, Star Trek, ...), the share whose 10 nearest neighbours include
  another film of the same series.

``seconds`` is wall-clock time, ``cpu_seconds`` the process's CPU time (gensim's
reader and worker threads together), which is the number to compare on a busy machine.
``--sweep`` prints a different table instead: item2vec over window x sample x ns_exponent
x (all ratings / ratings >= 4), each setting scored with both measures (averaged over
``--seeds``); the package defaults (``embeddings.ITEM2VEC_DEFAULTS``) come from it.
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Mapping, Sequence

import numpy as np
from gensim.models import KeyedVectors

from llmrec_ref.bench import markdown_table, positive_int, timed
from llmrec_ref.embedding_quality import (
    FRANCHISES,
    SEQUELS,
    STAR_WARS,
    genre_share,
    random_genre_share,
    sequel_hits,
    top_k,
)
from llmrec_ref.embeddings import (
    ITEM2VEC_DEFAULTS,
    LEE_SETTINGS,
    item2vec,
    item_sequences,
    tokenize,
    train_word2vec,
)

__all__ = ["add_arguments", "run", "sweep"]


def _movielens(data_dir: str | None = None):
    from llmrec_ref.datasets import load_movielens_100k

    ml = load_movielens_100k(data_dir)
    genres = {int(i): set(g) - {"unknown"} for i, g in zip(ml.items["item_id"], ml.items["genres"], strict=True)}
    counts = ml.ratings["item_id"].value_counts()
    queries = sorted(int(i) for i in counts.index[counts >= 20])
    return ml, genres, queries


def _score(kv: KeyedVectors, genres: Mapping[int, set], queries: Sequence[int]) -> dict:
    star_wars = top_k(kv, [STAR_WARS], 10)[STAR_WARS] if STAR_WARS in kv.key_to_index else []
    return {
        "genre_share@10": round(genre_share(kv, genres, queries), 3),
        "sequel_hit@10": round(sequel_hits(kv), 3),
        "star_wars_sequels": sum(s in star_wars for s in SEQUELS),
    }


def sweep(
    windows: Sequence[int] = (5, 20, 50),
    samples: Sequence[float] = (1e-3, 1e-4),
    ns_exponents: Sequence[float] = (0.75, 0.0, -0.5),
    min_ratings: Sequence[float | None] = (None, 4.0),
    seeds: Sequence[int] = (0,),
    data_dir: str | None = None,
) -> list[dict]:
    """Train item2vec for every setting in the grid; one row per setting, measures averaged over seeds."""
    ml, genres, queries = _movielens(data_dir)
    rows = []
    for min_rating, window, sample, ns in itertools.product(min_ratings, windows, samples, ns_exponents):
        scores, seconds = [], []
        for seed in seeds:
            seqs = item_sequences(ml.ratings, min_rating=min_rating, seed=seed)
            cpu = time.process_time()
            kv = item2vec(seqs, window=window, sample=sample, ns_exponent=ns, seed=seed)
            seconds.append(time.process_time() - cpu)
            scores.append(_score(kv, genres, queries))
        row = {"ratings": "all" if min_rating is None else f">= {min_rating:g}", "window": window,
               "sample": f"{sample:g}", "ns_exponent": ns, "cpu_seconds": float(np.mean(seconds))}
        row.update({key: round(float(np.mean([s[key] for s in scores])), 3) for key in scores[0]})
        rows.append(row)
    return rows


def run(sweep_grid: bool = False, seeds: int = 1, data_dir: str | None = None) -> list[dict]:
    """The speed and quality table of chapter 02; with ``sweep_grid``, the item2vec sweep table instead."""
    from gensim.test.utils import datapath

    if sweep_grid:  # its own table: one row per setting
        return sweep(seeds=tuple(range(seeds)), data_dir=data_dir)
    rows = []
    with open(datapath("lee_background.cor"), encoding="utf8") as fh:
        lee = [tokenize(line) for line in fh]
    with timed() as t:
        cpu = time.process_time()
        kv = train_word2vec(lee, **LEE_SETTINGS)
        cpu = time.process_time() - cpu
    settings = ", ".join(f"{k}={v}" for k, v in LEE_SETTINGS.items())
    rows.append({"what": "word2vec, Lee corpus (300 docs, 60k tokens)", "settings": settings,
                 "seconds": t["seconds"], "cpu_seconds": cpu, "measure": "vocabulary", "value": len(kv)})
    accuracy, sections = kv.evaluate_word_analogies(datapath("questions-words.txt"))
    total = next(s for s in sections if s["section"] == "Total accuracy")
    covered = len(total["correct"]) + len(total["incorrect"])
    rows.append({"what": "  analogies (questions-words.txt, 19,544)", "measure":
                 f"accuracy on the {covered} questions whose 4 words are known", "value": round(accuracy, 4)})

    ml, genres, queries = _movielens(data_dir)
    seqs = item_sequences(ml.ratings, seed=0)
    with timed() as t:
        cpu = time.process_time()
        kv = item2vec(seqs, seed=0)
        cpu = time.process_time() - cpu
    settings = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in ITEM2VEC_DEFAULTS.items())
    rows.append({"what": f"item2vec, ML-100k ({len(seqs)} seqs, {sum(map(len, seqs)):,} events)",
                 "settings": settings, "seconds": t["seconds"], "cpu_seconds": cpu, "measure": "vocabulary",
                 "value": len(kv)})
    star_wars = top_k(kv, [STAR_WARS], 10)[STAR_WARS]
    titles = dict(zip(ml.items["item_id"], ml.items["title"], strict=True))
    scores = _score(kv, genres, queries)
    rows.append({"what": "  Star Wars (50): top-10 neighbours", "measure": "item ids",
                 "value": " ".join(map(str, star_wars))})
    rows.append({"what": "  Star Wars: sequels in top 10", "measure": "of 2 (172, 181)",
                 "value": " + ".join(titles[s] for s in SEQUELS if s in star_wars) or "none"})
    rows.append({"what": "  sequel hit@10", "measure": f"{sum(map(len, FRANCHISES.values()))} films, "
                 f"{len(FRANCHISES)} series", "value": scores["sequel_hit@10"]})
    rows.append({"what": "  genre share@10", "measure": f"{len(queries)} items with >= 20 ratings "
                 f"(random: {random_genre_share(genres, queries):.3f})", "value": scores["genre_share@10"]})
    return rows


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m llmrec_ref bench embeddings``."""
    parser.add_argument("--sweep", dest="sweep_grid", action="store_true",
                        help="run the item2vec sweep instead (36 settings, a few minutes)")
    parser.add_argument("--seeds", type=positive_int, default=1, help="seeds per sweep setting (default 1)")
    parser.add_argument("--data-dir", default=None, help="MovieLens cache folder (default: $LLMREC_DATA)")


if __name__ == "__main__":
    _parser = argparse.ArgumentParser(prog="python -m llmrec_ref.bench.embeddings")
    add_arguments(_parser)
    print(markdown_table(run(**vars(_parser.parse_args()))))
