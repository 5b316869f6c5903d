"""llmrec_ref.text (verified, cached sentence encoder) and llmrec_ref.coldstart (split, baselines, TextOnly).

The model is loaded once for the whole file (module-scoped fixture) and only a few short
texts are encoded. Cold-start tests use hand-made vectors, so they need no model.
"""

from __future__ import annotations

import copy
import importlib
import json
import logging
import math
import os
import re
import shutil
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from torch.nn import functional as F

from llmrec_ref.coldstart import (
    AttributePopularity,
    TextOnly,
    cold_start_split,
    evaluate_cold_start,
    history_weights,
)

pytest.importorskip("sentence_transformers", reason='needs the [llm] extra: pip install -e ".[llm]"')
text = importlib.import_module("llmrec_ref.text")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("text-cache")


@pytest.fixture(scope="module")
def enc(cache):
    encoder = text.TextEncoder("minilm", cache_dir=cache, verbose=False)
    return encoder.load()  # load once for the module


@pytest.fixture
def model_copy(tmp_path):
    """A copy of the model folder: every file symlinked except model.safetensors (really copied)."""
    src = text._resolve("minilm")[0]
    dst = tmp_path / "minilm-copy"
    dst.mkdir()
    for p in src.iterdir():
        if p.name != "model.safetensors":
            (dst / p.name).symlink_to(p)
    shutil.copyfile(src / "model.safetensors", dst / "model.safetensors")
    return dst


def tamper(path):
    with open(path, "r+b") as f:  # flip one byte in the middle of the weights
        f.seek(1_000_000)
        byte = f.read(1)
        f.seek(1_000_000)
        f.write(bytes([byte[0] ^ 0xFF]))


# ----------------------------------------------------------------------------- import and loading
def test_import_without_sentence_transformers_names_the_pip_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # as if it were not installed
    monkeypatch.delitem(sys.modules, "llmrec_ref.text")
    fresh = importlib.import_module("llmrec_ref.text")  # the pure-torch helpers import without the extra
    h = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])
    assert torch.equal(fresh.mean_pool(h, torch.tensor([[1, 0]])), torch.tensor([[1.0, 2.0]]))
    with pytest.raises(ImportError, match=r'pip install -e "\.\[llm\]"') as err:
        fresh.TextEncoder()
    assert "sentence_transformers" in str(err.value)


def test_pinned_checksum_matches_the_installed_model():
    folder, expected = text._resolve("minilm")
    assert expected == text.MINILM_SHA256
    assert text.verify_model(folder, expected) == text.MINILM_SHA256


def test_tampered_copy_is_refused_before_anything_loads(model_copy, monkeypatch, tmp_path):
    import sentence_transformers

    def boom(*args, **kwargs):
        raise AssertionError("the model must not be loaded when its checksum is wrong")

    monkeypatch.setattr(sentence_transformers, "SentenceTransformer", boom)
    tamper(model_copy / "model.safetensors")
    with pytest.raises(ValueError, match="checksum mismatch"):
        text.TextEncoder(model_copy, sha256=text.MINILM_SHA256, cache_dir=tmp_path)


def test_weights_changed_after_verification_are_refused(model_copy, tmp_path):
    encoder = text.TextEncoder(model_copy, sha256=text.MINILM_SHA256, cache_dir=tmp_path)
    tamper(model_copy / "model.safetensors")
    with pytest.raises(ValueError, match="changed since it was verified"):
        encoder.load()
    assert encoder._model is None


def test_missing_model_directory_and_weights(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        text.TextEncoder(tmp_path / "no-such-model")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        text.TextEncoder(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="minilm"):
        text.TextEncoder("nobody-llmrec/not-a-cached-model")


# ----------------------------------------------------------------------------- encoding
def test_mean_pool_ignores_padding():
    h = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])  # (1, 3, 2), last token = padding
    out = text.mean_pool(h, torch.tensor([[1, 1, 0]]))
    assert torch.allclose(out, torch.tensor([[2.0, 3.0]]))
    with pytest.raises(ValueError, match="attention_mask"):
        text.mean_pool(h, torch.ones(1, 2))


