"""Data-parallel training and exact evaluation over several processes with ``torch.distributed``.

What DistributedDataParallel does, written out so it works with any model's loss function:
every process holds the whole model and a shard of the data; each step, every process
computes the gradient of its part of the batch, the gradients are summed over processes
(``all_reduce``), and every process takes the same optimiser step, so the weights stay
identical everywhere. Here the shard is a contiguous block of users (sorted by id, cut so the
blocks hold about the same number of events), and the batch of a step is the one a single
process would draw: every process draws the same permutation of the *global* rows and keeps
the rows it holds. With the loss of each part weighted by its share of the batch, the sum of
the gradients is the gradient of the single-process loss, so training with N processes
follows the single-process trajectory (up to the order of float sums) for any N, and one
global ``batch_size`` means the same thing for every N.

Two things make it exact, not merely close:

- the loss's own random draws (sampled negatives) come from a generator that every process
  keeps in step: after each step it takes the state of a process that drew;
- evaluation ranks users in fixed blocks (``evaluation.block_users``); each process ranks
  blocks ``rank, rank + world, ...`` and the blocks are gathered and put back in order.
  Nothing is padded (a ``DistributedSampler`` pads by repeating users, which counts them
  twice), and every score is computed in the same block as in one process.

Dropout draws its masks per process, so a model with dropout follows a different (equally
valid) random path than one process; with ``dropout=0`` the paths agree. ``loss="bpr"`` and
``"bce"`` draw one negative per position, so their draws depend on the part of the batch a
process holds: they train correctly but not on the single-process path.

Start it with ``torchrun --nproc-per-node N -m llmrec_ref train ...`` (gloo on CPU, NCCL when
each process has a GPU), or from Python with ``torch.multiprocessing`` (see the tests).
"""

from __future__ import annotations

import os
import socket
import tempfile
import time
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from torch import nn

__all__ = ["Shard", "init", "run_local", "user_blocks"]

TABLE_ROWS = 4096  # a 2-D parameter with more rows is an embedding table: its gradients travel row-sparse


def user_blocks(frame: pd.DataFrame, world: int) -> list[np.ndarray]:
    """The sorted user ids of ``frame`` cut into ``world`` contiguous blocks of about equal
    numbers of events (every block non-empty while there are at least ``world`` users)."""
    if isinstance(world, bool) or not isinstance(world, int) or world < 1:
        raise ValueError(f"world must be an int >= 1, got {world!r}")
    counts = frame.groupby("user_id").size().sort_index()
    if len(counts) < world:
        raise ValueError(f"{len(counts)} users cannot be shared by {world} processes: "
                         "use fewer processes or more data")
    users, ends = counts.index.to_numpy(), np.cumsum(counts.to_numpy())
    cuts = [0]
    for j in range(1, world):  # the block ends after the user who passes j / world of the events
        cut = int(np.searchsorted(ends, ends[-1] * j / world, side="left")) + 1
        cuts.append(min(max(cut, cuts[-1] + 1), len(users) - (world - j)))
    return np.split(users, cuts[1:])


