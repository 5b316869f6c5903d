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
# # 01 · Data preprocessing: from raw logs to leakage-free training data
#
# A recommender that "understands context" is only as good as the log it learns from. This
# chapter takes a real interaction log, MovieLens-100k, and a synthetic shop whose ground truth
# we know, and turns them into the inputs every later chapter uses: clean, de-duplicated
# interactions with contiguous ids, context features, per-user sequences, splits that never let
# the model see the future, and sampled negatives.
#
# **What you will learn**
# - how to load and explore an interaction log with pandas (ratings, long tail, time, activity);
# - cleaning, de-duplication, rating normalisation, implicit feedback and k-core filtering,
#   and what each step removes;
# - missing values: deleting, sampling and model-based imputation measured against the truth,
#   and what generative augmentation would have to get right;
# - context features (hour, weekday, time since the previous interaction, behaviour type);
# - leave-one-out, random and temporal splits, and the leakage a naive random split causes;
# - negative sampling and how a batch of padded histories is built for a sequence model.
#
# **What you need:** Python, pandas and numpy basics; a little PyTorch for the last section.
# MovieLens-100k is fetched once into `~/.cache/llmrec_ref` (about 2 MB; see the README).

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

import llmrec_ref
from llmrec_ref.datasets import load_movielens_100k, make_synthetic_shop

llmrec_ref.seed_everything(0)
pd.set_option("display.width", 120)
pd.set_option("display.max_columns", 12)

# %% [markdown]
# ## 1. Loading MovieLens-100k
#
# MovieLens-100k holds 100,000 ratings (1 to 5 stars) that 943 users gave 1,682 films in
# 1997-98, with a timestamp for each rating, demographics for each user and title, year and
# genres for each film. `load_movielens_100k()` returns three frames in the course's schema.

# %%
# NBVAL_CHECK_OUTPUT
ml = load_movielens_100k()
ratings, items, users = ml.ratings, ml.items, ml.users
print("ratings", ratings.shape, list(ratings.columns))
print("items  ", items.shape, list(items.columns))
print("users  ", users.shape, list(users.columns))

# %%
ratings.head()

# %%
# NBVAL_CHECK_OUTPUT
print(items.loc[items["item_id"].isin([1, 50, 172]), ["item_id", "text"]].to_string(index=False))

# %% [markdown]
# ## 2. Exploring the log
#
# Four questions worth asking of any interaction log: how are the ratings distributed, how
# concentrated is popularity, how does activity spread over time, and how active are users?
# The **density** is the share of the user x item matrix that is observed:
# $\text{density} = |R| / (|U|\,|I|)$.

# %%
# NBVAL_CHECK_OUTPUT
n_users, n_items = ratings["user_id"].nunique(), ratings["item_id"].nunique()
print(f"density: {len(ratings) / (n_users * n_items):.4f}")
print("ratings per star:", ratings["rating"].value_counts().sort_index().astype(int).to_dict())
popularity = ratings["item_id"].value_counts()
top = popularity.iloc[: int(0.2 * n_items)].sum() / len(ratings)
print(f"the 20% most rated films get {top:.1%} of all ratings")
print(f"median ratings per user: {ratings['user_id'].value_counts().median():.0f}")

# %%
fig, axes = plt.subplots(1, 4, figsize=(16, 3.2))
ratings["rating"].value_counts().sort_index().plot.bar(ax=axes[0], color="tab:blue")
axes[0].set(title="rating distribution", xlabel="stars", ylabel="ratings")
axes[1].plot(np.arange(1, n_items + 1), popularity.to_numpy())
axes[1].set(title="long tail: ratings per film (ranked)", xlabel="film rank", ylabel="ratings", yscale="log")
weeks = pd.to_datetime(ratings["timestamp"], unit="s").dt.to_period("W").dt.start_time
weeks.value_counts().sort_index().plot(ax=axes[2])
axes[2].set(title="ratings per week", xlabel="")
axes[3].hist(ratings["user_id"].value_counts(), bins=50, color="tab:green")
axes[3].set(title="user activity", xlabel="ratings per user", ylabel="users", yscale="log")
fig.tight_layout()
plt.show()

# %% [markdown]
# Every user has at least 20 ratings (GroupLens filtered the data that way), popularity is
# strongly long-tailed, and activity is bursty. One more fact matters for sequence models:
# many users rate dozens of films **in the same sitting**, often within the same second, so
# the order of films inside a sitting is mostly noise.

