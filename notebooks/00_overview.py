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
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 00 · Overview: a recommender that understands context
#
# This course shows, step by step, how techniques from language modelling — word embeddings,
# recurrent and Transformer encoders, attention, pretrained language models — help a
# recommender system understand **context**: what a user did, in what order, when, on which
# device, and what the items say about themselves.
#
# **Who it is for.** Learners who know Python, numpy and a little PyTorch. Every other idea is
# explained in the chapter that needs it, with the formulas written out. Instructors get
# exercises with automatic checks (`exercises/README.md`); engineers get small, tested modules
# in `llmrec_ref` that they can copy into their own projects.
#
# **How to use it.** Work through the chapters in order. Each one builds an idea inline, small
# and readable, then imports the finished version from `llmrec_ref`, checks that the two agree,
# and runs it on real data. Each chapter has an exercise notebook in `exercises/`. Everything
# runs on a laptop CPU: a chapter in under a minute (`python -m llmrec_ref bench course` times
# every one).

# %%
from pathlib import Path

import pandas as pd

import llmrec_ref
from llmrec_ref.datasets import load_movielens_100k, make_synthetic_shop
from llmrec_ref.site import chapter_map

llmrec_ref.seed_everything(0)
pd.set_option("display.width", 120)
ROOT = Path.cwd().parent if Path.cwd().name == "notebooks" else Path.cwd()

# %% [markdown]
# ## The pipeline the chapters build
#
# ```mermaid
# flowchart LR
#     A[Data collection<br>ch. 01] --> B[Preprocessing<br>ch. 01]
#     B --> C[Word embeddings<br>ch. 02]
#     C --> D[Encoder<br>ch. 03]
#     D --> E[Attention<br>ch. 04]
#     E --> F[Decoder<br>ch. 05]
#     F --> G[Recommendations<br>ch. 05-07]
# ```
#
# 1. **Data collection and preprocessing** (01): interaction logs are cleaned, turned into
#    implicit feedback with context features, and split by time so the model never sees the
#    future.
# 2. **Word embeddings** (02): word2vec turns item text into vectors, item2vec turns
#    behaviour (which items appear together in histories) into vectors.
# 3. **Encoder** (03): a bidirectional RNN or a Transformer reads a user's history in order.
# 4. **Attention** (04): the model learns which past items matter for the next one, or for a
#    given candidate.
# 5. **Decoder** (05): a scoring head turns the encoded history into a score for every item;
#    the loss is derived by hand; a top-K list is decoded.
# 6. **Evaluation** (06): honest full-ranking metrics against real baselines.
# 7. **A pretrained language model** (07): all-MiniLM-L6-v2 encodes item text and
#    natural-language requests, so never-seen items can be recommended.
#
# Four chapters then take the model further:
#
# 8. **A knowledge graph** (08): films as (head, relation, tail) triples; TransE derived and
#    tested by filtered link prediction against a degree baseline; the item -> entity link
#    checked before use. The link that ships with MovieLens-100k points at the wrong films (its
#    ids are MovieLens-1M's); the chapter diagnoses and repairs it, and the repaired graph helps
#    where behaviour is missing: fused with text it ranks cold films better than text alone. With
#    plenty of behaviour (CKE against MF-BPR) it adds little.
# 9. **More than one modality** (09): the shop draws its products; images aligned with text
#    (CLIP-style) or with another photo of the item, fused with text and IDs, help new items for
#    the users whose taste is visual.
# 10. **Small and fast** (10): where a request's time goes; distillation, pruning and int8 /
#    float16 tables, measured against the full model; the network exported to ONNX and one
#    request served from JSON.
# 11. **Beyond one machine** (11): data-parallel training with `torch.distributed` that follows
#    the single-process run exactly, and evaluation over processes that counts each user once.
#
# ### Two kinds of evidence: content-based and collaborative filtering
#
# A recommender can learn what to show from two kinds of evidence, and the course uses both.
#
# - **Content-based filtering** scores an item by what it *is*: its text, genres, brand, price.
#   A user who liked space films gets more films whose description says "space". It works
#   for an item nobody has touched yet (cold start) but only knows what the description says.
#   The course does it with mean word vectors of item texts (02), attention over content
#   vectors (04) and the pretrained sentence encoder (07).
# - **Collaborative filtering** scores an item by *who else* interacted with it: users who
#   watched what you watched also watched this. It needs no description at all, and finds
#   links no text states (the Star Wars sequels in 02), but an item without interactions is
#   invisible to it. The course does it with item2vec (02), the sequence models of 03-05 and
#   the baselines of 06 (popularity, ItemKNN, EASE, matrix factorisation).
# - A **hybrid** uses both. The course builds two: a sequence model whose item table starts
#   from (or contains a learned projection of) the items' text vectors, so an item's position
#   is first set by its content and then moved by behaviour (05 on the shop, 07), and a mix of
#   the behaviour model's scores with the cosine between a natural-language request and each
#   item's text vector, $(1 - w)\,z(\text{history score}) + w\,z(\cos(q, v_i))$ with $z$ a
#   standardisation per user (07, `llmrec_ref.text.mix_scores`).
#
# ## The two data sets
#
# **MovieLens-100k** is real: 100,000 ratings with timestamps, fetched once and verified.
# **The synthetic shop** is generated from a seed: users with known tastes, items with text,
# sessions with time, device and intent. Because its ground truth is known, it shows *when*
# context helps and how far a model is from the best possible one.

