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
# # 02 · Word embeddings: text and behaviour become vectors
#
# A recommender compares things: this film with that one, this user's history with a
# candidate. To compare, it needs every item (and every word of every item's description)
# as a vector, placed so that *similar things are close*. word2vec learns such vectors from
# nothing but co-occurrence: words that appear near each other in sentences get similar
# vectors. Replace sentences by a user's time-ordered interactions and words by items, and
# the same algorithm (item2vec) learns which items people consume together. This chapter
# builds word2vec from scratch, runs it on real text with gensim, turns item texts and item
# sequences into vectors, and hands those vectors to PyTorch.
#
# **What you will learn**
# - the skip-gram objective with negative sampling, derived and trained in ~40 lines of PyTorch;
# - what word2vec learns from a small real corpus, and what it cannot (the analogy test);
# - GloVe: the co-occurrence matrix, its weighted least-squares objective derived and trained
#   in torch, and how its neighbours and analogies compare with word2vec's on the same corpus;
# - text vectors for items (mean of word vectors) and what they cluster by;
# - item2vec on MovieLens sequences: how the window and subsampling decide whether it learns
#   "rated in the same sitting" or taste, measured with two scores;
# - how gensim vectors become an `nn.Embedding` in our id order, with row 0 for padding.
#
# **What you need:** chapter 01 (the MovieLens frames and per-user sequences), PyTorch
# basics (`nn.Embedding`, an optimiser loop) and the dot product / cosine similarity.

# %%
import re
import tempfile
from collections import Counter
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from gensim.models import KeyedVectors
from gensim.test.utils import datapath
from torch import nn

import llmrec_ref
from llmrec_ref.datasets import load_movielens_100k, make_synthetic_shop

llmrec_ref.seed_everything(0)
torch.set_num_threads(1)  # the tensors here are tiny: one thread beats two that wait for each other

# %% [markdown]
# ## 1. Skip-gram with negative sampling, from scratch
#
# Skip-gram turns a corpus into (centre, context) pairs: every word is paired with each word
# at most `window` positions away. Each word $w$ gets two vectors: $v_w$ when it is the
# centre and $u_w$ when it is the context. A pair $(c, o)$ should score high,
# $\sigma(u_o^\top v_c) \to 1$, and $K$ "noise" words $n_1..n_K$ drawn at random should
# score low. The loss of one pair is
#
# $$\mathcal{L}(c, o) = -\log \sigma(u_o^\top v_c) - \sum_{k=1}^{K} \log \sigma(-u_{n_k}^\top v_c),
# \qquad n_k \sim P_n(w) \propto \text{count}(w)^{3/4}.$$
#
# This is logistic regression with one positive and $K$ negatives per pair, far cheaper
# than a softmax over the whole vocabulary. The exponent $3/4$ (gensim's `ns_exponent`)
# flattens the counts so rare words are drawn as noise a little more often.
#
# A toy corpus where we know the answer: every sentence draws five words from one of two
# topics, so words of the same topic co-occur and words of different topics never do.

# %%
# NBVAL_CHECK_OUTPUT
topics = {
    "pets": "cat dog mouse puppy kitten fur paw bark".split(),
    "travel": "car bus train road station driver ticket fuel".split(),
}
rng = np.random.default_rng(0)
toy = [[str(w) for w in rng.choice(topics["pets" if i % 2 == 0 else "travel"], size=5)] for i in range(60)]
counts = Counter(w for sentence in toy for w in sentence)
vocab = sorted(counts)
word_to_id = {w: i for i, w in enumerate(vocab)}
print(len(toy), "sentences,", sum(counts.values()), "tokens,", len(vocab), "words")
print(toy[0], toy[1])


# %%
# NBVAL_CHECK_OUTPUT
def skipgram_pairs(sentences: list[list[str]], window: int) -> list[tuple[str, str]]:
    """Every (centre, context) pair with the context at most `window` positions away."""
    pairs = []
    for s in sentences:
        for i, centre in enumerate(s):
            for j in range(max(0, i - window), min(len(s), i + window + 1)):
                if j != i:
                    pairs.append((centre, s[j]))
    return pairs


pairs = skipgram_pairs(toy, window=2)
print(len(pairs), "pairs; the first:", pairs[:4])
centre_ids = torch.tensor([word_to_id[c] for c, _ in pairs])  # (P,)
context_ids = torch.tensor([word_to_id[o] for _, o in pairs])  # (P,)
freq = torch.tensor([counts[w] for w in vocab], dtype=torch.float)
noise = freq**0.75 / (freq**0.75).sum()  # P_n(w), (V,)


# %% [markdown]
# The model is two embedding tables and the loss above. word2vec starts the centre vectors
# small and random and the context vectors at zero; we do the same.

# %%
class SkipGramNS(nn.Module):
    def __init__(self, n_words: int, dim: int):
        super().__init__()
        self.v = nn.Embedding(n_words, dim)  # centre vectors: the ones we keep
        self.u = nn.Embedding(n_words, dim)  # context vectors
        nn.init.uniform_(self.v.weight, -0.5 / dim, 0.5 / dim)
        nn.init.zeros_(self.u.weight)

    def forward(self, centre, context, negatives):  # (B,), (B,), (B, K)
        v = self.v(centre)  # (B, d)
        pos = (self.u(context) * v).sum(-1)  # (B,)
        neg = torch.einsum("bkd,bd->bk", self.u(negatives), v)  # (B, K)
        return -(F.logsigmoid(pos) + F.logsigmoid(-neg).sum(-1)).mean()


def cosine(model: SkipGramNS, a: str, b: str) -> float:
    v = model.v.weight.detach()
    return F.cosine_similarity(v[word_to_id[a]], v[word_to_id[b]], dim=0).item()


# %% [markdown]
# Negative sampling *is* binary cross-entropy: label 1 for the true context, 0 for each
# noise word. Check the loss against `F.binary_cross_entropy_with_logits` on random vectors.

