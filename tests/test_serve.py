"""Serving (llmrec_ref.serve): a request encoded without pandas gives ContextRec.score's scores,
top-k has no repeats and no history items, ONNX Runtime equals torch to 1e-5, bad requests and
files get clear errors, and the JSON-lines loop answers a bad line with an error and goes on."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from llmrec_ref.evaluation import request_context
from llmrec_ref.metrics import topk_items
from llmrec_ref.mf import MF
from llmrec_ref.models import ContextRec
from llmrec_ref.serve import Service, export_onnx, load_for_serving, requests_from, serve_lines
from llmrec_ref.split import leave_one_out

pytestmark = pytest.mark.usefixtures("one_thread")
N_ITEMS = 30


def _log(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(1, 31):
        item, t = int(rng.integers(1, N_ITEMS + 1)), 1_700_000_000 + int(rng.integers(0, 10 ** 6))
        for _ in range(int(rng.integers(4, 14))):
            t += int(rng.choice([5, 60, 4000, 90_000]))
            rows.append((u, item, t, str(rng.choice(["browse", "cart", "purchase"])), str(rng.choice(["mobile", "pc"]))))
            item = item % N_ITEMS + 1 if rng.random() < 0.7 else int(rng.integers(1, N_ITEMS + 1))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp", "behavior", "device"])


@pytest.fixture(scope="module")
def split():
    return leave_one_out(_log().drop_duplicates(["user_id", "item_id"]))


@pytest.fixture(scope="module", params=["past context", "request context"])
def model(request, split):
    return ContextRec(n_items=N_ITEMS, d_model=16, n_heads=2, max_len=8, epochs=2, verbose=False,
                      request_context=request.param == "request context").fit(split.train)


def _score_rows(model, split, users):
    query = request_context(split.test) if model.config.request_context else None
    return model.score(users, split.train, query).numpy(), requests_from(split.train, query, users)


def test_encoded_requests_score_as_contextrec_does(model, split):
    users = sorted(split.test["user_id"].unique())
    ref, requests = _score_rows(model, split, users)
    service = Service(model)
    got = np.concatenate([service.scores(service.encode(r["history"], r.get("context"))) for r in requests])
    assert np.isneginf(got[:, 0]).all()
    assert np.allclose(got[:, 1:], ref[:, 1:], atol=1e-5)
    batch = service.recommend_batch(requests)
    one = [service.recommend(r["history"], r.get("context"), 10) for r in requests]
    assert [b["items"] for b in batch] == [o["items"] for o in one]


def test_top_k_excludes_the_history_has_no_repeats_and_matches_the_metrics_ranking(model, split):
    users = sorted(split.test["user_id"].unique())
    ref, requests = _score_rows(model, split, users)
    service = Service(model)
    seen = [sorted(set(r["history"][i]["item_id"] for i in range(len(r["history"])))) for r in requests]
    expected, _ = topk_items(torch.from_numpy(ref), 10, exclude=seen)
    for r, s, row in zip(requests, seen, expected, strict=True):
        out = service.recommend(r["history"], r.get("context"), 10)
        assert len(out["items"]) == len(set(out["items"])) == 10 and not set(out["items"]) & set(s)
        assert out["scores"] == sorted(out["scores"], reverse=True)
        assert out["items"] == row.tolist()


def test_ties_go_to_the_lower_id_and_k_is_bounded(model):
    service = Service(model)
    scores = np.zeros(N_ITEMS + 1, dtype=np.float32)
    assert service.top_k(scores, [2, 3], 4)[0] == [1, 4, 5, 6]
    assert len(service.top_k(scores, [], N_ITEMS)[0]) == N_ITEMS
    with pytest.raises(ValueError, match="k=29 is larger than the 28 items"):
        service.top_k(scores, [1, 2], N_ITEMS - 1)
    for k in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="k must be an int"):
            service.top_k(scores, [], k)


@pytest.fixture(scope="module")
def onnx_file(model, tmp_path_factory):
    pytest.importorskip("onnxruntime")
    return export_onnx(model, tmp_path_factory.mktemp("onnx") / "m.onnx")


def test_onnx_runtime_equals_torch(model, split, onnx_file):
    path = onnx_file
    users = sorted(split.test["user_id"].unique())
    _, requests = _score_rows(model, split, users)
    eager, onnx = Service(model), Service(model, "onnx", path)
    encoded = [eager.encode(r["history"], r.get("context")) for r in requests]
    inputs = {n: np.concatenate([e[n] for e in encoded]) for n in encoded[0]}  # a batch: the batch size is free
    a, b = eager.scores(inputs), onnx.scores(inputs)
    assert np.array_equal(np.isneginf(a), np.isneginf(b)) and np.abs(a[:, 1:] - b[:, 1:]).max() < 1e-5
    assert [p.name for p in path.parent.iterdir()] == ["m.onnx"]  # no temporary file left
    served = Service(model, "onnx", path).recommend_batch(requests)
    assert [a["items"] for a in served] == [a["items"] for a in eager.recommend_batch(requests)]


def test_int8_backend_runs_and_stays_close(model, split):
    users = sorted(split.test["user_id"].unique())
    ref, requests = _score_rows(model, split, users)
    int8 = Service(model, "int8")
    got = np.concatenate([int8.scores(int8.encode(r["history"], r.get("context"))) for r in requests])
    assert np.isfinite(got[:, 1:]).all() and np.abs(got[:, 1:] - ref[:, 1:]).max() < 0.5  # int8 is approximate


def test_bad_requests_get_clear_errors(model, split):
    service = Service(model)
    event = {"item_id": 1, "timestamp": 1_700_000_000, "behavior": "cart", "device": "pc"}
    cases = [([], "history must be a non-empty list"), ("1,2", "history must be a non-empty list"),
             ([dict(event, item_id=N_ITEMS + 1)], f"item id {N_ITEMS + 1} .* does not know"),
             ([dict(event, item_id=0)], "item id 0"), ([dict(event, item_id="3")], "item id '3'"),
             ([dict(event, timestamp=None)], "timestamp"), ([dict(event, behavior="steal")], "behavior 'steal'")]
    for history, match in cases:
        with pytest.raises(ValueError, match=match):
            service.recommend(history, None, 5)
    if model.config.request_context:
        with pytest.raises(ValueError, match="context must be a dict with an int 'timestamp'"):
            service.recommend([event], {"device": "pc"}, 5)
    # an unknown device is a known case (the "unknown" code), not an error
    assert len(service.recommend([dict(event, device="fridge")], None, 5)["items"]) == 5


def test_serve_lines_answers_a_bad_line_and_goes_on(model):
    service = Service(model)
    event = {"item_id": 3, "timestamp": 1_700_000_000, "behavior": "cart", "device": "pc"}
    lines = [json.dumps({"history": [event], "k": 3}), "not json", json.dumps({"history": []}),
             json.dumps({"history": [event], "k": N_ITEMS}), json.dumps([1, 2]), "",
             json.dumps({"history": [event], "kk": 2}), json.dumps({"history": [event], "k": 2})]
    out = io.StringIO()
    assert serve_lines(service, lines, out) == 7
    answers = [json.loads(x) for x in out.getvalue().splitlines()]
    assert [("error" in a) for a in answers] == [False, True, True, True, True, True, False]
    assert len(answers[0]["items"]) == 3 and len(answers[-1]["items"]) == 2
    assert "JSONDecodeError" in answers[1]["error"] and "kk" in answers[5]["error"]


def test_files_of_another_model_or_catalogue_are_refused(model, split, tmp_path):
    MF(d_model=4, epochs=1, verbose=False).fit(split.train).save(tmp_path / "mf.pt")
    with pytest.raises(ValueError, match="holds a MF; serve needs a ContextRec"):
        load_for_serving(tmp_path / "mf.pt")
    with pytest.raises(FileNotFoundError):
        load_for_serving(tmp_path / "missing.pt")
    model.save(tmp_path / "m.pt")
    loaded = load_for_serving(tmp_path / "m.pt")
    assert torch.equal(loaded.network_.item_table(), model.network_.item_table())
    pytest.importorskip("onnxruntime")
    other = ContextRec(**dict(n_items=N_ITEMS + 5, d_model=16, max_len=8, epochs=1, verbose=False)).fit(split.train)
    export_onnx(other, tmp_path / "other.onnx")
    with pytest.raises(ValueError, match="exported from another model"):
        Service(model, "onnx", tmp_path / "other.onnx")
    with pytest.raises(FileNotFoundError, match="no ONNX file"):
        Service(model, "onnx", tmp_path / "none.onnx")
    with pytest.raises(ValueError, match="backend must be"):
        Service(model, "tensorrt")


def test_serve_command_reads_stdin(model, split, tmp_path):
    model.save(tmp_path / "m.pt")
    event = {"item_id": 3, "timestamp": 1_700_000_000, "behavior": "cart", "device": "pc"}
    stdin = json.dumps({"history": [event], "k": 2}) + "\n{bad\n"
    run = subprocess.run([sys.executable, "-m", "llmrec_ref", "serve", "--model", str(tmp_path / "m.pt")],
                         input=stdin, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    answers = [json.loads(x) for x in run.stdout.splitlines()]
    assert len(answers) == 2 and len(answers[0]["items"]) == 2 and "error" in answers[1]
    bad = subprocess.run([sys.executable, "-m", "llmrec_ref", "serve", "--model", str(tmp_path / "none.pt")],
                         input="", capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "no checkpoint" in bad.stderr
