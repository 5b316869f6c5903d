"""Serving: one request (a history and its context) -> the top-k items, fast, outside a notebook.

Derived in notebooks/10_small_and_fast. A trained ``ContextRec`` answers a request in four
stages, each timed by ``python -m llmrec_ref bench small``:

1. **parse**: the request's JSON -> Python objects;
2. **encode** (``Service.encode``): the events -> the network's (1, max_len) left-padded
   codes with numpy and dicts only - no pandas on the request path. The codes are those
   ``ContextRec.score`` computes from a frame (``hour`` + 1, ``weekday`` + 1, log2 gap bucket
   + 1, behaviour code, vocabulary index + 1 of a categorical feature, unknown values get the
   extra code), so both give the same scores;
3. **score** (``Service.scores``): ``export.NextItemScores``, the network with its item table
   computed once (e = item table, s = h_T . e_c + b_c), run by torch (``backend="torch"``),
   by torch with dynamic int8 linear layers (``"int8"``), or by ONNX Runtime on the graph that
   ``export_onnx`` wrote (``"onnx"``);
4. **top-k** (``Service.top_k``): the k best items not in the history, without repeats, ties
   to the lower id.

``serve_lines`` answers JSON lines (``{"history": [...], "context": {...}, "k": 10}``) with
``{"items": [...], "scores": [...]}``, a bad line with ``{"error": "..."}``; it never stops on
one. ``python -m llmrec_ref serve --model PATH`` runs it on stdin.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import IO, Iterable

import numpy as np
import torch
from torch import nn

from llmrec_ref.context import KNOWN_FEATURES
from llmrec_ref.export import NextItemScores, export_onnx
from llmrec_ref.models import ContextRec
from llmrec_ref.preprocess import BEHAVIORS, gap_buckets
from llmrec_ref.recommender import read_checkpoint

__all__ = ["NextItemScores", "Service", "export_onnx", "load_for_serving", "serve_lines", "requests_from", "BACKENDS"]

BACKENDS = ("torch", "int8", "onnx")
SERVABLE = ("ContextRec", "DistilledContextRec")


def load_for_serving(path: str | os.PathLike) -> ContextRec:
    """The ContextRec (or distilled student) saved at ``path``; ``ValueError`` for another model's file."""
    try:  # the class name first, so that another model's file gets a message about serving
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # a missing or unreadable file: read_checkpoint says what is wrong
        blob = None
    name = blob.get("class") if isinstance(blob, dict) else None
    if name is not None and name not in SERVABLE:
        raise ValueError(f"{os.fspath(path)!r} holds a {name}; serve needs a ContextRec checkpoint "
                         f"({' or '.join(SERVABLE)}), written by model.save(path)")
    meta, tensors = read_checkpoint(path, name or "ContextRec")  # checks the file and its checksum
    if name == "DistilledContextRec":
        from llmrec_ref.distill import DistilledContextRec

        return DistilledContextRec._from_state(meta, tensors, "cpu")
    return ContextRec._from_state(meta, tensors, "cpu")