# %%
# NBVAL_CHECK_OUTPUT
ml = load_movielens_100k()
shop = make_synthetic_shop(seed=0)
sizes = pd.DataFrame({
    "users": [len(ml.users), len(shop.users)],
    "items": [len(ml.items), len(shop.items)],
    "interactions": [len(ml.ratings), len(shop.interactions)],
    "context": ["time, rating, demographics", "time, device, session intent, behaviour"],
}, index=["MovieLens-100k", "synthetic shop"])
print(sizes.to_string())

# %% [markdown]
# One MovieLens user's first ratings, in time order (note the same-minute bursts):

# %%
# NBVAL_CHECK_OUTPUT
first = ml.ratings[ml.ratings["user_id"] == 1].head(6).merge(ml.items, on="item_id")
first = first.assign(time=pd.to_datetime(first["timestamp"], unit="s"))
print(first[["time", "rating", "title"]].to_string(index=False))

# %% [markdown]
# And the course's worked example, a real user of the shop who **purchased an Apple phone,
# browsed a Huawei phone and favourited a Xiaomi phone** in one session around midday (the hours
# 12 and 13) on a desktop computer:

# %%
# NBVAL_CHECK_OUTPUT
from llmrec_ref.demo import worked_example

session = worked_example(shop.interactions, shop.items, shop.example_user)
print(session[["behavior", "device", "hour", "title", "price"]].head(5).to_string(index=False))

# %% [markdown]
# ## A preview of the results
#
# Every number in the course is measured by `python -m llmrec_ref bench TOPIC` and collected,
# with date, versions and machine, in `docs/results.md`. Here is the general-recommendation
# table read from that page (MovieLens-100k, per-user random 80/10/10 split, full ranking of
# every item the user has not trained on, bootstrap 95% intervals):

# %%
from llmrec_ref.tables import read_table  # noqa: E402 - a markdown table of the results page as rows

results = (ROOT / "docs" / "results.md").read_text()
baselines = pd.DataFrame(read_table(results, "## Baselines"))
general = baselines[baselines["protocol"].str.startswith("random")]
print(general[["model", "fit on", "NDCG@10", "Recall@10"]].to_string(index=False))

# %%
import matplotlib.pyplot as plt  # noqa: E402

shown = general.drop_duplicates("model", keep="last")  # one row per model: its final fit
values = shown["NDCG@10"].str.extract(r"([\d.]+) \[([\d.]+), ([\d.]+)\]").astype(float)
fig, ax = plt.subplots(figsize=(6, 2.8))
ax.barh(shown["model"], values[0], xerr=[values[0] - values[1], values[2] - values[0]], color="tab:blue")
ax.set(xlabel="NDCG@10 (95% interval)", title="general task on MovieLens-100k, full ranking")
fig.tight_layout()
plt.show()

