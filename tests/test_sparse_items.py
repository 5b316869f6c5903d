"""ContextRec(sparse_items=True): the ID item table trains row-sparse with lazy Adam (SparseAdam).

The loss and its gradient are those of the dense path (the same batch, the same draws); only
the optimiser differs: a row moves in the steps that touch it and stands still otherwise."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from llmrec_ref.models import ContextRec
from llmrec_ref.train import train_loop

SMALL = dict(n_items=40, d_model=8, n_heads=2, max_len=5, epochs=1, batch_size=8, dropout=0.0,
             loss="sampled_softmax", n_negatives=6, verbose=False)


def make_log(n_users: int = 30, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [(u, int(rng.integers(1, 31)), 1_700_000_000 + 60 * t, int(rng.integers(0, 2)))
            for u in range(1, n_users + 1) for t in range(int(rng.integers(3, 8)))]
    return pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp", "device"])


@pytest.mark.parametrize("loss", ["sampled_softmax", "bpr", "bce"])
def test_sparse_batch_loss_and_gradient_equal_the_dense_ones(loss):
    log = make_log()
    model = ContextRec(**(SMALL | dict(loss=loss, sparse_items=True))).fit(log)
    dense = copy.copy(model)
    dense.config = dataclasses.replace(model.config, sparse_items=False)
    batch = {k: v[:8] for k, v in model.training_rows(log).items()}
    net = model.network_
    grads = {}
    for name, m in (("sparse", model), ("dense", dense)):
        net.zero_grad(set_to_none=True)
        loss_value = m.batch_loss(batch, torch.Generator().manual_seed(3))
        loss_value.backward()
        grads[name] = (loss_value.detach(), {n: p.grad for n, p in net.named_parameters() if p.grad is not None})
    (ls, gs), (ld, gd) = grads["sparse"], grads["dense"]
    torch.testing.assert_close(ls, ld, rtol=1e-6, atol=1e-7)
    assert gs["item_emb.weight"].is_sparse and not gd["item_emb.weight"].is_sparse
    touched = gs["item_emb.weight"].coalesce().indices()[0]
    assert 0 < len(touched) < model.net_config_.n_items  # only some rows travel, never the padding row
    assert 0 not in touched.tolist()
    assert set(gs) == set(gd)
    for name, g in gs.items():
        torch.testing.assert_close(g.to_dense(), gd[name], rtol=1e-5, atol=1e-7, msg=name)


def test_train_loop_steps_sparse_rows_lazily_like_sparse_adam():
    """Two rows touched in turn: each moves only in its own step (dense Adam would move both in
    step 2, through its momentum); the result is SparseAdam's, run by hand in the same order."""
    emb = nn.Embedding(6, 3, sparse=True)
    start = emb.weight.detach().clone()
    rows = {"i": torch.tensor([1, 4])}

    def loss(batch, gen):
        return (emb(batch["i"]) ** 2).sum()

    train_loop(emb, rows, loss, epochs=1, lr=0.1, batch_size=1, seed=0, verbose=False, sparse=[emb.weight])
    assert torch.equal(emb.weight.detach()[[0, 2, 3, 5]], start[[0, 2, 3, 5]])
    ref = nn.Embedding(6, 3, sparse=True)
    ref.weight.data.copy_(start)
    opt = torch.optim.SparseAdam(ref.parameters(), lr=0.1)
    for i in torch.randperm(2, generator=torch.Generator().manual_seed(0)):
        opt.zero_grad()
        (ref(rows["i"][i:i + 1]) ** 2).sum().backward()
        opt.step()
    torch.testing.assert_close(emb.weight.detach(), ref.weight.detach(), rtol=0, atol=0)


def test_sparse_fit_scores_and_checkpoint_resume(tmp_path):
    log = make_log(60)
    full = ContextRec(**(SMALL | dict(sparse_items=True, epochs=2))).fit(log)
    path = tmp_path / "state.pt"
    ContextRec(**(SMALL | dict(sparse_items=True, epochs=1))).fit(log, checkpoint=str(path))
    resumed = ContextRec(**(SMALL | dict(sparse_items=True, epochs=2))).fit(log, checkpoint=str(path))
    assert [r["loss"] for r in resumed.train_log_] == [r["loss"] for r in full.train_log_]
    assert torch.equal(resumed.score([1, 2], log), full.score([1, 2], log))
    with pytest.raises(ValueError, match="sparse_items=True"):  # the same file, resumed without it
        ContextRec(**(SMALL | dict(epochs=3))).fit(log, checkpoint=str(path))


@pytest.mark.parametrize("bad, says", [
    (dict(loss="softmax"), "full softmax touches every row"),
    (dict(weight_decay=0.1), "weight_decay=0"),
    (dict(item_repr="text"), "no 'id' table"),
    (dict(sparse_items="yes"), "True or False"),
])
def test_sparse_items_refuses_settings_it_cannot_serve(bad, says):
    with pytest.raises(ValueError, match=says):
        ContextRec(**(SMALL | dict(sparse_items=True) | bad))
