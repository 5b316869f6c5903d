"""Data-parallel training and evaluation (llmrec_ref.distributed): two gloo processes on this CPU
follow the single-process trajectory, and their evaluation equals the single-process one exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from llmrec_ref.distributed import Shard, run_local, user_blocks
from llmrec_ref.evaluation import rank_heldout
from llmrec_ref.models import ContextRec
from llmrec_ref.split import leave_one_out

N_ITEMS = 30
# dropout 0: dropout masks are drawn per process (see llmrec_ref.distributed)
SMALL = dict(n_items=N_ITEMS, d_model=8, n_heads=2, max_len=6, epochs=3, batch_size=16, dropout=0.0,
             loss="sampled_softmax", n_negatives=10, patience=3, verbose=False)


SPARSE = SMALL | dict(sparse_items=True, epochs=2)


def make_split(n_users: int = 1100):
    """A log with more users than one evaluation block (512), so both processes rank blocks."""
    rng = np.random.default_rng(0)
    rows = []
    for u in range(1, n_users + 1):
        item = int(rng.integers(1, N_ITEMS + 1))
        for t in range(int(rng.integers(3, 9))):
            rows.append((u, item, 1_700_000_000 + 3600 * t + u, ["mobile", "desktop"][int(rng.random() < 0.5)]))
            item = item % N_ITEMS + 1 if rng.random() < 0.8 else int(rng.integers(1, N_ITEMS + 1))
    log = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp", "device"])
    return leave_one_out(log.drop_duplicates(["user_id", "item_id"]))


def _fit_and_rank(shard: Shard) -> dict:
    import llmrec_ref.distributed as D

    D.TABLE_ROWS = 16  # the item table (31 rows) and two context tables travel row-sparse, as a large one would
    split = make_split()
    model = ContextRec(**SMALL).fit(split.train, split.valid, shard=shard)
    res = rank_heldout(model, split.train, split.test, n_boot=50, shard=shard)
    lazy = ContextRec(**SPARSE).fit(split.train, split.valid, shard=shard)  # row-sparse table, SparseAdam
    return {"log": model.train_log_, "state": model.network_.state_dict(), "per_user": res.per_user,
            "means": res.means(), "users": res.users,
            "sparse": {"log": lazy.train_log_, "state": lazy.network_.state_dict()}}


def run_processes(world: int) -> dict:
    results = run_local(world, _fit_and_rank, timeout=240)
    same = [[{k: v for k, v in row.items() if k != "seconds"} for row in r["log"]] for r in results]
    assert all(log == same[0] for log in same)  # every process saw the same losses and validation metrics
    return results[0]


@pytest.fixture(scope="module")
def runs():
    torch.set_num_threads(1)
    split = make_split()
    model = ContextRec(**SMALL).fit(split.train, split.valid)
    single = rank_heldout(model, split.train, split.test, n_boot=50)
    lazy = ContextRec(**SPARSE).fit(split.train, split.valid)
    return {"single": {"log": model.train_log_, "state": model.network_.state_dict(), "model": model,
                       "per_user": single.per_user, "means": single.means(),
                       "sparse": {"log": lazy.train_log_, "state": lazy.network_.state_dict()}},
            1: run_processes(1), 2: run_processes(2)}


def test_one_process_job_equals_ordinary_fit_exactly(runs):
    single, one = runs["single"], runs[1]
    assert [r["loss"] for r in one["log"]] == [r["loss"] for r in single["log"]]
    for name, value in single["state"].items():
        assert torch.equal(one["state"][name], value), name


def test_two_processes_follow_the_single_process_trajectory(runs):
    single, two = runs["single"], runs[2]
    assert len(two["log"]) == len(single["log"]) == SMALL["epochs"]
    np.testing.assert_allclose([r["loss"] for r in two["log"]], [r["loss"] for r in single["log"]], rtol=1e-5)
    np.testing.assert_allclose([r["valid_ndcg@10"] for r in two["log"]],
                               [r["valid_ndcg@10"] for r in single["log"]], atol=1e-3)
    d = SMALL["d_model"]
    for name, value in single["state"].items():
        other = two["state"][name]
        if name.endswith("attn.qkv.bias"):
            # the key bias adds the same amount to every score of a query, which the softmax
            # ignores: its exact gradient is 0, and Adam turns the float noise in it into steps
            # of about lr with random signs. It differs between runs; the outputs do not.
            keep = torch.ones(3 * d, dtype=torch.bool)
            keep[d:2 * d] = False
            value, other = value[keep], other[keep]
        torch.testing.assert_close(other, value, rtol=1e-4, atol=1e-5, msg=name)


def test_a_sparse_item_table_trains_on_the_single_process_path_too(runs):
    """sparse_items=True: each process's touched rows are gathered and summed (llmrec_ref.distributed)."""
    single, one, two = runs["single"]["sparse"], runs[1]["sparse"], runs[2]["sparse"]
    assert [r["loss"] for r in one["log"]] == [r["loss"] for r in single["log"]]
    assert all(torch.equal(one["state"][k], v) for k, v in single["state"].items())
    np.testing.assert_allclose([r["loss"] for r in two["log"]], [r["loss"] for r in single["log"]], rtol=1e-5)
    torch.testing.assert_close(two["state"]["item_emb.weight"], single["state"]["item_emb.weight"],
                               rtol=1e-4, atol=1e-5)
    assert not torch.equal(single["state"]["item_emb.weight"], runs["single"]["state"]["item_emb.weight"])


