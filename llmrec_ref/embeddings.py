"""Word and item embeddings: word2vec on text, item2vec on behaviour, and the bridge to PyTorch.

Derived in notebooks/02_word_embeddings.

Skip-gram with negative sampling (word2vec) learns one vector per token so that tokens
seen near each other score high: for a centre token c, a context token o within the
window and K tokens n_k drawn from the unigram distribution raised to ``ns_exponent``,

    loss = -log sigmoid(u_o . v_c) - sum_k log sigmoid(-u_{n_k} . v_c)

Trained on per-user, time-ordered item sequences instead of sentences, the same model is
item2vec: items a user interacts with near each other get similar vectors. Here gensim
does the training; this module fixes the settings that make it reproducible, turns texts
into vectors, finds cosine neighbours, and copies the vectors into a ``torch.nn.Embedding``
whose rows follow our id order (row 0 = padding).

Reproducibility: gensim 4 draws its initial vectors from ``numpy.random.default_rng(seed)``
and its negative samples / window sizes from a generator seeded by ``seed``; nothing
depends on Python's string hashing (``hashfxn`` is only used by Doc2Vec's inference), so
``PYTHONHASHSEED`` does not matter. What does matter is ``workers``: with more than one
thread the order in which threads update the shared vectors changes from run to run, so
only ``workers=1`` gives the same vectors for the same seed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import torch
from gensim.models import KeyedVectors, Word2Vec
from torch import nn

__all__ = [
    "ITEM2VEC_DEFAULTS",
    "LEE_SETTINGS",
    "TextVector",
    "item2vec",
    "item_sequences",
    "load_pretrained",
    "nearest",
    "text_vector",
    "to_embedding",
    "tokenize",
    "train_word2vec",
]

# Chosen by `python -m llmrec_ref bench embeddings --sweep` (36 settings, see the chapter): on
# ML-100k a window of 50 with strong subsampling lets 56 % of the films of 22 series find a
# sibling among their 10 nearest, against 34 % with word2vec's window 5 / sample 1e-3, which
# mostly learns "rated in the same sitting"; keeping all ratings beats ratings >= 4 only.
ITEM2VEC_DEFAULTS: dict[str, Any] = dict(
    vector_size=64, window=50, min_count=1, sample=1e-4, ns_exponent=0.75, negative=5, epochs=10
)
# Chapter 02's word2vec settings on gensim's Lee corpus (min_count=2 drops the ~3,200 words
# seen once, which cannot learn anything from a single context).
LEE_SETTINGS: dict[str, Any] = dict(vector_size=64, window=5, min_count=2, epochs=10)

# ----------------------------------------------------------------------------- text


_APOSTROPHES = re.compile(r"['\u2019]")
_WORD = re.compile(r"[^\W_]+")  # runs of letters and digits (any alphabet)
_YEAR = re.compile(r"^(1[89]\d\d|20\d\d)$")


def tokenize(text: str) -> list[str]:
    """Split ``text`` into lower-case word tokens, dropping punctuation and years.

    Apostrophes are removed inside words ("Children's" -> "childrens"), every other
    non-alphanumeric character separates tokens ("Sci-Fi" -> "sci", "fi"), and four-digit
    years 1800-2099 are dropped, so "Star Wars (1977)" -> ["star", "wars"].
    """
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}; tokenize one text at a time.")
    words = _WORD.findall(_APOSTROPHES.sub("", text.lower()))
    return [w for w in words if not _YEAR.match(w)]


def _as_sentences(sentences: Iterable[Sequence], what: str) -> list[list]:
    """Materialise a corpus of token lists, rejecting the classic mistakes with a clear message."""
    if isinstance(sentences, str):
        raise ValueError(f"{what} must be a list of token lists, got one str; pass [tokenize(text)].")
    corpus = []
    for i, sentence in enumerate(sentences):
        if isinstance(sentence, str):
            raise ValueError(
                f"{what}[{i}] is a str, so gensim would treat each character as a word; "
                "pass token lists, e.g. [tokenize(t) for t in texts]."
            )
        corpus.append(list(sentence))
    if sum(len(s) for s in corpus) == 0:
        raise ValueError(f"{what} is empty (no tokens at all); give at least one non-empty sentence.")
    return corpus


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
            raise ValueError(f"{name} must be a positive int, got {value!r}.")


def train_word2vec(
    sentences: Iterable[Sequence[str]],
    vector_size: int = 64,
    window: int = 5,
    min_count: int = 1,
    sg: int = 1,
    negative: int = 5,
    epochs: int = 10,
    seed: int = 0,
    workers: int = 1,
    sample: float = 1e-3,
    ns_exponent: float = 0.75,
) -> KeyedVectors:
    """Train word2vec with negative sampling on tokenised ``sentences``; return its ``KeyedVectors``.

    A thin wrapper over ``gensim.models.Word2Vec`` (``sg=1`` skip-gram, ``sg=0`` CBOW; ``hs=0``)
    that minimises, per (centre c, context o) pair, -log s(u_o.v_c) - sum_k log s(-u_nk.v_c)
    with ``negative`` noise tokens drawn from counts**``ns_exponent``. Tokens rarer than
    ``min_count`` are dropped; frequent ones are randomly skipped at rate set by ``sample``.
    The result maps each kept token to a (vector_size,) float32 vector. gensim is only
    reproducible single-threaded: keep ``workers=1`` for the same vectors from the same ``seed``.
    """
    _check_positive(vector_size=vector_size, window=window, min_count=min_count,
                    negative=negative, epochs=epochs, workers=workers)
    if sg not in (0, 1):
        raise ValueError(f"sg must be 1 (skip-gram) or 0 (CBOW), got {sg!r}.")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}.")
    if sample < 0:
        raise ValueError(f"sample must be >= 0 (0 turns subsampling off), got {sample!r}.")
    corpus = _as_sentences(sentences, "sentences")
    model = Word2Vec(vector_size=vector_size, window=window, min_count=min_count, sg=sg, hs=0,
                     negative=negative, ns_exponent=ns_exponent, sample=sample, seed=int(seed),
                     workers=workers, epochs=epochs)
    model.build_vocab(corpus)
    if len(model.wv) == 0:
        raise ValueError(f"min_count={min_count} removed every token; lower min_count.")
    model.train(corpus, total_examples=model.corpus_count, epochs=epochs)
    return model.wv


# ----------------------------------------------------------------------------- items


def item_sequences(ratings: pd.DataFrame, min_rating: float | None = None, seed: int = 0) -> list[list[int]]:
    """Per-user, time-ordered item-id lists from an interaction log, one list per user.

    Rows with ``rating < min_rating`` are dropped first (``None`` keeps all). Interactions
    with the same timestamp have no real order (MovieLens users rate dozens of films in one
    minute), so ties are put in a random order drawn from ``seed``, never in id order, which
    would invent a signal. Users are in ascending ``user_id`` order.
    """
    missing = {"user_id", "item_id", "timestamp"} - set(ratings.columns)
    if missing:
        raise ValueError(f"ratings lacks columns {sorted(missing)}; it needs user_id, item_id, timestamp.")
    log = ratings
    if min_rating is not None:
        if "rating" not in ratings.columns:
            raise ValueError("min_rating needs a `rating` column; pass min_rating=None for implicit logs.")
        log = ratings.loc[ratings["rating"] >= min_rating]
    tie = np.random.default_rng(seed).permutation(len(log))
    log = log.assign(_tie=tie).sort_values(["user_id", "timestamp", "_tie"])
    return [[int(i) for i in items] for _, items in log.groupby("user_id", sort=True)["item_id"]]


def item2vec(
    sequences: Iterable[Sequence[int]],
    vector_size: int = ITEM2VEC_DEFAULTS["vector_size"],
    window: int = ITEM2VEC_DEFAULTS["window"],
    min_count: int = ITEM2VEC_DEFAULTS["min_count"],
    sample: float = ITEM2VEC_DEFAULTS["sample"],
    ns_exponent: float = ITEM2VEC_DEFAULTS["ns_exponent"],
    negative: int = ITEM2VEC_DEFAULTS["negative"],
    epochs: int = ITEM2VEC_DEFAULTS["epochs"],
    seed: int = 0,
    workers: int = 1,
) -> KeyedVectors:
    """Skip-gram word2vec on item sequences ("items as words"); vectors keyed by int item id.

    Same objective as :func:`train_word2vec`, with defaults chosen for interaction logs
    where order inside a session is noise: a window spanning most of a history and strong
    subsampling of popular items (``sample=1e-4``). Keys are Python ints, so ``kv[50]`` is
    item 50 -- but gensim also reads an int as a *row position* when it is not a key, so
    test membership with ``item in kv.key_to_index``, not ``item in kv``.
    """
    seqs = _as_sentences(sequences, "sequences")
    for i, seq in enumerate(seqs):
        if not all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in seq):
            raise ValueError(f"sequences[{i}] holds non-int ids; item2vec expects item ids (ints).")
        seqs[i] = [int(x) for x in seq]
    return train_word2vec(seqs, vector_size=vector_size, window=window, min_count=min_count, sg=1,
                          negative=negative, epochs=epochs, seed=seed, workers=workers,
                          sample=sample, ns_exponent=ns_exponent)


# ----------------------------------------------------------------------------- using vectors


class TextVector(NamedTuple):
    """A text's vector (vector_size,) and how many of its tokens the vectors did not know."""

    vector: np.ndarray
    n_oov: int


