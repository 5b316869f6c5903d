"""``python -m llmrec_ref train``: train a preset ContextRec, in one process or data-parallel.

One process::

    python -m llmrec_ref train --dataset shop --out shop.pt

Two processes on one machine (gloo on CPU, NCCL when there are GPUs)::

    torchrun --nproc-per-node 2 -m llmrec_ref train --dataset shop --out shop.pt --checkpoint state.pt

Every process reads the whole data set (sizes, vocabularies and validation are global) and
trains on its block of users (``llmrec_ref.distributed``); ``--batch-size`` is the global
batch, so any number of processes follows the single-process trajectory. Process 0 writes
the model and the training state (each atomically); started again with the same
``--checkpoint``, training resumes where it stopped. The test metrics are ranked over all
processes and are exactly those of one process.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from llmrec_ref import recipes
from llmrec_ref.evaluation import full_ranking
from llmrec_ref.models import ContextRec

__all__ = ["fit_and_rank", "run_job"]


def _check_folder(path: str | None, what: str) -> None:
    if path is not None and not Path(path).parent.is_dir():
        raise FileNotFoundError(f"{what} {path!r}: the folder {str(Path(path).parent)!r} does not exist; create it first")


def run_job(dataset: str = "shop", out: str | None = None, checkpoint: str | None = None, epochs: int | None = None,
            batch_size: int | None = None, seed: int = 0, preset: str | None = None,
            sparse_items: bool = False) -> dict:
    """Train the preset (default: the first of ``recipes.PRESETS[dataset]``), evaluate it on the
    test part, save it to ``out``; returns the row that process 0 prints. ``sparse_items``: train
    the item table row-sparse (``ContextRecConfig.sparse_items``; for large catalogues)."""
    _check_folder(out, "cannot save the model to")
    _check_folder(checkpoint, "cannot write the training state to")
    presets = recipes.PRESETS.get(dataset)
    if presets is None:
        raise ValueError(f"dataset must be one of {sorted(recipes.PRESETS)}, got {dataset!r}")
    name = preset or next(iter(presets))
    if name not in presets:
        raise ValueError(f"preset must be one of {list(presets)}, got {name!r}")
    shard = None
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        from llmrec_ref.distributed import init

        shard = init()
    rank, world = (0, 1) if shard is None else (shard.rank, shard.world)
    settings, init_kind = presets[name]
    split, items, n_items = recipes.load_split(dataset, seed=seed)
    overrides = {k: v for k, v in (("epochs", epochs), ("batch_size", batch_size)) if v is not None}
    overrides |= {"sparse_items": True} if sparse_items else {}
    model = recipes.build(settings, init_kind, split.train, items, n_items, seed=seed,
                          verbose=rank == 0, **overrides)
    start = time.perf_counter()
    model.fit(split.train, split.valid, shard=shard, checkpoint=checkpoint)
    seconds = time.perf_counter() - start
    res = full_ranking(model, split, shard=shard)
    if rank == 0 and out is not None:
        model.save(out)
    row = {"dataset": dataset, "model": name, "processes": world, "epochs": len(model.train_log_),
           "train s": round(seconds, 1), "ndcg@10": str(res["ndcg@10"]), "hr@10": str(res["hr@10"]),
           "users": res.n_users}
    if shard is not None:
        import torch.distributed as dist

        dist.destroy_process_group()
    return row


def fit_and_rank(shard, settings: dict, split) -> dict:
    """Fit ``ContextRec(**settings)`` on ``split`` as one process of a job (``shard``, or None
    for a single process) and rank its test part; returns the training log, the weights and the
    per-user metrics. The function ``distributed.run_local`` runs in each process (chapter 11)."""
    model = ContextRec(**settings).fit(split.train, split.valid, shard=shard)
    res = full_ranking(model, split, n_boot=0, shard=shard)
    return {"log": model.train_log_, "state": model.network_.state_dict(), "users": res.users,
            "per_user": res.per_user, "means": res.means()}