# %% [markdown]
# EASE, a closed-form linear model fitted in about half a second, is the one to beat on this
# task. The sequential task (leave-one-out by time) and the context-aware model are compared
# in chapters 05 and 06; the cold-start results of chapter 07 show what text adds for items
# nobody has rated yet.
#
# ## The chapters

# %%
# NBVAL_CHECK_OUTPUT
chapters = pd.DataFrame(chapter_map(ROOT / "notebooks"))
chapters = chapters[chapters["number"] != "00"]
print(chapters[["number", "title", "n_exercises", "minutes"]].to_string(index=False))

# %% [markdown]
# Each chapter runs in under a minute (07 in under 90 s, the model load included); add 30 to
# 60 minutes to read it and the exercise time shown above. Prerequisites, chapter by chapter:

# %%
for _, row in chapters.iterrows():
    print(f"{row['number']}: {' '.join(row['needs'].split())}\n")

# %% [markdown]
# ## What "language model" means here, and the limits of this design
#
# The course borrows *techniques* from language modelling; only one chapter uses a language
# model in today's sense.
#
# | chapter | technique | is it an LLM? |
# |---|---|---|
# | 02 | word2vec / item2vec: shallow embeddings trained on co-occurrence | no — a 2013 technique, no pretraining, one vector per word |
# | 03 | RNN and Transformer *encoders* trained from scratch on histories | no — the architecture of language models, applied to item sequences |
# | 04 | attention (dot-product, multi-head, additive, target attention) | no — the core mechanism of LLMs, trained here on our data |
# | 05 | next-item prediction with a softmax over all items | the training objective of a language model, over items instead of words |
# | 07 | all-MiniLM-L6-v2, a pretrained sentence encoder | a small pretrained Transformer *encoder* (22M parameters) — not a generative LLM |
# | 08 | TransE knowledge-graph embeddings (margin loss, then self-adversarial negative sampling) | no — structured knowledge, the "knowledge enhancement" direction of the source article |
# | 09 | a CNN image encoder aligned with MiniLM's text vectors (symmetric InfoNCE, CLIP-style) | no — the contrastive alignment behind multimodal models, on drawn images |
# | 10 | distillation, pruning, quantisation, ONNX export and serving | no — the compression tools used for LLMs, applied to the chapter-05 model |
#
# **What the course does not cover** (with places to start):
# - *Generative LLM rankers*, where a large model reads a user's history as text and writes a
#   recommendation (e.g. Hou et al., *Large Language Models are Zero-Shot Rankers for
#   Recommender Systems*, ECIR 2024; Bao et al., *TALLRec*, RecSys 2023).
# - *Graph neural networks* over the knowledge graph (e.g. Wang et al., *KGAT*, KDD 2019):
#   chapter 08 embeds the graph with TransE, repairs the shipped link, and adds the graph to MF (CKE).
# - *Real* images, audio and video (e.g. Wei et al., *MMGCN*, MM 2019): chapter 09 works on the
#   shop's own drawn pictures, a world whose ground truth is known.
# - Online evaluation (A/B tests), fairness and privacy.

# %% [markdown]
# ## Choosing a model size
#
# The source article (§9.1) lists pretrained encoders from small to large: TinyBERT,
# "MiniBERT" (Google's BERT-Mini is the published model of that name), BERT-base, BERT-large.
# Bigger models know more language and cost more at
# every request. Here are the encoders this course actually runs, with their parameter counts,
# float32 size and CPU encoding speed measured now, on this machine, with one thread, beside
# the published parameter counts of the article's models (which the course does not ship;
# Turc et al. 2019, Jiao et al. 2020, Devlin et al. 2019).

# %%
import time  # noqa: E402

import torch  # noqa: E402