def text_vector(kv: KeyedVectors, text: str | Sequence[str]) -> TextVector:
    """Mean of the word vectors of a text: v(text) = (1/|W|) sum_{w in W} kv[w], shape (d,).

    ``text`` is a str (split with :func:`tokenize`) or a token list; W are its tokens that
    ``kv`` knows (repeats count). Unknown tokens are skipped and counted in ``n_oov``; when no
    token is known the vector is all zeros, so check ``n_oov`` before trusting it.
    """
    tokens = tokenize(text) if isinstance(text, str) else list(text)
    known = [kv.key_to_index[t] for t in tokens if t in kv.key_to_index]
    if not known:
        return TextVector(np.zeros(kv.vector_size, dtype=np.float32), len(tokens))
    return TextVector(kv.vectors[known].mean(axis=0), len(tokens) - len(known))


def nearest(kv_or_matrix: KeyedVectors | np.ndarray | torch.Tensor, key: Any, k: int = 10) -> list[tuple[Any, float]]:
    """The ``k`` keys (or row ids) most cosine-similar to ``key``, best first, as (key, cosine).

    cos(a, b) = a.b / (|a| |b|). With ``KeyedVectors`` the query is a key; with a matrix
    (n, d) -- numpy, torch or an ``nn.Embedding`` weight -- it is a row id. A vector (d,)
    can be given instead of a key. The query itself and all-zero rows (padding) are never
    returned; ties keep the lower index first.
    """
    _check_positive(k=k)
    if isinstance(kv_or_matrix, KeyedVectors):
        matrix, keys = kv_or_matrix.vectors, kv_or_matrix.index_to_key
        lookup = kv_or_matrix.key_to_index
    else:
        if isinstance(kv_or_matrix, nn.Embedding):
            kv_or_matrix = kv_or_matrix.weight
        if isinstance(kv_or_matrix, torch.Tensor):
            kv_or_matrix = kv_or_matrix.detach().cpu().numpy()
        matrix = np.asarray(kv_or_matrix, dtype=np.float64)
        if matrix.ndim != 2:
            raise ValueError(f"kv_or_matrix must be KeyedVectors or a 2-D matrix, got shape {matrix.shape}.")
        keys, lookup = range(len(matrix)), None
    matrix = np.asarray(matrix, dtype=np.float64)  # (n, d)
    norms = np.linalg.norm(matrix, axis=1)  # (n,)
    if isinstance(key, (np.ndarray, torch.Tensor)):
        query, exclude = np.asarray(key, dtype=np.float64).reshape(-1), None
        if query.shape[0] != matrix.shape[1]:
            raise ValueError(f"query vector has {query.shape[0]} dims, the vectors have {matrix.shape[1]}.")
    else:
        if lookup is not None:
            if key not in lookup:
                raise ValueError(f"key {key!r} is not in the vocabulary ({len(keys)} keys); pick a known key.")
            exclude = lookup[key]
        else:
            if not isinstance(key, (int, np.integer)) or not 0 <= key < len(matrix):
                raise ValueError(f"key must be a row id in [0, {len(matrix)}), got {key!r}.")
            exclude = int(key)
        query = matrix[exclude]
    qnorm = np.linalg.norm(query)
    if qnorm == 0:
        raise ValueError("the query vector is all zeros (padding or an unknown text); cosine is undefined.")
    sims = matrix @ query / np.maximum(norms * qnorm, 1e-12)  # (n,)
    sims[norms == 0] = -np.inf
    if exclude is not None:
        sims[exclude] = -np.inf
    order = np.argsort(-sims, kind="stable")
    order = [i for i in order[:k] if np.isfinite(sims[i])]
    return [(keys[i], float(sims[i])) for i in order]