class Shard:
    """This process's place in a ``torch.distributed`` job: ``rank`` of ``world`` processes.

    It owns a block of users (``own``), turns a step's global batch into its own rows
    (``step``), sums gradients and keeps generators in step, and gathers evaluation blocks
    (``gather``). Create it after ``dist.init_process_group`` (``init`` does both)."""

    def __init__(self, group=None) -> None:
        if not dist.is_available() or not dist.is_initialized():
            raise RuntimeError("torch.distributed is not initialised: call llmrec_ref.distributed.init() "
                               "or dist.init_process_group() first (torchrun sets the environment for it)")
        self.group = group
        self.rank, self.world = dist.get_rank(group), dist.get_world_size(group)
        self.device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend(group) == "nccl" \
            else torch.device("cpu")
        self.offset, self.n_global = 0, 0

    def own(self, frame: pd.DataFrame, like: pd.DataFrame | None = None) -> pd.DataFrame:
        """The rows of ``frame`` whose user is in this process's block (blocks cut on ``like``,
        default ``frame``: pass the training frame to share other frames the same way)."""
        mine = user_blocks(frame if like is None else like, self.world)[self.rank]
        return frame[frame["user_id"].isin(mine)]

    def gather(self, obj: object) -> list:
        """``obj`` of every process, in rank order (any picklable object)."""
        out = [None] * self.world
        dist.all_gather_object(out, obj, group=self.group)
        return out

    def barrier(self) -> None:
        """Wait until every process gets here (e.g. until process 0 has written a checkpoint)."""
        dist.barrier(group=self.group)

    def _sum(self, values: torch.Tensor) -> torch.Tensor:
        values = values.to(self.device)
        dist.all_reduce(values, group=self.group)
        return values.cpu()

    def start(self, module: nn.Module, n_local: int) -> int:
        """Copy process 0's weights to every process and place this process's rows among the
        global rows; returns the number of global rows."""
        for t in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(t.data, src=0, group=self.group)
        counts = self._sum(torch.eye(self.world, dtype=torch.long)[self.rank] * n_local)  # (world,)
        self.offset, self.n_global = int(counts[:self.rank].sum()), int(counts.sum())
        if self.n_global == 0:
            raise ValueError("no process has a training row: the training frame is empty")
        return self.n_global

    def step(self, module: nn.Module, rows: dict[str, torch.Tensor], idx: torch.Tensor,
             batch_loss: Callable, gen: torch.Generator,
             batch_weight: Callable[[dict[str, torch.Tensor]], int] | None, device,
             sparse: Sequence[nn.Parameter] = ()) -> torch.Tensor:
        """One step's gradients, summed over processes, for the global batch ``idx``; returns
        the single-process batch loss (the same on every process). ``sparse``: parameters whose
        gradients are sparse tensors (only the rows a process touched travel)."""
        mine = idx[(idx >= self.offset) & (idx < self.offset + len(next(iter(rows.values()))))] - self.offset
        batch = {k: v[mine].to(device) for k, v in rows.items()}
        weight = len(mine) if batch_weight is None else int(batch_weight(batch)) if len(mine) else 0
        weights = self._sum(torch.eye(self.world)[self.rank] * weight)  # (world,) every part's weight
        total = float(weights.sum())
        share = weight / total if total else 0.0
        loss = torch.zeros(())
        params = [p for p in module.parameters() if p.requires_grad]
        if weight:
            part = batch_loss(batch, gen)
            (part * share).backward()
            loss = part.detach().cpu() * share
        # gradients: sum over processes; a parameter no process used keeps grad None (Adam skips it)
        used = self._sum(torch.tensor([float(p.grad is not None) for p in params]))
        grads = [p for p, u in zip(params, used, strict=True) if u > 0]
        is_sparse = {id(p) for p in sparse}
        for p in grads:
            if p.grad is None and id(p) in is_sparse:  # no row touched here: an empty sparse gradient
                p.grad = torch.sparse_coo_tensor(torch.zeros(1, 0, dtype=torch.long, device=p.device),
                                                 p.new_zeros((0, *p.shape[1:])), p.shape, check_invariants=False)
            elif p.grad is None:
                p.grad = torch.zeros_like(p)
        for p in grads:
            if id(p) in is_sparse:
                p.grad = self._sum_sparse(p.grad)
        grads = [p for p in grads if id(p) not in is_sparse]
        tables = [p for p in grads if p.dim() == 2 and p.shape[0] > TABLE_ROWS]
        dense = [p for p in grads if not any(p is t for t in tables)]
        if dense:  # one all-reduce for every small tensor
            flat = torch.cat([p.grad.reshape(-1) for p in dense]).to(self.device)
            dist.all_reduce(flat, group=self.group)
            flat = flat.to(dense[0].grad.device)
            at = 0
            for p in dense:
                p.grad.copy_(flat[at:at + p.numel()].view_as(p.grad))
                at += p.numel()
        for p in tables:  # an item table: only the rows some process touched (the rest are 0 everywhere)
            touched = self._sum((p.grad != 0).any(1).to(torch.int32)) > 0  # (rows,)
            rows = touched.nonzero()[:, 0].to(p.grad.device)
            part = p.grad[rows].to(self.device)
            dist.all_reduce(part, group=self.group)
            p.grad[rows] = part.to(p.grad.device)
        # the generator: every process continues from the state of the first process that drew
        src = int((weights > 0).nonzero()[0]) if total else 0
        state = gen.get_state().to(self.device)
        dist.broadcast(state, src=src, group=self.group)
        gen.set_state(state.cpu())
        return self._sum(loss.reshape(1))[0]


    def _sum_sparse(self, grad: torch.Tensor) -> torch.Tensor:
        """The sum over processes of a sparse (rows, ...) gradient: every process's rows and values
        are gathered (padded to the longest), concatenated in rank order and summed per row, so
        every process builds the same tensor."""
        g = grad.coalesce()
        rows, values = g.indices()[0], g.values()  # (n,), (n, ...)
        sizes = self._sum(torch.eye(self.world, dtype=torch.long)[self.rank] * len(rows))  # (world,)
        width = int(sizes.max())
        pad_rows = torch.zeros(width, dtype=torch.long)
        pad_rows[:len(rows)] = rows.cpu()
        pad_values = torch.zeros((width, *values.shape[1:]), dtype=values.dtype)
        pad_values[:len(rows)] = values.cpu()
        all_rows = [torch.empty_like(pad_rows).to(self.device) for _ in range(self.world)]
        all_values = [torch.empty_like(pad_values).to(self.device) for _ in range(self.world)]
        dist.all_gather(all_rows, pad_rows.to(self.device), group=self.group)
        dist.all_gather(all_values, pad_values.to(self.device), group=self.group)
        rows = torch.cat([r[:n] for r, n in zip(all_rows, sizes.tolist(), strict=True)]).to(grad.device)
        values = torch.cat([v[:n] for v, n in zip(all_values, sizes.tolist(), strict=True)]).to(grad.device)
        return torch.sparse_coo_tensor(rows[None], values, grad.shape, check_invariants=False).coalesce()


