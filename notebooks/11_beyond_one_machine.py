# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 11 · Beyond one machine: data-parallel training and exact evaluation
#
# **What you will learn**
# - why the gradient of a batch can be computed in parts, on several processes, and summed;
# - what `torch.distributed` does in a data-parallel job (sharding, all-reduce) and what
#   DistributedDataParallel automates;
# - why the *global* batch size is what defines the training run, whatever the number of
#   processes;
# - why evaluation must not pad the users (a common bug that changes the metrics);
# - how to run the course's model on several processes (`torchrun`) and check that it learns
#   exactly what one process learns;
# - why a large item table needs sparse gradients and a lazy optimiser to scale.
#
# **What you need:** chapter 05 (the model, `train_loop`, §1.2 minibatch SGD and Adam) and chapter 06
# (full-ranking metrics).
#
# Engineers copy the course's model into projects whose logs are a thousand times larger than
# MovieLens-100k. One process on one core then takes days. The cheapest way to use more
# hardware is **data parallelism**: every process holds the whole model and a share of the data.
# (When the model itself does not fit on one device, it is split across devices instead, *model
# parallelism*; a recommender's item table is the usual candidate. This chapter does not need it.)

# %%
import matplotlib.pyplot as plt
import pandas as pd
import torch

from llmrec_ref.distributed import run_local, user_blocks
from llmrec_ref.job import fit_and_rank
from llmrec_ref.models import ContextRec
from llmrec_ref.preprocess import preprocess
from llmrec_ref.recipes import SHOP
from llmrec_ref.shop import make_synthetic_shop
from llmrec_ref.split import next_session_split

torch.manual_seed(0)
shop = make_synthetic_shop(n_users=400, n_items=2000, seed=0)
split = next_session_split(preprocess(shop.interactions, remap=False, context=True).interactions)
print(f"{split.train['user_id'].nunique()} users, {len(split.train):,} training events, 2,000 items")

# %% [markdown]
# ## 1. A batch's gradient, in parts
#
# Chapter 05 trains on minibatches: each step takes a batch $\mathcal{B}$ of $P$ training
# positions and follows the gradient of their mean loss,
#
# $$L_\mathcal{B}(\theta) = \frac{1}{P} \sum_{j \in \mathcal{B}} \ell_j(\theta).$$
#
# Cut the batch into parts $\mathcal{B}_1, \dots, \mathcal{B}_N$ with $P_1 + \dots + P_N = P$
# positions, one part per process. Each process computes the mean over its own part,
# $L_r = \frac{1}{P_r}\sum_{j \in \mathcal{B}_r} \ell_j$, and its gradient. Because the gradient
# is linear,
#
# $$\nabla L_\mathcal{B} = \frac{1}{P}\sum_{r=1}^{N} \sum_{j \in \mathcal{B}_r} \nabla \ell_j
#   = \sum_{r=1}^{N} \frac{P_r}{P}\, \nabla L_r .$$
#
# So each process weights its gradient by its share $P_r / P$ of the batch, and the processes
# **sum** their gradients. Summing a tensor across processes, with every process receiving the
# result, is the collective operation called **all-reduce**. After it, every process holds the
# same gradient and takes the same optimiser step, so the weights stay identical everywhere
# without ever being sent.
#
# Let's check the identity on the course's model. The batch is cut by user, as the job below
# will cut it: the first part holds the first half of the users.

# %%
model = ContextRec(**(SHOP | dict(n_items=2000, d_model=16, max_len=10, dropout=0.0, verbose=False, epochs=1)))
model.fit(split.train[split.train["user_id"] <= 100])  # one epoch on 100 users: sizes, vocabularies, weights
rows = model.training_rows(split.train)
batch = {k: v[:64] for k, v in rows.items()}        # 64 rows (users) of the first step
gen_state = torch.Generator().manual_seed(1).get_state()


def loss_of(part: dict) -> torch.Tensor:
    gen = torch.Generator()
    gen.set_state(gen_state)                       # the same sampled negatives in every call
    return model.batch_loss(part, gen)


def gradient(loss: torch.Tensor) -> torch.Tensor:
    model.network_.zero_grad()
    loss.backward()
    return torch.cat([p.grad.reshape(-1) for p in model.network_.parameters() if p.grad is not None])


