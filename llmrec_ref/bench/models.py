"""``python -m llmrec_ref bench models``: the comparison table of chapter 06.

Derived in notebooks/06_evaluation. Every model is fitted on one seeded split and evaluated
by full ranking with bootstrap 95% intervals (1,000 user resamples). Protocols (docs/design.md):

- ``loo``: leave-one-out by time on every interaction (implicit feedback: each rating is
  an interaction); history = train + valid; rank every item except the user's history
  (``--no-exclude-seen`` ranks them too, as some libraries do).
- ``random``: per-user random 80/10/10 split with ``seed``; same ranking.

Hyperparameters are chosen on the validation split only (``baselines.ITEMKNN_GRID``,
``baselines.EASE_GRID``); the item-item models are listed twice, with the final fit on
train only and on train + valid. The trained models - MF with BPR (``mf.MFConfig``'s
defaults, chosen on validation), and under ``loo`` the sequential ContextRec variants of
``bench model`` (Transformer, GRU, and the Transformer whose item table adds a learned
projection of MiniLM text vectors when the ``[llm]`` extra is installed) - stop early on
validation NDCG@10 and are fitted on train only; their ``train_s`` includes building the
starting vectors (item2vec, MiniLM encoding) and the validation ranking after every epoch. ``--sampled N`` adds the same models' HR@10 / NDCG@10
under N sampled negatives, to show how much sampling inflates them.
"""

from __future__ import annotations

import argparse

import pandas as pd
import torch

from llmrec_ref.bench import markdown_table, non_negative_int, peak_memory_mb, positive_int, timed

__all__ = ["add_arguments", "evaluation_speed", "run"]

HEADLINE = ("hr@10", "ndcg@10", "mrr@10", "recall@10", "precision@10")
NAMES = {"hr@10": "HR@10", "ndcg@10": "NDCG@10", "mrr@10": "MRR@10", "recall@10": "Recall@10",
         "precision@10": "Precision@10"}