# %%
# NBVAL_CHECK_OUTPUT
gaps = ratings.groupby("user_id")["timestamp"].diff().dropna()
print(f"share of ratings given within 60 s of the user's previous one: {(gaps <= 60).mean():.1%}")
print(f"share given in the very same second: {(gaps == 0).mean():.1%}")

# %% [markdown]
# ## 3. Cleaning
#
# MovieLens is already clean, which hides what real logs look like. We make a dirty copy with
# the usual problems — missing values, invalid ids, out-of-range ratings, timestamps in the
# future and duplicated events — and then remove them rule by rule. Written inline first:

# %%
rng = np.random.default_rng(0)
dirty = ratings.sample(2_000, random_state=0).reset_index(drop=True).astype({"rating": "float64"})
dirty["user_id"] = dirty["user_id"].astype("float64")
dirty.loc[rng.choice(2_000, 30, replace=False), "user_id"] = np.nan   # missing ids
dirty.loc[rng.choice(2_000, 20, replace=False), "item_id"] = 0        # 0 is reserved for padding
dirty.loc[rng.choice(2_000, 25, replace=False), "rating"] = 7.0       # not a 1-5 star rating
dirty.loc[rng.choice(2_000, 15, replace=False), "timestamp"] = 2_000_000_000  # the year 2033
dirty = pd.concat([dirty, dirty.iloc[:40]], ignore_index=True)        # 40 duplicated events
NOW = 1_700_000_000  # "today" for this example (November 2023)


def clean_inline(df: pd.DataFrame, lo: float, hi: float, now: int) -> pd.DataFrame:
    steps = {
        "missing": df[["user_id", "item_id", "timestamp"]].notna().all(axis=1),
        "invalid id": (df["user_id"] > 0) & (df["item_id"] > 0),
        "rating out of range": df["rating"].between(lo, hi),
        "future": df["timestamp"] <= now,
    }
    keep = pd.Series(True, index=df.index)
    for name, ok in steps.items():
        print(f"{name:>20}: removes {int((keep & ~ok).sum()):>3} rows")
        keep &= ok
    out = df[keep].drop_duplicates(["user_id", "item_id", "timestamp"])
    print(f"{'duplicates':>20}: removes {int(keep.sum()) - len(out):>3} rows")
    return out.astype({"user_id": "int64", "item_id": "int64", "timestamp": "int64"}).reset_index(drop=True)


# %%
# NBVAL_CHECK_OUTPUT
cleaned_inline = clean_inline(dirty, 1, 5, NOW)
print(len(dirty), "->", len(cleaned_inline), "rows")

# %% [markdown]
# The package version, `llmrec_ref.preprocess.clean`, applies the same rules (plus a few more
# ways an id can be invalid, such as `2.5` or `"u7"`) and reports what each removed;
# `deduplicate` then drops repeated events. They agree with the inline version:

# %%
# NBVAL_CHECK_OUTPUT
from llmrec_ref.preprocess import clean, deduplicate

cleaned, report = clean(dirty, rating_range=(1, 5), now=NOW, return_report=True)
cleaned = deduplicate(cleaned)
print(report)
print("package == inline:", cleaned.equals(cleaned_inline))

# %% [markdown]
# ### Missing data: drop or impute?
#
# Dropping rows with a missing value is honest but throws information away; imputing keeps
# the row but invents a value. For an **id** or a **timestamp** there is nothing sensible to
# invent: drop. For a **rating** or a demographic feature, a per-user mean or the most frequent
# value is a common fill. Here 10% of users lose their age; compare the age distribution after
# each strategy:

# %%
# NBVAL_CHECK_OUTPUT
from llmrec_ref.preprocess import impute_missing

users_missing = users.copy()
users_missing["age"] = users_missing["age"].astype("float64")
users_missing.loc[users_missing.sample(frac=0.1, random_state=0).index, "age"] = np.nan
for strategy in ("drop", "mean", "median"):
    fixed = impute_missing(users_missing, "age", strategy)
    print(f"{strategy:>6}: {len(fixed)} users, mean age {fixed['age'].mean():.2f}, std {fixed['age'].std():.2f}")