# %%
# NBVAL_CHECK_OUTPUT
gen = torch.Generator().manual_seed(0)
model = SkipGramNS(len(vocab), 8)
nn.init.normal_(model.u.weight, generator=gen)
negatives = torch.multinomial(noise, 10 * 5, replacement=True, generator=gen).view(10, 5)  # (B, K)
ours = model(centre_ids[:10], context_ids[:10], negatives)
v = model.v(centre_ids[:10])
logits = torch.cat([(model.u(context_ids[:10]) * v).sum(-1, keepdim=True),
                    torch.einsum("bkd,bd->bk", model.u(negatives), v)], dim=1)  # (B, 1 + K)
labels = torch.zeros_like(logits)
labels[:, 0] = 1.0
reference = F.binary_cross_entropy_with_logits(logits, labels, reduction="sum") / 10
print(torch.allclose(ours, reference))

# %% [markdown]
# Train on all pairs at once, with fresh noise words at every step, and watch
# "cat" move towards "dog" and away from "car". Each step moves every weight a little
# against its gradient; `torch.optim.Adam` chooses how far per weight. Chapter 05 §1.2
# builds gradient descent, momentum and Adam from scratch: here it is enough that
# `opt.step()` takes one such step after `loss.backward()` has computed the gradients.

# %%
gen = torch.Generator().manual_seed(0)
torch.manual_seed(0)
model = SkipGramNS(len(vocab), 8)
before = {pair: cosine(model, *pair) for pair in [("cat", "dog"), ("cat", "car"), ("bus", "train")]}
opt = torch.optim.Adam(model.parameters(), lr=0.05)
losses = []
for _ in range(100):
    negatives = torch.multinomial(noise, len(pairs) * 5, replacement=True, generator=gen).view(-1, 5)
    loss = model(centre_ids, context_ids, negatives)
    opt.zero_grad()
    loss.backward()
    opt.step()
    losses.append(loss.item())
after = {pair: cosine(model, *pair) for pair in before}
print(pd.DataFrame({"cosine before": before, "cosine after": after}).round(2))

# %%
fig, ax = plt.subplots(figsize=(5, 2.5))
ax.plot(losses)
ax.axhline(6 * np.log(2), ls="--", c="grey", label="start: 6 log 2 (all scores 0)")
ax.set(xlabel="step", ylabel="loss per pair", title="skip-gram with negative sampling, toy corpus")
ax.legend()
plt.show()

# %% [markdown]
# The loss starts at $(1 + K)\log 2$ (every score is 0, every probability 1/2) and falls.
# It cannot reach 0: the same centre word has several true contexts, and a noise word is
# sometimes a true context too. What matters is the geometry: each word's nearest
# neighbours are now words of its own topic.

# %%
# NBVAL_CHECK_OUTPUT
vectors = F.normalize(model.v.weight.detach(), dim=1)  # (V, d)


def top_words(vectors: torch.Tensor, word: str, k: int = 7) -> list[str]:
    sims = vectors @ vectors[word_to_id[word]]  # (V,)
    sims[word_to_id[word]] = -2.0
    return [vocab[i] for i in sims.argsort(descending=True)[:k]]


scratch_ok = all(set(top_words(vectors, w)) == set(t) - {w} for t in topics.values() for w in t)
print("every word's 7 nearest neighbours are its own topic:", scratch_ok)

# %% [markdown]
# ### The package version
#
# `llmrec_ref.embeddings.train_word2vec` wraps gensim's optimised C implementation of the
# same objective (with SGD and a decaying learning rate instead of Adam, and subsampling of
# frequent words, which we switch off here: with 16 words every word is "frequent").
# Different optimiser, same answer: the topics separate.

# %%
# NBVAL_CHECK_OUTPUT
from llmrec_ref.embeddings import nearest, tokenize, train_word2vec

kv_toy = train_word2vec(toy, vector_size=8, window=2, sample=0, epochs=20, seed=0)
gensim_ok = all({w2 for w2, _ in nearest(kv_toy, w, k=7)} == set(t) - {w} for t in topics.values() for w in t)
print("gensim agrees:", gensim_ok, "| vocabulary:", len(kv_toy), "| vector shape:", kv_toy["cat"].shape)
print("nearest to 'cat':", [w for w, _ in nearest(kv_toy, "cat", k=2)])

# %% [markdown]
# gensim is reproducible only single-threaded: with `workers > 1` threads update the shared
# vectors in a different order on every run. `train_word2vec` defaults to `workers=1` and a
# fixed `seed`; gensim 4 does not use Python's string hashing for the initial vectors, so
# `PYTHONHASHSEED` does not matter (the tests check this across processes).
#
# ## 2. word2vec on real text: the Lee corpus
#
# gensim's wheel ships `lee_background.cor`: 300 Australian news articles (about 60,000
# words). First a tokeniser: lower-case, drop punctuation (apostrophes inside words are
# removed, "children's" becomes "childrens") and four-digit years.

# %%
# NBVAL_CHECK_OUTPUT
def my_tokenize(text: str) -> list[str]:
    words = re.findall(r"[^\W_]+", re.sub(r"['’]", "", text.lower()))
    return [w for w in words if not re.fullmatch(r"1[89]\d\d|20\d\d", w)]


samples = ["Star Wars (1977)", "Children's, Sci-Fi", "The PM's plan: 12,000 jobs by 2002!"]
print([my_tokenize(s) for s in samples])
print(all(my_tokenize(s) == tokenize(s) for s in samples))

# %%
# NBVAL_CHECK_OUTPUT
from llmrec_ref.embeddings import LEE_SETTINGS

with open(datapath("lee_background.cor"), encoding="utf8") as fh:
    lee = [tokenize(line) for line in fh]
kv_lee = train_word2vec(lee, **LEE_SETTINGS)
print(len(lee), "documents,", sum(map(len, lee)), "tokens,", len(kv_lee), "words seen at least twice")
print(LEE_SETTINGS)

# %%
for word in ["australia", "police", "president", "fire", "bank"]:
    print(f"{word:10s}", [w for w, _ in nearest(kv_lee, word, k=6)])