def test_encode_equals_tokenizer_transformer_mean_pool_normalise(enc):
    texts = ["Toy Story (1995). Genres: Animation, Children's, Comedy.", "A cheap phone with a good camera."]
    tok = enc.model.tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        h = enc.model[0].auto_model(**tok).last_hidden_state  # (2, T, 384)
    manual = F.normalize(text.mean_pool(h, tok["attention_mask"]), dim=1)
    got = enc.encode(texts)
    assert got.shape == (2, 384) and got.dtype == torch.float32
    assert torch.allclose(got.norm(dim=1), torch.ones(2), atol=1e-5)
    assert torch.allclose(got, manual, atol=1e-5)


def test_vectors_carry_meaning(enc):
    v = enc.encode(["a smartphone with a great camera", "mobile phone that takes good photos",
                    "a bag of roasted coffee beans"])
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2


def test_cache_hit_needs_no_model(enc, cache):
    texts = ["Heat (1995). Genres: Action, Crime, Thriller.", "Casino (1995). Genres: Drama, Thriller."]
    first = enc.encode(texts)
    fresh = text.TextEncoder("minilm", cache_dir=cache, verbose=False)
    again = fresh.encode(list(reversed(texts)))
    assert torch.equal(again, first.flip(0))
    assert fresh._model is None  # served from the file: the model was never loaded
    assert fresh.cache_path.exists() and fresh.cache_path.parent == cache


def test_only_new_texts_are_encoded_and_int8_has_its_own_cache(enc, cache, monkeypatch):
    seen = []
    real = enc._encode_new
    monkeypatch.setattr(enc, "_encode_new", lambda texts: seen.append(list(texts)) or real(texts))
    enc.encode(["one cached text", "another cached text"])
    seen.clear()
    enc.encode(["one cached text", "a brand new text", "a brand new text"])
    assert seen == [["a brand new text"]]
    int8 = text.TextEncoder("minilm", cache_dir=cache, quantize=True)
    assert int8.fingerprint != enc.fingerprint and int8.cache_path != enc.cache_path


def test_default_cache_lives_under_llmrec_data(monkeypatch, tmp_path):
    monkeypatch.setenv("LLMREC_DATA", str(tmp_path))
    assert text.text_cache_dir() == tmp_path / "text-cache"


# ----------------------------------------------------------------------------- the pin and the cache (issue #16)
@pytest.fixture
def linked_copy(tmp_path):
    """A copy of the model folder made of symlinks (folders recreated): edit a file by replacing its link."""
    src = text._resolve("minilm")[0]
    dst = tmp_path / "minilm-links"
    for p in src.rglob("*"):
        if p.is_file():
            (dst / p.relative_to(src)).parent.mkdir(parents=True, exist_ok=True)
            (dst / p.relative_to(src)).symlink_to(p)
    return dst


def edit_json(folder, rel, change):
    path = folder / rel
    data = json.loads(path.read_text())
    path.unlink()
    path.write_text(json.dumps(change(data)))