print(f"  true: {len(users)} users, mean age {users['age'].mean():.2f}, std {users['age'].std():.2f}")

# %% [markdown]
# Mean imputation keeps every user and the mean, but shrinks the spread (many users now share
# one age); dropping keeps the spread but loses users. Whatever you choose, do it inside the
# training data only: an imputed value computed on test rows is leakage too.
#
# ### Deleting, sampling, or a model: what each costs
#
# Three more options, each measured here against the truth: we hid these ages ourselves, so
# for the 94 hidden users we know the right answer.
#
# - **Deleting** is only harmless when values are *missing at random*. If older users are
#   likelier to leave their age blank (a real pattern in sign-up forms), the users who remain
#   are younger than the population, and every statistic computed on them is biased.
# - **Sampling** (random "hot-deck" imputation) fills each gap with a value drawn from the
#   observed ones. It keeps the spread that the mean destroys, but each filled value is as
#   wrong as a random user's age.
# - **Model-based imputation** predicts the missing attribute from the ones we have. A user's
#   occupation says a lot about their age (students are young, retirees are not): fit a least-
#   squares model $\text{age} \approx x^\top \beta$ on the users whose age is known, with $x$ the
#   one-hot occupation and gender, and predict the others. With occupation alone the least-
#   squares fit is exactly the mean age of each occupation, which is what
#   `impute_missing(..., "mean", by="occupation")` computes.

# %%
# NBVAL_CHECK_OUTPUT
known = users_missing["age"].notna().to_numpy()
truth = users["age"].to_numpy(dtype=float)[~known]  # the ages we hid
print(f"hidden: {int((~known).sum())} users")


def lstsq_impute(df: pd.DataFrame, target: str, features: list[str]) -> np.ndarray:
    """Least squares on one-hot features, fitted on the rows where `target` is known."""
    X = pd.get_dummies(df[features]).to_numpy(dtype=float)  # (n_users, n_categories)
    observed = df[target].notna().to_numpy()
    beta, *_ = np.linalg.lstsq(X[observed], df.loc[observed, target].to_numpy(), rcond=None)
    return X @ beta  # (n_users,) a prediction for every user


by_occupation = impute_missing(users_missing, "age", "mean", by="occupation")["age"].to_numpy()
print("least squares on occupation == per-occupation mean:",
      np.allclose(lstsq_impute(users_missing, "age", ["occupation"])[~known], by_occupation[~known]))
observed_ages = users_missing.loc[known, "age"].to_numpy()
fills = {
    "mean": np.full(len(truth), observed_ages.mean()),
    "median": np.full(len(truth), np.median(observed_ages)),
    "random draw": np.random.default_rng(0).choice(observed_ages, len(truth)),
    "by occupation": by_occupation[~known],
    "occupation + gender": lstsq_impute(users_missing, "age", ["occupation", "gender"])[~known],
}
print(pd.DataFrame({"error per user (MAE, years)": {k: np.abs(v - truth).mean() for k, v in fills.items()},
                    "std of the filled ages": {k: v.std() for k, v in fills.items()}}).round(2).to_string())
print(f"true std of the hidden ages: {truth.std():.2f}")

# %% [markdown]
# The occupation model beats the mean by more than a year per user (adding gender changes
# nothing), and the random draw, whose spread is about the right one, is the worst per user:
# sampling is for keeping a *distribution* right (say, to plot it), a model for getting each
# *value* right. Now deletion when the values are not missing at random: users over 45 hide
# their age five times as often as younger ones.

# %%
# NBVAL_CHECK_OUTPUT
p_hide = np.where(users["age"] > 45, 0.25, 0.05)
hides = np.random.default_rng(0).random(len(users)) < p_hide
print(f"hidden: {hides.sum()} users; mean age of all users {users['age'].mean():.2f}, "
      f"of those left after deleting {users.loc[~hides, 'age'].mean():.2f}")
print(f"share over 45: all {(users['age'] > 45).mean():.1%}, left {(users.loc[~hides, 'age'] > 45).mean():.1%}")