# %% [markdown]
# Some of it makes sense ("president" sits next to "bush", "george", "w"; "fire" next to
# "service" and "rural", as in the Rural Fire Service; "bank" next to "west", "gaza", "strip",
# because in these articles the bank is the West Bank). Much of it is topical rather than
# semantic: the neighbours are words of the same news stories. That is all 60,000 words
# can teach.
#
# The classic test is analogies: "man is to king as woman is to ?" answered by the word
# nearest to $v_\text{king} - v_\text{man} + v_\text{woman}$. gensim ships Mikolov's 19,544
# questions; questions with a word outside the vocabulary are skipped.

# %%
accuracy, sections = kv_lee.evaluate_word_analogies(datapath("questions-words.txt"))
total = sections[-1]
covered = len(total["correct"]) + len(total["incorrect"])
print(f"questions whose four words are known: {covered} of 19,544")
print(f"accuracy on them: {accuracy:.1%} ({len(total['correct'])} right)")
print("some that it got right:", total["correct"][:3])

# %% [markdown]
# Under 1 % (5 of 766, three of them "x is to y as he is to she"), on the 4 % of the
# questions whose words occur at least twice. That is the honest result, not a bug: the
# vectors that answer three quarters of these questions correctly (Mikolov et al., 2013)
# were trained on 100 billion words of Google News, more than a million times this corpus.
# Analogies need each word seen in thousands of contexts; most words here occur a handful
# of times. For a recommender that is fine: we will train on *our* items' texts and
# interaction logs, where the vocabulary is small and every item has many contexts.


# %% [markdown]
# ### 2.1 GloVe: the same corpus, counted once
#
# word2vec slides over the corpus pair by pair. **GloVe** (Pennington, Socher and Manning,
# 2014) first counts, once, how often every word occurs near every other, and then fits
# vectors to those counts. Let $X_{ij}$ be the (distance-weighted) number of times word $j$
# occurs within `window` positions of word $i$, $X_i = \sum_j X_{ij}$, and
# $P(j \mid i) = X_{ij} / X_i$. The derivation in three steps:
#
# 1. Meaning lives in *ratios* of co-occurrence probabilities: "solid" occurs much more often
#    near "ice" than near "steam", "water" near both, so $P(k \mid \text{ice}) / P(k \mid \text{steam})$
#    is large, close to 1 or small. Asking a difference of vectors to explain a ratio of
#    probabilities, $\exp\big((w_i - w_j)^\top \tilde w_k\big) = P(k \mid i) / P(k \mid j)$, is solved by
#    $w_i^\top \tilde w_k = \log P(k \mid i) = \log X_{ik} - \log X_i$.
# 2. $\log X_i$ depends on $i$ only: absorb it into a bias $b_i$, and add a bias $\tilde b_k$
#    for the context word so the model is symmetric: $w_i^\top \tilde w_k + b_i + \tilde b_k = \log X_{ik}$.
# 3. That cannot hold exactly for all pairs, so fit it by **weighted least squares**:
#
# $$J = \sum_{i,j:\,X_{ij} > 0} f(X_{ij})\,\big(w_i^\top \tilde w_j + b_i + \tilde b_j - \log X_{ij}\big)^2,
# \qquad f(x) = \begin{cases} (x / x_\max)^{\alpha} & x < x_\max \\ 1 & \text{otherwise.} \end{cases}$$
#
# The weight $f$ does two jobs: $f(0) = 0$ drops the pairs that never co-occur (where
# $\log X_{ij}$ is $-\infty$), and it trusts rare pairs less (the log of a count of 1 or 2 is
# mostly noise) without letting the most frequent pairs ("of the") dominate, since it stops
# growing at $x_\max$. The paper uses $\alpha = 3/4$ and $x_\max = 100$ on billions of words;
# on our 60,000 words few counts reach 100, so we take $x_\max = 10$. Each word ends up with
# two vectors, $w_i$ and $\tilde w_i$; GloVe uses their sum.
#
# The co-occurrence matrix of the Lee corpus, for its 1,000 most frequent words (a dense
# 1,000 x 1,000 matrix keeps the code short and the training fast), a pair at distance $d$
# counting $1/d$ as in the paper:

# %%
# NBVAL_CHECK_OUTPUT
glove_words = kv_lee.index_to_key[:1000]  # gensim sorts its vocabulary by frequency
glove_id = {w: i for i, w in enumerate(glove_words)}


def cooccurrence(docs: list[list[str]], word_id: dict[str, int], window: int) -> torch.Tensor:
    """X[i, j] = sum over occurrences of j within `window` positions of i of 1 / distance."""
    X = np.zeros((len(word_id), len(word_id)))
    for doc in docs:
        ids = np.array([word_id.get(w, -1) for w in doc])  # -1: a word outside the vocabulary
        for d in range(1, window + 1):
            left, right = ids[:-d], ids[d:]  # every pair at distance d
            known = (left >= 0) & (right >= 0)
            np.add.at(X, (left[known], right[known]), 1.0 / d)
    return torch.tensor(X + X.T, dtype=torch.float32)  # j after i and i after j: symmetric


X = cooccurrence(lee, glove_id, window=10)  # (V, V)
print("shape", tuple(X.shape), "| symmetric:", torch.equal(X, X.T), f"| non-zero: {(X > 0).float().mean():.1%}")
print(f"least frequent word kept: {glove_words[-1]!r}, {kv_lee.get_vecattr(glove_words[-1], 'count')} occurrences")
print("X[west, bank] =", round(X[glove_id["west"], glove_id["bank"]].item(), 2),
      "| X[west, police] =", round(X[glove_id["west"], glove_id["police"]].item(), 2))

# %% [markdown]
# Check one entry against a direct count: walk the corpus, and every time "bank" occurs
# within 10 words of "west" add $1/d$.

# %%
# NBVAL_CHECK_OUTPUT
direct = sum(1.0 / abs(p - q) for doc in lee for p, a in enumerate(doc) for q, b in enumerate(doc)
             if a == "west" and b == "bank" and 0 < abs(p - q) <= 10)