@pytest.mark.parametrize("rel, change", [
    ("1_Pooling/config.json", lambda d: d | {"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}),
    ("sentence_bert_config.json", lambda d: d | {"max_seq_length": 4}),
    ("tokenizer_config.json", lambda d: d | {"do_lower_case": False}),
    ("modules.json", lambda d: d[:2]),  # no Normalize module
    ("config.json", lambda d: d | {"hidden_act": "relu"}),
], ids=["cls-pooling", "max_seq_length-4", "no-lowercase", "no-normalize", "activation"])
def test_the_pin_covers_every_file_that_changes_the_vectors(linked_copy, tmp_path, rel, change):
    assert text.verify_model(linked_copy, text.MINILM_SHA256) == text.MINILM_SHA256  # the copy itself passes
    edit_json(linked_copy, rel, change)
    with pytest.raises(ValueError, match=rf"checksum mismatch for .*{re.escape(rel)}.*nothing was loaded"):
        text.TextEncoder(linked_copy, sha256=text.MINILM_SHA256, cache_dir=tmp_path)
    assert set(text.MINILM_FILES) >= {"model.safetensors", rel}


def test_the_pin_refuses_added_or_missing_files_and_pins_what_a_dict_names(linked_copy, tmp_path):
    (linked_copy / "added_tokens.json").write_text('{"movie": 30522}')
    with pytest.raises(ValueError, match=r"files the pinned model does not have \(added_tokens.json\)"):
        text.verify_model(linked_copy, text.MINILM_SHA256)
    (linked_copy / "added_tokens.json").unlink()
    (linked_copy / "vocab.txt").unlink()
    with pytest.raises(ValueError, match=r"vocab.txt is missing"):
        text.verify_model(linked_copy, text.MINILM_SHA256)
    weights_only = {"model.safetensors": text.MINILM_SHA256}  # a dict pins exactly what it names
    assert text.verify_model(linked_copy, weights_only) == text.MINILM_SHA256
    with pytest.raises(ValueError, match="must include 'model.safetensors'"):
        text.verify_model(linked_copy, {"vocab.txt": "0" * 64})


TWO = ["Heat (1995). Genres: Action, Crime, Thriller.", "Casino (1995). Genres: Drama, Thriller."]


def encoder_sharing(enc, cache_dir):
    """A new TextEncoder on ``cache_dir`` that reuses ``enc``'s verified, loaded network (no second hash of
    the weights) and records what it encodes."""
    fresh = copy.copy(enc)
    fresh.cache_path = text.text_cache_dir(cache_dir) / f"{enc.fingerprint}.npz"
    fresh._cache, fresh._stamp, fresh._unwritable, fresh.encoded = {}, None, False, []
    real = fresh._encode_new
    fresh._encode_new = lambda texts: fresh.encoded.append(list(texts)) or real(texts)
    return fresh


def rewrite_vectors(path, change):
    """Change the vectors of a cache file and keep every other array (an entry planted by hand)."""
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["vectors"] = change(arrays["vectors"].copy())
    np.savez(path.with_name("planted.npz"), **arrays)
    os.replace(path.with_name("planted.npz"), path)


DAMAGES = {
    "swapped": lambda p: rewrite_vectors(p, lambda v: v[::-1].copy()),
    "rotated": lambda p: rewrite_vectors(p, lambda v: np.roll(v, 1, axis=1)),  # still unit vectors
    "nan": lambda p: rewrite_vectors(p, lambda v: np.full_like(v, np.nan)),
    "narrow": lambda p: rewrite_vectors(p, lambda v: v[:, :10].copy()),
    "garbage": lambda p: p.write_bytes(b"garbage" * 10),
    "truncated": lambda p: p.write_bytes(p.read_bytes()[:200]),
    "empty": lambda p: p.write_bytes(b""),
    "pickle": lambda p: np.savez(p, keys=np.array([object()], dtype=object), vectors=np.zeros((1, 384))),
    "no checksum": lambda p: np.savez(p, keys=np.zeros((2, 32), np.uint8), vectors=np.ones((2, 384), np.float32)),
}


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_cache_file_that_fails_its_checks_is_re_encoded_with_a_warning(enc, tmp_path, damage):
    first = encoder_sharing(enc, tmp_path)
    expected = first.encode(TWO)
    DAMAGES[damage](first.cache_path)
    again = encoder_sharing(enc, tmp_path)
    with pytest.warns(UserWarning, match="ignoring the text cache .* encoded again"):
        got = again.encode(TWO)
    assert again.encoded == [TWO] and torch.allclose(got, expected, atol=1e-6)
    later = encoder_sharing(enc, tmp_path)  # the file was rewritten: trusted again, no model call
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert torch.equal(later.encode(TWO), got) and later.encoded == []


def test_a_cache_that_cannot_be_written_still_returns_the_vectors(enc, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    stuck = encoder_sharing(enc, blocker / "cache")  # its folder cannot be created
    with pytest.warns(UserWarning, match="cannot write the text cache .* kept in memory"):
        got = stuck.encode(TWO)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once per encoder, not on every call
        assert torch.equal(stuck.encode(TWO + ["one more"])[:2], got)
    assert stuck.encoded == [TWO, ["one more"]]  # nothing computed was lost
    assert not list(tmp_path.rglob("*.tmp.npz"))


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_cache_folder_still_returns_the_vectors(enc, tmp_path):
    tmp_path.chmod(0o555)
    try:
        stuck = encoder_sharing(enc, tmp_path)
        with pytest.warns(UserWarning, match="cannot write the text cache"):
            got = stuck.encode(TWO)
        assert got.shape == (2, 384) and stuck.encoded == [TWO]
    finally:
        tmp_path.chmod(0o755)


def test_bad_texts_give_clear_errors(enc):
    with pytest.raises(ValueError, match="empty"):
        enc.encode([])
    with pytest.raises(ValueError, match=r"texts\[1\] is a int"):
        enc.encode(["fine", 3, None])
    with pytest.raises(ValueError, match="list of strings"):
        enc.encode({"a": 1})
    with pytest.raises(ValueError, match="batch_size"):
        text.TextEncoder(batch_size=0)


def test_long_text_is_truncated_with_a_logged_note(enc, caplog):
    with caplog.at_level(logging.WARNING, logger="llmrec_ref.text"):
        v = enc.encode(["word " * 400, "word " * 254])  # 400 and 254 tokens (+ [CLS], [SEP])
    assert "longer than the model's window of 256 tokens" in caplog.text
    assert torch.allclose(v[0], v[1], atol=1e-6)  # the long text was cut to the same 256 tokens


# ----------------------------------------------------------------------------- item texts
def test_item_texts_movielens_and_shop():
    ml = pd.DataFrame({"item_id": [1, 2, 3], "title": ["Toy Story", "Unknown Film", "Heat"],
                       "year": pd.array([1995, None, 1995], dtype="Int64"),
                       "genres": [["Animation", "Children's", "Comedy"], ["Drama"], []]})
    assert text.item_texts(ml) == ["Toy Story (1995). Genres: Animation, Children's, Comedy.",
                                   "Unknown Film. Genres: Drama.", "Heat (1995)."]
    shop = pd.DataFrame({"item_id": [1], "title": ["Apple phone X12 (256 GB)"],
                         "text": ["Premium black Apple phone with great camera."]})
    assert text.item_texts(shop) == ["Apple phone X12 (256 GB). Premium black Apple phone with great camera."]
    with pytest.raises(ValueError, match="title"):
        text.item_texts(pd.DataFrame({"item_id": [1]}))


def test_item_vectors_rows_are_item_ids(enc):
    items = pd.DataFrame({"item_id": [3, 1], "title": ["coffee beans", "a phone"]})
    table = text.item_vectors(enc, items)
    assert table.shape == (4, 384)
    assert torch.equal(table[0], torch.zeros(384)) and torch.equal(table[2], torch.zeros(384))
    assert torch.allclose(table[3], enc.encode(["coffee beans"])[0])
    with pytest.raises(ValueError, match="unique item_id"):
        text.item_vectors(enc, pd.DataFrame({"item_id": [1, 1], "title": ["a", "b"]}))


# ----------------------------------------------------------------------------- text_init, query_scores
def test_text_init_is_pca():
    g = torch.Generator().manual_seed(0)
    v = torch.cat([torch.zeros(1, 6), torch.randn(20, 6, generator=g)])
    x = text.text_init(v, 3)
    assert x.shape == (21, 3) and torch.equal(x[0], torch.zeros(3))
    centred = v[1:] - v[1:].mean(0)
    var = centred.double().var(0).sum() * torch.linalg.svdvals(centred.double())[:3].square().sum() / \
        torch.linalg.svdvals(centred.double()).square().sum()
    assert torch.allclose(x[1:].double().var(0).sum(), var, rtol=1e-4)  # keeps the top-3 variance
    gram = x.T @ x
    assert torch.allclose(gram - torch.diag(torch.diag(gram)), torch.zeros(3, 3), atol=1e-3)  # decorrelated
    with pytest.raises(ValueError, match="d_model"):
        text.text_init(v, 7)


class Fixed:
    def __init__(self, scores):
        self.scores = scores

    def score(self, users, history):
        return self.scores.clone()


def test_query_scores_mix_history_and_request():
    v = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])  # (n + 1, d), item 0 = padding
    base = torch.tensor([[float("-inf"), 3.0, 1.0, 2.0]])
    q = torch.tensor([0.0, 1.0])
    only_history = text.query_scores(Fixed(base), [1], None, q, v, weight=0.0)
    only_query = text.query_scores(Fixed(base), [1], None, q, v, weight=1.0)
    assert only_history[0, 1:].argsort(descending=True).tolist() == [0, 2, 1]
    assert only_query[0, 1:].argsort(descending=True).tolist() == [1, 2, 0]
    half = text.query_scores(Fixed(base), [1], None, q, v, weight=0.5)
    assert torch.allclose(half[0, 1:], (only_history[0, 1:] + only_query[0, 1:]) / 2)
    assert half[0, 0] == float("-inf") and torch.allclose(only_history[0, 1:].std(unbiased=False), torch.tensor(1.0))
    ruled_out = base.clone()
    ruled_out[0, 2] = float("-inf")  # the model rules item 2 out: it stays out at any weight
    for w in (0.0, 1.0):
        mixed = text.mix_scores(ruled_out, q @ v.T, weight=w)
        assert mixed[0, 2] == float("-inf") and torch.isfinite(mixed[0, [1, 3]]).all()
    with pytest.raises(ValueError, match="weight"):
        text.query_scores(Fixed(base), [1], None, q, v, weight=1.5)
    with pytest.raises(ValueError, match="encoder"):
        text.query_scores(Fixed(base), [1], None, "a phone", v)


# ----------------------------------------------------------------------------- cold start
@pytest.fixture(scope="module")
def log():
    rng = np.random.default_rng(0)
    n = 4000
    return pd.DataFrame({"user_id": rng.integers(1, 101, n), "item_id": rng.integers(1, 201, n),
                         "rating": rng.integers(1, 6, n).astype(float),
                         "timestamp": rng.integers(0, 10**7, n).astype(np.int64)})


def test_cold_start_split_keeps_every_cold_item_out_of_training(log):
    split = cold_start_split(log, frac=0.1, seed=3)
    assert len(split.cold_items) == 20 and split.n_items == 200
    assert not split.train["item_id"].isin(split.cold_items).any()
    assert split.test["item_id"].isin(split.cold_items).all()
    assert len(split.train) + len(split.test) == len(log)
    again = cold_start_split(log, frac=0.1, seed=3)
    assert np.array_equal(again.cold_items, split.cold_items)
    assert not np.array_equal(cold_start_split(log, frac=0.1, seed=4).cold_items, split.cold_items)
    with pytest.raises(ValueError, match="frac"):
        cold_start_split(log, frac=1.0)


def test_evaluate_cold_start_ranks_only_cold_items(log):
    split = cold_start_split(log, frac=0.1, seed=0)

    class Oracle:  # knows the truth, and puts every warm item even higher
        def score(self, users, history):
            s = torch.zeros(len(users), split.n_items + 1)
            s[:, 1:] = 1000.0
            s[:, torch.as_tensor(split.cold_items)] = 0.0
            for r, u in enumerate(np.asarray(users)):
                s[r, torch.tensor(split.test.loc[split.test.user_id == u, "item_id"].to_numpy())] = 1.0
            return s

    res = evaluate_cold_start(Oracle(), split, ks=(10,), n_boot=50)
    assert res.n_candidates == 20 and res.n_users == split.test["user_id"].nunique()
    assert res["hr@10"].mean == 1.0  # warm items never reach the list
    k = min(10, 20)
    truth_sizes = split.test.drop_duplicates(["user_id", "item_id"]).groupby("user_id").size()
    expected = np.mean(np.minimum(truth_sizes.to_numpy(), k) / truth_sizes.to_numpy())
    assert math.isclose(res["recall@10"].mean, expected, rel_tol=1e-6)


def test_attribute_popularity_by_hand():
    items = pd.DataFrame({"item_id": [1, 2, 3], "genres": [["A"], ["A", "B"], ["C"]]})
    train = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [1, 2, 2]})  # pop: A = 3, B = 2, C = 0
    s = AttributePopularity(items, "genres").fit(train).score([1, 2], train)
    assert s.shape == (2, 4) and s[0, 0] == float("-inf")
    assert s[0, 1:].tolist() == [3.0, 5.0, 0.0]
    assert AttributePopularity(items, "genres", agg="mean").fit(train).score([1], train)[0, 1:].tolist() == [3.0, 2.5, 0.0]


