"""``python -m llmrec_ref bench small``: how small and how fast the chapter-05 model can get, at what cost.

Quality: MovieLens-100k, leave-one-out by time, full ranking, history excluded; test NDCG@10
with a 95 % bootstrap interval over users and the paired difference "teacher minus this"
(the same users resampled). Rows: the teacher (the ``ML`` preset, item2vec start); a distilled
student (``STUDENT``: d_model 20, MLP width 20, no dropout, item2vec start at d 20; at most a
quarter of the teacher's parameters; trained on (1 - alpha) CE + alpha T^2 KL(teacher || student))
and the same student trained on the data alone, both early-stopped on validation within the same
epoch budget of 40 (their ``train s`` says what each cost); unstructured magnitude pruning of
the encoder's linear layers at 50 % and 80 % and structured pruning of 50 % of the MLP's hidden
units, each without and with a 2-epoch fine-tune (and, as their control, the unpruned teacher
fine-tuned for the same 2 epochs); dynamic int8 linear layers, and int8 / float16 item tables. ``size MB`` is ``torch.save`` of the
weights (a pruned matrix stored densely is as big as before); ``p50 ms`` one request through
``serve.Service`` with torch (int8 rows: their int8 path).

Latency (printed first): one request = a test user's last 50 events with their context, as
a JSON line, through ``Service`` stage by stage (parse JSON, encode without pandas, score,
top-10 and the reply's JSON), for torch eager, torch with int8 linear layers and ONNX Runtime;
p50 / p99 of the whole request, the median of each stage, and the throughput of batches of 64
requests (one forward pass each). On ML-100k (1,682 items) and on the shop (10,000 items, its
preset with max_len 50 and the request's context; its weights after one epoch: the time does
not depend on how well it is trained). ``max |onnx - torch|`` is over the scores of every
request timed. Timings depend on the machine and its load; int8 numbers also on its CPU's
int8 kernels.
"""

from __future__ import annotations

import copy
import json
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from llmrec_ref.bench import markdown_table
from llmrec_ref.compress import (
    copy_net,
    fine_tune,
    magnitude_prune,
    parameter_counts,
    quantize_table,
    request_flops,
    sparsity,
    state_bytes,
    with_item_table,
)
from llmrec_ref.distill import DistilledContextRec
from llmrec_ref.evaluation import full_ranking, paired_bootstrap, request_context
from llmrec_ref.models import ContextRec
from llmrec_ref.recipes import ML, SHOP, build, load_split, pretrained_items
from llmrec_ref.serve import Service, export_onnx, requests_from

__all__ = ["run", "add_arguments"]

# The student, chosen on validation NDCG@10 only (seed 0; docs/results-10.md has the search): the
# widest full item table whose model stays under a quarter of the teacher's parameters (d 20 with
# an MLP of width 20: 40,303 of 166,931), without dropout (at this size dropout 0.2 -> 0.1 -> 0
# gave valid NDCG@10 0.1145 -> 0.1232 -> 0.1278, the teacher 0.1270), and up to 40 epochs (it
# peaks after 20-30; the teacher's 16 are too few for it).
STUDENT = dict(d_model=20, n_heads=2, d_ff=20, dropout=0.0, epochs=40)
TEMPERATURE, ALPHA = 2.0, 0.5


def _requests(split, query: pd.DataFrame | None, n: int, seed: int, length: int = 50) -> list[str]:
    """``n`` JSON request lines: test users' last ``length`` events (train + valid) and context."""
    history = pd.concat([split.train, split.valid]).sort_values(["user_id", "timestamp", "item_id"], kind="stable")
    history = history.groupby("user_id").tail(length)
    users = np.random.default_rng(seed).choice(sorted(split.test["user_id"].unique()), n)
    by_user = {r_u: r for r_u, r in zip(sorted(set(users.tolist())),
                                        requests_from(history, query, sorted(set(users.tolist()))), strict=True)}
    return [json.dumps(by_user[u]) for u in users.tolist()]