print(round(direct, 4), np.isclose(direct, X[glove_id["west"], glove_id["bank"]].item()))

# %% [markdown]
# The weighting function, checked at a few points against its definition written out by hand:

# %%
# NBVAL_CHECK_OUTPUT
def glove_weight(x: torch.Tensor, x_max: float = 10.0, alpha: float = 0.75) -> torch.Tensor:
    return torch.where(x < x_max, (x / x_max) ** alpha, torch.ones_like(x))


points = torch.tensor([0.0, 1.0, 5.0, 10.0, 50.0])
by_hand = [0.0, 0.1**0.75, 0.5**0.75, 1.0, 1.0]
print([round(v, 3) for v in glove_weight(points).tolist()], torch.allclose(glove_weight(points), torch.tensor(by_hand)))

# %% [markdown]
# The loss, vectorised: with $E = W \tilde W^\top + b\,\mathbf 1^\top + \mathbf 1\,\tilde b^\top - \log X$
# (a $V \times V$ matrix of errors; $\log X$ set to 0 where $X = 0$, where $f$ is 0 anyway),
# $J = \sum_{ij} f(X_{ij}) E_{ij}^2$. Differentiating one term by hand,
# $\partial J / \partial w_i = \sum_j 2 f(X_{ij}) E_{ij} \tilde w_j$, i.e. $\nabla_W J = 2 (F \odot E) \tilde W$,
# and $\partial J / \partial b_i = \sum_j 2 f(X_{ij}) E_{ij}$. Check the loss against the sum
# written term by term, and the hand gradients against autograd, on a small random problem:

# %%
# NBVAL_CHECK_OUTPUT
def glove_loss(W, W_ctx, b, b_ctx, X, x_max=10.0):  # (V, d), (V, d), (V,), (V,), (V, V)
    F_ = glove_weight(X, x_max)  # (V, V), 0 where X = 0
    log_x = torch.where(X > 0, X.log(), torch.zeros_like(X))
    E = W @ W_ctx.T + b[:, None] + b_ctx[None, :] - log_x  # (V, V)
    return (F_ * E**2).sum(), F_, E


gen = torch.Generator().manual_seed(0)
Xs = torch.poisson(torch.full((6, 6), 3.0), generator=gen)  # small counts, some zeros
Ws, Ws_ctx = torch.randn(6, 4, generator=gen, requires_grad=True), torch.randn(6, 4, generator=gen)
bs, bs_ctx = torch.randn(6, generator=gen, requires_grad=True), torch.randn(6, generator=gen)
J, F_, E = glove_loss(Ws, Ws_ctx, bs, bs_ctx, Xs)
with torch.no_grad():
    term_by_term = sum(float(glove_weight(Xs[i, j])) * (float(Ws[i] @ Ws_ctx[j] + bs[i] + bs_ctx[j]) - np.log(Xs[i, j].item())) ** 2
                       for i in range(6) for j in range(6) if Xs[i, j] > 0)
J.backward()
print("loss == term-by-term sum:", np.isclose(J.item(), term_by_term, rtol=1e-5))
print("dJ/dW == 2 (F * E) W_ctx:", torch.allclose(Ws.grad, 2 * (F_ * E).detach() @ Ws_ctx, atol=1e-5))
print("dJ/db == 2 (F * E) 1:    ", torch.allclose(bs.grad, 2 * (F_ * E).detach().sum(1), atol=1e-5))

# %% [markdown]
# Train on the Lee matrix with Adam, full batch (one step sees every pair), 32 dimensions,
# the loss divided by the number of non-zero pairs so the learning rate does not depend on
# the corpus size:

# %%
gen = torch.Generator().manual_seed(0)
V, dim = len(glove_words), 32
W = ((torch.rand(V, dim, generator=gen) - 0.5) / dim).requires_grad_()
W_ctx = ((torch.rand(V, dim, generator=gen) - 0.5) / dim).requires_grad_()
b, b_ctx = torch.zeros(V, requires_grad=True), torch.zeros(V, requires_grad=True)
opt = torch.optim.Adam([W, W_ctx, b, b_ctx], lr=0.05)
n_pairs = int((X > 0).sum())
glove_losses = []
for _ in range(150):
    J = glove_loss(W, W_ctx, b, b_ctx, X)[0] / n_pairs
    opt.zero_grad()
    J.backward()
    opt.step()
    glove_losses.append(J.item())
print(f"loss per pair: {glove_losses[0]:.3f} at the start, {glove_losses[-1]:.3f} after 150 steps")

# %% [markdown]
# The vectors (the sum $w_i + \tilde w_i$) go into a gensim `KeyedVectors`, so the same
# `nearest` and analogy code serves both models. GloVe's own file format is one word and its
# numbers per line, with no header; `load_pretrained` reads it, which is also how you would
# load the published GloVe vectors trained on billions of words (`glove.6B.zip` from the
# Stanford NLP site, or gensim's downloader, `glove-wiki-gigaword-100`; neither runs here,
# the course never downloads at run time):

# %%
# NBVAL_CHECK_OUTPUT
from llmrec_ref.embeddings import load_pretrained  # noqa: E402

glove_vectors = (W + W_ctx).detach().numpy()  # (V, d)
with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "glove.lee.32d.txt"
    path.write_text("".join(f"{w} {' '.join(f'{x:.6f}' for x in vec)}\n" for w, vec in zip(glove_words, glove_vectors, strict=True)))
    kv_glove = load_pretrained(path)
print(len(kv_glove), "words,", kv_glove.vector_size, "dimensions | same vectors:",
      np.allclose(kv_glove[glove_words], glove_vectors, atol=1e-6))

# %% [markdown]
# Neighbours, side by side with word2vec's (trained above on the same 60,000 words), both
# searched among the same 1,000 words:

# %%
kv_w2v_1000 = KeyedVectors(kv_lee.vector_size)
kv_w2v_1000.add_vectors(glove_words, kv_lee[glove_words])  # word2vec restricted to GloVe's words
for word in ["australia", "police", "president", "fire", "bank"]:
    by_glove = [w for w, _ in nearest(kv_glove, word, k=6)]
    by_w2v = [w for w, _ in nearest(kv_w2v_1000, word, k=6)]
    print(f"{word:10s} GloVe:    {by_glove}\n{'':10s} word2vec: {by_w2v}  ({len(set(by_glove) & set(by_w2v))} in common)")

# %%
for name, kv in [("GloVe", kv_glove), ("word2vec", kv_w2v_1000)]:
    acc, sec = kv.evaluate_word_analogies(datapath("questions-words.txt"))
    print(f"{name:8s}: {len(sec[-1]['correct'])} right of {len(sec[-1]['correct']) + len(sec[-1]['incorrect'])} questions whose words are all among the 1,000")

# %% [markdown]
# The two methods agree where the corpus is clear ("president": bush, george, musharraf;
# "bank": west, gaza, strip; "fire": rural, service) and share 1 to 3 of their 6 neighbours.
# GloVe's lists also hold frequent function words ("in", "and", "will", "from"): it fits the
# log-count of every pair, and frequent words co-occur with everything, whereas word2vec's
# subsampling (`sample=1e-3`) drops most occurrences of frequent words before training. On
# the 40 analogy questions whose four words are among the 1,000, GloVe answers 0 and word2vec
# 1: neither learns analogies from 60,000 words. The method matters less than the corpus:
# skip-gram with negative sampling implicitly factorises a (shifted) matrix of the same
# co-occurrence statistics that GloVe fits explicitly (Levy and Goldberg, 2014); the published
# GloVe vectors owe their analogies to 6 billion words of Wikipedia and news.
#
# ## 3. Item text becomes vectors
#
# Each MovieLens film has a text: title, year and genres
# ("Toy Story (1995). Genres: Animation, Children's, Comedy."). A simple text vector is the
# mean of its word vectors, $v(\text{text}) = \frac{1}{|W|}\sum_{w \in W} v_w$ over the
# words $W$ the vectors know. We train word vectors on the 1,682 item texts themselves.

# %%
# NBVAL_CHECK_OUTPUT
ml = load_movielens_100k()
items = ml.items.set_index("item_id")
docs = {i: tokenize(text) for i, text in items["text"].items()}
kv_text = train_word2vec(list(docs.values()), vector_size=32, window=10, epochs=20, seed=0)
print(docs[50], "| vocabulary:", len(kv_text))

# %%
# NBVAL_CHECK_OUTPUT
from llmrec_ref.embeddings import text_vector


def my_text_vector(kv, tokens: list[str]) -> np.ndarray:
    known = [kv[w] for w in tokens if w in kv.key_to_index]
    return np.mean(known, axis=0) if known else np.zeros(kv.vector_size, dtype=np.float32)


print(np.allclose(my_text_vector(kv_text, docs[50]), text_vector(kv_text, docs[50]).vector))
print(text_vector(kv_text, "A space opera with droids (2025)").n_oov, "unknown words of 5")

# %% [markdown]
# `text_vector` also counts the unknown words: a text whose words are all unknown gets the
# zero vector, and the count tells you not to trust it. A 2-D view: project the text vectors
# on their first two principal components (PCA via the SVD of the centred matrix) and
# colour by genre. Genre words are the only words films share, so the vectors group by genre.

# %%
def pca_2d(x: np.ndarray) -> np.ndarray:
    centred = x - x.mean(axis=0)  # (n, d)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T  # (n, 2)


text_vectors = np.stack([text_vector(kv_text, docs[i]).vector for i in items.index])  # (1682, 32)
main_genre = items["genres"].map(lambda g: next((x for x in ["Animation", "Horror", "Sci-Fi", "Romance", "Western"] if x in g), "other"))
xy = pca_2d(text_vectors)
fig, ax = plt.subplots(figsize=(6, 4.5))
for genre in ["other", "Animation", "Horror", "Sci-Fi", "Romance", "Western"]:
    mask = (main_genre == genre).to_numpy()
    ax.scatter(*xy[mask].T, s=6, alpha=0.3 if genre == "other" else 0.8, label=genre, c="lightgrey" if genre == "other" else None)
ax.set(title="MovieLens item texts (title + genres), PCA of mean word vectors")
ax.legend(markerscale=3, fontsize=8)
plt.show()

# %% [markdown]
# The synthetic shop's 10,000 descriptions are richer ("Flagship pink Canon camera with great
# sensor and great autofocus. Perfect for weekends with the family.").

# %%
# NBVAL_CHECK_OUTPUT
shop = make_synthetic_shop(seed=0)
shop_docs = [tokenize(t) for t in shop.items["text"]]
kv_shop = train_word2vec(shop_docs, vector_size=32, window=5, epochs=5, seed=0)
print(len(shop_docs), "descriptions,", sum(map(len, shop_docs)), "tokens, vocabulary", len(kv_shop))

# %%
for word in ["apple", "laptop"]:
    print(f"{word:7s}", [w for w, _ in nearest(kv_shop, word, k=5)])

# %%
shop_vectors = np.stack([text_vector(kv_shop, d).vector for d in shop_docs])  # (10000, 32)
xy = pca_2d(shop_vectors)
fig, ax = plt.subplots(figsize=(6, 4.5))
for category in sorted(shop.items["category"].unique()):
    mask = (shop.items["category"] == category).to_numpy()
    ax.scatter(*xy[mask][:150].T, s=6, label=category)
ax.set(title="synthetic shop item texts, PCA of mean word vectors")
ax.legend(markerscale=3, fontsize=7, ncol=2)
plt.show()