def to_embedding(
    kv: KeyedVectors,
    vocab: Sequence | Mapping[Any, int],
    freeze: bool = False,
    padding_idx: int = 0,
    std: float = 0.02,
    seed: int = 0,
) -> nn.Embedding:
    """An ``nn.Embedding`` (n_rows, vector_size) holding ``kv``'s vectors in our id order.

    ``vocab`` says which key goes to which row: a sequence whose entry i is the key of row i
    (e.g. ``range(n_items + 1)`` for item ids 1..n; the entry at ``padding_idx`` is ignored),
    or a mapping key -> row id. Row ``padding_idx`` is zeros and gets no gradient; keys that
    ``kv`` does not know get N(0, std^2) rows drawn from ``seed``, so a model can learn them.
    """
    if isinstance(vocab, Mapping):
        rows = dict(vocab)
        bad = [r for r in rows.values() if not isinstance(r, (int, np.integer)) or r < 0 or r == padding_idx]
        if bad or len(set(rows.values())) != len(rows):
            raise ValueError(f"vocab rows must be distinct non-negative ints other than padding_idx={padding_idx}.")
        n_rows = max(max(rows.values(), default=0), padding_idx) + 1
        pairs = [(int(r), key) for key, r in rows.items()]
    else:
        n_rows = len(vocab)
        if not 0 <= padding_idx < n_rows:
            raise ValueError(f"padding_idx={padding_idx} is outside the {n_rows} rows of vocab; "
                             "include a placeholder entry for the padding row.")
        pairs = [(i, key) for i, key in enumerate(vocab) if i != padding_idx]
    if std < 0:
        raise ValueError(f"std must be >= 0, got {std!r}.")
    generator = torch.Generator().manual_seed(seed)
    weight = torch.randn(n_rows, kv.vector_size, generator=generator) * std  # (n_rows, d)
    for row, key in pairs:
        if key in kv.key_to_index:  # never `key in kv`: gensim reads unknown ints as positions
            weight[row] = torch.from_numpy(kv.vectors[kv.key_to_index[key]].copy())
    weight[padding_idx] = 0.0
    return nn.Embedding.from_pretrained(weight, freeze=freeze, padding_idx=padding_idx)


def load_pretrained(path: str | os.PathLike, binary: bool | None = None, limit: int | None = None) -> KeyedVectors:
    """Load word vectors from a local word2vec (text or binary) or GloVe text file.

    ``binary=None`` guesses from the suffix (``.bin`` is binary). GloVe files lack the
    word2vec header line ("<count> <dims>"); that is detected and handled. ``limit`` keeps
    only the first (most frequent) words. Nothing is downloaded: a missing file raises
    ``FileNotFoundError`` that says how to get one.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"no vector file at {path!r}. Download one yourself (e.g. glove.6B.zip from "
            "https://nlp.stanford.edu/projects/glove/ or gensim.downloader.load('glove-wiki-gigaword-100')"
            " then kv.save_word2vec_format(path)) and pass its local path."
        )
    if binary is None:
        binary = path.endswith(".bin") or path.endswith(".bin.gz")
    no_header = False
    if not binary:
        import gzip

        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt", encoding="utf8", errors="replace") as fh:
            first = fh.readline().split()
        no_header = not (len(first) == 2 and all(part.isdigit() for part in first))
    return KeyedVectors.load_word2vec_format(path, binary=binary, limit=limit, no_header=no_header)