# %% [markdown]
# Deleting made the population younger (fewer users over 45, a lower mean age). The shift is
# small here, but it is systematic: more data would not remove it, and nothing in the
# remaining rows shows it. You find such a bias only by asking *why* values are missing.
#
# **Generative augmentation**, the article's third proposal, trains a generative model (a
# GAN, a VAE, a language model) on the log and adds synthetic users or interactions. To help,
# the synthetic rows would have to get right what the model will learn from: the joint
# distribution of attributes and behaviour (not each column alone), the order and timing of
# sessions, and the long tail (generators favour what is frequent, so popular items get more
# popular). They must not copy real users (a privacy leak) nor be generated from anything
# that touches the test data. And they cannot add information the generator did not learn from
# the same log: on 943 users, a generator has less to learn from than the recommender itself.
# The only honest test is to train with and without the synthetic rows and compare on real,
# held-out data. The course does not use it for these reasons. (Its synthetic shop is a
# different thing: a simulator whose ground truth is known, used to *teach*, never mixed into
# MovieLens.)
#
# ## 4. Normalisation and implicit feedback
#
# Users use the star scale differently: a harsh rater's 3 may mean "liked it". **Centring**
# subtracts each user's mean, $\tilde r_{ui} = r_{ui} - \bar r_u$; **min-max** rescales to
# $[0, 1]$ per user: $(r_{ui} - \min_u) / (\max_u - \min_u)$.

# %%
# NBVAL_CHECK_OUTPUT
from llmrec_ref.preprocess import normalize_ratings

centred_inline = ratings["rating"] - ratings.groupby("user_id")["rating"].transform("mean")
centred = normalize_ratings(ratings, "center")
print("package == inline:", np.allclose(centred["rating_norm"], centred_inline))
print(centred.groupby("user_id")["rating_norm"].mean().abs().max() < 1e-9)

# %% [markdown]
# Most recommenders today learn from **implicit feedback**: a click, a view, a purchase —
# signals that say "interested", never "disliked". To turn ratings into that form, keep
# ratings at or above a threshold as positives ($r_{ui} \ge 4$), or treat every rating as
# "watched" (the sequential chapters do that: what a user chose to watch next is the signal).

# %%
# NBVAL_CHECK_OUTPUT
from llmrec_ref.preprocess import to_implicit

positives = to_implicit(ratings, threshold=4)
print(f"{len(positives):,} positives ({len(positives) / len(ratings):.1%} of ratings), columns {list(positives.columns)}")

# %% [markdown]
# ### k-core filtering
#
# Users and items with very few interactions give a model almost nothing to learn from. The
# **k-core** keeps the largest sub-log where every user and every item has at least $k$
# interactions. Removing a user can push an item below $k$ (and back), so the filter must be
# repeated until nothing changes:

# %%
def k_core_inline(df: pd.DataFrame, k: int) -> pd.DataFrame:
    while True:
        user_n = df["user_id"].map(df["user_id"].value_counts())
        item_n = df["item_id"].map(df["item_id"].value_counts())
        keep = (user_n >= k) & (item_n >= k)
        if keep.all():
            return df.reset_index(drop=True)
        df = df[keep]


# %%
# NBVAL_CHECK_OUTPUT
from llmrec_ref.preprocess import k_core

core = k_core(positives, k=10)
print("package == inline:", core.equals(k_core_inline(positives, 10)))
print(f"10-core of the positives: {core['user_id'].nunique()} users, {core['item_id'].nunique()} items, {len(core):,} rows")

# %% [markdown]
# ## 5. Ids, context features and sequences
#
# Models index embedding tables by id, so users and items are renumbered $1..n$ with **0
# reserved for padding** (the filler that makes histories of different lengths fit one
# tensor). `remap_ids` returns the new frame and the maps back to the raw ids.

# %%
# NBVAL_CHECK_OUTPUT
from llmrec_ref.preprocess import remap_ids

core_ids, maps = remap_ids(core)
print(f"users 1..{maps.n_users}, items 1..{maps.n_items}")
print("contiguous:", sorted(core_ids["item_id"].unique()) == list(range(1, maps.n_items + 1)))
print("raw id of new item 1:", maps.idx2item[1])

# %% [markdown]
# **Context** is what surrounds an interaction: when it happened, on what device, with what
# intent, how long after the previous one. From a timestamp alone we get the hour and the
# weekday, and the gap $\Delta t_k = t_k - t_{k-1}$ since the user's previous interaction
# (bucketed on a log scale, $\lfloor \log_2(\Delta t + 1) \rfloor$, because a gap of 10 s vs
# 20 s matters more than 10 days vs 10 days and 10 s).

