"""The training loop every learned model of the course shares: minibatches, Adam, early stopping.

Derived in notebooks/05_loss_derivation, where the same loop is first written out in a few
lines. ``train_loop`` knows no model class: it gets an ``nn.Module`` (whose parameters it
trains), the training rows as tensors, a function that turns a batch into a scalar loss, and
optionally a function that measures the validation metric after each epoch. Each epoch is one
shuffled pass over the rows; training stops after ``patience`` epochs without a better
validation score and the best weights are restored. It returns one dict per epoch, the
model's ``train_log_``.
"""

from __future__ import annotations

import copy
import math
import os
import time
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch import nn

from llmrec_ref.progress import bar, report

__all__ = ["train_loop", "check_settings"]


def check_settings(epochs: int, lr: float, batch_size: int, patience: int, weight_decay: float = 0.0,
                   device: str = "cpu") -> None:
    """``ValueError`` naming the first bad training setting (whether CUDA is present is checked
    when training starts, so a config written on a GPU machine can still be read on a laptop)."""
    for name, value in (("epochs", epochs), ("batch_size", batch_size), ("patience", patience)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    if not (isinstance(lr, (int, float)) and lr > 0 and math.isfinite(lr)):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if not (isinstance(weight_decay, (int, float)) and weight_decay >= 0):
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")
    if not isinstance(device, str) or not (device == "cpu" or device.startswith("cuda")):
        raise ValueError(f"device must be 'cpu' or 'cuda[:n]', got {device!r}")


def train_loop(module: nn.Module, rows: dict[str, torch.Tensor],
               batch_loss: Callable[[dict[str, torch.Tensor], torch.Generator], torch.Tensor], *,
               epochs: int, lr: float, batch_size: int, patience: int = 5, weight_decay: float = 0.0,
               seed: int = 0, device: str = "cpu", verbose: bool = True,
               validate: Callable[[], dict[str, float]] | None = None,
               monitor: str = "valid_ndcg@10", name: str = "model", shard=None,
               batch_weight: Callable[[dict[str, torch.Tensor]], int] | None = None,
               checkpoint: str | os.PathLike | None = None, sparse: Sequence[nn.Parameter] = ()) -> list[dict]:
    """Minimise ``batch_loss`` over ``rows`` with Adam; returns one dict per epoch.

    ``rows`` maps names to tensors with the same first dimension N (one training row each);
    every epoch draws a permutation of the N rows and feeds ``batch_size`` of them at a time,
    moved to ``device``, to ``batch_loss(batch, generator)`` (the generator, seeded by
    ``seed``, is for the loss's own sampling). With ``validate``, its dict (which must hold
    ``monitor``, higher is better) is added to the epoch's row; the best weights are kept and
    restored at the end, and training stops after ``patience`` epochs without improvement.
    ``seed`` also seeds torch's global generator (dropout draws from it). A NaN or infinite
    loss raises ``FloatingPointError`` naming the epoch and ``lr``. Progress: a bar per epoch
    in a terminal or notebook, one line per epoch otherwise (``verbose=False``: silent).

    ``shard`` (a ``llmrec_ref.distributed.Shard``) trains data-parallel: ``rows`` are then this
    process's rows only, a contiguous block of the global rows. Every process draws the same
    permutation of the global rows, so a step's batch is the one a single process would take;
    each process computes the loss of its part, weighted by its share of the batch
    (``batch_weight(batch)``: the number of terms the loss averages, default the rows), the
    gradients are summed over processes, and the generator is kept in step. The weights, the
    loss log and what ``validate`` sees are those of one process with the same ``batch_size``,
    up to the order of float sums.

    ``checkpoint``: after every epoch the whole training state (weights, Adam's moments, the
    generators, the log, the best weights so far) is written to this file atomically (by
    process 0 only); if the file exists when training starts, training resumes from it and
    continues the same trajectory, to ``epochs`` in all. A checkpoint whose parameters do not
    fit ``module`` (another model, another catalogue size) is refused.

    ``sparse``: parameters of ``module`` whose gradients ``batch_loss`` makes sparse (an
    embedding looked up with ``sparse=True``); they are stepped by ``torch.optim.SparseAdam``
    ("lazy" Adam: only the rows a step touched move, with their own moments), the rest by Adam.
    """
    check_settings(epochs, lr, batch_size, patience, weight_decay, device)
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but no CUDA GPU is available; use device='cpu'")
    n = len(next(iter(rows.values()))) if rows else 0
    if (n == 0 and shard is None) or any(len(v) != n for v in rows.values()):
        raise ValueError(f"rows must be non-empty tensors with one common first dimension, got "
                         f"{ {k: tuple(v.shape) for k, v in rows.items()} }")
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    module.to(device)
    if shard is not None:
        n = shard.start(module, n)  # global rows; every process starts from process 0's weights
    opt = _optimizer(module, lr, weight_decay, sparse)
    log: list[dict] = []
    best, best_state, bad = -math.inf, None, 0
    if checkpoint is not None:
        checkpoint = Path(checkpoint)
        if not checkpoint.parent.is_dir():
            raise FileNotFoundError(f"checkpoint folder {checkpoint.parent} does not exist: create it first")
        if checkpoint.exists():
            log, best, best_state, bad = _resume(checkpoint, module, opt, gen)
    for epoch in range(len(log) + 1, epochs + 1):
        if bad >= patience:
            break
        module.train()
        start, total, seen = time.perf_counter(), 0.0, 0
        order = torch.randperm(n, generator=gen)
        steps = bar(range(0, n, batch_size), f"{name} epoch {epoch}/{epochs}", verbose)
        for i in steps:
            idx = order[i:i + batch_size]
            opt.zero_grad(set_to_none=True)
            if shard is None:
                loss = batch_loss({k: v[idx].to(device) for k, v in rows.items()}, gen)
            else:  # this process's part of the batch, gradients summed over processes
                loss = shard.step(module, rows, idx, batch_loss, gen, batch_weight, device, sparse=sparse)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"the loss became {loss.item()} in epoch {epoch} (lr={lr}); "
                                         "lower the learning rate or check the inputs for NaN")
            if shard is None:
                loss.backward()
            opt.step()
            total, seen = total + loss.item() * len(idx), seen + len(idx)
            if hasattr(steps, "set_postfix"):
                steps.set_postfix(loss=f"{total / seen:.4f}")
        row = {"epoch": epoch, "loss": total / seen, "seconds": time.perf_counter() - start}
        if validate is not None:
            module.eval()
            row.update(validate())
            if monitor not in row:
                raise ValueError(f"validate() must return {monitor!r}, got {sorted(row)}")
            if row[monitor] > best:
                best, bad = row[monitor], 0
                best_state = copy.deepcopy(module.state_dict())
            else:
                bad += 1
        log.append(row)
        metrics = "".join(f"  {k} {v:.4f}" for k, v in row.items() if k.startswith("valid"))
        report(f"{name} epoch {epoch:>3}  loss {row['loss']:.4f}{metrics}  ({row['seconds']:.1f} s)", verbose)
        if checkpoint is not None:
            if shard is None or shard.rank == 0:
                _save_state(checkpoint, module, opt, gen, log, best, best_state, bad)
            if shard is not None:
                shard.barrier()
    if best_state is not None:
        module.load_state_dict(best_state)
    module.eval()
    return log


