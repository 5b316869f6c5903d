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
# runs on a laptop CPU: a chapter in under a minute, the whole course in under five.

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
# browsed a Huawei phone and favourited a Xiaomi phone** in one evening session on a phone:

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
#
# **What the course does not cover** (with places to start):
# - *Generative LLM rankers*, where a large model reads a user's history as text and writes a
#   recommendation (e.g. Hou et al., *Large Language Models are Zero-Shot Rankers for
#   Recommender Systems*, ECIR 2024; Bao et al., *TALLRec*, RecSys 2023).
# - *Knowledge graphs* as context (e.g. Wang et al., *KGAT*, KDD 2019).
# - *Multimodal* item content such as images or audio (e.g. Wei et al., *MMGCN*, MM 2019).
# - Online evaluation (A/B tests), serving and latency budgets, fairness and privacy.
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
#
# ## Next
#
# Start with `01_data_preprocessing.ipynb`. To run the tests that check every chapter:
# `python -m pytest`; to see the course as a static site: `python -m llmrec_ref site site/`.