whole = gradient(loss_of(batch))
parts = [{k: v[:40] for k, v in batch.items()}, {k: v[40:] for k, v in batch.items()}]
P = [int((part["targets"] > 0).sum()) for part in parts]
summed = sum(P[r] / sum(P) * gradient(loss_of(parts[r])) for r in range(2))
print("positions per part:", P)

# %%
# NBVAL_CHECK_OUTPUT
print("sum of the weighted part gradients = gradient of the batch:",
      torch.allclose(summed, whole, rtol=1e-4, atol=1e-6))

# %% [markdown]
# Two details make this exact rather than approximate, and both are easy to get wrong:
#
# - **Weight by positions, not by processes.** DistributedDataParallel *averages* the
#   gradients over processes, which equals the batch gradient only when every part holds the
#   same number of terms. Our parts hold whole users, and users have histories of different
#   lengths; the course's job weights each part by $P_r/P$ itself.
# - **The loss's own random draws.** The sampled softmax draws 1,000 negatives per batch
#   (chapter 05). One process draws them once for the whole batch; here every process must draw
#   the *same* negatives, so every process keeps its random generator in step with the others.
#
# ## 2. The global batch is what defines a run
#
# A frequent mistake when a job moves from 1 to N processes: keep the batch size *per process*.
# The batch the optimiser sees is then N times larger, an epoch has N times fewer steps, and
# the learning rate that was tuned for one process no longer fits (chapter 05 §1.1: the step
# size is tuned for a given noise and curvature). The run is a different run.

