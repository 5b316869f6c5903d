"""``python -m llmrec_ref bench scale``: how the cost of ContextRec grows with the data, on 1 and 2 processes.

The synthetic shop generates any size at its own events per user (about 100). Each rung
(users, items) is generated with seed 0 and split by the next session; ContextRec (the shop's
preset without text init, sampled softmax with 1,000 negatives, and ``sparse_items=True``: the
item table trains row-sparse, so a step costs the rows it touches; ``--dense-items`` for the
ordinary dense table and Adam) trains one epoch without validation, then the test sessions are ranked against the whole catalogue (blocks of users,
never users x items at once). Per rung and number of processes, one row: training events per
second and seconds per epoch, full-ranking seconds, and the peak resident memory of the
largest process. Each process runs one thread, so 2 processes use the 2 cores that 1 process
leaves half idle. The processes are started by ``torch.multiprocessing`` (gloo), exactly as
``torchrun`` would start them; the 1-process rows run in a child process too, so every row
pays the same start-up.

The last row fits ``seconds per epoch = c * events^a`` over the 1-process rows (least
squares in log-log): ``a`` near 1 means the cost per event stays flat as the data grows.

Printed before the ladder's table (``--catalogue``, on by default, run after the ladder so that
the ladder's processes do not inherit its memory): what the catalogue alone costs. The smallest
rung's log trains one epoch in one process with item tables of 10,000, 100,000 and 1,000,000
rows (the extra items are never seen), dense and row-sparse: the events are the same, so any
growth is a per-step cost proportional to the catalogue (a dense table's gradient and Adam's
update of every row), which each process of a data-parallel job pays in full.
"""

from __future__ import annotations

import os
import resource
import socket
import tempfile
import time

import numpy as np
import torch

from llmrec_ref.bench import positive_int

__all__ = ["run", "add_arguments"]

RUNGS = ((1_000, 10_000), (10_000, 100_000), (100_000, 1_000_000))


def add_arguments(parser) -> None:
    parser.add_argument("--rungs", type=positive_int, default=len(RUNGS),
                        help=f"how many rungs of {RUNGS} to run, smallest first (default all)")
    parser.add_argument("--processes", type=positive_int, nargs="+", default=[1, 2], help="process counts (default 1 2)")
    parser.add_argument("--batch-size", type=positive_int, default=256, help="global batch (default 256)")
    parser.add_argument("--no-catalogue", dest="catalogue", action="store_false",
                        help="skip the table of the catalogue's own cost (1 process, about two minutes)")
    parser.add_argument("--dense-items", dest="sparse", action="store_false",
                        help="train the ladder with the dense item table and Adam instead of sparse_items=True")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, n_users: int, n_items: int, batch_size: int, sparse: bool,
            out: str) -> None:
    import torch.distributed as dist

    from llmrec_ref.distributed import Shard
    from llmrec_ref.evaluation import full_ranking
    from llmrec_ref.models import ContextRec
    from llmrec_ref.preprocess import preprocess
    from llmrec_ref.recipes import SHOP
    from llmrec_ref.shop import make_synthetic_shop
    from llmrec_ref.split import next_session_split

    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    shard = Shard()
    start = time.perf_counter()
    shop = make_synthetic_shop(n_users=n_users, n_items=n_items, seed=0)
    split = next_session_split(preprocess(shop.interactions, remap=False, context=True).interactions)
    data_s = time.perf_counter() - start
    model = ContextRec(**(SHOP | dict(n_items=n_items, epochs=1, batch_size=batch_size, verbose=False,
                                      sparse_items=sparse)))
    start = time.perf_counter()
    model.fit(split.train, shard=shard)
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    res = full_ranking(model, split, ks=(10,), n_boot=0, shard=shard)
    eval_s = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = shard.gather({"peak": peak})
    if rank == 0:
        torch.save({"events": len(split.train), "data s": data_s, "train s": train_s, "eval s": eval_s,
                    "ndcg@10": res["ndcg@10"].mean, "users": res.n_users,
                    "peak MB": max(r["peak"] for r in rows)}, out)
    dist.destroy_process_group()