from llmrec_ref.encoders import BiRNNEncoder, SequenceEncoder  # noqa: E402
from llmrec_ref.text import TextEncoder, item_texts  # noqa: E402

torch.manual_seed(0)
n_movies = len(ml.items)
gru = torch.nn.ModuleDict({"table": torch.nn.Embedding(n_movies + 1, 64, padding_idx=0),
                           "rnn": BiRNNEncoder(64, 64, "gru", bidirectional=False)}).eval()
transformer = SequenceEncoder(n_movies, d_model=64, n_heads=2, n_layers=2, max_len=50).eval()
minilm = TextEncoder("minilm", cache_dir=False, verbose=False).load()


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# %%
# NBVAL_CHECK_OUTPUT
print({"GRU": n_params(gru), "Transformer": n_params(transformer), "MiniLM": n_params(minilm.model)})

# %% [markdown]
# Speed: a batch of 256 MovieLens histories of 50 items for the two sequence encoders of
# chapters 03-05; 64 shop item descriptions (a batch, as when a catalogue is encoded) and one
# short request (what a user waits for) for all-MiniLM-L6-v2, with its cache switched off.
# Best of three runs. **These timings are not checked**: they depend on the CPU, its
# instruction set and what else the machine is doing; run the cell on yours.

# %%
threads = torch.get_num_threads()
torch.set_num_threads(1)
histories = torch.randint(1, n_movies + 1, (256, 50))  # (B, T)
texts = item_texts(shop.items.head(64))
request = ["a cheap phone with a good camera for my daughter"]


