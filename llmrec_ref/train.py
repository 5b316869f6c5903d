"""Training loop, early stopping and checkpoints for the course's models.

Derived in notebooks/05_loss_derivation. ``fit`` minimises the model's loss with Adam,
one shuffled pass over the model's training rows per epoch (for ``ContextRec`` one row per
user: all positions of a history at once), and after each epoch measures validation
NDCG@10 by full ranking (history = train, truth = valid, history items excluded). It keeps
the best weights, stops after ``patience`` epochs without improvement, restores the best
and returns the history (loss and metrics per epoch) that the chapter plots.

A model plugs in with four methods: ``prepare(train, valid)`` (sizes, vocabularies,
layers), ``train_tensors(train) -> {name: (N, ...)}``, ``batch_loss(batch, generator)``
and ``score(users, history)``; its ``config`` dataclass holds the training settings.
``save``/``load`` write and read ``state_dict`` + the config as JSON (``weights_only=True``).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import time

import pandas as pd
import torch
from tqdm import tqdm

from llmrec_ref.evaluation import rank_heldout

__all__ = ["fit", "save", "load", "evaluate_valid"]


def evaluate_valid(model, train: pd.DataFrame, valid: pd.DataFrame) -> dict[str, float]:
    """Validation NDCG@10 and HR@10: full ranking, history = ``train``, its items excluded unless
    the model's ``config.mask_seen`` is False (then it is validated as it is trained: unmasked)."""
    exclude = getattr(model.config, "mask_seen", True)
    res = rank_heldout(model, train, valid, model.config.n_items, ks=(10,), n_boot=0, exclude_seen=exclude)
    return {"valid_ndcg@10": res["metrics"]["ndcg@10"]["mean"], "valid_hr@10": res["metrics"]["hr@10"]["mean"]}


def fit(model, train: pd.DataFrame, valid: pd.DataFrame | None = None, *, epochs: int | None = None,
        lr: float | None = None, batch_size: int | None = None, patience: int | None = None,
        seed: int | None = None, device: str | None = None, verbose: bool | None = None,
        loss: str | None = None, weight_decay: float | None = None) -> list[dict]:
    """Train ``model`` on ``train``; returns one dict per epoch (loss, seconds, validation metrics).

    Each epoch minimises the mean of the model's loss over shuffled batches with Adam (``lr``,
    ``weight_decay``); a tqdm bar shows the running loss (silent with ``verbose=False``). With
    ``valid``, NDCG@10 is measured after every epoch; training stops after ``patience`` epochs
    without a better one and the best weights are restored. Arguments left as None come from
    ``model.config`` (and given ones are written back to it). ``seed`` seeds the layers, the
    shuffling, negative sampling and dropout (it also re-seeds torch's global RNG): same seed,
    same machine, same model. ``device`` ("cpu" or "cuda") moves the model; the loop is the same.
    A NaN or infinite loss stops training with a ``FloatingPointError`` naming the epoch and lr.
    """
    c = model.config
    given = dict(epochs=epochs, lr=lr, batch_size=batch_size, patience=patience, seed=seed, device=device,
                 verbose=verbose, loss=loss, weight_decay=weight_decay)
    for name, value in given.items():
        if value is not None:
            if not hasattr(c, name):
                raise ValueError(f"{type(model).__name__} has no setting {name!r}")
            setattr(c, name, value)
    if c.epochs < 1 or c.batch_size < 1 or c.patience < 1 or not c.lr > 0:
        raise ValueError(f"epochs, batch_size and patience must be >= 1 and lr > 0, got epochs={c.epochs}, "
                         f"batch_size={c.batch_size}, patience={c.patience}, lr={c.lr}")
    if c.device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={c.device!r} but no CUDA GPU is available; use device='cpu'")
    torch.manual_seed(c.seed)  # dropout draws from the global generator
    model.prepare(train, valid)
    model.to(c.device)
    data = model.train_tensors(train)
    n = len(next(iter(data.values())))
    gen = torch.Generator().manual_seed(c.seed)
    opt = torch.optim.Adam(model.parameters(), lr=c.lr, weight_decay=c.weight_decay)
    history: list[dict] = []
    best, best_state, bad = -math.inf, None, 0
    for epoch in range(1, c.epochs + 1):
        model.train()
        start, total, seen = time.perf_counter(), 0.0, 0
        order = torch.randperm(n, generator=gen)
        bar = tqdm(range(0, n, c.batch_size), desc=f"epoch {epoch}/{c.epochs}", disable=not c.verbose, leave=False)
        for i in bar:
            idx = order[i:i + c.batch_size]
            batch = {k: v[idx].to(c.device) for k, v in data.items()}
            loss_value = model.batch_loss(batch, gen)
            if not torch.isfinite(loss_value):
                raise FloatingPointError(f"the loss became {loss_value.item()} in epoch {epoch} (lr={c.lr}); "
                                         "lower the learning rate or check the inputs for NaN")
            opt.zero_grad(set_to_none=True)
            loss_value.backward()
            opt.step()
            total, seen = total + loss_value.item() * len(idx), seen + len(idx)
            bar.set_postfix(loss=f"{total / seen:.4f}")
        row = {"epoch": epoch, "loss": total / seen, "seconds": time.perf_counter() - start}
        if valid is not None and len(valid):
            row.update(evaluate_valid(model, train, valid))
            if row["valid_ndcg@10"] > best:
                best, bad = row["valid_ndcg@10"], 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                bad += 1
        history.append(row)
        if c.verbose:
            metrics = "".join(f"  {k} {v:.4f}" for k, v in row.items() if k.startswith("valid"))
            print(f"epoch {epoch:>3}  loss {row['loss']:.4f}{metrics}  ({row['seconds']:.1f} s)")
        if bad >= c.patience:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return history