def _run_rung(n_users: int, n_items: int, world: int, batch_size: int, sparse: bool) -> dict:
    import torch.multiprocessing as mp

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "row.pt")
        mp.start_processes(_worker, args=(world, _port(), n_users, n_items, batch_size, sparse, out), nprocs=world,
                           start_method="spawn")
        return torch.load(out, weights_only=True)


def _catalogue_rows(batch_size: int) -> list[dict]:
    from llmrec_ref.bench import markdown_table
    from llmrec_ref.models import ContextRec
    from llmrec_ref.preprocess import preprocess
    from llmrec_ref.recipes import SHOP
    from llmrec_ref.shop import make_synthetic_shop
    from llmrec_ref.split import next_session_split

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    n_users, n_items = RUNGS[0]
    shop = make_synthetic_shop(n_users=n_users, n_items=n_items, seed=0)
    train = next_session_split(preprocess(shop.interactions, remap=False, context=True).interactions).train
    rows = []
    for sparse in (False, True):
        first = None
        for catalogue in (n_items, 10 * n_items, 100 * n_items):
            model = ContextRec(**(SHOP | dict(n_items=catalogue, epochs=1, batch_size=batch_size, verbose=False,
                                              sparse_items=sparse)))
            start = time.perf_counter()
            model.fit(train)
            seconds = time.perf_counter() - start
            first = first or seconds
            rows.append({"item table": "row-sparse (SparseAdam)" if sparse else "dense (Adam)",
                         "item table rows": catalogue, "train events": len(train), "epoch s": round(seconds, 1),
                         "events/s": round(len(train) / seconds), "x smallest table": round(seconds / first, 2)})
    torch.set_num_threads(threads)
    print("### The catalogue's own cost: the same events, larger item tables (1 process)\n")
    print(markdown_table(rows) + "\n")
    return rows


def run(rungs: int = len(RUNGS), processes: tuple[int, ...] = (1, 2), batch_size: int = 256,
        catalogue: bool = True, sparse: bool = True) -> list[dict]:
    if not 1 <= rungs <= len(RUNGS):
        raise ValueError(f"--rungs must lie in 1..{len(RUNGS)}, got {rungs}")
    if any(p < 1 for p in processes):
        raise ValueError(f"--processes must be >= 1, got {processes}")
    rows, fit = [], []
    for n_users, n_items in RUNGS[:rungs]:
        base = None
        for world in processes:
            r = _run_rung(n_users, n_items, world, batch_size, sparse)
            eps = r["events"] / r["train s"]
            base = base or eps
            rows.append({"users": n_users, "items": n_items, "train events": r["events"], "processes": world,
                         "events/s": round(eps), "x 1 process": round(eps / base, 2),
                         "epoch s": round(r["train s"], 1), "full ranking s": round(r["eval s"], 1),
                         "generate s": round(r["data s"], 1), "peak MB": round(r["peak MB"]),
                         "ndcg@10 (1 epoch)": round(r["ndcg@10"], 4)})
            if world == processes[0]:
                fit.append((r["events"], r["train s"]))
    if catalogue:  # after the ladder: a process started from this one would inherit its peak memory
        _catalogue_rows(batch_size)
    if len(fit) >= 2:
        x, y = np.log([e for e, _ in fit]), np.log([s for _, s in fit])
        slope = float(np.polyfit(x, y, 1)[0])
        rows.append({"users": "fit", "items": "", "train events": "", "processes": processes[0],
                     "events/s": "", "x 1 process": "", "epoch s": f"~ events^{slope:.2f}",
                     "full ranking s": "", "generate s": "", "peak MB": "", "ndcg@10 (1 epoch)": ""})
    return rows