# %% [markdown]
# The shop's vectors form three big groups, not fourteen (categories are only sub-clusters
# inside them): each description ends with a use-case sentence ("at the office", "on the
# go", "with the family"), and those words outweigh the single category word in the mean.
# Brands are neighbours of brands ("apple" next to "samsung"), not of their products. A mean
# of word vectors knows which words occur, not what the item *is*: a first taste of why
# chapter 07 uses a pretrained sentence encoder for item text.
#
# ## 4. item2vec: behaviour becomes vectors
#
# Treat each user's time-ordered ratings as a sentence and each film as a word. First the
# sequences. MovieLens users rate many films in one sitting: the timestamps tie.

# %%
# NBVAL_CHECK_OUTPUT
ratings = ml.ratings
same_second = ratings.groupby("user_id")["timestamp"].transform(lambda t: t.duplicated(keep=False))
print(f"ratings that share their timestamp with another rating of the same user: {same_second.mean():.1%}")

# %% [markdown]
# A tie has no real order. Chapter 01 set the course's rule: ties are ordered by item id, a
# reproducible convention that is not information. item2vec is the one method here that
# learns from the order inside its window, so it must not see the convention as if it were
# behaviour: `item_sequences` sorts by time and shuffles the ratings of each tie with a seed
# (the order inside a tie becomes noise, as it is). Inline, then the package version:

# %%
# NBVAL_CHECK_OUTPUT
from llmrec_ref.embeddings import item2vec, item_sequences

tie = np.random.default_rng(0).permutation(len(ratings))
ordered = ratings.assign(tie=tie).sort_values(["user_id", "timestamp", "tie"])
my_sequences = [list(s) for _, s in ordered.groupby("user_id")["item_id"]]
sequences = item_sequences(ratings, seed=0)
print(my_sequences == sequences, len(sequences), "sequences,", sum(map(len, sequences)), "ratings")

# %% [markdown]
# Then item2vec with the package defaults (a whole-history window, strong subsampling of
# popular films; section 4.2 shows why). Vectors are keyed by the item id itself.

# %%
# NBVAL_CHECK_OUTPUT
from llmrec_ref.embeddings import ITEM2VEC_DEFAULTS

kv_items = item2vec(sequences, seed=0)
print(ITEM2VEC_DEFAULTS)
print("vocabulary:", len(kv_items), "items | vectors:", kv_items.vectors.shape)


# %%
# NBVAL_CHECK_OUTPUT
def show_neighbours(kv, item: int, k: int = 10) -> pd.DataFrame:
    rows = [(j, items.loc[j, "title"], items.loc[j, "year"], ", ".join(items.loc[j, "genres"]), round(s, 2))
            for j, s in nearest(kv, item, k)]
    return pd.DataFrame(rows, columns=["item_id", "title", "year", "genres", "cosine"])


star_wars = show_neighbours(kv_items, 50)
print("a sequel among the 10 nearest of Star Wars:", bool({172, 181} & set(star_wars["item_id"])))

# %%
print(star_wars.to_string(index=False))

# %% [markdown]
# Both sequels, *The Empire Strikes Back* (172) and *Return of the Jedi* (181), are among the
# ten nearest films: item2vec found the trilogy from behaviour alone, without reading a
# title. Most of the other neighbours (*The Godfather*, *Pulp Fiction*, *Fargo*, *Toy Story*)
# are simply the most-watched, best-liked films of the collection: behaviour vectors mix
# "same series" with "same audience", and popular films are everybody's neighbours.
#
# ### 4.1 Text neighbours vs behaviour neighbours
#
# Text vectors say what a film *is* (its genres and title words), behaviour vectors say who
# *watches* it. Side by side for Star Wars and for *Fargo*:

# %%
items_text = np.vstack([np.zeros(32, dtype=np.float32), text_vectors])  # row = item id, row 0 = padding
for item in [50, 100]:
    by_text = [j for j, _ in nearest(items_text, item, k=10)]
    by_behaviour = [j for j, _ in nearest(kv_items, item, k=10)]
    print(f"{items.loc[item, 'title']}: {len(set(by_text) & set(by_behaviour))} films in common")
    print(pd.DataFrame({"text neighbours": items.loc[by_text, "title"].to_list(),
                        "behaviour neighbours": items.loc[by_behaviour, "title"].to_list()}).to_string(), "\n")

# %% [markdown]
# The two lists hardly overlap. Text neighbours share genre words (any "Action Adventure
# Romance Sci-Fi War" film is close to Star Wars), including obscure films nobody watched;
# behaviour neighbours are the films the *same people* rated, across genres, and find the
# sequels whose titles share no word with "Star Wars". These are the two families of chapter
# 00: text neighbours are **content-based** (what the item is), behaviour neighbours
# **collaborative filtering** (who consumes it). Text works for an item with no interactions
# yet (cold start); behaviour captures taste. Context-aware recommenders combine both in a
# hybrid, as chapter 07 does with a language model.
#
# A PCA of the behaviour vectors of the 600 most-rated films, coloured by genre (left) and
# by release year (right):

# %%
popular = ratings["item_id"].value_counts().index[:600]
xy = pca_2d(np.stack([kv_items[i] for i in popular]))
genre = items.loc[popular, "genres"].map(lambda g: next((x for x in ["Children's", "Horror", "Sci-Fi", "Romance", "Film-Noir"] if x in g), "other"))
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
for name in ["other", "Children's", "Horror", "Sci-Fi", "Romance", "Film-Noir"]:
    mask = (genre == name).to_numpy()
    left.scatter(*xy[mask].T, s=8, alpha=0.3 if name == "other" else 0.9, label=name, c="lightgrey" if name == "other" else None)
left.legend(markerscale=2, fontsize=8)
dots = right.scatter(*xy.T, s=8, c=items.loc[popular, "year"].astype(float).clip(1960, 1998), cmap="viridis")
fig.colorbar(dots, ax=right, label="release year (earlier ones shown as 1960)")
offsets = {50: (5, 8), 172: (-20, -14), 181: (5, 4), 100: (6, 6), 127: (-60, -10)}
for i, (x, y) in zip(popular, xy, strict=True):
    if i in offsets:
        for ax in (left, right):
            ax.annotate(items.loc[i, "title"][:20], (x, y), xytext=offsets[i], textcoords="offset points", fontsize=7)