class _Pair:
    """Adam for the dense parameters (``None`` if there are none) and SparseAdam for the sparse
    ones, stepped as one optimiser."""

    def __init__(self, dense: torch.optim.Optimizer | None, sparse: torch.optim.Optimizer) -> None:
        self.parts = {"dense": dense, "sparse": sparse}

    def zero_grad(self, set_to_none: bool = True) -> None:
        for opt in self.parts.values():
            if opt is not None:
                opt.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        for opt in self.parts.values():
            if opt is not None:
                opt.step()

    def state_dict(self) -> dict:
        return {k: {} if opt is None else opt.state_dict() for k, opt in self.parts.items()}

    def load_state_dict(self, state: dict) -> None:
        for k, opt in self.parts.items():
            if opt is not None:
                opt.load_state_dict(state[k])


def _optimizer(module: nn.Module, lr: float, weight_decay: float, sparse: Sequence[nn.Parameter]):
    """Adam over ``module``'s parameters, or a ``_Pair`` when some of them (``sparse``) get sparse gradients."""
    if not sparse:
        return torch.optim.Adam(module.parameters(), lr=lr, weight_decay=weight_decay)
    ids = {id(p) for p in sparse}
    if not ids <= {id(p) for p in module.parameters()}:
        raise ValueError("sparse must hold parameters of module (e.g. [model.item_emb.weight])")
    if weight_decay:
        raise ValueError(f"weight_decay={weight_decay} cannot apply to sparse parameters (SparseAdam has none); "
                         "use weight_decay=0")
    dense = [p for p in module.parameters() if id(p) not in ids]
    return _Pair(torch.optim.Adam(dense, lr=lr) if dense else None, torch.optim.SparseAdam(list(sparse), lr=lr))


def _save_state(path: Path, module: nn.Module, opt, gen: torch.Generator, log: list[dict], best: float,
                best_state: dict | None, bad: int) -> None:
    """Everything ``train_loop`` needs to continue, written to ``path`` atomically."""
    state = {"module": module.state_dict(), "optimizer": opt.state_dict(), "generator": gen.get_state(),
             "torch_rng": torch.get_rng_state(), "log": log, "best": best, "best_state": best_state, "bad": bad}
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _resume(path: Path, module: nn.Module, opt, gen: torch.Generator) -> tuple[list[dict], float, dict | None, int]:
    """Load a training state written by ``_save_state`` into ``module``, ``opt`` and ``gen``."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        keys = {"module", "optimizer", "generator", "torch_rng", "log", "best", "best_state", "bad"}
        if not isinstance(state, dict) or not keys <= set(state):
            raise ValueError("not a training state")
    except Exception as err:
        raise ValueError(f"{path} is not a training checkpoint written by train_loop ({err}); "
                         "delete it to train from the start") from None
    mine, theirs = module.state_dict(), state["module"]
    wrong = [f"{k}: {tuple(theirs[k].shape)} in the file, {tuple(v.shape)} here"
             for k, v in mine.items() if k in theirs and theirs[k].shape != v.shape]
    if set(mine) != set(theirs) or wrong:
        raise ValueError(f"{path} was written for another model or catalogue "
                         f"({'; '.join(wrong) or 'different parameters'}); delete it or use another path")
    written_sparse, sparse_now = "sparse" in state["optimizer"], isinstance(opt, _Pair)
    if written_sparse != sparse_now:
        raise ValueError(f"{path} was written {'with' if written_sparse else 'without'} sparse parameters "
                         f"(sparse_items={written_sparse}) and this run is {'with' if sparse_now else 'without'} "
                         "them; resume with the same setting, or delete the file")
    module.load_state_dict(theirs)
    opt.load_state_dict(state["optimizer"])
    gen.set_state(state["generator"])
    torch.set_rng_state(state["torch_rng"])
    return state["log"], state["best"], state["best_state"], state["bad"]