def test_history_weights():
    h = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [1, 2, 2], "rating": [4.0, 2.0, 5.0],
                      "timestamp": [0, 30 * 86400, 5]})
    assert history_weights(h, [2, 1], 3, "rating").tolist() == [[0, 0, 5, 0], [0, 4, 2, 0]]
    assert history_weights(h, [1], 3, "recency", half_life_days=30.0).tolist() == [[0, 0.5, 1, 0]]
    with pytest.raises(ValueError, match="1..3"):
        history_weights(h.assign(item_id=[1, 2, 9]), [1, 2], 3)


def test_text_only_formulas():
    g = torch.Generator().manual_seed(0)
    v = F.normalize(torch.randn(6, 4, generator=g), dim=1)
    v[0] = 0
    h = pd.DataFrame({"user_id": [1, 1], "item_id": [2, 5], "rating": [1.0, 3.0], "timestamp": [0, 1]})
    mean = TextOnly(v, mode="mean", learn=False, tau=0.5).fit(h).score([1, 7], h)
    p = F.normalize(1.0 * v[2] + 3.0 * v[5], dim=0)
    assert torch.allclose(mean[0, 1:], (v[1:] @ p) / 0.5, atol=1e-5)
    assert torch.equal(mean[1, 1:], torch.zeros(5))  # user 7 has no history
    att = TextOnly(v, mode="attention", learn=False, tau=0.1).fit(h).score([1], h)
    want = torch.log((1.0 * torch.exp((v[1:] @ v[2] - 1) / 0.1) + 3.0 * torch.exp((v[1:] @ v[5] - 1) / 0.1)) / 4.0)
    assert torch.allclose(att[0, 1:], want, atol=1e-4)