def _latency(service: Service, lines: list[str], batch: int = 64) -> dict:
    """p50 / p99 ms of whole requests, median ms per stage, requests/s in batches of ``batch``."""
    for line in lines[:20]:  # warm up
        service.answer(line)
    stages, totals, scores = {"parse": [], "encode": [], "score": [], "top-k + reply": []}, [], []
    for line in lines:
        t0 = time.perf_counter()
        request = json.loads(line)
        t1 = time.perf_counter()
        inputs = service.encode(request["history"], request.get("context"))
        t2 = time.perf_counter()
        s = service.scores(inputs)
        t3 = time.perf_counter()
        items, top = service.top_k(s[0], [e["item_id"] for e in request["history"]], request.get("k", 10))
        json.dumps({"items": items, "scores": top})
        t4 = time.perf_counter()
        for name, a, b in zip(stages, (t0, t1, t2, t3), (t1, t2, t3, t4), strict=True):
            stages[name].append(b - a)
        totals.append(t4 - t0)
        scores.append(s[0])
    parsed = [json.loads(line) for line in lines]
    start, done = time.perf_counter(), 0
    for i in range(0, len(parsed) - batch + 1, batch):
        service.recommend_batch(parsed[i:i + batch])
        done += batch
    rate = done / (time.perf_counter() - start) if done else float("nan")
    ms = 1000 * np.array(totals)
    return {"p50 ms": float(np.percentile(ms, 50)), "p99 ms": float(np.percentile(ms, 99)),
            **{f"{k} ms": 1000 * float(np.median(v)) for k, v in stages.items()},
            "batch-64 requests/s": rate, "_scores": np.stack(scores)}


def _latency_rows(model, lines: list[str], catalogue: str, threads: int | None) -> list[dict]:
    rows, ref = [], None
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        path = export_onnx(model, Path(tmp) / "model.onnx")
        export_s = time.perf_counter() - start
        for backend in ("torch", "int8", "onnx"):
            row = {"catalogue": catalogue, "backend": backend}
            row |= _latency(Service(model, backend, path if backend == "onnx" else None, threads), lines)
            s = row.pop("_scores")
            if backend == "torch":
                ref = s
            elif backend == "onnx":
                row["max abs(onnx - torch)"] = f"{np.abs(s[:, 1:] - ref[:, 1:]).max():.1e}"
                row["onnx export s"] = export_s
            rows.append(row)
    base = rows[0]["p50 ms"]
    for row in rows:
        row["p50 / torch p50"] = row["p50 ms"] / base
    return rows


def _parts(model, name: str) -> list[dict]:
    """Parameters and multiply-adds of one request by part, and the measured time of the two halves."""
    net = model.network_
    counts, flops = parameter_counts(net), request_flops(net)
    T = model.net_config_.max_len
    items = torch.randint(1, net.config.n_items + 1, (1, T), generator=torch.Generator().manual_seed(0))
    table = net.item_table().detach()
    times = {"encode": [], "output": []}
    with torch.inference_mode():
        for _ in range(300):
            t0 = time.perf_counter()
            h, x = net.encode(items, None, table)
            t1 = time.perf_counter()
            net.logits(h, x, items != 0, last=True, table=table)
            times["encode"].append(t1 - t0)
            times["output"].append(time.perf_counter() - t1)
    rows = [{"model": name, "part": k, "parameters": v} for k, v in counts.items()]
    rows += [{"model": name, "part": f"request: {k}", "multiply-adds": v} for k, v in flops.items()]
    rows += [{"model": name, "part": "measured: embed + encode (torch, batch 1)", "ms": 1000 * np.median(times["encode"])},
             {"model": name, "part": "measured: output layer over the catalogue", "ms": 1000 * np.median(times["output"])}]
    return rows


