"""Tests of llmrec_ref.embeddings: word2vec/item2vec wrappers, text vectors, neighbours, nn.Embedding."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from gensim.models import KeyedVectors

from llmrec_ref.embeddings import (
    TextVector,
    item2vec,
    item_sequences,
    load_pretrained,
    nearest,
    text_vector,
    to_embedding,
    tokenize,
    train_word2vec,
)

# Two topics that never share a sentence: skip-gram must pull each topic's words together.
PETS = ["cat", "dog", "pet", "fur", "paw"]
CARS = ["car", "bus", "road", "wheel", "engine"]


def _toy_corpus(n: int = 150, seed: int = 0) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    return [[str(w) for w in rng.choice(PETS if i % 2 else CARS, size=6)] for i in range(n)]


@pytest.fixture(scope="module")
def toy_kv() -> KeyedVectors:
    # sample=0: with 10 words, each is 10% of the corpus and would be subsampled away
    return train_word2vec(_toy_corpus(), vector_size=16, window=3, epochs=20, sample=0, seed=0)


# ----------------------------------------------------------------------------- tokenize


def test_tokenize_lowercases_and_strips_punctuation_and_years():
    assert tokenize("Star Wars (1977)") == ["star", "wars"]
    assert tokenize("Children's Sci-Fi, 2001: A Space Odyssey!") == ["childrens", "sci", "fi", "a", "space", "odyssey"]
    assert tokenize("12 Angry Men, 101 Dalmatians") == ["12", "angry", "men", "101", "dalmatians"]  # not years
    assert tokenize("") == []


def test_tokenize_rejects_non_strings():
    with pytest.raises(ValueError, match="text must be a str"):
        tokenize(["star", "wars"])


# ----------------------------------------------------------------------------- train_word2vec


def test_train_word2vec_shapes_and_vocabulary(toy_kv):
    assert isinstance(toy_kv, KeyedVectors)
    assert sorted(toy_kv.index_to_key) == sorted(PETS + CARS)
    assert toy_kv.vectors.shape == (10, 16)
    assert toy_kv["cat"].dtype == np.float32


def test_train_word2vec_pulls_co_occurring_words_together(toy_kv):
    for word in ("cat", "car"):
        topic = PETS if word in PETS else CARS
        top4 = [w for w, _ in nearest(toy_kv, word, k=4)]
        assert sorted(top4) == sorted(set(topic) - {word})
    assert toy_kv.similarity("cat", "dog") > toy_kv.similarity("cat", "car") + 0.3


def test_train_word2vec_is_deterministic_with_a_seed():
    corpus = _toy_corpus(40)
    a = train_word2vec(corpus, vector_size=8, seed=3)
    b = train_word2vec(corpus, vector_size=8, seed=3)
    c = train_word2vec(corpus, vector_size=8, seed=4)
    assert a.index_to_key == b.index_to_key
    np.testing.assert_array_equal(a.vectors, b.vectors)
    assert not np.allclose(a.vectors, c.vectors)


def _fingerprint() -> tuple[int, str]:
    """This process's hash of a string, and a digest of vectors trained with seed 7."""
    import hashlib

    import numpy as np

    from llmrec_ref.embeddings import train_word2vec

    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(50)]
    kv = train_word2vec([[str(w) for w in rng.choice(words, size=8)] for _ in range(60)], vector_size=8, seed=7)
    return hash("w1"), hashlib.sha256(" ".join(kv.index_to_key).encode() + kv.vectors.tobytes()).hexdigest()