left.set(title="item2vec, 600 most-rated films: genre")
right.set(title="... and release year")
plt.show()

# %% [markdown]
# Genres are scattered: the two largest directions of the behaviour vectors are not genre.
# The first separates recent releases from older films (|r| = 0.41 with the release year;
# the two groups average 1981 and 1996): in 1997-98 the people who rated new releases were
# not the ones rating classics. The second follows how well liked a film is (|r| = 0.77
# with its mean rating). Behaviour learns *who watches what*, and era and quality matter
# as much as genre for that. Genre is still there
# in the finer structure, as the neighbour lists show.

# %% [markdown]
# ### 4.2 Which settings learn taste? A measure and a small sweep
#
# Two scores for a set of item vectors, both over the 10 nearest neighbours:
#
# - **genre share@10**: for each film with at least 20 ratings, the share of its neighbours
#   that share a genre with it, averaged (a random neighbour scores 0.37);
# - **sequel hit@10**: over 61 films of 22 series in MovieLens (Star Wars, Godfather, Alien,
#   Star Trek, Die Hard, ...), the share whose neighbours include another film of the series.

# %%
# NBVAL_CHECK_OUTPUT
from llmrec_ref.embedding_quality import FRANCHISES, genre_share, sequel_hits

genres = {i: set(g) - {"unknown"} for i, g in items["genres"].items()}
n_ratings = ratings["item_id"].value_counts()
queries = sorted(n_ratings.index[n_ratings >= 20])


def my_sequel_hits(kv, franchises) -> float:
    hits = []
    for films in franchises.values():
        for film in films:
            top10 = {j for j, _ in nearest(kv, film, k=10)}
            hits.append(bool(top10 & (set(films) - {film})))
    return float(np.mean(hits))


print(len(queries), "films with >= 20 ratings;", sum(map(len, FRANCHISES.values())), "films in", len(FRANCHISES), "series")
print(np.isclose(my_sequel_hits(kv_items, FRANCHISES), sequel_hits(kv_items, FRANCHISES)))

# %% [markdown]
# A window of 5 only pairs films rated within a few positions, which for MovieLens mostly
# means "in the same sitting" (often the same second, in random order). Subsampling
# (`sample`) randomly drops occurrences of popular films, which both removes "everyone saw
# Star Wars" noise and makes the effective window longer. `ns_exponent` shapes the noise
# distribution (0.75 word2vec's choice, 0 uniform, negative favours rare items as noise).
# The sweep below is kept small to run in seconds; the full one (36 settings) is
# `python -m llmrec_ref bench embeddings --sweep`.

# %%
settings = [
    dict(window=5, sample=1e-3, min_rating=None),  # word2vec's defaults
    dict(window=5, sample=1e-4, min_rating=None),
    dict(window=50, sample=1e-4, min_rating=None),  # the package default (trained above)
    dict(window=50, sample=1e-4, min_rating=4.0),  # only ratings of 4 and 5 stars
]
rows = []
for s in settings:
    if s["window"] == 50 and s["min_rating"] is None:
        kv = kv_items
    else:
        kv = item2vec(item_sequences(ratings, min_rating=s["min_rating"], seed=0), window=s["window"], sample=s["sample"], seed=0)
    rows.append({**s, "genre share@10": round(genre_share(kv, genres, queries), 3),
                 "sequel hit@10": round(sequel_hits(kv), 3),
                 "Star Wars sequels": len({172, 181} & {j for j, _ in nearest(kv, 50, k=10)})})
sweep = pd.DataFrame(rows)
print(sweep.to_string(index=False))

# %% [markdown]
# The full sweep (`python -m llmrec_ref bench embeddings --sweep --seeds 2`: 36 settings,
# mean of 2 seeds; CPU seconds on the course's 2-core machine; a random neighbour's genre
# share is 0.370), abridged:
#
# | ratings | window | sample | ns_exponent | genre share@10 | sequel hit@10 | Star Wars sequels | CPU s |
# |---|---|---|---|---|---|---|---|
# | all | 5 | 1e-3 | 0.75 | 0.687 | 0.336 | 1 | 2.6 |
# | all | 5 | 1e-3 | -0.5 | 0.663 | 0.401 | 1 | 2.5 |
# | all | 5 | 1e-4 | 0.75 | 0.611 | 0.295 | 1 | 1.2 |
# | all | 20 | 1e-3 | -0.5 | 0.688 | 0.467 | 1 | 7.9 |
# | all | 20 | 1e-4 | 0.75 | 0.716 | 0.426 | 1 | 3.1 |
# | all | 50 | 1e-3 | 0.75 | 0.713 | 0.483 | 1 | 17.4 |
# | all | 50 | 1e-3 | -0.5 | 0.712 | 0.516 | 1 | 17.6 |
# | **all** | **50** | **1e-4** | **0.75** | **0.713** | **0.557** | **2** | **6.7** |
# | all | 50 | 1e-4 | -0.5 | 0.708 | 0.451 | 1.5 | 6.6 |
# | >= 4 | 50 | 1e-3 | 0 | 0.602 | 0.516 | 2 | 8.8 |
# | >= 4 | 50 | 1e-4 | 0.75 | 0.564 | 0.401 | 1 | 2.5 |
#
# What it says:
#
# - **The window is the biggest lever.** With word2vec's defaults (window 5) only a third of
#   the series films find a sibling; a window of 50 (the median history is 65 ratings long) raises
#   it to 0.48, because ratings given in one sitting are in random order and a film's "true"
#   context may be dozens of positions away.
# - **Strong subsampling pays only with a large window.** `sample=1e-4` drops most
#   occurrences of popular films: with window 5 too few pairs remain (0.30), with window 50
#   it is the best setting (0.56) and 2.6x cheaper, since dropped films cost nothing.
# - **A zero or negative `ns_exponent` helps at word2vec's `sample=1e-3`** (window 5: 0.34 ->
#   0.40; window 20: 0.39 -> 0.47): popular films are drawn less often as noise. On top of
#   strong subsampling, which already down-weights them, it hurts (0.56 -> 0.45).
# - **Keep all ratings.** Positive ratings only (>= 4 stars) throw away 45 % of the
#   sequence: genre share falls to 0.45-0.62. That a user rated a film at all says more
#   about what they watch than the number of stars.
# - Genre share hardly moves (0.68-0.72 with all ratings): most neighbourhoods already share
#   a genre; the harder sequel measure is what separates settings.
#
# Hence the package defaults: `window=50, sample=1e-4, ns_exponent=0.75`, all ratings,
# 10 epochs, 64 dimensions.
#
# ## 5. From gensim vectors to `nn.Embedding`
#
# Later chapters train models whose first layer is an `nn.Embedding` indexed by our item ids
# 1..1682, with row 0 reserved for padding. gensim stores vectors in its own order (most
# frequent first), so they must be copied row by row. Items gensim does not know (none here,
# but any item below `min_count` or new since training) get a small random vector.