def test_text_only_learns_to_rank_unseen_items():
    # items on two topics (odd/even ids); each user likes one topic; 10 % of items never seen in training
    g = torch.Generator().manual_seed(0)
    item_topic = torch.arange(41) % 2
    v = F.normalize(torch.randn(41, 8, generator=g) * 0.3 + F.one_hot(item_topic, 8).float(), dim=1)
    v[0] = 0
    rng = np.random.default_rng(0)
    rows = [(u, i) for u in range(1, 61) for i in range(1, 41) if i % 2 == u % 2 and rng.random() < 0.5]
    log = pd.DataFrame(rows, columns=["user_id", "item_id"]).assign(timestamp=0)
    split = cold_start_split(log, frac=0.1, seed=0)
    model = TextOnly(v, steps=30, eval_every=10, verbose=False, seed=0).fit(split.train)
    assert model.train_log_ and {"step", "loss", "valid_ndcg@10"} <= set(model.train_log_[0])
    assert model.bias_.abs().sum() > 0 and not model.bias_.requires_grad
    users = np.arange(1, 61)
    cold_topic = item_topic[torch.as_tensor(split.cold_items)]
    assert cold_topic.tolist() == [1, 0, 1, 0]  # two cold items per topic
    s = model.score(users, split.train)[:, torch.as_tensor(split.cold_items)]  # (60, 4)
    top2 = cold_topic[s.topk(2, dim=1).indices]  # (60, 2) topics of each user's top-2 cold items
    assert torch.equal(top2, torch.as_tensor(users % 2)[:, None].expand(-1, 2))  # never seen, still right