def init(backend: str | None = None) -> Shard:
    """Join the job that ``torchrun`` (or the caller's environment: ``RANK``, ``WORLD_SIZE``,
    ``MASTER_ADDR``, ``MASTER_PORT``) describes; NCCL when CUDA is present, else gloo.
    Each process takes GPU ``LOCAL_RANK`` when there are GPUs."""
    missing = [v for v in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT") if v not in os.environ]
    if missing:
        raise RuntimeError(f"environment variables {missing} are not set: start the job with "
                           "`torchrun --nproc-per-node N -m llmrec_ref train ...`")
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    if not dist.is_initialized():
        dist.init_process_group(backend)
    return Shard()


def _local_worker(rank: int, world: int, port: int, folder: str, fn: Callable, args: tuple) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        result = fn(Shard(), *args)
        tmp = os.path.join(folder, f".tmp-{rank}.pt")
        torch.save(result, tmp)
        os.replace(tmp, os.path.join(folder, f"{rank}.pt"))
    finally:
        dist.destroy_process_group()


def run_local(world: int, fn: Callable, *args, timeout: float = 600) -> list:
    """Run ``fn(shard, *args)`` in ``world`` new processes on this machine (gloo, one thread
    each, as ``torchrun --nproc-per-node world`` would) and return their results in rank order.

    ``fn`` must be importable by the new processes (a function of a module, not one defined in
    a notebook); its result travels back through ``torch.save``. A process that fails (an
    exception, ``os._exit``, a signal) stops the others at once, as ``torchrun`` does: the others
    would otherwise wait in their next all-reduce for a peer that will never come. That, or
    running past ``timeout`` seconds, raises a ``RuntimeError`` naming the process and its exit
    code. Checkpoints are written by process 0 with one rename, so what a stopped job leaves is
    the last complete one."""
    import torch.multiprocessing as mp

    if isinstance(world, bool) or not isinstance(world, int) or world < 1:
        raise ValueError(f"world must be an int >= 1, got {world!r}")
    with socket.socket() as s:  # a free port for the rendezvous
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as folder:
        ctx = mp.start_processes(_local_worker, args=(world, port, folder, fn, args), nprocs=world,
                                 join=False, start_method="spawn")
        deadline = time.monotonic() + timeout
        first = None  # (rank, exit code) of the first process that failed
        while first is None and time.monotonic() < deadline and any(p.is_alive() for p in ctx.processes):
            for rank, p in enumerate(ctx.processes):
                p.join(timeout=0.05)
                if p.exitcode not in (None, 0):
                    first = (rank, p.exitcode)
                    break
        late = [r for r, p in enumerate(ctx.processes) if p.is_alive()]
        if first is None:
            first = next(((r, p.exitcode) for r, p in enumerate(ctx.processes) if p.exitcode not in (None, 0)), None)
        for p in ctx.processes:
            if p.is_alive():
                p.kill()
                p.join()
        if first is not None:
            rank, code = first
            how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
            raise RuntimeError(f"process {rank} of {world} {how}; the others were stopped"
                               + (f" (process(es) {late} were still running)" if late else "")
                               + ": see its error output above")
        if late:
            raise RuntimeError(f"process(es) {late} of {world} ran past {timeout} s and were stopped")
        return [torch.load(os.path.join(folder, f"{r}.pt"), weights_only=False) for r in range(world)]