# %%
from llmrec_ref.preprocess import add_context_features

with_context = add_context_features(ratings)
hour_inline = pd.to_datetime(ratings["timestamp"], unit="s").dt.hour
gap_inline = ratings.groupby("user_id")["timestamp"].diff().fillna(0).astype("int64")

# %%
# NBVAL_CHECK_OUTPUT
print("hour == inline:", bool((with_context["hour"] == hour_inline).all()))
print("gap == inline:", bool((with_context["gap"] == gap_inline).all()))
print(with_context[["user_id", "item_id", "hour", "weekday", "gap", "gap_bucket"]].head(4).to_string(index=False))

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3))
with_context["hour"].value_counts().sort_index().plot.bar(ax=axes[0], color="tab:orange")
axes[0].set(title="ratings by hour of day (UTC)", xlabel="hour")
with_context["gap_bucket"].value_counts().sort_index().plot.bar(ax=axes[1], color="tab:purple")
axes[1].set(title="gap since previous rating, log2 buckets", xlabel="floor(log2(gap + 1))")
fig.tight_layout()
plt.show()

# %% [markdown]
# A sequence model reads each user's items in time order, and here the course sets one rule
# that every chapter follows.
#
# **Ties at the same second.** A user's interactions "in time order" are sorted by
# `(timestamp, item_id)`: ratings given in the same second are ordered by item id
# (`llmrec_ref.preprocess.time_order`, used by `user_sequences`, the context features and every
# split). A tie has no true order, but the pipeline needs *one*, and this one is reproducible
# and does not depend on how the rows happen to be arranged (shuffled, or train and
# validation concatenated), so sequences, gaps and splits agree everywhere, and "the user's
# last interaction", the test item of leave-one-out, is well defined. The order inside a tie
# is a **convention, not information**, and two consequences follow. No model may be given
# something that reveals it: the time gap of a request says whether the held-out item is tied
# with the previous one, and then that its id is larger (chapter 05 measures this leak, which
# is why the MovieLens models leave the request context off). And a method that learns from
# the order inside its window, item2vec (chapter 02), would learn the convention as if it
# were behaviour, so it shuffles the ratings of each tie with a seed before training.
#
# How much of MovieLens the rule decides, and a check that row order does not matter:

# %%
# NBVAL_CHECK_OUTPUT
from llmrec_ref.preprocess import user_sequences

sequences = user_sequences(ratings)
print(len(sequences), "sequences; user 1 starts with", sequences[1][:8])
print("lengths: min", min(map(len, sequences.values())), "max", max(map(len, sequences.values())))
shuffled_rows = user_sequences(ratings.sample(frac=1.0, random_state=1))
print("same sequences from shuffled rows:", all(list(shuffled_rows[u]) == list(s) for u, s in sequences.items()))
last_two = ratings.sort_values(["user_id", "timestamp", "item_id"]).groupby("user_id").tail(2).groupby("user_id")["timestamp"]
print(f"users whose last two ratings share a second (the rule picks their test item): {(last_two.max() == last_two.min()).mean():.1%}")

# %% [markdown]
# ## 6. Splitting without leakage
#
# **Leave-one-out** (the sequential protocol of this course): per user, in time order, the
# last interaction is the test item, the one before it the validation item, the rest train.
# Inline, with a rank counted from the end of each user's time-ordered history:

# %%
def leave_one_out_inline(df: pd.DataFrame):
    df = df.sort_values(["user_id", "timestamp", "item_id"], kind="stable").reset_index(drop=True)
    from_end = df.groupby("user_id").cumcount(ascending=False)
    return df[from_end >= 2], df[from_end == 1], df[from_end == 0]


# %%
# NBVAL_CHECK_OUTPUT
from llmrec_ref.split import Split, check_no_leakage, leave_one_out, random_split, temporal_split

split = leave_one_out(ratings)
inline = leave_one_out_inline(ratings)
print("sizes:", [len(part) for part in split])
print("package == inline:", all(a.reset_index(drop=True).equals(b.reset_index(drop=True)) for a, b in zip(split, inline)))
print(check_no_leakage(split))

# %% [markdown]
# A **naive random split** of all 100,000 ratings (80/10/10 over rows, ignoring time) is
# still common in tutorials. For a next-item task it leaks: the model trains on interactions
# that happened *after* the one it is asked to predict. Count how many users that affects:

# %%
# NBVAL_CHECK_OUTPUT
shuffled = ratings.sample(frac=1.0, random_state=0).reset_index(drop=True)
n = len(shuffled)
naive = Split(shuffled.iloc[: int(0.8 * n)], shuffled.iloc[int(0.8 * n): int(0.9 * n)], shuffled.iloc[int(0.9 * n):])
leaky = check_no_leakage(naive, temporal=True)
print(leaky)
print(f"{leaky.late_users} of {n_users} users have training interactions later than a held-out one")

# %% [markdown]
# For the *general* task ("which items will this user like", order ignored) a per-user random
# split is the standard protocol, and the course uses one (`random_split`, 80/10/10 per user,
# seeded). A **temporal split** cuts the whole log at one moment: the most realistic protocol
# (train on the past, predict the future), but users who arrive after the cut have no history.

# %%
# NBVAL_CHECK_OUTPUT
general = random_split(ratings, ratios=(0.8, 0.1, 0.1), seed=0)
print("random_split sizes:", [len(part) for part in general])
print("no event in two parts:", check_no_leakage(general, temporal=False).shared_rows == 0)
temporal = temporal_split(ratings, cut=0.9)
print("temporal_split sizes:", [len(part) for part in temporal], "| leakage check:", check_no_leakage(temporal).ok)

# %% [markdown]
# ## 7. Negative sampling
#
# Implicit feedback has positives only. Losses such as BPR (chapter 05) compare each
# positive with items the user did **not** interact with: *negatives*. Uniform sampling
# draws them with $p(i) = 1/|I|$; popularity sampling with $p(i) \propto \text{count}(i)^{\alpha}$,
# which gives harder negatives (popular items the user skipped). Either way, a user's own
# positives must be excluded, and id 0 (padding) is never an item. Inline, for one user:

# %%
def negatives_inline(positives_of_user: set, n_items: int, n: int, seed: int) -> np.ndarray:
    allowed = np.setdiff1d(np.arange(1, n_items + 1), list(positives_of_user))
    return np.random.default_rng(seed).choice(allowed, size=n)


# %%
# NBVAL_CHECK_OUTPUT
from llmrec_ref.sampling import sample_negatives

train = split.train
seen = train.groupby("user_id")["item_id"].agg(set)
neg_inline = negatives_inline(seen[1], 1682, 5, seed=0)
print("inline negatives of user 1 are unseen:", not set(neg_inline) & seen[1])
uniform = sample_negatives(train, n_items=1682, n=4, method="uniform", seed=0)
popular = sample_negatives(train, n_items=1682, n=4, method="popularity", seed=0)
print("shape:", uniform.shape)
for name, neg in (("uniform", uniform), ("popularity", popular)):
    clash = [i in seen[u] for u, row in zip(train["user_id"], neg) for i in row]
    print(f"{name:>10}: any negative among the user's positives? {any(clash)}; padding drawn? {(neg == 0).any()}")

# %%
counts = train["item_id"].value_counts()
fig, ax = plt.subplots(figsize=(6, 3))
ax.hist([counts.reindex(uniform.ravel()).fillna(0), counts.reindex(popular.ravel()).fillna(0)],
        bins=40, label=["uniform", "popularity"], log=True)
ax.set(title="how popular are the sampled negatives?", xlabel="training interactions of the negative item")
ax.legend()
plt.show()

# %% [markdown]
# ## 8. Batches of histories for a sequence model
#
# A sequence model (chapters 03-05) reads a user's last `max_len` items and predicts, at every
# position, the next one. Histories differ in length, so they are **left-padded** with 0: the
# most recent item always sits in the last column. `SequenceDataset` builds one row per user
# (input = $s_{1..n-1}$, target = $s_{2..n}$) with the context features aligned to the items.

# %%
# NBVAL_CHECK_OUTPUT
from torch.utils.data import DataLoader

from llmrec_ref.sampling import SequenceDataset, collate

train_ctx = add_context_features(split.train)
dataset = SequenceDataset(train_ctx, max_len=50)
batch = next(iter(DataLoader(dataset, batch_size=4, shuffle=False, collate_fn=collate)))
for key, value in batch.items():
    print(f"{key:>12}: {tuple(value.shape)} {value.dtype}")