def _two_topic_log():
    g = torch.Generator().manual_seed(0)
    v = F.normalize(torch.randn(21, 8, generator=g) * 0.3 + F.one_hot(torch.arange(21) % 2, 8).float(), dim=1)
    v[0] = 0
    rows = [(u, i) for u in range(1, 31) for i in range(1, 21) if i % 2 == u % 2]
    return v, pd.DataFrame(rows, columns=["user_id", "item_id"]).assign(timestamp=0)


def test_text_only_reports_one_plain_line_to_a_log_and_nothing_when_quiet(monkeypatch, capsys):
    v, log = _two_topic_log()
    monkeypatch.setenv("LLMREC_PROGRESS", "lines")  # what a file, a pipe or CI gets
    model = TextOnly(v, steps=20, eval_every=5, seed=0).fit(log)
    out, err = capsys.readouterr()
    assert out.count("\n") == 1 and out.startswith(f"TextOnly: {model.train_log_[-1]['step']} steps, best validation")
    assert "\r" not in out + err and "it/s" not in err  # no bar frames
    TextOnly(v, steps=20, eval_every=5, seed=0, verbose=False).fit(log)
    assert capsys.readouterr() == ("", "")


def test_encoding_reports_one_plain_line_to_a_log(enc, monkeypatch, capsys):
    monkeypatch.setenv("LLMREC_PROGRESS", "lines")
    loud = text.TextEncoder("minilm", cache_dir=False, batch_size=2, verbose=True)
    loud._model = enc.model  # the loaded model: no second load
    loud.encode(["one text.", "another text.", "a third text."])  # two batches
    out, err = capsys.readouterr()
    assert out.startswith("encoded 3 texts in ") and out.count("\n") == 1
    assert "\r" not in out + err
    loud.encode(["a fourth text."])  # one batch: nothing to report
    assert capsys.readouterr().out == ""
