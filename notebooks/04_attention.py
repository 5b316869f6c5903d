# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: -all
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
# ---

# %% [markdown]
# # 04 · Attention: which past items matter for this prediction?
#
# Chapter 03 used self-attention inside the Transformer as a black box. This chapter opens
# it. Attention answers one question again and again: *given what I am looking for (a
# query), how much should each item I have (the keys) contribute (their values)?* In a
# recommender the "query" can be a position in the history, or a candidate film: a user who
# watched *Star Wars* and *Sleepless in Seattle* should be read differently when we consider
# *Return of the Jedi* than when we consider *You've Got Mail*.
#
# **What you will learn**
# - dot-product attention by hand, and why the scores are divided by $\sqrt{d}$;
# - padding and causal masks, and how to make a fully masked row safe;
# - multi-head attention: splitting and merging heads, matched to `torch.nn.MultiheadAttention`;
# - additive attention, and the pairwise sigmoid form $a_{ij} = \sigma(W_a[h_i; h_j])$;
# - target attention (DIN) of candidates over a real MovieLens history, with heatmaps —
#   and what attention weights do and do not explain.
#
# **What you need:** chapter 03 (histories, masks, the Transformer layer); softmax and matrix
# products.

# %%
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

import llmrec_ref
from llmrec_ref.datasets import load_movielens_100k

llmrec_ref.seed_everything(0)
torch.set_num_threads(1)  # every tensor in this chapter is small: one thread is fastest

# %% [markdown]
# ## 1. Attention by hand on a three-film history
#
# Take a user who watched three films and describe each film by its genres (a 0/1 vector
# over MovieLens' 19 genres). The candidate we want to score, *Return of the Jedi*, is the
# **query** $q$; the history films are the **keys** $k_j$ and, here, also the **values** $v_j$.
#
# $$s_j = \frac{q \cdot k_j}{\sqrt{d}},\qquad a_j = \frac{e^{s_j}}{\sum_l e^{s_l}},\qquad
#   \text{out} = \sum_j a_j v_j$$

# %%
# NBVAL_CHECK_OUTPUT
ml = load_movielens_100k()
genres = sorted({g for gs in ml.items["genres"] for g in gs})
G = torch.zeros(len(ml.items) + 1, len(genres))  # (n_items + 1, 19), row 0 = padding
for item, gs in zip(ml.items["item_id"], ml.items["genres"], strict=True):
    G[item, [genres.index(g) for g in gs]] = 1.0
title = dict(zip(ml.items["item_id"], ml.items["title"], strict=True))
history = [50, 88, 1]  # Star Wars, Sleepless in Seattle, Toy Story
for i in history + [181]:
    print(f"{i:4d} {title[i]:22s} {list(ml.items.loc[ml.items['item_id'] == i, 'genres'].iloc[0])}")

# %%
# NBVAL_CHECK_OUTPUT
q = G[181]  # Return of the Jedi  (19,)
K = V = G[history]  # (3, 19)
scores = K @ q / math.sqrt(q.shape[0])  # (3,)
weights = scores.softmax(0)  # (3,)
out = weights @ V  # (19,)
print(pd.DataFrame({"film": [title[i] for i in history], "score": scores.numpy(), "weight": weights.numpy()}).round(3).to_string(index=False))
print("out is a convex mix of the history:", bool(torch.allclose(out, sum(w * v for w, v in zip(weights, V, strict=True)))))

# %% [markdown]
# *Star Wars* shares all five genres with the query and gets the largest weight, but the
# softmax never gives zero: the other films still contribute a little.
#
# ## 2. Why divide by $\sqrt{d}$?
#
# If the entries of $q$ and $k$ are independent with mean 0 and variance 1, then
# $q \cdot k = \sum_{i=1}^{d} q_i k_i$ has variance $d$. Large scores push the softmax into
# saturation: one weight near 1, the rest near 0, and gradients near zero. Dividing by
# $\sqrt{d}$ brings the variance back to 1, whatever $d$ is.