# ----------------------------------------------------------------------------- checkpoints
def _classes() -> dict:
    from llmrec_ref.mf import MF
    from llmrec_ref.models import ContextRec

    return {"ContextRec": ContextRec, "MF": MF}


RUNTIME = ("device", "verbose")  # settings that may differ between a checkpoint and the model it loads into


def save(model, path: str | os.PathLike) -> None:
    """Write ``{"class", "config" (JSON), "state_dict"}`` to ``path`` with ``torch.save``."""
    if not getattr(model, "built", False):
        raise ValueError("the model has no weights yet: fit it before saving")
    config = json.dumps(dataclasses.asdict(model.config))
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"class": type(model).__name__, "config": config, "state_dict": state}, path)


def load(path: str | os.PathLike, model=None, cls=None, device: str = "cpu"):
    """Read a checkpoint written by ``save`` (``torch.load(weights_only=True)``) and return the model.

    Without ``model`` a new one is built from the stored config (``cls`` must match the stored
    class if given). With ``model``, the stored weights go into it, and a config that differs
    (other than device/verbose) raises ``ValueError`` listing the differences.
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {os.fspath(path)!r}; write one with --save / model.save(path)")
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(ckpt, dict) or not {"class", "config", "state_dict"} <= set(ckpt):
        raise ValueError(f"{os.fspath(path)!r} is not a checkpoint written by llmrec_ref.train.save")
    classes = _classes()
    name, stored = ckpt["class"], json.loads(ckpt["config"])
    target = type(model) if model is not None else cls
    if target is not None and target.__name__ != name:
        raise ValueError(f"the checkpoint holds a {name}, not a {target.__name__}")
    if model is None:
        config_cls = type(classes[name]().config)
        model = classes[name](config_cls(**stored))
    else:
        mine = dataclasses.asdict(model.config)
        diff = [f"{k}: checkpoint {stored.get(k)!r}, model {mine.get(k)!r}" for k in sorted(set(stored) | set(mine))
                if k not in RUNTIME and stored.get(k) != mine.get(k)]
        if diff:
            raise ValueError("the checkpoint was saved with a different config; build the model from the "
                             "checkpoint instead (load(path)) or match these settings:\n  " + "\n  ".join(diff))
        if not model.built:
            model._build()
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as err:
        raise ValueError(f"the checkpoint's weights do not fit this {name}: {err}") from err
    model.config.device = device
    return model.to(device).eval()