# %%
n_rows = len(rows["items"])
table = pd.DataFrame([{"processes": n, "per-process batch 64: optimiser batch": 64 * n,
                       "steps per epoch": -(-n_rows // (64 * n)),
                       "global batch 64: optimiser batch": 64, "steps per epoch ": -(-n_rows // 64)}
                      for n in (1, 2, 4, 8)])
print(table.to_string(index=False))

# %% [markdown]
# The course's job takes `--batch-size` as the **global** batch: every process draws the same
# permutation of *all* training rows (the same seed), a step's batch is the one a single
# process would take, and each process computes only the rows it holds. Any number of
# processes, dividing the batch or not, then runs the same optimisation.
#
# ## 3. Sharding by user
#
# Each process holds a contiguous block of users, cut so that the blocks have about the same
# number of events (`distributed.user_blocks`). A user's rows live on one process, which is
# what a large system needs when a user's history sits on one machine.

# %%
blocks = user_blocks(split.train, 2)
for r, users in enumerate(blocks):
    print(f"process {r}: users {users[0]}..{users[-1]} ({len(users)}), "
          f"{split.train['user_id'].isin(users).sum():,} events")

# %% [markdown]
# ## 4. Two processes, one trajectory
#
# `distributed.run_local(2, fn, ...)` starts two processes on this machine with the gloo
# backend, exactly as `torchrun --nproc-per-node 2` would, and runs `fn(shard, ...)` in each.
# `job.fit_and_rank` fits ContextRec with the shard and ranks the test sessions. Here the same
# settings run once in this process and once on two (dropout 0: dropout masks are drawn per
# process, which would make the two runs different, equally valid random paths).

# %%
settings = SHOP | dict(n_items=2000, d_model=16, max_len=10, dropout=0.0, epochs=2, batch_size=64,
                       verbose=False, seed=0)
one = fit_and_rank(None, settings, split)
two = run_local(2, fit_and_rank, settings, split)
losses = pd.DataFrame({"one process": [r["loss"] for r in one["log"]],
                       "two processes": [r["loss"] for r in two[0]["log"]]},
                      index=pd.Index([1, 2], name="epoch"))
print(losses.round(6).to_string())

# %%
# NBVAL_CHECK_OUTPUT
rel = max(abs(a - b) / a for a, b in zip(losses["one process"], losses["two processes"], strict=True))
print("same loss trajectory (relative difference < 1e-5):", rel < 1e-5)
print("both processes end with the same log:",
      [r["loss"] for r in two[0]["log"]] == [r["loss"] for r in two[1]["log"]])

# %% [markdown]
# The losses agree to about the sixth digit, not bitwise: the two processes add the same numbers
# in another order (floating-point addition is not associative), and Adam carries the
# difference forward. With one process the job is the ordinary `fit`, bit for bit (a test
# checks it).
#
# ## 5. Evaluation must not pad
#
# To rank users on several processes, PyTorch's `DistributedSampler` gives every process the
# same number of users, and when the count does not divide evenly it **pads by repeating
# users** from the start of the list. Their metrics then count twice in the mean. The course's
# evaluation instead ranks fixed blocks of users (`evaluation.block_users`), process $r$ takes
# blocks $r, r + N, \dots$, and the blocks are gathered and put back in order: each user once,
# each score computed in the same block as in one process, so the metrics are *exactly* the
# single-process ones.
#
# What padding would have done to the two-process model's NDCG@10, for several process counts:

# %%
ndcg = two[0]["per_user"]["ndcg@10"]
exact = ndcg.double().mean().item()
rows_pad = []
for n in (2, 3, 7, 16, 64):
    padded = torch.cat([ndcg, ndcg[: (-len(ndcg)) % n]])   # DistributedSampler's padding
    rows_pad.append({"processes": n, "users counted twice": len(padded) - len(ndcg),
                     "padded NDCG@10": round(padded.double().mean().item(), 5), "exact": round(exact, 5)})
print(pd.DataFrame(rows_pad).to_string(index=False))

counts = range(1, 129)
padded_mean = [torch.cat([ndcg, ndcg[: (-len(ndcg)) % n]]).double().mean().item() for n in counts]
fig, ax = plt.subplots(figsize=(7, 3))
ax.plot(list(counts), padded_mean, ".", ms=4, label="padded (DistributedSampler)")
ax.axhline(exact, color="k", lw=1, label="exact (blocks, each user once)")
ax.set_xlabel("number of processes")
ax.set_ylabel("test NDCG@10")
ax.set_title(f"{len(ndcg)} test users: padding repeats the first ones")
ax.legend()
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
print("the two processes ranked every test user once:",
      len(two[0]["users"]) == split.test["user_id"].nunique() == len(torch.unique(two[0]["users"])))

# %% [markdown]
# ## 6. Running it
#
# From a terminal, the same job on the course's presets:
#
# ```bash
# python -m llmrec_ref train --dataset shop --out shop.pt                      # one process
# torchrun --nproc-per-node 2 -m llmrec_ref train --dataset shop --out shop.pt \
#     --checkpoint state.pt                                                    # two processes
# ```
#
# Process 0 writes the model and, after each epoch, the whole training state (weights, Adam's
# moments, the generators), each atomically; started again with the same `--checkpoint`, the
# job resumes on the same trajectory. `torchrun` stops every process when one dies.
#
# **What it costs.** Each step, every process sends its gradients: the dense layers whole, the
# item table only in the rows a batch touched (a table's other rows have a zero gradient
# everywhere). On one machine that is a copy through shared memory; across machines it is
# network traffic, and it is why data parallelism pays only when a step's computation is large
# against its gradient. `python -m llmrec_ref bench scale` measures training and ranking
# time per event from 10,000 to a million items on one and two processes.
#
# ## 7. The scale ladder
#
# The ladder is too slow for a chapter (its top rung, a million items, takes most of an hour on
# this course's 2-core machine), so the chapter reads the tables that `bench scale` printed from the
# results page, `docs/results.md`, and plots them. Each rung multiplies users and items by 10 at
# the shop's ~93 events per user. Two costs are on the plot, against the number of training events:
#
# - **one epoch of training**: per event, a forward and backward pass of the encoder and the
#   sampled softmax over 1,000 negatives: it does not depend on the catalogue, so the time of an
#   epoch should grow like events¹. The fitted exponent a in `time ≈ c · events^a` says how close;
# - **full-ranking evaluation**: every test user scored against *every* item. Users and items
#   both grow 10× per rung, so it grows like events², and it overtakes training: on a large
#   catalogue, evaluation, not training, is what needs the cluster (or a sample of users, or an
#   approximate nearest-neighbour index, both with their own errors).

# %%
from pathlib import Path

import numpy as np

import llmrec_ref
from llmrec_ref.tables import read_table  # a markdown table of the results page, as rows

RESULTS = Path(llmrec_ref.__file__).resolve().parents[1] / "docs" / "results.md"  # the repository's results page

page = RESULTS.read_text(encoding="utf8")
ladder = pd.DataFrame(read_table(page, "## Scale ladder"))  # rungs 1-2, one and two processes
top = pd.DataFrame(read_table(page, "### The top rung"))   # a separate run that reached a million items
ladder = pd.concat([ladder, top[top["items"] == "1000000"]], ignore_index=True)
ladder = ladder[ladder["users"].str.isdigit()]
numbers = ["users", "items", "train events", "processes", "events/s", "x 1 process", "epoch s", "full ranking s",
           "peak MB"]
ladder = ladder[numbers].apply(pd.to_numeric)
print(ladder.to_string(index=False))

one = ladder[ladder["processes"] == 1]
fig, ax = plt.subplots(figsize=(6, 3.6))
for column, marker in (("epoch s", "o"), ("full ranking s", "s")):
    slope = np.polyfit(np.log(one["train events"]), np.log(one[column]), 1)[0]
    ax.loglog(one["train events"], one[column], marker=marker, label=f"{column} (1 process): ~ events^{slope:.2f}")
two = ladder[ladder["processes"] == 2]
ax.loglog(two["train events"], two["epoch s"], "o--", alpha=0.6, label="epoch s (2 processes)")
ax.set_xlabel("training events"); ax.set_ylabel("seconds"); ax.legend(fontsize=8)
ax.set_title("Cost against data, shop ladder (bench scale, docs/results.md)")
plt.tight_layout(); plt.show()

# %% [markdown]
# Read off the plot and the table (measured, so machine-dependent and not checked):
#
# - **Training** grows no faster than the events (the fitted exponent is printed in the legend):
#   the cost per event stays flat while the catalogue grows 100-fold, because the sampled softmax
#   scores 1,000 negatives whatever the catalogue's size.
# - **Evaluation** grows with users x items, about events², and overtakes training: on a large
#   catalogue, ranking every user against every item is what needs the hardware.
# - **The second process** gives about 1.6x on the second rung and 1.2-1.4x on the smallest, whose
#   epoch is only ~20 steps. It took one more change to get there: with the ordinary dense item
#   table the second rung gave 1.1x (the results page keeps those runs), because each step, both
#   processes paid in full for what does not shrink with their share of the batch — the table's
#   dense gradient and Adam's update of every row. The ladder now trains with a row-sparse table
#   (section 8), which also makes a million-row table cost 1.4x a 10,000-row one instead of 4x.
# - **The top rung** (100,000 users, a million items, 9.4 M events) completes on this 2-core
#   machine: one epoch in about 8 minutes, the full ranking of 10^11 scores in about 27, under 8 GB.
#   The results page also works out, on paper, what 100 M events on 8 GPUs would take.

# %% [markdown]
# ## 8. A large catalogue: update only the rows a batch touched
#
# A batch of 64 histories touches a few thousand of the item table's rows (its items, their
# targets, the 1,000 sampled negatives); yet the gradient of a lookup `E[ids]` is, in PyTorch's
# default, a dense (V, d) tensor that is zero in every other row, and Adam then updates all V
# rows: with m_i ← β₁ m_i + (1 − β₁) g_i and v_i ← β₂ v_i + (1 − β₂) g_i², a row with g_i = 0
# still moves by lr · m̂_i / (√v̂_i + ε) while its momentum m_i decays. Each step therefore costs
# time in proportion to the catalogue, and every process of a data-parallel job pays it in full:
# it is the part of a step that a second process cannot share.
#
# The remedy has two halves. A **sparse gradient**: `embedding(ids, E, sparse=True)` returns
# the gradient as the list of touched rows and their values. A **lazy optimiser**:
# `torch.optim.SparseAdam` applies Adam's update to those rows only (their moments too); the
# other rows stand still until a batch touches them. That is a different optimiser from Adam,
# not a faster way to compute it. Below, a 100,000-row table: the two gradients agree, and two
# steps that touch different rows show the difference between Adam and lazy Adam.

# %%
from torch import nn
from torch.nn import functional as F

V, d = 100_000, 16
weight = nn.Parameter(torch.randn(V, d, generator=torch.Generator().manual_seed(0)) * 0.02)
ids = torch.tensor([[5, 17, 42], [17, 99_999, 3]])  # (B, T) a tiny batch


def toy_loss(rows: torch.Tensor) -> torch.Tensor:
    return (rows.sum(1) ** 2).sum()  # any function of the looked-up rows


dense = torch.autograd.grad(toy_loss(F.embedding(ids, weight)), weight)[0]  # (V, d), mostly zeros
sparse = torch.autograd.grad(toy_loss(F.embedding(ids, weight, sparse=True)), weight)[0].coalesce()
print("dense gradient:", tuple(dense.shape), "with", int((dense != 0).any(1).sum()), "non-zero rows")
print("sparse gradient: rows", sparse.indices()[0].tolist(), "values", tuple(sparse.values().shape))

# %%
# NBVAL_CHECK_OUTPUT
print("the sparse gradient is the dense one:", torch.equal(sparse.to_dense(), dense))


def rows_moved_in_step_two(optimizer_class, sparse_grad: bool) -> int:
    """Step 1 touches rows 1-3, step 2 rows 4-6: how many rows does step 2 change?"""
    w = nn.Parameter(torch.zeros(V, d) + 0.5)
    opt = optimizer_class([w], lr=0.1)
    for batch in (torch.tensor([1, 2, 3]), torch.tensor([4, 5, 6])):
        before = w.detach().clone()
        opt.zero_grad()
        (F.embedding(batch, w, sparse=sparse_grad) ** 2).sum().backward()
        opt.step()
    return int((w.detach() != before).any(1).sum())


print("Adam moves in step 2:", rows_moved_in_step_two(torch.optim.Adam, False), "rows (momentum keeps rows 1-3 going)")
print("SparseAdam moves in step 2:", rows_moved_in_step_two(torch.optim.SparseAdam, True), "rows")

# %% [markdown]
# What one step costs, dense against sparse, on a million-row table of width 64 (measured here,
# so it depends on the machine and is not checked):

# %%
import time

big = nn.Parameter(torch.zeros(1_000_000, 64))
batch = torch.randint(1, 1_000_000, (64 * 20 + 1000,))  # a batch's items and negatives
for name, opt, sparse_grad in (("dense gradient + Adam", torch.optim.Adam([big], lr=1e-3), False),
                               ("sparse gradient + SparseAdam", torch.optim.SparseAdam([big], lr=1e-3), True)):
    times = []
    for step in range(4):  # the first step creates Adam's moments (two more tables): not timed
        start = time.perf_counter()
        opt.zero_grad()
        (F.embedding(batch, big, sparse=sparse_grad) ** 2).sum().backward()
        opt.step()
        times.append(time.perf_counter() - start)
    print(f"{name:30s} {min(times[1:]) * 1000:7.1f} ms per step (best of 3)")
del big

# %% [markdown]
# The package's version is `ContextRec(sparse_items=True)` (and `python -m llmrec_ref train
# --sparse-items`): a batch gathers the rows it touches with `ContextRecNet.item_rows(rows,
# sparse=True)`, `train_loop` steps the ID table with SparseAdam and everything else with Adam,
# and the distributed step gathers each process's touched rows and sums them. Its loss and
# gradient are those of the dense model on the same batch; checked here on one batch of the shop:

# %%
import copy
import dataclasses

lazy = ContextRec(**(settings | dict(epochs=1, sparse_items=True))).fit(split.train)
eager = copy.copy(lazy)
eager.config = dataclasses.replace(lazy.config, sparse_items=False)  # the same network, dense path
batch_rows = {k: v[:64] for k, v in lazy.training_rows(split.train).items()}
grads = []
for m in (lazy, eager):
    m.network_.zero_grad(set_to_none=True)
    m.batch_loss(batch_rows, torch.Generator().manual_seed(0)).backward()
    grads.append(m.network_.item_emb.weight.grad)

# %%
# NBVAL_CHECK_OUTPUT
print("package: the ID table's gradient is sparse:", grads[0].is_sparse)
print("and equals the dense model's (to 1e-6):", torch.allclose(grads[0].to_dense(), grads[1], atol=1e-6))

# %% [markdown]
# ## Summary
# - Data parallelism: every process holds the model and a block of users; the gradients of the
#   parts, weighted by their share of the batch, are summed (all-reduce) and every process takes
#   the same step.
# - Keep the **global** batch fixed; then the number of processes changes the speed, not the run.
# - Never pad evaluation: rank fixed blocks, gather them, count each user once.
# - A large item table wants a **sparse gradient and a lazy optimiser** (SparseAdam): a step then
#   costs the rows it touched, and only those travel between processes; it is a different
#   optimiser from Adam, not a faster Adam.
#
# ## Further reading
# - S. Li et al., *PyTorch Distributed: Experiences on Accelerating Data Parallel Training*,
#   VLDB 2020 (how DDP buckets and overlaps the all-reduce).
# - P. Goyal et al., *Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour*, 2017 (what
#   changes when the global batch grows).