# %%
# NBVAL_CHECK_OUTPUT
g = torch.Generator().manual_seed(0)
rows = []
for d in (4, 16, 64, 256, 1024):
    qs, ks = torch.randn(4000, d, generator=g, dtype=torch.float64), torch.randn(4000, 10, d, generator=g, dtype=torch.float64)
    raw = (ks @ qs[:, :, None]).squeeze(-1)  # (4000, 10) dot products
    for scaled, s in (("no", raw), ("yes", raw / math.sqrt(d))):
        p = s.softmax(-1)
        rows.append({"d": d, "scaled": scaled, "var(score)": s.var().item(),
                     "mean max weight": p.max(-1).values.mean().item()})
table = pd.DataFrame(rows)
print(table.round(2).to_string(index=False))

# %%
fig, ax = plt.subplots(figsize=(6, 3.2))
for scaled, grp in table.groupby("scaled"):
    ax.plot(grp["d"], grp["mean max weight"], marker="o", label=f"scaled: {scaled}")
ax.axhline(0.1, color="k", ls=":", label="uniform over 10 keys")
ax.set(xscale="log", xlabel="dimension d", ylabel="mean largest attention weight",
       title="without 1/sqrt(d) the softmax saturates as d grows")
ax.legend()
plt.show()

# %% [markdown]
# Saturation also kills learning: the softmax's Jacobian is $\partial a / \partial s =
# \mathrm{diag}(a) - a a^\top$, which vanishes when $a$ is one-hot. Its average size on the
# $d = 1024$ scores from the loop above, without and with scaling:

# %%
# NBVAL_CHECK_OUTPUT
for name, s in (("unscaled", raw), ("scaled", raw / math.sqrt(1024))):
    a = s.softmax(-1)  # (4000, 10)
    jac = torch.diag_embed(a) - a[:, :, None] * a[:, None, :]  # (4000, 10, 10)
    print(f"{name:9s} mean Frobenius norm of the softmax Jacobian: {jac.norm(dim=(1, 2)).mean().item():.3f}")

# %% [markdown]
# ## 3. The general function, and the package version
#
# With a batch of queries, $\mathrm{Attention}(Q, K, V) = \mathrm{softmax}(QK^\top/\sqrt{d})V$.
# We write it once more, with an optional boolean mask (True = may attend, the convention of
# `torch.nn.functional.scaled_dot_product_attention`), and compare.

# %%
def attention(q, k, v, mask=None):
    """q (..., T_q, d), k (..., T_k, d), v (..., T_k, d_v), mask bool (..., T_q, T_k) -> (out, weights)."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., T_q, T_k)
    if mask is not None:
        scores = scores.masked_fill(~mask, -torch.inf)
    weights = scores.softmax(-1)
    return weights @ v, weights


# %%
# NBVAL_CHECK_OUTPUT
from llmrec_ref.attention import scaled_dot_product_attention

g = torch.Generator().manual_seed(1)
Q, K, V = (torch.randn(2, 5, 8, generator=g) for _ in range(3))
out_hand, w_hand = attention(Q, K, V)
out_pkg, w_pkg = scaled_dot_product_attention(Q, K, V)
ref = F.scaled_dot_product_attention(Q, K, V)
print("by hand vs torch SDPA, max abs diff < 1e-6:", (out_hand - ref).abs().max().item() < 1e-6)
print("llmrec_ref vs torch SDPA, max abs diff < 1e-6:", (out_pkg - ref).abs().max().item() < 1e-6)

# %% [markdown]
# ## 4. Masks
#
# A batch of histories is left padded (chapter 03), so some keys are not films at all, and in
# next-item training position $t$ must not see positions after $t$. Both are boolean masks;
# combined, a padded query row may have *no* allowed key. With $-\infty$ scores its softmax
# is $0/0$:

# %%
# NBVAL_CHECK_OUTPUT
from llmrec_ref.attention import causal_mask, masked_softmax

key_mask = torch.tensor([False, False, True, True, True, True])  # 2 padded slots, then 4 films
mask = causal_mask(6) & key_mask  # (6, 6): causal AND real key
x = torch.randn(6, 8, generator=torch.Generator().manual_seed(2))
_, w_naive = attention(x, x, x, mask)
w_safe = masked_softmax(x @ x.T / math.sqrt(8), mask)
print("naive -inf masking: padded rows are NaN:", bool(torch.isnan(w_naive[:2]).all()))
print("masked_softmax: padded rows are zeros:", bool((w_safe[:2] == 0).all()),
      "| real rows sum to 1:", bool(torch.allclose(w_safe[2:].sum(-1), torch.ones(4))))

# %%
fig, ax = plt.subplots(figsize=(4, 3.6))
ax.imshow(w_safe.numpy(), cmap="viridis")
ax.set(title="causal + padding mask", xlabel="key (slot)", ylabel="query (slot)")
plt.show()

# %% [markdown]
# `masked_softmax` fills masked scores with the most negative *finite* number, so the softmax
# of an all-masked row is a harmless uniform row, then multiplies by the mask: zeros, and no
# NaN in the gradient either. Left padding, causal masking and several layers are then safe.
#
# ## 5. Multi-head attention
#
# One softmax gives one way of mixing the history. **Multi-head** attention runs $h$ smaller
# attentions in parallel on different projections and concatenates them:
# $\mathrm{MHA}(X) = [\mathrm{head}_1; \dots; \mathrm{head}_h]W_o$ with
# $\mathrm{head}_i = \mathrm{Attention}(XW_q^i, XW_k^i, XW_v^i)$, each head of size $d/h$
# (so $h$ must divide $d$). In code, the heads are a reshape: split $d$ into $(h, d/h)$ and
# move the head axis next to the batch axis.

# %%
def split_heads(x: torch.Tensor, h: int) -> torch.Tensor:
    B, T, d = x.shape
    return x.view(B, T, h, d // h).transpose(1, 2)  # (B, h, T, d/h)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    B, h, T, dh = x.shape
    return x.transpose(1, 2).reshape(B, T, h * dh)  # (B, T, d)


def multi_head(x, mha: nn.MultiheadAttention, mask=None):
    """Self-attention with mha's weights: x (B, T, d) -> (B, T, d), weights (B, h, T, T)."""
    q, k, v = F.linear(x, mha.in_proj_weight, mha.in_proj_bias).chunk(3, -1)  # 3 x (B, T, d)
    heads, w = attention(*(split_heads(t, mha.num_heads) for t in (q, k, v)), mask)
    return mha.out_proj(merge_heads(heads)), w