def test_two_process_evaluation_is_exact_and_counts_each_user_once(runs):
    """Ranking the 2-process model in one process gives bitwise the metrics the two processes gathered."""
    two = runs[2]
    split = make_split()
    model = runs["single"]["model"]
    model.network_.load_state_dict(two["state"])
    ref = rank_heldout(model, split.train, split.test, n_boot=50)
    assert torch.equal(two["users"], ref.users)
    assert len(torch.unique(two["users"])) == len(two["users"]) == split.test["user_id"].nunique()
    for name, value in ref.per_user.items():
        assert torch.equal(two["per_user"][name], value), name
    assert two["means"] == ref.means()
    # and the two trainings score alike (the key bias, which differs, cancels in the softmax)
    users = torch.arange(1, 101)
    single = runs["single"]["model"]
    two_scores = single.score(users, split.train)[:, 1:]
    single.network_.load_state_dict(runs["single"]["state"])
    torch.testing.assert_close(two_scores, single.score(users, split.train)[:, 1:], rtol=1e-4, atol=1e-4)


def test_user_blocks_are_contiguous_balanced_and_cover_every_user():
    split = make_split(200)
    blocks = user_blocks(split.train, 3)
    assert np.array_equal(np.concatenate(blocks), np.sort(split.train["user_id"].unique()))
    events = [split.train["user_id"].isin(b).sum() for b in blocks]
    assert max(events) - min(events) <= 2 * split.train.groupby("user_id").size().max()
    with pytest.raises(ValueError, match="cannot be shared by 500 processes"):
        user_blocks(split.train, 500)
    with pytest.raises(ValueError, match="world must be an int >= 1"):
        user_blocks(split.train, 0)


def test_shard_needs_an_initialised_process_group():
    with pytest.raises(RuntimeError, match="not initialised"):
        Shard()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here: the GPU path runs where one is present")
def test_fit_score_and_evaluation_run_on_cuda_and_agree_with_the_cpu():
    split = make_split(300)
    cpu = ContextRec(**SMALL).fit(split.train, split.valid)
    gpu = ContextRec(**(SMALL | {"device": "cuda"})).fit(split.train, split.valid)
    assert next(gpu.network_.parameters()).is_cuda
    np.testing.assert_allclose([r["loss"] for r in gpu.train_log_], [r["loss"] for r in cpu.train_log_], rtol=1e-3)
    a = rank_heldout(cpu, split.train, split.test, n_boot=0)
    b = rank_heldout(gpu, split.train, split.test, n_boot=0)
    assert abs(a["ndcg@10"].mean - b["ndcg@10"].mean) < 0.02


def _die_after_one_epoch(shard: Shard, folder: str) -> None:
    """Both processes train one epoch with a checkpoint; then process 1 dies and process 0 goes on
    training, so its next all-reduce waits for a peer that is gone."""
    import os

    split = make_split(200)
    path = os.path.join(folder, "state.pt")
    ContextRec(**(SMALL | dict(epochs=1))).fit(split.train, shard=shard, checkpoint=path)
    if shard.rank == 1:
        os._exit(3)
    ContextRec(**(SMALL | dict(epochs=3))).fit(split.train, shard=shard, checkpoint=path)


def test_a_process_that_dies_stops_the_job_with_a_clear_error_and_a_whole_checkpoint(tmp_path):
    """The survivor is stopped at once (not after the timeout), the error names the process and its
    exit code, and the checkpoint left behind is the complete one of epoch 1: resuming from it in
    one process continues the trajectory."""
    import time

    start = time.monotonic()
    with pytest.raises(RuntimeError, match="process 1 of 2 exited with code 3; the others were stopped"):
        run_local(2, _die_after_one_epoch, str(tmp_path), timeout=200)
    assert time.monotonic() - start < 120
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.pt"]  # no half-written file
    split = make_split(200)
    model = ContextRec(**(SMALL | dict(epochs=2))).fit(split.train, checkpoint=tmp_path / "state.pt")
    assert [row["epoch"] for row in model.train_log_] == [1, 2]