# %%
# NBVAL_CHECK_OUTPUT
n_items = int(items.index.max())
gen = torch.Generator().manual_seed(0)
weight = torch.randn(n_items + 1, kv_items.vector_size, generator=gen) * 0.02  # (n_items + 1, d)
for item in range(1, n_items + 1):
    if item in kv_items.key_to_index:  # not `item in kv_items`: gensim reads unknown ints as positions
        weight[item] = torch.tensor(kv_items[item])
weight[0] = 0.0
my_embedding = nn.Embedding.from_pretrained(weight, freeze=False, padding_idx=0)
print(my_embedding)

# %%
# NBVAL_CHECK_OUTPUT
from llmrec_ref.embeddings import to_embedding

embedding = to_embedding(kv_items, range(n_items + 1), freeze=False, padding_idx=0, seed=0)
print(embedding.weight.shape, "| same as inline:", torch.equal(embedding.weight, my_embedding.weight))
print("row 0 is padding:", bool((embedding.weight[0] == 0).all()), "| row 50 is Star Wars:",
      torch.equal(embedding.weight[50], torch.tensor(kv_items[50])))
same = [j for j, _ in nearest(embedding, 50, k=10)] == [j for j, _ in nearest(kv_items, 50, k=10)]
print("same neighbours from the nn.Embedding:", same)

# %%
# NBVAL_CHECK_OUTPUT
history = torch.tensor([[0, 0, 50, 172], [1, 100, 127, 181]])  # (B, T), left-padded with 0
print(embedding(history).shape)  # (B, T, d): ready for the encoders of chapter 03

# %% [markdown]
# ## Summary
#
# - Skip-gram with negative sampling is logistic regression of true (centre, context) pairs
#   against $K$ noise words: 40 lines of PyTorch separate the two topics of a toy corpus, and
#   gensim's `train_word2vec` (single-threaded, seeded: reproducible) finds the same.
# - 60,000 words of news (the Lee corpus, 4,115 words seen twice) give topical neighbours
#   ("president": bush, w, george) but answer 0.7 % of the analogy questions it covers (5 of
#   766; the other 96 % of the 19,544 questions contain an unknown word). Analogies need
#   billions of words: pretrained vectors, loaded with `load_pretrained`.
# - GloVe fits $w_i^\top \tilde w_j + b_i + \tilde b_j \approx \log X_{ij}$ by weighted least squares
#   on the co-occurrence counts: a few dozen lines of torch on the same corpus give neighbours close to
#   word2vec's (plus frequent function words word2vec subsamples away), and no analogies either.
# - A mean of word vectors (`text_vector`) clusters items by the words they share: genres for
#   MovieLens, the use-case sentence (not the category) for the shop.
# - item2vec with the package defaults (window 50, `sample=1e-4`, all ratings) puts both
#   sequels among Star Wars' 10 nearest films (Return of the Jedi 1st, The Empire Strikes
#   Back 7th), with a sequel hit@10 of 0.56 against 0.34 for word2vec's defaults and a genre
#   share@10 of 0.71 (random: 0.37). Training takes about 7 s of CPU.
# - Text neighbours and behaviour neighbours hardly overlap (0 of 10 for Star Wars and for
#   Fargo): text says what an item is and works for new items; behaviour says who watches it.
# - `to_embedding` copies the vectors into an `nn.Embedding` (1,683 x 64) in item-id order,
#   row 0 = padding, unknown items a seeded N(0, 0.02^2): the first layer of chapter 03's encoders.
#
# ## Exercises
#
# `exercises/02_word_embeddings.ipynb`: forward-only skip-gram pairs, cosine neighbours over a
# matrix with padding rows and negative similarities, the negative-sampling gradients derived by
# hand (checked against autograd), and a graded question on which vectors move first; each with
# a check that explains a wrong answer.
#
# ## Further reading
#
# - T. Mikolov, I. Sutskever, K. Chen, G. Corrado, J. Dean. *Distributed Representations of
#   Words and Phrases and their Compositionality.* NeurIPS 2013 (negative sampling, subsampling).
# - J. Pennington, R. Socher, C. D. Manning. *GloVe: Global Vectors for Word Representation.*
#   EMNLP 2014 (the ratio argument and the weighted least-squares objective of section 2.1).
# - O. Levy, Y. Goldberg. *Neural Word Embedding as Implicit Matrix Factorization.* NeurIPS 2014.
# - Y. Goldberg, O. Levy. *word2vec Explained: deriving Mikolov et al.'s negative-sampling
#   word-embedding method.* arXiv:1402.3722, 2014.
# - O. Barkan, N. Koenigstein. *Item2Vec: Neural Item Embedding for Collaborative Filtering.*
#   MLSP 2016.
# - H. Caselles-Dupré, F. Lesaint, J. Royo-Letelier. *Word2vec applied to Recommendation:
#   Hyperparameters Matter.* RecSys 2018 (why `ns_exponent`, `sample` and the window matter
#   for item sequences).
# - gensim's word2vec documentation: https://radimrehurek.com/gensim/models/word2vec.html