# %%
# NBVAL_CHECK_OUTPUT
from llmrec_ref.attention import MultiHeadAttention

torch.manual_seed(0)
mha = nn.MultiheadAttention(16, 4, batch_first=True).eval()
ours = MultiHeadAttention(16, 4).load_torch_weights(mha).eval()
X = torch.randn(3, 7, 16, generator=torch.Generator().manual_seed(3))
causal7 = causal_mask(7)
with torch.no_grad():
    ref_out, ref_w = mha(X, X, X, attn_mask=~causal7, average_attn_weights=False)  # torch: True = forbidden
    hand_out, hand_w = multi_head(X, mha, causal7)
    pkg_out, pkg_w = ours(X, mask=causal7)
print("weights per head:", tuple(pkg_w.shape))
print("by hand vs torch MHA, max abs diff < 1e-6:", (hand_out - ref_out).abs().max().item() < 1e-6)
print("llmrec_ref vs torch MHA, max abs diff < 1e-6:", (pkg_out - ref_out).abs().max().item() < 1e-6,
      "| weights:", (pkg_w - ref_w).abs().max().item() < 1e-6)

# %% [markdown]
# ## 6. Additive attention and pairwise sigmoid gates
#
# Dot products need queries and keys of the same size. **Additive** attention (Bahdanau et
# al., 2015) scores a pair with a one-hidden-layer network instead:
#
# $$e_{ij} = v^\top \tanh\big(W_a [h_i; h_j] + b\big) = v^\top \tanh(W_q h_i + W_k h_j + b),
#   \qquad a_{ij} = \mathrm{softmax}_j(e_{ij}).$$
#
# Writing $W_a = [W_q \mid W_k]$ avoids building every concatenation. The **pairwise
# sigmoid** form replaces the softmax by $a_{ij} = \sigma(e_{ij})$: each pair gets its own
# gate in $(0, 1)$. A softmax makes the history items *compete* (weights sum to 1, so one item
# gaining means others losing); sigmoid gates do not — a query may keep many items, or none,
# which suits "is this past item relevant at all?" questions.

# %%
# NBVAL_CHECK_OUTPUT
from llmrec_ref.attention import AdditiveAttention

