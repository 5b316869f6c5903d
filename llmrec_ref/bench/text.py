"""``python -m llmrec_ref bench text``: the pretrained sentence encoder's cost and what it buys.

Derived in notebooks/07_llm_context. Three parts, on MovieLens-100k:

1. **cost**: loading all-MiniLM-L6-v2 (import + verified load), encoding the 1,682 item texts
   with an empty cache (target < 10 s), again from the cache with a fresh ``TextEncoder``
   (target < 0.5 s), and the same with the int8 dynamically quantised encoder (speed-up,
   weight size). A temporary cache folder is used, so the run never reads old vectors.
2. **cold start** (``coldstart.cold_start_split``: 10 % of the items, seed 0, removed from
   training; each user with a cold interaction ranks the 168 cold items only): random, an
   ID-only model (EASE: every cold item scores 0, so the order is the tie-break; by item id
   it is not random on MovieLens, whose low ids are the early, popular films), genre
   popularity, the rating-weighted mean of history text vectors, candidate-to-history
   attention, the learned ``TextOnly`` (temperature + text bias, optionally a rank-16
   projection), the learned model on int8 vectors, and ContextRec with a text-only item table
   (``item_repr="text"``; its epochs chosen on *pseudo-cold* items: another 10 % of the
   training items hidden, the test never read). Recall@10 and NDCG@10 with 95 % bootstrap
   intervals over users (target: Recall@10 >= 0.28).
3. **warm items** (leave-one-out, full ranking, history excluded), ContextRec with
   ``bench.model``'s ML-100k settings and three item tables: ID-only, ID started from the
   text vectors (``text.text_init``: PCA to d_model), and ID + a learned projection of the
   fixed text vectors (``item_repr="id+text"``), with the paired difference to ID-only.
"""

from __future__ import annotations

import tempfile
import time

import torch

from llmrec_ref.bench import markdown_table, non_negative_int, peak_memory_mb, positive_int, timed

__all__ = ["run", "add_arguments"]


def _ci(m) -> str:
    return "" if m.low is None else f"[{m.low:.3f}, {m.high:.3f}]"


def _weights_mb(module: torch.nn.Module) -> float:
    """Bytes of the state_dict tensors (int8 packed weights included), in MiB."""
    total = 0
    for v in module.state_dict().values():
        if isinstance(v, torch.Tensor):
            total += v.numel() * v.element_size()
        elif isinstance(v, tuple):  # packed quantised Linear: (weight, bias)
            total += sum(t.numel() * t.element_size() for t in v if isinstance(t, torch.Tensor))
    return total / 2**20


def _cost(texts: list[str], cache: str, batch_size: int) -> tuple[list[dict], dict]:
    from llmrec_ref.text import TextEncoder

    rows, vectors = [], {}
    for int8 in (False, True):
        label = "int8 dynamic" if int8 else "float32"
        enc = TextEncoder("minilm", cache_dir=cache, batch_size=batch_size, quantize=int8, verbose=False)
        with timed() as t_load:
            enc.load()
        with timed() as t_cold:
            vectors[int8] = enc.encode(texts)
        fresh = TextEncoder("minilm", cache_dir=cache, batch_size=batch_size, quantize=int8, verbose=False)
        with timed() as t_warm:
            again = fresh.encode(texts)
        assert torch.equal(again, vectors[int8]) and fresh._model is None
        rows += [
            {"part": "cost", "row": f"load model ({label})", "seconds": t_load["seconds"],
             "note": f"weights {_weights_mb(enc.model):.1f} MiB; includes importing sentence-transformers"
             if not int8 else f"weights {_weights_mb(enc.model):.1f} MiB"},
            {"part": "cost", "row": f"encode {len(texts):,} texts, empty cache ({label})", "seconds": t_cold["seconds"],
             "note": f"{torch.get_num_threads()} torch threads, batch {batch_size}; target < 10 s"},
            {"part": "cost", "row": f"encode {len(texts):,} texts from cache ({label})", "seconds": t_warm["seconds"],
             "note": "new TextEncoder, model never loaded; target < 0.5 s"},
        ]
        del enc
    rows[4]["speed-up"] = rows[1]["seconds"] / rows[4]["seconds"]
    cos = (vectors[False] * vectors[True]).sum(1)
    rows[4]["note"] += f"; cosine(int8, float32) mean {cos.mean():.4f}, min {cos.min():.4f}"
    return rows, vectors