def _load(dataset: str, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """(interaction log, items frame, n_items) of ``dataset``."""
    if dataset == "ml-100k":
        from llmrec_ref.datasets import load_movielens_100k

        ml = load_movielens_100k()
        return ml.ratings, ml.items, int(ml.items["item_id"].max())
    if dataset == "shop":
        from llmrec_ref.datasets import make_synthetic_shop

        shop = make_synthetic_shop(seed=seed)
        return shop.interactions, shop.items, int(shop.items["item_id"].max())
    raise ValueError(f"dataset must be 'ml-100k' or 'shop', got {dataset!r}")


def _split(log: pd.DataFrame, protocol: str, seed: int):
    from llmrec_ref.split import leave_one_out, random_split

    if protocol == "loo":
        return leave_one_out(log)
    if protocol == "random":
        return random_split(log, seed=seed)
    raise ValueError(f"protocol must be 'loo', 'random' or 'both', got {protocol!r}")


SEARCH_MAX_ITEMS = 5000  # above this (the 10,000-item shop) one item-item fit takes minutes


def _models(n_items: int, seed: int) -> list[tuple[str, str, object]]:
    """(name, fitted on, model) for every model that exists. A ``None`` model is the previous
    one refitted on train + valid with the hyperparameters it chose (one search, two fits).
    Catalogues above ``SEARCH_MAX_ITEMS`` get the default hyperparameters, without a search."""
    from llmrec_ref.baselines import (
        EASE,
        EASE_GRID,
        ITEMKNN_GRID,
        ItemKNN,
        Popularity,
        RandomScorer,
    )

    search = n_items <= SEARCH_MAX_ITEMS
    return [
        ("Random", "-", RandomScorer(n_items=n_items, seed=seed)),
        ("Popularity", "train", Popularity(n_items=n_items, refit=False)),
        ("ItemKNN", "train", ItemKNN(n_items=n_items, grid=ITEMKNN_GRID if search else None, refit=False)),
        ("ItemKNN", "train+valid", None),
        ("EASE", "train", EASE(n_items=n_items, grid=EASE_GRID if search else None, refit=False)),
        ("EASE", "train+valid", None),
    ]


def _trained(dataset: str, protocol: str, n_items: int, seed: int, epochs: int | None, split, items):
    """(name, "train", unfitted model) for MF and, under ``loo``, the ContextRec variants."""
    from llmrec_ref.mf import MF
    from llmrec_ref.recipes import PRESETS, build

    extra = {} if epochs is None else {"epochs": epochs}
    out = [("MF-BPR", "train", MF(n_items=n_items, seed=seed, verbose=False, **extra))]
    if protocol != "loo":
        return out
    presets = list(PRESETS[dataset].items())
    chosen = [presets[0]] + [p for p in presets if "GRU" in p[0]]
    for name, (preset, init) in chosen:
        with timed() as t:
            model = build(preset, init, split.train, items, n_items, seed, verbose=False, **extra)
        model.pretrain_s_ = t["seconds"]  # item2vec / text vectors: counted in train_s
        out.append((name, "train", model))
    if dataset == "ml-100k":
        try:
            from llmrec_ref.text import TextEncoder, item_texts
        except ImportError:  # the [llm] extra is not installed: no text row
            return out
        with timed() as t:
            vectors = TextEncoder().encode(item_texts(items))  # (n, 384), cached on disk after the first run
            preset, init = presets[0][1]
            model = build(preset, init, split.train, items, n_items, seed, verbose=False, item_repr="id+text", **extra)
            model.set_item_text(torch.cat([torch.zeros(1, vectors.shape[1]), vectors]))
        model.pretrain_s_ = t["seconds"]  # includes encoding the texts (about 9 s when not cached)
        out.append(("ContextRec transformer (context, item2vec init, + MiniLM text projection)", "train", model))
    return out


def _cell(m) -> str:
    """'0.123 [0.110, 0.136]': the mean and its bootstrap 95% interval (``Metric.__str__``)."""
    return str(m)


def evaluation_speed(n_users: int = 943, n_items: int = 1682, repeats: int = 10, seed: int = 0) -> list[dict]:
    """Seconds of ``metrics.evaluate`` at K in (5, 10, 20) on a ``(n_users, n_items)`` score
    matrix shaped like ML-100k (6% of items excluded, 1% held out): best and median wall
    time of ``repeats`` runs, and best CPU time on one thread (barely affected by other load
    on the machine), without and with 1,000 bootstrap resamples (and with AUC)."""
    import time

    import torch

    from llmrec_ref.metrics import evaluate

    gen = torch.Generator().manual_seed(seed)
    scores = torch.randn(n_users, n_items, generator=gen)             # (U, I)
    exclude = torch.rand(n_users, n_items, generator=gen) < 0.06      # (U, I) history
    truth = (torch.rand(n_users, n_items, generator=gen) < 0.01) & ~exclude
    rows = []
    for label, options in [("no bootstrap", {"n_boot": 0}), ("1,000 bootstrap resamples", {}),
                           ("1,000 resamples + AUC", {"with_auc": True})]:
        times, cpu = [], []
        for _ in range(repeats):
            start = time.perf_counter()
            evaluate(scores, truth, exclude, ks=(5, 10, 20), **options)
            times.append(time.perf_counter() - start)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        for _ in range(repeats):
            start = time.process_time()
            evaluate(scores, truth, exclude, ks=(5, 10, 20), **options)
            cpu.append(time.process_time() - start)
        torch.set_num_threads(threads)
        times.sort()
        rows.append({"evaluate": label, "users x items": f"{n_users} x {n_items}", "ks": "5, 10, 20",
                     "best s": f"{times[0]:.3f}", "median s": f"{times[len(times) // 2]:.3f}",
                     "CPU s (1 thread)": f"{min(cpu):.3f}"})
    return rows


def run(dataset: str = "ml-100k", protocol: str = "loo", epochs: int | None = None, seed: int = 0,
        exclude_seen: bool = True, sampled: int | None = None, speed: bool = False,
        trained: bool = True) -> list[dict]:
    """One row per (protocol, model): headline metrics with intervals, coverage, cost.

    ``protocol`` is ``"loo"``, ``"random"`` or ``"both"``. ``epochs`` is for trained models
    (MF, ContextRec); the closed-form baselines here ignore it (``s/epoch`` = n/a).
    ``train_s`` includes the hyperparameter search on valid; ``fit_s`` is the final fit.
    ``peak MB`` is the process's peak resident memory so far. ``speed=True`` returns the
    ``evaluation_speed`` table instead; ``trained=False`` leaves out MF and ContextRec (minutes).
    """
    from llmrec_ref.evaluation import full_ranking, sampled_ranking

    if speed:
        return evaluation_speed(seed=seed)

    if sampled is not None and (isinstance(sampled, bool) or not isinstance(sampled, int) or sampled <= 0):
        raise ValueError(f"sampled must be a positive number of negatives (e.g. 100) or None, got {sampled!r}")
    protocols = ["loo", "random"] if protocol == "both" else [protocol]
    log, items, n_items = _load(dataset, seed)
    rows = []
    for proto in protocols:
        split = _split(log, proto, seed)
        previous = None
        models = _models(n_items, seed) + (_trained(dataset, proto, n_items, seed, epochs, split, items)
                                            if trained else [])
        for name, fitted_on, model in models:
            search_s, searched = 0.0, bool(getattr(model, "grid", None))
            if model is None:  # refit the previous model's choice on train + valid
                model = type(previous)(n_items=n_items, refit=True, **previous.hyperparameters())
                search_s, searched = previous.search_s_, bool(previous.grid)
            with timed() as t:
                model.fit(split.train, split.valid)
            res = full_ranking(model, split, n_items=n_items, ks=(10,), exclude_seen=exclude_seen,
                               protocol=proto, seed=seed)
            history = model.train_log_ if hasattr(model, "config") else None  # trained models: one row per epoch
            if history is not None:
                c = model.config
                hyper = f"d={c.d_model}, lr={c.lr:g}, epochs={len(history)} (early stop on valid)"
            else:
                hyper = ", ".join(f"{k}={v:g}" for k, v in model.hyperparameters().items())
                hyper = (hyper + ("" if searched else " (default, no search)")) if hyper else "-"
            row = {"model": name, "protocol": f"{proto} (full{'' if exclude_seen else ', seen kept'})",
                   "fit on": fitted_on, "hyperparameters": hyper}
            row.update({NAMES[m]: _cell(res[m]) for m in HEADLINE})
            row["coverage@10"] = f"{res['coverage@10'].mean:.3f}"
            if sampled:
                samp = sampled_ranking(model, split, n_negatives=sampled, n_items=n_items, ks=(10,), seed=seed)
                row[f"HR@10 ({sampled} sampled)"] = _cell(samp["hr@10"])
                row[f"NDCG@10 ({sampled} sampled)"] = _cell(samp["ndcg@10"])
            per_epoch = f"{sum(r['seconds'] for r in history) / len(history):.2f}" if history else "n/a"
            row.update({"train_s": f"{search_s + getattr(model, 'pretrain_s_', 0.0) + t['seconds']:.2f}",
                        "fit_s": f"{getattr(model, 'fit_s_', t['seconds']):.2f}",
                        "s/epoch": per_epoch, "peak MB": f"{peak_memory_mb():.0f}", "users": res.n_users})
            rows.append(row)
            previous = model
    return rows


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", choices=("ml-100k", "shop"), default="ml-100k")
    parser.add_argument("--protocol", choices=("loo", "random", "both"), default="loo")
    parser.add_argument("--epochs", type=positive_int, default=None, help="epochs for trained models (MF, ContextRec)")
    parser.add_argument("--seed", type=non_negative_int, default=0)
    parser.add_argument("--no-exclude-seen", dest="exclude_seen", action="store_false",
                        help="rank the user's history items too (as libraries that do not mask do)")
    parser.add_argument("--sampled", type=positive_int, default=None, metavar="N",
                        help="also report HR@10 / NDCG@10 with N sampled negatives")
    parser.add_argument("--no-trained", dest="trained", action="store_false",
                        help="only the closed-form baselines (leave out MF and ContextRec)")
    parser.add_argument("--speed", action="store_true",
                        help="time metrics.evaluate on an ML-100k-sized matrix instead")


if __name__ == "__main__":
    print(markdown_table(run()))