torch.manual_seed(0)
soft = AdditiveAttention(19, 19, 16, gate="softmax")
gate = AdditiveAttention(19, 19, 16, gate="sigmoid")
gate.load_state_dict(soft.state_dict())  # the same scores e_ij
H = G[[50, 88, 1, 181]][None]  # 4 films  (1, 4, 19)
with torch.no_grad():
    _, a_soft = soft(H, H)
    _, a_gate = gate(H, H)
print("softmax rows sum to 1:", torch.allclose(a_soft.sum(-1), torch.ones(1, 4)))
print("sigmoid gates in (0, 1), rows need not sum to 1:", bool(((a_gate > 0) & (a_gate < 1)).all()),
      bool(not torch.allclose(a_gate.sum(-1), torch.ones(1, 4))))

# %% [markdown]
# Why the $\tanh$ layer? Without it, $\sigma(w^\top [h_i; h_j] + b) = \sigma(w_1 \cdot h_i +
# w_2 \cdot h_j + b)$: the part that depends on $j$ is the same for every $i$, so every query
# ranks the keys in the *same* order. Only the nonlinearity lets the pair interact:

# %%
# NBVAL_CHECK_OUTPUT
g = torch.Generator().manual_seed(4)
h = torch.randn(6, 8, generator=g)  # 6 items  (6, 8)
w1, w2 = torch.randn(8, generator=g), torch.randn(8, generator=g)
linear = torch.sigmoid((h @ w1)[:, None] + (h @ w2)[None, :])  # a_ij, (6, 6)
torch.manual_seed(4)
additive = AdditiveAttention(8, 8, 16, gate="sigmoid")
with torch.no_grad():
    _, nonlinear = additive(h[None], h[None])
print("linear sigmoid: every query picks the same top key:", len(set(linear.argmax(1).tolist())) == 1)
print("with tanh: queries pick different top keys:", len(set(nonlinear[0].argmax(1).tolist())) > 1)

# %% [markdown]
# ## 7. Target attention over a real MovieLens history
#
# Deep Interest Network (DIN, Zhou et al., 2018) attends from each **candidate** item over
# the user's history: for candidate $c$ and past item $h_t$, a small MLP scores
# $[h_t, c, h_t - c, h_t \odot c]$, and the user is summarised *for this candidate* as
# $u(c) = \sum_t a_t(c)\, h_t$. One user, different candidates, different user vectors.
#
# The DIN paper deliberately leaves the weights $a_t(c)$ **unnormalised**: they are the MLP's
# raw outputs, with no softmax, so that $u(c)$ keeps the *intensity* of the interest (ten
# history films that fit the candidate weigh more than one). We use a softmax here
# (`TargetAttention(normalize="softmax")`) so that each row of the heatmaps below reads as
# shares that sum to 1; `normalize="none"` is the paper's version, and `"sigmoid"` gates each
# film independently (section 6).
#
# To keep the weights readable we describe films by content only: genres plus release decade,
# projected to $d = 16$. So this is **content-based** scoring: the model knows a film by what
# it is, never by who rated it (chapter 00). A candidate's score is $u(c) \cdot c$. We train for a few seconds
# (binary cross-entropy: the film a user rated next vs a random film) on 743 users and keep
# 200 users aside.

# %%
# NBVAL_CHECK_OUTPUT
from llmrec_ref.attention import TargetAttention