def test_same_seed_gives_identical_vectors_in_another_process_with_another_hash_seed():
    """Python salts str hashes per process; gensim 4 must not depend on them."""
    here_hash, here_digest = _fingerprint()
    script = inspect.getsource(_fingerprint) + "\nprint(*_fingerprint())\n"
    env = {**os.environ, "PYTHONHASHSEED": "2" if os.environ.get("PYTHONHASHSEED") == "1" else "1"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    there_hash, there_digest = out.stdout.split()
    assert int(there_hash) != here_hash  # the string hashes really differ between the processes...
    assert there_digest == here_digest  # ...and the vectors are identical all the same


@pytest.mark.parametrize("corpus", [[], [[]], [[], []]])
def test_train_word2vec_rejects_an_empty_corpus(corpus):
    with pytest.raises(ValueError, match="empty"):
        train_word2vec(corpus)


def test_train_word2vec_rejects_untokenised_text_and_a_vocabulary_emptied_by_min_count():
    with pytest.raises(ValueError, match="tokenize"):
        train_word2vec(["the cat sat", "on the mat"])
    with pytest.raises(ValueError, match="min_count"):
        train_word2vec([["a", "b"]], min_count=2)


@pytest.mark.parametrize("size", [0, -4, 2.5])
def test_train_word2vec_rejects_a_bad_vector_size(size):
    with pytest.raises(ValueError, match="vector_size"):
        train_word2vec([["a", "b"]], vector_size=size)


# ----------------------------------------------------------------------------- item2vec


def test_item_sequences_orders_by_time_and_breaks_ties_by_seed_not_by_id():
    log = pd.DataFrame({"user_id": [2, 1, 1, 1, 2], "item_id": [7, 30, 10, 20, 8],
                        "timestamp": [5, 3, 1, 3, 9], "rating": [5.0, 4.0, 2.0, 5.0, 1.0]})
    orders = {tuple(map(tuple, item_sequences(log, seed=s))) for s in range(20)}
    assert orders == {((10, 20, 30), (7, 8)), ((10, 30, 20), (7, 8))}  # 20 and 30 share a timestamp
    assert item_sequences(log, seed=5) == item_sequences(log, seed=5)
    assert item_sequences(log, min_rating=4)[1] == [7]
    assert sorted(item_sequences(log, min_rating=4)[0]) == [20, 30]
    with pytest.raises(ValueError, match="timestamp"):
        item_sequences(log.drop(columns="timestamp"))


def test_item2vec_keys_vectors_by_int_item_id():
    rng = np.random.default_rng(0)
    seqs = [list(rng.choice(np.arange(1, 21), size=10)) for _ in range(30)]  # numpy ints
    kv = item2vec(seqs, vector_size=8, window=5, epochs=2)
    assert set(kv.index_to_key) <= set(range(1, 21))
    assert all(type(k) is int for k in kv.index_to_key)
    assert kv.vectors.shape == (len(kv.index_to_key), 8)
    again = item2vec(seqs, vector_size=8, window=5, epochs=2)
    np.testing.assert_array_equal(kv.vectors, again.vectors)
    with pytest.raises(ValueError, match="non-int"):
        item2vec([["a", "b"]])
    with pytest.raises(ValueError, match="empty"):
        item2vec([])
    with pytest.raises(ValueError, match="vector_size"):
        item2vec(seqs, vector_size=0)


# ----------------------------------------------------------------------------- text_vector


def test_text_vector_is_the_mean_of_known_word_vectors(toy_kv):
    out = text_vector(toy_kv, "Cat, dog and a zebra (1999)")
    assert isinstance(out, TextVector)
    np.testing.assert_allclose(out.vector, (toy_kv["cat"] + toy_kv["dog"]) / 2, rtol=1e-6)
    assert out.n_oov == 3  # and, a, zebra; the year is not a token
    tokens = text_vector(toy_kv, ["car", "car", "bus"])
    np.testing.assert_allclose(tokens.vector, (2 * toy_kv["car"] + toy_kv["bus"]) / 3, rtol=1e-6)
    assert tokens.n_oov == 0


def test_text_vector_of_unknown_words_is_zero_with_the_oov_count(toy_kv):
    vector, n_oov = text_vector(toy_kv, "zebra giraffe")
    assert vector.shape == (16,) and not vector.any() and n_oov == 2
    vector, n_oov = text_vector(toy_kv, "")
    assert not vector.any() and n_oov == 0


# ----------------------------------------------------------------------------- nearest


def test_nearest_matches_gensim_most_similar(toy_kv):
    ours = nearest(toy_kv, "paw", k=5)
    theirs = toy_kv.most_similar("paw", topn=5)
    assert [k for k, _ in ours] == [k for k, _ in theirs]
    np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], rtol=1e-5)


def test_nearest_on_a_matrix_skips_the_query_and_the_zero_padding_row():
    m = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.1], [0.0, 1.0], [-1.0, 0.0]])  # row 0 = padding
    assert [i for i, _ in nearest(m, 1, k=10)] == [2, 3, 4]
    sims = [s for _, s in nearest(m, 1, k=10)]
    np.testing.assert_allclose(sims, [2 / np.hypot(2, 0.1), 0.0, -1.0])
    emb = torch.nn.Embedding.from_pretrained(torch.tensor(m, dtype=torch.float32))
    for matrix in (emb, torch.tensor(m)):
        assert nearest(matrix, 3, k=1) == [(2, pytest.approx(0.1 / np.hypot(2, 0.1), rel=1e-6))]
    assert nearest(m, np.array([0.0, 2.0]), k=1)[0][0] == 3  # a query vector, nothing excluded


def test_nearest_rejects_unknown_keys_bad_k_and_zero_queries(toy_kv):
    with pytest.raises(ValueError, match="not in the vocabulary"):
        nearest(toy_kv, "zebra")
    with pytest.raises(ValueError, match="row id"):
        nearest(np.eye(3), 3)
    with pytest.raises(ValueError, match="k must be"):
        nearest(toy_kv, "cat", k=0)
    with pytest.raises(ValueError, match="all zeros"):
        nearest(np.array([[0.0, 0.0], [1.0, 0.0]]), 0)