class Service:
    """``recommend(history, context, k)`` for a fitted ``ContextRec`` (see the module docstring).

    ``backend``: "torch", "int8" (``torch.ao.quantization.quantize_dynamic`` of the linear
    layers; int8 kernels differ between CPUs, so its scores do too) or "onnx" (``onnx_path``:
    a file ``export_onnx`` wrote for this model; ``None`` exports one to a temporary folder).
    ``threads``: ONNX Runtime's threads (torch's are ``torch.set_num_threads``); one request is
    fastest on one thread on a busy machine.
    """

    def __init__(self, model: ContextRec, backend: str = "torch", onnx_path: str | os.PathLike | None = None,
                 threads: int | None = None) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        if not isinstance(model, ContextRec):
            raise ValueError(f"model must be a fitted ContextRec, got {type(model).__name__}")
        model._check_fitted()
        c = model.net_config_
        self.model, self.backend, self.n_items, self.max_len = model, backend, c.n_items, c.max_len
        self.features = [f for f, _ in c.features]
        self.request_features = list(c.request_features)
        self.vocab = {f: {v: i for i, v in enumerate(values)} for f, values in model.vocab_.items()}
        self.module = NextItemScores(model.network_).cpu()
        if backend == "int8":
            with warnings.catch_warnings():  # torch announces that its quantized tensors will move to torchao
                warnings.simplefilter("ignore", UserWarning)
                self.module = torch.ao.quantization.quantize_dynamic(self.module, {nn.Linear}, dtype=torch.qint8)
        self.session = None
        if backend == "onnx":
            self.session = self._onnx_session(onnx_path, threads)

    def _onnx_session(self, onnx_path, threads: int | None):
        import onnxruntime as ort

        if onnx_path is None:
            self._tmp = tempfile.TemporaryDirectory()
            onnx_path = export_onnx(self.model, Path(self._tmp.name) / "model.onnx")
        if not os.path.isfile(onnx_path):
            raise FileNotFoundError(f"no ONNX file at {os.fspath(onnx_path)!r}; write one with export_onnx(model, path)")
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        session = ort.InferenceSession(os.fspath(onnx_path), options, providers=["CPUExecutionProvider"])
        names = [i.name for i in session.get_inputs()]
        width = session.get_outputs()[0].shape[-1]
        if names != ["item_id"] + self.module.names or width != self.n_items + 1:
            raise ValueError(f"the ONNX file {os.fspath(onnx_path)!r} was exported from another model (inputs {names}, "
                             f"{width} scores) than this one (inputs {['item_id'] + self.module.names}, "
                             f"{self.n_items + 1} scores): export it again from this checkpoint")
        return session

    # ---------------------------------------------------------------- stage 2: encode
    def _code(self, name: str, values: list) -> np.ndarray:
        """Codes of a categorical feature as stored in the sequences: vocabulary index + 1, unknown = len + 1."""
        vocab = self.vocab[name]
        return np.array([vocab.get(str(v), len(vocab)) + 1 for v in values], dtype=np.int64)

    def encode(self, history: list, context: dict | None = None) -> dict[str, np.ndarray]:
        """One request -> {"item_id": (1, T), feature: (1, T), "next_" + f: (1, T)} int64 arrays, T = max_len.

        ``history``: the user's past events, each ``{"item_id": i, "timestamp": t, "behavior": ...,
        "device": ...}`` (a bare item id when the model reads no context); ``context``: the request's
        ``{"timestamp": t, "device": ...}``, or None (the user goes on where they stopped)."""
        if not isinstance(history, list) or not history:
            raise ValueError("history must be a non-empty list of events: a request needs at least one past event "
                             "(recommend by popularity to a user without history)")
        events = [e if isinstance(e, dict) else {"item_id": e} for e in history]
        items = [e.get("item_id") for e in events]
        bad = [i for i in items if isinstance(i, bool) or not isinstance(i, int) or not 1 <= i <= self.n_items]
        if bad:
            raise ValueError(f"history holds item id {bad[0]!r} that this model does not know (ids 1..{self.n_items})")
        needs_time = any(f in KNOWN_FEATURES and f != "behavior_code" for f in self.features)
        if needs_time or self.request_features:
            ts = [e.get("timestamp") for e in events]
            if any(isinstance(t, bool) or not isinstance(t, int) for t in ts):
                raise ValueError("every history event needs an int 'timestamp' (seconds): this model reads "
                                 f"the context {self.features}")
        else:
            ts = [0] * len(events)
        order = np.lexsort((np.arange(len(events)), np.array(items), np.array(ts)))  # time order, as in training
        t = np.array(ts, dtype=np.int64)[order]
        gaps = np.diff(t, prepend=t[0])  # seconds since the previous event, 0 for the first
        order, t, gaps = order[-self.max_len:], t[-self.max_len:], gaps[-self.max_len:]
        seq = {"item_id": np.array(items, dtype=np.int64)[order]}
        ordered = [events[i] for i in order]
        for f in self.features:
            seq[f] = self._feature(f, ordered, t, gaps)
        T, n = self.max_len, len(order)
        out = {}
        for f, v in seq.items():
            row = np.zeros((1, T), dtype=np.int64)
            row[0, T - n:] = v
            out[f] = row
        for f in self.request_features:
            nxt = self._request_code(f, context, out[f][0, -1], int(t[-1]))
            out["next_" + f] = np.concatenate([out[f][:, 1:], [[nxt]]], 1)
        return out

    def _feature(self, name: str, events: list[dict], t: np.ndarray, gaps: np.ndarray) -> np.ndarray:
        """(n,) codes of one context feature of the time-ordered events, as ``ContextRec`` stores them."""
        if name == "hour":
            return (t // 3600) % 24 + 1
        if name == "weekday":
            return (t // 86400 + 3) % 7 + 1
        if name == "gap_bucket":
            return gap_buckets(gaps) + 1
        if name == "behavior_code":
            values = [e.get("behavior") for e in events]
            unknown = [v for v in values if v is not None and v not in BEHAVIORS]
            if unknown:
                raise ValueError(f"behavior {unknown[0]!r} is not one of {BEHAVIORS}")
            return np.array([0 if v is None else BEHAVIORS.index(v) + 1 for v in values], dtype=np.int64)
        return self._code(name, [e.get(name) for e in events])

    def _request_code(self, name: str, context: dict | None, last_code: int, last_ts: int) -> int:
        """The request's code of feature ``name``: from ``context`` (its timestamp, device, ...), else the
        last event's (a gap of 0 s), as ``llmrec_ref.context.request_codes`` does."""
        if not context:
            return 1 if name == "gap_bucket" else int(last_code)
        if not isinstance(context, dict) or isinstance(context.get("timestamp"), bool) \
                or not isinstance(context.get("timestamp"), int):
            raise ValueError(f"context must be a dict with an int 'timestamp' (+ {self.request_features}), got {context!r}")
        t = np.array([context["timestamp"]], dtype=np.int64)
        if name == "gap_bucket":
            return int(gap_buckets(t - last_ts)[0]) + 1
        if name in ("hour", "weekday"):
            return int(self._feature(name, [context], t, t)[0])
        return int(self._code(name, [context.get(name)])[0])

    # ---------------------------------------------------------------- stage 3: score
    def scores(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """(B, V) float32 scores of encoded requests (``encode``'s arrays, stacked along the batch)."""
        if self.session is not None:
            return self.session.run(None, inputs)[0]
        with torch.inference_mode():
            codes = [torch.from_numpy(inputs[n]) for n in ["item_id"] + self.module.names]
            return self.module(*codes).numpy()

    # ---------------------------------------------------------------- stage 4: top-k
    def top_k(self, scores: np.ndarray, seen: Iterable[int], k: int) -> tuple[list[int], list[float]]:
        """The ``k`` best items of one (V,) score row that are not in ``seen``, best first, no repeats,
        ties to the lower id; ``ValueError`` if fewer than k items can be recommended."""
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be an int >= 1, got {k!r}")
        s = np.array(scores, dtype=np.float32)  # a copy: the history is masked in it
        s[np.fromiter(seen, dtype=np.int64)] = -np.inf
        s[0] = -np.inf
        allowed = self.n_items - int(np.isneginf(s[1:]).sum())
        if k > allowed:
            raise ValueError(f"k={k} is larger than the {allowed} items this user can be recommended "
                             f"(catalogue of {self.n_items}, minus the history): ask for k <= {allowed}")
        top = np.argpartition(-s, k - 1)[:k] if k < len(s) else np.arange(len(s))
        top = top[np.lexsort((top, -s[top]))][:k]  # best first, ties to the lower id
        return top.tolist(), s[top].tolist()

    # ---------------------------------------------------------------- the whole request
    def recommend(self, history: list, context: dict | None = None, k: int = 10) -> dict:
        """``{"items": [k ids], "scores": [k floats]}``: the top-k items after ``history`` (see ``encode``)."""
        inputs = self.encode(history, context)  # checks the history
        items, scores = self.top_k(self.scores(inputs)[0], _items(history), k)
        return {"items": items, "scores": scores}

    def recommend_batch(self, requests: list[dict]) -> list[dict]:
        """``recommend`` for many requests with one forward pass (the batch's throughput)."""
        encoded = [self.encode(r["history"], r.get("context")) for r in requests]
        inputs = {n: np.concatenate([e[n] for e in encoded]) for n in encoded[0]}
        out = []
        for row, r in zip(self.scores(inputs), requests, strict=True):
            items, scores = self.top_k(row, _items(r["history"]), r.get("k", 10))
            out.append({"items": items, "scores": scores})
        return out

    def answer(self, line: str) -> dict:
        """One JSON request line -> the answer dict, or ``{"error": message}``; never raises."""
        try:
            request = json.loads(line)
            if not isinstance(request, dict) or "history" not in request:
                raise ValueError('a request is a JSON object {"history": [...], "context": {...}, "k": 10}')
            unknown = sorted(set(request) - {"history", "context", "k"})
            if unknown:
                raise ValueError(f"unknown request field(s) {unknown}; the fields are history, context, k")
            return self.recommend(request["history"], request.get("context"), request.get("k", 10))
        except (ValueError, TypeError, KeyError) as err:  # json.JSONDecodeError is a ValueError
            return {"error": f"{type(err).__name__}: {err}"}


def _items(history: list) -> list[int]:
    """The item ids of a (checked) history: every one of them, not only the last max_len."""
    return [e["item_id"] if isinstance(e, dict) else e for e in history]


def serve_lines(service: Service, lines: IO[str], out: IO[str]) -> int:
    """Answer every JSON line of ``lines`` on ``out`` (one line each, flushed); returns how many."""
    n = 0
    for line in lines:
        if not line.strip():
            continue
        out.write(json.dumps(service.answer(line)) + "\n")
        out.flush()
        n += 1
    return n


DERIVED = ("user_id", "rating", "gap", "gap_bucket", "hour", "weekday", "behavior_code")  # not sent by a client


def requests_from(history, query=None, users=None, k: int = 10) -> list[dict]:
    """JSON-able requests (one per user of ``users``, default every user of ``history``) from an
    interaction frame and an optional request-context frame (as ``ContextRec.score`` takes them):
    what a client would send. Offline help for tests and benchmarks, not on the request path."""
    columns = [c for c in history.columns if c not in DERIVED]
    users = sorted(history["user_id"].unique()) if users is None else list(users)
    by_user = dict(list(history.groupby("user_id")))
    first = {} if query is None else {u: g.sort_values("timestamp", kind="stable").iloc[0]
                                      for u, g in query.groupby("user_id")}
    out = []
    for u in users:
        rows = by_user[u][columns].to_dict("records") if u in by_user else []
        request = {"history": [{c: _plain(v) for c, v in row.items()} for row in rows], "k": k}
        if u in first:
            request["context"] = {c: _plain(v) for c, v in first[u].items()
                                  if c not in DERIVED + ("item_id", "behavior")}
        out.append(request)
    return out


def _plain(value):
    """numpy scalars -> Python ints / floats / strs, so a request is JSON-able."""
    return value.item() if hasattr(value, "item") else value