def _int8_linear(model):
    out = copy.copy(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        out.network_ = torch.ao.quantization.quantize_dynamic(copy_net(model.network_), {nn.Linear}, dtype=torch.qint8)
    return out


def _table_bytes(model, dtype: str) -> int:
    state = dict(model.network_.state_dict())
    q, scale = quantize_table(state.pop("item_emb.weight"), dtype)
    return state_bytes(state | {"item_emb.q": q} | ({} if scale is None else {"item_emb.scale": scale}))


def run(epochs: int | None = None, seed: int = 0, n_requests: int = 1000, n_boot: int = 1000,
        threads: int = 1, verbose: bool = False) -> list[dict]:
    """Print the per-part and latency tables; return the "choosing a size" table (module docstring).

    ``threads``: torch's and ONNX Runtime's threads (default 1: one request on one core, how a
    small service is usually run; on a busy machine more threads mostly wait for each other)."""
    torch.set_num_threads(threads)
    split, items, n_items = load_split("ml-100k", seed)
    budget = {} if epochs is None else {"epochs": epochs}
    start = time.perf_counter()
    teacher = build(ML, "item2vec", split.train, items, n_items, seed, verbose=verbose, **budget)
    teacher.fit(split.train, split.valid)
    teacher_s = time.perf_counter() - start

    # the shop's 10,000 items, for latency only (one epoch)
    shop_split, shop_items, shop_n = load_split("shop", seed)
    shop = build(dict(SHOP, max_len=50, epochs=1), None, shop_split.train, shop_items, shop_n, seed, verbose=verbose)
    shop.fit(shop_split.train)
    print("### Where the parameters and the time go (one request, history of max_len = 50)\n")
    print(markdown_table(_parts(teacher, "ML-100k teacher") + _parts(shop, "shop (10,000 items)")) + "\n")

    ml_lines = _requests(split, None, n_requests, seed)
    shop_lines = _requests(shop_split, request_context(shop_split.test), n_requests, seed)
    latency = _latency_rows(teacher, ml_lines, "ML-100k (1,682 items)", threads)
    latency += _latency_rows(shop, shop_lines, "shop (10,000 items)", threads)
    print("### One request, from its JSON to the answer (history of 50 events, top-10)\n")
    print(markdown_table(latency) + "\n")

    variants = [("teacher (ML preset, d=64)", teacher, teacher_s, "torch")]
    small = dict(ML, **STUDENT, n_items=n_items, seed=seed, verbose=verbose) | budget
    for name, alpha in (("student d=20, distilled", ALPHA), ("student d=20, data only", 0.0)):
        start = time.perf_counter()
        student = DistilledContextRec(teacher, TEMPERATURE, ALPHA, **small) if alpha else ContextRec(**small)
        student.init_item_embeddings(pretrained_items("item2vec", split.train, items, n_items, small["d_model"], seed))
        student.fit(split.train, split.valid)
        variants.append((name, student, time.perf_counter() - start, "torch"))
    start = time.perf_counter()  # the control for the fine-tuned rows: 2 more epochs without pruning
    more = fine_tune(teacher, teacher.network_, split.train, split.valid, epochs=2, verbose=verbose)
    variants.append(("teacher + 2-epoch fine-tune (no pruning)", more, time.perf_counter() - start, "torch"))
    for amount, structured in ((0.5, False), (0.8, False), (0.5, True)):
        kind = "structured MLP units" if structured else "unstructured"
        pruned = magnitude_prune(teacher.network_, amount, structured)
        for tune in (0, 2):
            start = time.perf_counter()
            model = fine_tune(teacher, pruned, split.train, split.valid, epochs=tune, verbose=verbose)
            label = f"pruned {kind} {amount:.0%}" + (f" + {tune}-epoch fine-tune" if tune else "")
            variants.append((label, model, time.perf_counter() - start if tune else 0.0, "torch"))
    variants.append(("int8 linear layers (dynamic)", _int8_linear(teacher), 0.0, "int8"))
    variants += [(f"{d} item table", with_item_table(teacher, d), 0.0, "torch") for d in ("int8", "float16")]

    rows, first = [], None
    lines = ml_lines[: min(300, len(ml_lines))]
    for name, model, seconds, backend in variants:
        res = full_ranking(model, split, exclude_seen=True, ks=(10,), n_boot=n_boot, seed=seed)
        m, per_user = res["ndcg@10"], res.per_user["ndcg@10"]
        counted = teacher if backend == "int8" else model  # a quantised linear layer hides its weights
        row = {"variant": name, "parameters": sum(p.numel() for p in counted.network_.parameters()),
               "test ndcg@10": m.mean, "95% CI": f"[{m.low:.3f}, {m.high:.3f}]"}
        if first is None:
            first = per_user
            row["teacher minus this [95%]"] = ""
        else:
            d = paired_bootstrap(first, per_user, n_boot=n_boot, seed=seed)
            row["teacher minus this [95%]"] = f"{d['mean_diff']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}]"
        row["share of teacher's ndcg"] = m.mean / rows[0]["test ndcg@10"] if rows else 1.0
        if "item table" in name:
            row["size MB"] = _table_bytes(teacher, name.split()[0]) / 2 ** 20
        else:
            row["size MB"] = state_bytes(model.network_) / 2 ** 20
        row["encoder sparsity"] = sparsity(model.network_) if backend == "torch" else None
        service = model if backend == "torch" else teacher
        row["p50 ms"] = _latency(Service(service, backend, None, threads), lines)["p50 ms"]
        row["train s"] = seconds
        row["epochs"] = len(model.train_log_) if seconds else None
        rows.append(row)
    return rows


def add_arguments(parser) -> None:
    """Options of ``python -m llmrec_ref bench small``."""
    parser.add_argument("--epochs", type=int, default=None, help="maximum epochs of every model (default: the preset's 16, the students' 40)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--requests", dest="n_requests", type=int, default=1000, help="requests timed per backend")
    parser.add_argument("--n-boot", dest="n_boot", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1, help="torch and ONNX Runtime threads (default 1)")
    parser.add_argument("--verbose", action="store_true", help="print every epoch")