def best_of(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


with torch.no_grad():
    t_gru = best_of(lambda: gru["rnn"](gru["table"](histories), histories > 0))
    t_transformer = best_of(lambda: transformer(histories))
t_catalogue = best_of(lambda: minilm.model.encode(texts, batch_size=64))  # the model itself: no cache
t_request = best_of(lambda: minilm.model.encode(request))
sizes_table = pd.DataFrame([
    ("GRU, d=64 + item table (ch. 03-05)", "a history", n_params(gru), f"{256 / t_gru:,.0f} histories/s"),
    ("Transformer, 2 layers, d=64 + item table (ch. 03-05)", "a history", n_params(transformer), f"{256 / t_transformer:,.0f} histories/s"),
    ("all-MiniLM-L6-v2, 6 layers, d=384 (ch. 07)", "a text", n_params(minilm.model),
     f"{64 / t_catalogue:,.0f} texts/s; one request {1000 * t_request:.0f} ms"),
    ("BERT-Mini, 4 layers, d=256 (not shipped)", "a text", 11_300_000, "not run here"),
    ("TinyBERT-4, 4 layers, d=312 (not shipped)", "a text", 14_500_000, "not run here"),
    ("BERT-base, 12 layers, d=768 (not shipped)", "a text", 110_000_000, "not run here"),
    ("BERT-large, 24 layers, d=1024 (not shipped)", "a text", 340_000_000, "not run here"),
], columns=["encoder", "encodes", "parameters", "CPU speed, 1 thread (unchecked)"])
sizes_table["float32 MB"] = (sizes_table["parameters"] * 4 / 1e6).round(1)
print(sizes_table.to_string(index=False))
torch.set_num_threads(threads)

# %% [markdown]
# Most of the parameters of the two sequence encoders are their item tables (1,683 x 64 =
# 107,712): their size follows the catalogue. MiniLM is more than a hundred times larger than
# either, and per input one to two orders of magnitude slower (a text against a 50-item
# history). The cost of a Transformer
# layer grows with the square of its width, so per token BERT-base does about
# $12 \cdot 768^2 / (6 \cdot 384^2) = 8$ times MiniLM's work and BERT-large about 28 times
# (arithmetic, not measured here).
#
# **The rule.** Take the smallest model that reaches the quality you need *on a validation
# split* (chapter 06: choose on validation, report on test), then measure its cost where it will
# run, for the two uses separately: the catalogue is encoded once and cached (chapter 07), so
# there throughput matters; a request is encoded while the user waits, so there the latency of
# one text matters. Go up a size only when validation quality says the smaller one is not
# enough, and state the cost you pay for it.

# %% [markdown]
# ## Errata: what the source article gets wrong
#
# The course implements the ideas of an article on context understanding with language
# models in recommender systems. Its text has mistakes that you will meet elsewhere too, so
# they are corrected here, in the open: each claim, why it is wrong, the right version, and
# the chapter that shows it.
#
# | # | the article says | why that is wrong | the right version | shown in |
# |---|---|---|---|---|
# | 1 | recall is "the share of missed relevant items" | that is the *miss rate*, $1 - \text{recall}$ | $\text{Recall@}K = \lvert \text{relevant} \cap \text{top-}K \rvert / \lvert \text{relevant} \rvert$: the share of the relevant items that were **found** | 06, §1 |
# | 2 | F1 "combines accuracy and recall" | accuracy counts true negatives too, and almost every item is irrelevant to a user, so any list scores an accuracy near 1 | $F_1 = 2PR / (P + R)$, the harmonic mean of **precision** $P$ and recall $R$ | 06, §1 |
# | 3 | "the Transformer captures local dependencies" | self-attention connects every pair of positions in one step: it is global, not local (RNNs pass information step by step, convolutions see a window) | what self-attention lacks is **order**: without positional encodings it treats a history as a set (permuting the inputs permutes the outputs), hence positions | 03, §4-5; 04 |
# | 4 | "GRU/LSTM implement attention" | a gate, e.g. $z_t = \sigma(W_{iz} x_t + W_{hz} h_{t-1} + b_z)$, decides element by element how much of the state to keep; it never compares a query with the other positions | gating is not attention; attention forms weights over positions, $\alpha_j = \mathrm{softmax}_j(q^\top k_j / \sqrt d)$, and mixes their values | 03, §2; 04, §1 |
# | 5 | $L = -\log \sigma(y^\top \hat y)$ is a ranking loss | with $\hat y \in (0, 1)^n$, $y^\top \hat y \ge 0$, so $L \le \log 2$ and its gradient fades as positives accumulate; items with $y_k = 0$ get no gradient at all; recommending everything ($\hat y = \mathbf 1$) minimises it | rank positives above negatives: BPR $-\log \sigma(s_i - s_j)$, or a softmax over the items | 05, §3-5 |
# | 6 | its sample code (gensim + Keras) | it cannot run: `gensim.downloader.load("word2vec")` names no model (the pretrained one is `"word2vec-google-news-300"`, 1.6 GB); `word2vec.vocab` no longer exists in gensim 4 (`key_to_index`); `d_v` is never defined; `Dot(axes=(2, 1))` is applied to an LSTM output that is 2-D (no `return_sequences=True`) | below: the same idea in today's gensim and torch, runnable | 02, 03, 04, 05 |
# | 7 | scores 0.9 / 0.8 / 0.7 for the Apple, Huawei and Xiaomi phones mean "interest in Apple > Huawei > Xiaomi" | these are the phones the user already bought, browsed and favourited: a score of an item already seen is not a prediction of interest (the next list masks them, and a bought phone is the one not to show again); and a model's scores are **logits**, unnormalised, comparable only within one user's list at one moment | a score ranks candidates for what comes *next*; $\mathrm{softmax}$ over all items turns the logits into the model's probability of the next interaction, not a measure of liking | 05, §8 (prints the logits and ranks of the three phones) |
#
# **The article's idea, in code that runs.** Word vectors from gensim, an item as the mean of
# its words' vectors, a recurrent encoder over the user's history, dot-product attention
# between the candidate and every position of the history, a score. On the worked example's
# three phones and three candidates, with the weights untrained (so the numbers are
# meaningless; only the shapes are the point):

# %%
# NBVAL_CHECK_OUTPUT
from gensim.models import Word2Vec  # noqa: E402 - gensim 4: vector_size (not size), wv.key_to_index (not vocab)

from llmrec_ref.embeddings import tokenize  # noqa: E402

docs = [tokenize(t) for t in shop.items["text"].head(2000)]
wv = Word2Vec(docs, vector_size=32, window=5, min_count=1, workers=1, seed=0, epochs=2).wv


def item_vector(text: str) -> torch.Tensor:  # mean of the known words' vectors
    return torch.tensor(wv[[w for w in tokenize(text) if w in wv.key_to_index]].mean(axis=0))


texts_of = shop.items.set_index("item_id")["text"]
history = torch.stack([item_vector(texts_of[i]) for i in session["item_id"][:3]])[None]  # (B=1, T=3, d=32)
candidates = torch.stack([item_vector(texts_of[i]) for i in shop.items["item_id"][:3]])  # (C=3, d)
torch.manual_seed(0)
lstm = torch.nn.LSTM(32, 32, batch_first=True)
H, _ = lstm(history)  # (1, T, d): one output per position, what Dot(axes=(2, 1)) needed
attention = torch.softmax(H[0] @ candidates.T / 32**0.5, dim=0)  # (T, C): weights over positions
user_per_candidate = attention.T @ H[0]  # (C, d): the history summarised for each candidate
scores = (user_per_candidate * candidates).sum(-1)  # (C,) logits
print("history", tuple(history.shape), "| LSTM outputs", tuple(H.shape), "| attention", tuple(attention.shape),
      "| scores", tuple(scores.shape))
print("each candidate's weights sum to 1:", torch.allclose(attention.sum(0), torch.ones(3)))

# %% [markdown]
# The course builds each step properly: word vectors and `to_embedding` in chapter 02, the
# encoders (GRU, LSTM, Transformer, with masks) in 03, target attention in 04, and the whole
# model, trained, with a loss that ranks, in 05 (`llmrec_ref.contextrec.ContextRecNet`).
#
# ## Glossary · 术语表
#
# Much of the literature on this topic is written in Chinese; these are the course's terms.
#
# | English | 中文 |
# |---|---|
# | recommender system | 推荐系统 |
# | context understanding | 上下文理解 |
# | context feature | 上下文特征 |
# | interaction log | 交互日志 |
# | implicit / explicit feedback | 隐式反馈 / 显式反馈 |
# | data preprocessing | 数据预处理 |
# | data leakage | 数据泄漏 |
# | negative sampling | 负采样 |
# | word embedding | 词嵌入 |
# | item embedding | 物品嵌入 |
# | encoder | 编码器 |
# | bidirectional recurrent neural network | 双向循环神经网络 |
# | attention mechanism | 注意力机制 |
# | self-attention / multi-head attention | 自注意力 / 多头注意力 |
# | decoder | 解码器 |
# | loss function | 损失函数 |
# | gradient | 梯度 |
# | collaborative filtering | 协同过滤 |
# | content-based filtering | 基于内容的过滤 |
# | hybrid recommender | 混合推荐 |
# | matrix factorisation | 矩阵分解 |
# | cold start | 冷启动 |
# | pretrained language model | 预训练语言模型 |
# | precision | 精确率 |
# | recall | 召回率 |
# | F1 score | F1 值 |
# | hit rate | 命中率 |
# | normalised discounted cumulative gain (NDCG) | 归一化折损累计增益 |
# | mean reciprocal rank (MRR) | 平均倒数排名 |
# | full ranking / sampled ranking | 全量排序 / 采样排序 |
# | baseline | 基线 |
# | quantisation | 量化 |
# | knowledge graph / entity / relation | 知识图谱 / 实体 / 关系 |
# | knowledge graph embedding | 知识图谱嵌入 |
# | multimodal / modality fusion | 多模态 / 模态融合 |
# | contrastive learning | 对比学习 |
# | knowledge distillation | 知识蒸馏 |
# | pruning | 剪枝 |
# | model compression | 模型压缩 |
# | distributed training / data parallelism | 分布式训练 / 数据并行 |
#
# ## Next
#
# Start with `01_data_preprocessing.ipynb`. To run the tests that check every chapter:
# `python -m pytest`; to see the course as a static site: `python -m llmrec_ref site site/`.