decade = torch.zeros(len(ml.items) + 1, 8)  # one-hot: <=1920s, 1930s, ..., 1990s
years = ml.items["year"].fillna(1995).astype(int).to_numpy()
decade[torch.tensor(ml.items["item_id"].to_list()), torch.tensor(np.clip((years - 1920) // 10, 0, 7))] = 1.0
features = torch.cat([G, decade], dim=1)  # (n_items + 1, 27), row 0 = padding

log = ml.ratings.sort_values(["user_id", "timestamp", "item_id"], kind="stable")
seqs = log.groupby("user_id")["item_id"].apply(lambda s: s.to_numpy())
rng = np.random.default_rng(0)
test_users = rng.choice(seqs.index.to_numpy(), 200, replace=False)
train_users = np.setdiff1d(seqs.index.to_numpy(), test_users)
T = 20


def examples(users, per_user: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random cut points: the <= T films before position t (left padded) and the film at t."""
    hist, nxt = [], []
    for u in users:
        s = seqs[u]
        for t in rng.integers(5, len(s), per_user):
            h = s[max(0, t - T) : t]
            hist.append(np.pad(h, (T - len(h), 0)))
            nxt.append(s[t])
    return torch.tensor(np.array(hist)), torch.tensor(np.array(nxt))


train_hist, train_next = examples(train_users, 20)
test_hist, test_next = examples(test_users, 5)
print("train", tuple(train_hist.shape), "| test", tuple(test_hist.shape))


# %%
class DINScorer(nn.Module):
    """score(history, c) = u(c) . c with u(c) from TargetAttention over content vectors."""

    def __init__(self, d: int = 16):
        super().__init__()
        self.proj = nn.Linear(features.shape[1], d)
        self.att = TargetAttention(d, d_hidden=32, normalize="softmax")

    def forward(self, hist: torch.Tensor, cand: torch.Tensor):
        h, c = self.proj(features[hist]), self.proj(features[cand])  # (B, T, d), (B, N, d)
        u, w = self.att(h, c, key_mask=hist != 0)  # (B, N, d), (B, N, T)
        return (u * c).sum(-1), w  # (B, N), (B, N, T)


def auc(model: DINScorer, seed: int = 0) -> float:
    """Share of test cases where the true next film outscores a random film."""
    neg = torch.randint(1, len(features), (len(test_next),), generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        s, _ = model(test_hist, torch.stack([test_next, neg], 1))
    return (s[:, 0] > s[:, 1]).float().mean().item()


torch.manual_seed(0)
model = DINScorer()
untrained = DINScorer()
untrained.load_state_dict(model.state_dict())
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
g = torch.Generator().manual_seed(0)
for _epoch in range(3):
    for idx in torch.randperm(len(train_next), generator=g).split(512):
        neg = torch.randint(1, len(features), (len(idx),), generator=g)
        s, _ = model(train_hist[idx], torch.stack([train_next[idx], neg], 1))  # (B, 2)
        loss = F.binary_cross_entropy_with_logits(s, torch.tensor([1.0, 0.0]).expand_as(s))
        opt.zero_grad()
        loss.backward()
        opt.step()
print(f"held-out AUC (true next film vs random film): untrained {auc(untrained):.3f}, trained {auc(model):.3f}")

# %% [markdown]
# Well above chance (0.5) from content alone, and far from perfect: genres and decades are a
# coarse description of taste, and the model has no item ids and no popularity term. Now the
# heatmaps: one held-out user's last 15 films (columns) and four candidates (rows).

# %%
user = int(test_users[0])
hist = torch.tensor(seqs[user][-15:])[None]  # (1, 15)
cands = torch.tensor([[50, 88, 288, 1]])  # Star Wars, Sleepless in Seattle, Scream, Toy Story  (1, 4)
with torch.no_grad():
    _, w_before = untrained(hist, cands)  # (1, 4, 15)
    _, w_after = model(hist, cands)
fig, axes = plt.subplots(2, 1, figsize=(11, 6.5), sharex=True)
for ax, w, name in [(axes[0], w_before, "untrained"), (axes[1], w_after, "after a few seconds of training")]:
    im = ax.imshow(w[0].numpy(), cmap="viridis", vmin=0)
    ax.set_yticks(range(4), [title[int(c)] for c in cands[0]])
    ax.set_title(f"target attention of each candidate over user {user}'s history ({name})")
    fig.colorbar(im, ax=ax, fraction=0.02)
axes[1].set_xticks(range(15), [title[int(i)][:22] for i in hist[0]], rotation=60, ha="right")
plt.tight_layout()
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
info = ml.items.set_index("item_id")
print(f"user {user}'s last 15 films:")
for i in hist[0].tolist():
    print(f"  {title[i][:28]:28s} {info.loc[i, 'year']}  {'/'.join(info.loc[i, 'genres'])}")

# %%
for c, row in zip(cands[0].tolist(), w_after[0], strict=True):
    top = row.topk(3)
    films = ", ".join(f"{title[int(hist[0, j])][:20]} {v:.2f}" for v, j in zip(top.values, top.indices, strict=True))
    print(f"{title[c]:22s} -> {films}")

# %% [markdown]
# Before training the weights are close to uniform. After a few seconds of training (in the
# run stored with this notebook), part of the pattern follows shared genres — *Star Wars*
# leans on the action/sci-fi films, *Scream* on the thriller — and part does not: some films
# draw weight from almost every candidate. The MLP sees $[h, c, h - c, h \odot c]$, so it can
# learn "this kind of film is informative whatever the candidate" as well as "this film
# resembles the candidate", and a heatmap cannot tell the two apart. And since genres and
# decade are all the model sees, two films with the same genres and decade always get the
# same weight, whatever the user thought of them.
#
# ## 8. What attention weights do and do not explain
#
# An attention weight says how much of item $t$'s vector went into the mix for this
# prediction. It does **not** say that item $t$ *caused* the score: the value vectors differ
# in size, later layers transform the mix, and a softmax only ranks items relative to each
# other. A quick test on the held-out users: remove the history film with the largest
# weight, or the one with the smallest, and see how far the score moves.

# %%
def score_without(hist: torch.Tensor, cand: torch.Tensor, drop: torch.Tensor) -> torch.Tensor:
    """Scores with the film at slot `drop` (B,) replaced by padding."""
    h = hist.clone()
    h[torch.arange(len(h)), drop] = 0
    return model(h, cand[:, None])[0][:, 0]


with torch.no_grad():
    base, w = model(test_hist, test_next[:, None])  # (B, 1), (B, 1, T)
    w = w[:, 0].masked_fill(test_hist == 0, torch.inf)
    lowest = w.argmin(1)
    highest = w.masked_fill(test_hist == 0, -torch.inf).argmax(1)
    d_high = (score_without(test_hist, test_next, highest) - base[:, 0]).abs()
    d_low = (score_without(test_hist, test_next, lowest) - base[:, 0]).abs()
print(f"removing the top-weighted film moves the score more than removing the lowest-weighted one "
      f"in {(d_high > d_low).float().mean():.0%} of {len(d_high)} cases")

# %% [markdown]
# Usually, but not always: a weight is a good first hint of what the model used, not a proof.
# For claims about *why* a user gets a recommendation, test them — remove or swap the item
# and re-score, as above — and remember that attention can be spread over near-duplicates, or
# moved without changing the prediction (Jain & Wallace, 2019; Wiegreffe & Pinter, 2019).
#
# ## Summary
#
# - Attention = softmax of query-key scores, then a weighted sum of values. Divide by
#   $\sqrt{d}$ so the scores' variance does not grow with $d$ and the softmax stays soft.
# - Masks are booleans (True = may attend); a row with nothing to attend to must give zeros,
#   not NaN: fill with a finite minimum, then zero by the mask.
# - Multi-head attention is $h$ attentions on $d/h$-dimensional projections: a reshape to
#   split heads, another to merge them. Ours matches `torch.nn.MultiheadAttention`.
# - Additive attention scores pairs with $v^\top\tanh(W_a[h_i; h_j])$; sigmoid gates let
#   items be kept or dropped independently, a softmax makes them compete.
# - Target attention builds one user vector per candidate. Its weights show what was mixed
#   in, which is a hint, not an explanation.
# - `llmrec_ref.attention`: `scaled_dot_product_attention`, `masked_softmax`, `causal_mask`,
#   `MultiHeadAttention`, `AdditiveAttention`, `TargetAttention`.
#
# ## Exercises
#
# `exercises/04_attention.ipynb`: a padding mask that gives zero weight (and no NaN),
# grouped-query attention, fixing a broken target attention, pairwise sigmoid gates over a
# padded history, and a graded question on why such gates rank the keys the same for every
# query.
#
# ## Further reading
#
# - D. Bahdanau, K. Cho, Y. Bengio. *Neural Machine Translation by Jointly Learning to Align
#   and Translate.* ICLR 2015 (additive attention).
# - A. Vaswani et al. *Attention Is All You Need.* NeurIPS 2017 (scaled dot-product, multi-head).
# - G. Zhou et al. *Deep Interest Network for Click-Through Rate Prediction.* KDD 2018.
# - S. Jain, B. C. Wallace. *Attention is not Explanation.* NAACL 2019; S. Wiegreffe,
#   Y. Pinter. *Attention is not not Explanation.* EMNLP 2019.