class _RandomTies:
    """Adds U(0, 1e-6) noise to a model's scores: equal scores (all cold items under an ID-only
    model score 0) are then ordered at random instead of by item id."""

    def __init__(self, model, seed: int) -> None:
        self.model, self.seed = model, seed

    def fit(self, train, valid=None):
        self.model.fit(train, valid)
        return self

    def score(self, users, history) -> torch.Tensor:
        s = self.model.score(users, history)
        return s + 1e-6 * torch.rand(s.shape, generator=torch.Generator().manual_seed(self.seed))


def _cold_start(ml, vectors: dict, seed: int, n_boot: int, contextrec: bool = True,
                epochs: int | None = None) -> list[dict]:
    from llmrec_ref.baselines import EASE, RandomScorer
    from llmrec_ref.coldstart import (
        AttributePopularity,
        TextOnly,
        cold_start_split,
        evaluate_cold_start,
    )

    split = cold_start_split(ml.ratings, frac=0.1, seed=seed, n_items=len(ml.items))
    pad = lambda v: torch.cat([torch.zeros(1, v.shape[1]), v])  # noqa: E731 - row 0 = padding
    V, V8 = pad(vectors[False]), pad(vectors[True])
    models = {
        "random": RandomScorer(n_items=split.n_items, seed=seed),
        "EASE (ID-only), ties broken by item id": EASE(n_items=split.n_items),
        "EASE (ID-only), ties broken at random": _RandomTies(EASE(n_items=split.n_items), seed),
        "genre popularity": AttributePopularity(ml.items, "genres"),
        "text: rating-weighted mean of history": TextOnly(V, mode="mean", learn=False),
        "text: attention over history (tau 0.1)": TextOnly(V, mode="attention", learn=False),
        "text: learned (tau + text bias)": TextOnly(V, seed=seed, verbose=False),
        "text: learned + rank-16 projection": TextOnly(V, rank=16, seed=seed, verbose=False),
        "text: rating-weighted mean, int8 vectors": TextOnly(V8, mode="mean", learn=False),
        "text: learned, int8 vectors": TextOnly(V8, seed=seed, verbose=False),
    }
    if contextrec:  # the sequential model with a text-only item table, epochs chosen on pseudo-cold items
        with timed() as t_pick:
            chosen, tried = _pick_epochs(split, V, seed) if epochs is None else (epochs, {})
        models[f"ContextRec, text-only item table ({chosen} epochs)"] = _contextrec(split.n_items, "text", V, seed,
                                                                                  chosen)
    rows = []
    if contextrec and tried:
        rows.append({"part": "cold start", "row": "ContextRec text-only: choosing epochs", "seconds": t_pick["seconds"],
                     "note": "pseudo-cold Recall@10 by epochs: " + ", ".join(f"{e}: {r:.3f}" for e, r in tried.items())
                     + " (10% of the training items hidden; the test items never read)"})
    for name, model in models.items():
        with timed() as t:
            model.fit(split.train)
        m = evaluate_cold_start(model, split, ks=(10,), n_boot=n_boot, seed=seed).metrics
        rows.append({"part": "cold start", "row": name, "seconds": t["seconds"],
                     "recall@10": m["recall@10"].mean, "recall 95% CI": _ci(m["recall@10"]),
                     "ndcg@10": m["ndcg@10"].mean, "ndcg 95% CI": _ci(m["ndcg@10"]),
                     "note": f"{len(split.cold_items)} cold items, {split.test['user_id'].nunique()} users"})
    by = {r["row"]: r for r in rows}
    for full, int8 in (("text: rating-weighted mean of history", "text: rating-weighted mean, int8 vectors"),
                       ("text: learned (tau + text bias)", "text: learned, int8 vectors")):
        by[int8]["note"] += f"; NDCG@10 change vs float32: {by[int8]['ndcg@10'] - by[full]['ndcg@10']:+.4f}"
    return rows


WARM = {  # item table of ContextRec on MovieLens-100k: (item_repr, start the ID table from text)
    "ContextRec, ID-only item table": ("id", False),
    "ContextRec, ID table started from text (PCA)": ("id", True),
    "ContextRec, ID + learned projection of text": ("id+text", False),
}


def _contextrec(n_items: int, item_repr: str, V: torch.Tensor, seed: int, epochs: int | None, pca: bool = False,
                **overrides):
    """ContextRec with bench.model's MovieLens preset and the given item table (V: (n + 1, d_text))."""
    from llmrec_ref.models import ContextRec
    from llmrec_ref.recipes import ML
    from llmrec_ref.text import text_init

    config = dict(ML, n_items=n_items, seed=seed, verbose=False, item_repr=item_repr) | overrides
    if epochs is not None:
        config["epochs"] = epochs
    model = ContextRec(**config)
    if pca:
        model.init_item_embeddings(text_init(V, model.config.d_model))
    if item_repr != "id":
        model.set_item_text(V)
    return model