# ----------------------------------------------------------------------------- to_embedding


def _item_kv() -> KeyedVectors:
    kv = KeyedVectors(vector_size=3)
    kv.add_vectors([3, 1, 2], np.array([[3, 3, 3], [1, 1, 1], [2, 2, 2]], dtype=np.float32))
    return kv


def test_to_embedding_puts_rows_in_id_order_with_a_zero_padding_row():
    emb = to_embedding(_item_kv(), range(5))  # ids 1..4; item 4 unknown
    assert isinstance(emb, torch.nn.Embedding) and emb.weight.shape == (5, 3)
    w = emb.weight.detach()
    assert emb.padding_idx == 0 and not w[0].any()
    torch.testing.assert_close(w[1:4], torch.tensor([[1.0] * 3, [2.0] * 3, [3.0] * 3]))
    assert 0 < w[4].abs().max() < 0.2  # seeded small normal, std 0.02
    assert emb.weight.requires_grad


def test_to_embedding_unknown_rows_are_seeded_and_padding_gets_no_gradient():
    a = to_embedding(_item_kv(), range(8), seed=1).weight.detach()
    b = to_embedding(_item_kv(), range(8), seed=1).weight.detach()
    c = to_embedding(_item_kv(), range(8), seed=2).weight.detach()
    torch.testing.assert_close(a, b)
    assert not torch.equal(a[4:], c[4:]) and torch.equal(a[:4], c[:4])
    emb = to_embedding(_item_kv(), range(5))
    emb(torch.tensor([[0, 2, 4]])).sum().backward()
    assert not emb.weight.grad[0].any() and emb.weight.grad[2].eq(1).all()
    assert not to_embedding(_item_kv(), range(5), freeze=True).weight.requires_grad


def test_to_embedding_accepts_a_key_to_row_mapping(toy_kv):
    vocab = {"dog": 1, "car": 2, "zebra": 3}
    emb = to_embedding(toy_kv, vocab)
    assert emb.weight.shape == (4, 16)
    torch.testing.assert_close(emb.weight[1].detach(), torch.tensor(toy_kv["dog"]))
    torch.testing.assert_close(emb.weight[2].detach(), torch.tensor(toy_kv["car"]))
    with pytest.raises(ValueError, match="padding_idx"):
        to_embedding(toy_kv, {"dog": 0})
    with pytest.raises(ValueError, match="padding_idx"):
        to_embedding(toy_kv, [], padding_idx=0)


def test_to_embedding_never_reads_an_unknown_int_as_a_row_position():
    # gensim's `2 in kv` is True for any int below len(kv); item 9 must not borrow row 2's vector
    kv = _item_kv()
    emb = to_embedding(kv, [None, 9, 1], std=0.0)
    assert not emb.weight[1].any()


# ----------------------------------------------------------------------------- load_pretrained


@pytest.mark.parametrize("name, binary", [("v.txt", False), ("v.bin", True)])
def test_load_pretrained_round_trips_word2vec_files(toy_kv, tmp_path, name, binary):
    path = tmp_path / name
    toy_kv.save_word2vec_format(str(path), binary=binary)
    loaded = load_pretrained(path)
    assert loaded.index_to_key == toy_kv.index_to_key
    np.testing.assert_allclose(loaded.vectors, toy_kv.vectors, atol=1e-5)


def test_load_pretrained_reads_glove_files_without_a_header(tmp_path):
    path = tmp_path / "glove.6B.3d.txt"
    path.write_text("the 0.1 0.2 0.3\ncat -1 0 1.5\n", encoding="utf8")
    kv = load_pretrained(path)
    assert kv.index_to_key == ["the", "cat"]
    np.testing.assert_allclose(kv["cat"], [-1.0, 0.0, 1.5])


def test_load_pretrained_missing_file_says_how_to_get_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="no vector file.*local path"):
        load_pretrained(tmp_path / "glove.6B.100d.txt")


# ----------------------------------------------------------------------------- real data


@pytest.mark.slow
def test_item2vec_on_movielens_puts_a_star_wars_sequel_among_its_neighbours():
    """Star Wars (50); The Empire Strikes Back (172) and Return of the Jedi (181) are its sequels."""
    from llmrec_ref.datasets import load_movielens_100k

    try:
        ml = load_movielens_100k(download=False)
    except FileNotFoundError:
        pytest.skip("MovieLens-100k is not in the cache: run `python -m llmrec_ref data fetch ml-100k`")
    kv = item2vec(item_sequences(ml.ratings, seed=0), seed=0)
    assert len(kv) == 1682
    top10 = [item for item, _ in nearest(kv, 50, k=10)]
    assert {172, 181} & set(top10), top10