print("targets are the inputs shifted by one:", torch.equal(batch["targets"][0, :-1], batch["items"][0, 1:]))

# %% [markdown]
# ## 9. The synthetic shop: context that matters, and a known ground truth
#
# MovieLens has ratings and timestamps but little context. The course's synthetic shop is
# generated in-process from a seed: users with latent tastes for categories, brands and
# price; 10,000 items with text descriptions; sessions with a time of day, a device and an
# intent; and four behaviours, from browsing to purchasing. Because we generated it, we know
# what each user really prefers.

# %%
# NBVAL_CHECK_OUTPUT
shop = make_synthetic_shop(seed=0)
print(shop.describe())
print(shop.interactions.columns.tolist())
print(shop.items.loc[0, "title"], "->", shop.items.loc[0, "text"][:90], "...")

# %% [markdown]
# The worked example of the course is a real user of the shop: one who **purchased an Apple
# phone, browsed a Huawei phone and favourited a Xiaomi phone**, in that order.

# %%
# NBVAL_CHECK_OUTPUT
from llmrec_ref.demo import worked_example

session = worked_example(shop.interactions, shop.items, shop.example_user)
print(f"user {shop.example_user}, session {session['session_id'][0]} (intent: {session['intent'][0]})")
print(session[["behavior", "device", "hour", "brand", "title", "price"]].to_string(index=False))

# %% [markdown]
# The same pipeline applies unchanged: clean, add context features, split. Context is
# genuinely predictive here: the session's intent and the device change what users look at.

# %%
# NBVAL_CHECK_OUTPUT
shop_log = add_context_features(deduplicate(clean(shop.interactions)))
shop_split = leave_one_out(shop_log)
print("sizes:", [len(part) for part in shop_split], "|", check_no_leakage(shop_split))
mix = shop_log.merge(shop.items[["item_id", "category"]], on="item_id")
share = pd.crosstab(mix["device"], mix["category"], normalize="index")
print(share[["phone", "laptop", "tv"]].round(2).to_string())

# %%
fig, ax = plt.subplots(figsize=(10, 3))
pd.crosstab(mix["hour"], mix["category"], normalize="index")[["phone", "laptop", "book", "tv", "shoes"]].plot(ax=ax)
ax.set(title="what people look at, by hour of day (synthetic shop)", ylabel="share of interactions")
plt.show()

# %% [markdown]
# ## Summary
#
# - Look at the data first: MovieLens ratings are skewed towards 4 stars, popularity is
#   long-tailed and many ratings are given in bursts within the same second.
# - Clean rule by rule and count what each rule removes; impute only where a value can be
#   guessed honestly, and only from training data. A model of the other attributes fills a
#   value best (occupation: 8.1 years off per user against 9.5 for the mean), a random draw
#   keeps the spread, and deleting biases the rest unless values are missing at random.
# - Ties at the same second are ordered by item id: a reproducible convention, not
#   information, so no model is shown it (chapter 05) and item2vec shuffles ties (chapter 02).
# - Implicit feedback, k-core filtering and contiguous ids (0 = padding) prepare the log
#   for models; context features come from the timestamp and the behaviour.
# - Split by time for next-item prediction. A naive random split lets almost every user's
#   training data contain their future.
# - Negatives exclude the user's positives and padding; batches are left-padded histories.
#
# ## Exercises
#
# `exercises/01_data_preprocessing.ipynb`: positives against each user's own mean rating, a
# k-core that counts distinct items and users (repeated events), the users a split leaks, a
# graded question on which splits leak, and popularity-weighted negatives; each with a check
# that explains a wrong answer.
#
# ## Further reading
#
# - F. M. Harper, J. A. Konstan. *The MovieLens Datasets: History and Context.* ACM TiiS, 2015.
# - W.-C. Kang, J. McAuley. *Self-Attentive Sequential Recommendation* (SASRec). ICDM 2018 —
#   the leave-one-out protocol used in this course.
# - R. J. A. Little, D. B. Rubin. *Statistical Analysis with Missing Data.* Wiley, 3rd ed. 2019
#   (missing at random or not, and what deletion and imputation assume).
# - Y. Ji et al. *A Critical Study on Data Leakage in Recommender System Offline Evaluation.*
#   ACM TOIS, 2023.