def _pick_epochs(split, V: torch.Tensor, seed: int, grid=(2, 4, 8, 16)) -> tuple[int, dict]:
    """Epochs for the text-only ContextRec, chosen without the cold items: hide another 10% of the
    *training* items, train on the rest, keep the epochs with the best Recall@10 on those."""
    from llmrec_ref.coldstart import cold_start_split, evaluate_cold_start

    inner = cold_start_split(split.train, frac=0.1, seed=seed + 1, n_items=split.n_items)
    tried = {}
    for e in grid:
        model = _contextrec(split.n_items, "text", V, seed, e).fit(inner.train)
        tried[e] = evaluate_cold_start(model, inner, ks=(10,), n_boot=0)["recall@10"].mean
    return max(tried, key=tried.get), tried


def _warm(ml, vectors: torch.Tensor, seed: int, n_boot: int, epochs: int | None) -> list[dict]:
    from llmrec_ref.evaluation import full_ranking, paired_bootstrap
    from llmrec_ref.recipes import load_split

    split, _, n_items = load_split("ml-100k", seed)
    V = torch.cat([torch.zeros(1, vectors.shape[1]), vectors])  # (n + 1, d_text), row 0 = padding
    rows, per_user = [], {}
    for name, (item_repr, pca) in WARM.items():
        model = _contextrec(n_items, item_repr, V, seed, epochs, pca)
        with timed() as t:
            model.fit(split.train, split.valid)
        res = full_ranking(model, split, ks=(10,), n_boot=n_boot, seed=seed)
        per_user[name] = res.per_user["ndcg@10"]
        m = res.metrics
        note = f"{len(model.train_log_)} epochs; full ranking, history excluded"
        if per_user.keys() - {name}:
            first = next(iter(per_user))
            diff = paired_bootstrap(per_user[name], per_user[first], n_boot=max(n_boot, 1), seed=seed)
            note += (f"; NDCG@10 minus ID-only {diff['mean_diff']:+.4f} [{diff['low']:+.4f}, {diff['high']:+.4f}], "
                     f"P(better) {diff['p_a_better']:.2f}")
        rows.append({"part": "warm (loo)", "row": name, "seconds": t["seconds"],
                     "recall@10": m["recall@10"].mean, "recall 95% CI": _ci(m["recall@10"]),
                     "ndcg@10": m["ndcg@10"].mean, "ndcg 95% CI": _ci(m["ndcg@10"]), "note": note})
    return rows


def run(seed: int = 0, n_boot: int = 1000, batch_size: int = 64, threads: int | None = None,
        contextrec: bool = True, epochs: int | None = None) -> list[dict]:
    """All three parts; one row per measurement. ``contextrec=False`` skips the (slow) warm part."""
    from llmrec_ref.datasets import load_movielens_100k
    from llmrec_ref.text import item_texts

    if threads is not None:
        torch.set_num_threads(threads)
    ml = load_movielens_100k()
    texts = item_texts(ml.items)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as cache:
        rows, vectors = _cost(texts, cache, batch_size)
    rows += _cold_start(ml, vectors, seed, n_boot, contextrec, epochs)
    if contextrec:
        rows += _warm(ml, vectors[False], seed, n_boot, epochs)
    rows.append({"part": "total", "row": "whole bench", "seconds": time.perf_counter() - start,
                 "note": f"peak memory {peak_memory_mb():.0f} MiB"})
    return rows


def add_arguments(parser) -> None:
    """Options of ``python -m llmrec_ref bench text``."""
    parser.add_argument("--seed", type=non_negative_int, default=0)
    parser.add_argument("--n-boot", dest="n_boot", type=non_negative_int, default=1000)
    parser.add_argument("--batch-size", dest="batch_size", type=positive_int, default=64)
    parser.add_argument("--threads", type=positive_int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--no-contextrec", dest="contextrec", action="store_false",
                        help="skip the warm-item ContextRec comparison (minutes of training)")
    parser.add_argument("--epochs", type=positive_int, default=None, help="maximum ContextRec epochs (default: bench.model's)")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m llmrec_ref.bench.text")
    add_arguments(parser)
    print(markdown_table(run(**vars(parser.parse_args()))))
