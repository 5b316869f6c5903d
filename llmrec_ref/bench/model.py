"""``python -m llmrec_ref bench model``: the chapter-05 model on real data, against its ablations.

Protocol (docs/design.md, section 4): leave-one-out by time on MovieLens-100k; on the shop, by default, the
next session (``split.next_session_split``: history = every earlier event, truth = every item
of the user's last session, and the model knows when and on which device that session starts,
never what happens in it; ``--protocol loo`` for leave-one-out). Full ranking of every item,
history items excluded unless ``--no-exclude-seen``; test NDCG@10 and HR@10 with 95 %
bootstrap intervals over users, and for every row after the first the paired bootstrap
differences "first row minus this row" of both metrics (the same users resampled for both).

Hyperparameters were chosen on the *validation* split (see ``llmrec_ref.recipes.PRESETS``); the test split is
only read for the final numbers. Rows on MovieLens-100k: ContextRec (Transformer, context
features, item2vec-initialised items), the same without context and with random init (the
ablation), the GRU variant, and Popularity. On ``--dataset shop``: with context (the past
events' and the request's), with the past events' context only, without context, and
without context or text. ``train s`` is everything from building the model to the restored
best epoch: the item2vec / text-vector pretraining (also shown alone as ``pretrain s``),
every epoch and its validation ranking; ``peak MB`` is the process's peak resident memory
so far (``ru_maxrss``), so it only grows down the table. Under ``--no-exclude-seen`` the
models are also trained without masking the history (they must learn to avoid seen items
themselves), and the numbers a widely used library reached on the same data and protocol
(measured on this machine, quoted from the course's issue #6) are added with the ratio of
their training time to ours.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from llmrec_ref.baselines import Popularity
from llmrec_ref.bench import markdown_table, non_negative_int, peak_memory_mb, positive_int
from llmrec_ref.evaluation import full_ranking, paired_bootstrap
from llmrec_ref.recipes import DEFAULT_PROTOCOL, PRESETS, PROTOCOLS, build, load_split

__all__ = ["run", "add_arguments"]

# quoted from issue #6: a widely used library, same data and protocol, history not excluded
LIBRARY = [
    {"model": "library GRU4Rec (quoted)", "test ndcg@10": 0.049, "test hr@10": 0.108, "epochs": 25,
     "s/epoch": 37.0, "train s": 25 * 37.0},
    {"model": "library SASRec (quoted)", "test ndcg@10": 0.045, "test hr@10": 0.101, "epochs": 5,
     "s/epoch": 113.0, "train s": 5 * 113.0},
]


def _metrics(model, split, exclude_seen: bool, n_boot: int, seed: int, per_user: dict | None = None) -> dict:
    """Test NDCG@10 / HR@10 with intervals; the first model's per-user values are kept in
    ``per_user`` and every later model gets the paired bootstrap differences to them."""
    res = full_ranking(model, split, exclude_seen=exclude_seen, ks=(10,), n_boot=n_boot, seed=seed)
    out = {}
    for name in ("ndcg@10", "hr@10"):
        m = res[name]
        out[f"test {name}"] = m.mean
        if m.low is not None:
            out[f"{name} 95% CI"] = f"[{m.low:.3f}, {m.high:.3f}]"
    if per_user is not None:
        for name, label in (("ndcg@10", "NDCG@10"), ("hr@10", "HR@10")):
            mine = res.per_user[name]
            if name not in per_user:
                per_user[name] = mine
                continue
            d = paired_bootstrap(per_user[name], mine, n_boot=max(n_boot, 1), seed=seed)
            out[f"first row minus this, {label} [95%]"] = f"{d['mean_diff']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}]"
    return out


def run(dataset: str = "ml-100k", epochs: int | None = None, seed: int = 0, exclude_seen: bool = True,
        threads: int | None = None, n_boot: int = 1000, verbose: bool = False,
        protocol: str | None = None) -> list[dict]:
    """Train every preset of ``dataset`` and evaluate it on the test split; one row per model.

    ``epochs`` overrides the presets' maximum (early stopping still applies); ``threads`` sets
    ``torch.set_num_threads`` for the run (``None`` keeps torch's default).
    """
    if threads is not None:
        torch.set_num_threads(threads)
    protocol = protocol or DEFAULT_PROTOCOL.get(dataset, "loo")
    split, items, n_items = load_split(dataset, seed, protocol)
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])  # pay torch's one-time optimizer imports before timing
    rows, first = [], {}
    for name, (preset, init) in PRESETS[dataset].items():
        start = time.perf_counter()
        model = build(preset, init, split.train, items, n_items, seed, verbose=verbose, mask_seen=exclude_seen,
                      **({} if epochs is None else {"epochs": epochs}))
        pretrain = time.perf_counter() - start
        model.fit(split.train, split.valid)
        seconds = time.perf_counter() - start
        best = max(model.train_log_, key=lambda r: r["valid_ndcg@10"])
        rows.append({"model": name, **_metrics(model, split, exclude_seen, n_boot, seed, first),
                     "valid ndcg@10": best["valid_ndcg@10"], "epochs": len(model.train_log_),
                     "s/epoch": float(np.mean([r["seconds"] for r in model.train_log_])), "pretrain s": pretrain,
                     "train s": seconds,
                     "peak MB": peak_memory_mb()})
    start = time.perf_counter()
    pop = Popularity(n_items=n_items).fit(split.train)
    rows.append({"model": "Popularity", **_metrics(pop, split, exclude_seen, n_boot, seed, first),
                 "train s": time.perf_counter() - start, "peak MB": peak_memory_mb()})
    if dataset == "ml-100k" and not exclude_seen:
        ours = rows[0]["train s"]
        rows += [dict(r, **{"time ratio": r["train s"] / ours}) for r in LIBRARY]
    for row in rows:
        row["protocol"] = ({"loo": "loo", "session": "next session"}[protocol] + ", full, "
                           + ("history excluded" if exclude_seen else "history NOT excluded"))
    return rows


def add_arguments(parser) -> None:
    """Options of ``python -m llmrec_ref bench model``."""
    parser.add_argument("--dataset", choices=("ml-100k", "shop"), default="ml-100k")
    parser.add_argument("--protocol", choices=sorted(PROTOCOLS), default=None,
                        help="loo (leave-one-out) or session (next session); default: loo on ml-100k, "
                             "session on the shop")
    parser.add_argument("--epochs", type=positive_int, default=None, help="maximum epochs (default: the presets')")
    parser.add_argument("--seed", type=non_negative_int, default=0)
    parser.add_argument("--no-exclude-seen", dest="exclude_seen", action="store_false",
                        help="rank the user's history items too (the library's protocol)")
    parser.add_argument("--threads", type=positive_int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--n-boot", dest="n_boot", type=non_negative_int, default=1000)
    parser.add_argument("--verbose", action="store_true", help="print every epoch")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m llmrec_ref.bench.model")
    add_arguments(parser)
    print(markdown_table(run(**vars(parser.parse_args()))))
