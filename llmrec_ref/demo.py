"""The main job, ``python -m llmrec_ref demo``: the course's pipeline end to end on one data set.

It generates the synthetic shop (or loads MovieLens-100k with ``--dataset ml-100k``),
preprocesses and splits it without leakage, prints a summary and the worked example's
history ("purchased an Apple phone, browsed a Huawei phone, favourited a Xiaomi phone"),
then trains ``ContextRec`` (or reuses one with ``--load PATH``; ``--save PATH`` keeps it),
prints its validation metrics next to the popularity baseline, and answers the worked
example: the model's scores for the three phones and its top-10 list with the item texts,
compared with the shop's ground truth (the generator's own probabilities).
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import torch

from llmrec_ref import seed_everything
from llmrec_ref.preprocess import preprocess
from llmrec_ref.split import check_no_leakage, leave_one_out

__all__ = ["run_demo", "worked_example", "train_model"]

WORKED_EXAMPLE = (("Apple", "purchase"), ("Huawei", "browse"), ("Xiaomi", "favorite"))


def worked_example(interactions: pd.DataFrame, items: pd.DataFrame, user: int) -> pd.DataFrame:
    """The session of ``user`` that starts with the worked example (purchase Apple phone, browse
    Huawei phone, favourite Xiaomi phone), joined with the items; empty if there is none."""
    events = interactions[interactions["user_id"] == user].merge(items, on="item_id", how="left")
    for _session, rows in events.groupby("session_id", sort=False):
        head = rows.head(len(WORKED_EXAMPLE))
        pattern = tuple(zip(head["brand"], head["behavior"], strict=True))
        if pattern == WORKED_EXAMPLE and (head["category"] == "phone").all():
            return rows.reset_index(drop=True)
    return events.iloc[:0]


def _print_summary(name: str, interactions: pd.DataFrame, n_items: int, seconds: float) -> None:
    print(f"== {name}")
    print(f"users         {interactions['user_id'].nunique():>9,}")
    print(f"items         {n_items:>9,} ({interactions['item_id'].nunique():,} with interactions)")
    print(f"interactions  {len(interactions):>9,}")
    if "behavior" in interactions:
        counts = interactions["behavior"].value_counts()
        mix = ", ".join(f"{b} {n:,}" for b, n in counts.items())
        print(f"behaviours    {mix}")
    if "rating" in interactions:
        print(f"ratings       mean {interactions['rating'].mean():.2f} on a 1-5 scale")
    print(f"prepared in   {seconds:.2f} s")


def _print_split(split) -> None:
    train, valid, test = split
    print("== leave-one-out split (per user, by time: last -> test, second last -> valid)")
    print(f"train {len(train):>9,}   valid {len(valid):>6,}   test {len(test):>6,}")
    report = check_no_leakage(split)
    print(f"no test interaction earlier than its user's training ones: {report.ok}")


def _print_history(title: str, frame: pd.DataFrame, columns: list[str]) -> None:
    print(f"== {title}")
    print(frame[columns].to_string(index=False))


# ----------------------------------------------------------------------------- the model
def train_model(dataset: str, split, items: pd.DataFrame, n_items: int, seed: int = 0,
                epochs: int | None = None, verbose: bool = True):
    """ContextRec with the bench preset of ``dataset`` (``llmrec_ref.bench.model.PRESETS``, first
    row: under a minute of training on a 2-core CPU), at most ``epochs`` epochs (default: the
    preset's), fitted on ``split.train`` with early stopping on ``split.valid``."""
    from llmrec_ref.recipes import PRESETS, build

    preset, init = next(iter(PRESETS[dataset].values()))
    model = build(preset, init, split.train, items, n_items, seed, verbose=verbose, epochs=epochs or preset["epochs"])
    return model.fit(split.train, split.valid)


def _get_model(dataset: str, split, items, n_items: int, seed: int, load: str | None, save: str | None,
               epochs: int | None):
    from llmrec_ref.models import ContextRec

    if save is not None and not Path(save).parent.is_dir():  # before minutes of training, not after
        raise FileNotFoundError(f"cannot save to {save!r}: the folder {str(Path(save).parent)!r} does not exist; "
                                "create it first")
    if load is not None:
        model = ContextRec.load(load)
        if model.n_items_ != n_items:
            raise ValueError(f"the model at {load} knows {model.n_items_:,} items but {dataset} has {n_items:,}; "
                             f"train one for this data set (drop --load)")
        print(f"== ContextRec loaded from {load}")
    else:
        c = model_config_line(dataset)
        print(f"== training ContextRec ({c}) on the training part; early stopping on validation")
        start = time.perf_counter()
        model = train_model(dataset, split, items, n_items, seed, epochs)
        best = max(model.train_log_, key=lambda r: r["valid_ndcg@10"])
        print(f"trained in {time.perf_counter() - start:.1f} s ({len(model.train_log_)} epochs, "
              f"best epoch {best['epoch']})")
    if save is not None:
        model.save(save)
        print(f"saved to {save}")
    return model


def model_config_line(dataset: str) -> str:
    """One line describing the demo's model for ``dataset``."""
    from llmrec_ref.recipes import PRESETS

    name = next(iter(PRESETS[dataset]))
    return name.replace("ContextRec ", "")


def _print_validation(model, split, n_items: int) -> None:
    from llmrec_ref.baselines import Popularity
    from llmrec_ref.evaluation import full_ranking

    print("== validation (leave-one-out, full ranking of all items, history items excluded)")
    print(f"{'model':<12} {'NDCG@10':>8} {'HR@10':>8}   95% interval of NDCG@10")
    pop = Popularity(n_items=n_items).fit(split.train)
    for name, m in (("Popularity", pop), ("ContextRec", model)):
        r = full_ranking(m, split, stage="valid", ks=(10,), n_boot=200)
        nd, hr = r["ndcg@10"], r["hr@10"]
        print(f"{name:<12} {nd.mean:>8.4f} {hr.mean:>8.4f}   [{nd.low:.4f}, {nd.high:.4f}]")


def _print_top10(model, history: pd.DataFrame, items: pd.DataFrame, user: int, columns: list[str],
                 truth_rank: torch.Tensor | None = None) -> torch.Tensor:
    from llmrec_ref.decode import top_k

    scores = model.score([user], history)  # (1, n_items + 1)
    seen = [sorted(set(history.loc[history["user_id"] == user, "item_id"].tolist()))]
    top = top_k(scores, 10, exclude=seen)[0]
    table = items.set_index("item_id").loc[top.tolist()].reset_index()
    table.insert(0, "score", [round(float(scores[0, i]), 2) for i in top])
    table.insert(0, "rank", range(1, 11))
    if truth_rank is not None:
        table["true rank"] = [int(truth_rank[i]) for i in top]
    with pd.option_context("display.max_colwidth", 70, "display.width", 250):
        print(table[["rank", "score", *columns] + (["true rank"] if truth_rank is not None else [])].to_string(index=False))
    return scores


def _answer_worked_example(model, shop, prepared: pd.DataFrame, items: pd.DataFrame, user: int) -> None:
    from llmrec_ref.shop import true_scores

    session = worked_example(prepared, items, user)
    if session.empty:
        print("== the worked example is not in this shop")
        return
    third = session.iloc[2]
    events = prepared[prepared["user_id"] == user]
    history = events[events["timestamp"] <= third["timestamp"]]  # everything up to the Xiaomi favourite
    scores = model.score([user], history)[0]  # (n_items + 1,)
    rank = torch.empty_like(scores, dtype=torch.long)
    rank[scores.argsort(descending=True, stable=True)] = torch.arange(1, len(scores) + 1)
    print(f"== worked example: user {user} right after the Xiaomi favourite "
          f"({third['device']}, {int(third['hour']):02d}:00); scores of the three phones")
    for k in range(3):
        row = session.iloc[k]
        print(f"{row['behavior']:<9} {row['title']:<28} score {float(scores[row['item_id']]):6.2f}   "
              f"rank {int(rank[row['item_id']]):>5,} of {len(scores) - 1:,}")
    oracle = torch.as_tensor(true_scores(shop, [user], intent=third["intent"], device=third["device"],
                                         last_item=int(third["item_id"]))[0])  # the session's intent is known
    truth_rank = torch.empty(len(oracle), dtype=torch.long)
    truth_rank[oracle.argsort(descending=True, stable=True)] = torch.arange(1, len(oracle) + 1)
    print(f"== its top-10 (seen items excluded); 'true rank' = rank under the shop's own probabilities "
          f"for this user, session intent ({third['intent']}), device and previous item")
    _print_top10(model, history, items, user, ["title", "price", "text"], truth_rank)
    if len(session) > 3:
        nxt = session.iloc[3]
        unseen = scores.clone()  # rank among the items the top-10 may show, as in the table above
        unseen[torch.as_tensor(sorted(set(history["item_id"].tolist())))] = -torch.inf
        unseen[0] = -torch.inf
        unseen_rank = int((unseen > unseen[nxt["item_id"]]).sum()) + 1
        print(f"what the user did next: {nxt['behavior']} {nxt['title']} "
              f"(model rank {unseen_rank:,} among unseen items, true rank {int(truth_rank[nxt['item_id']]):,})")
    oracle_top = items.set_index("item_id").loc[oracle.argsort(descending=True)[:10].tolist()]
    mix = oracle_top.groupby(["brand", "category"]).size().sort_values(ascending=False)
    print("ground truth top-10 by brand: " + ", ".join(f"{b} {c} x{n}" for (b, c), n in mix.items()))


# ----------------------------------------------------------------------------- the job
def run_demo(dataset: str = "shop", seed: int = 0, save: str | None = None, load: str | None = None,
             epochs: int | None = None) -> None:
    """Run the demo on ``dataset`` ("shop" or "ml-100k") and print what it did.

    ``load`` reuses a model saved by ``save`` (no training); ``epochs`` caps training
    (default: the bench preset's).
    """
    if dataset not in ("shop", "ml-100k"):
        raise ValueError(f"dataset must be 'shop' or 'ml-100k', got {dataset!r}")
    seed_everything(seed)
    start = time.perf_counter()
    if dataset == "shop":
        from llmrec_ref.datasets import make_synthetic_shop

        shop = make_synthetic_shop(seed=seed)
        items = shop.items
        # Ids are already contiguous from 1; keep them so the example user keeps its id.
        prepared = preprocess(shop.interactions, remap=False, context=True).interactions
        user, n_items = shop.example_user, len(items)
        name = f"synthetic shop (seed {seed})"
    else:
        from llmrec_ref.datasets import load_movielens_100k

        ml = load_movielens_100k()
        items = ml.items
        prepared = preprocess(ml.ratings, rating_range=(1, 5), remap=False, context=True).interactions
        user, n_items = int(prepared["user_id"].iloc[0]), len(items)
        name = "MovieLens-100k"
    _print_summary(name, prepared, n_items, time.perf_counter() - start)
    split = leave_one_out(prepared)
    _print_split(split)

    if dataset == "shop":
        shown = worked_example(prepared, items, user)
        columns = ["timestamp", "hour", "device", "behavior", "title", "price"]
        shown = shown.assign(timestamp=pd.to_datetime(shown["timestamp"], unit="s"))
        _print_history(f"example user {user}: the session with the worked example", shown, columns)
    else:
        history = prepared[prepared["user_id"] == user].merge(items, on="item_id", how="left")
        shown = history.head(8).assign(timestamp=lambda d: pd.to_datetime(d["timestamp"], unit="s"))
        _print_history(f"user {user}: first ratings", shown, ["timestamp", "rating", "title"])

    model = _get_model(dataset, split, items, n_items, seed, load, save, epochs)
    _print_validation(model, split, n_items)
    if dataset == "shop":
        _answer_worked_example(model, shop, prepared, items, user)
    else:
        print(f"== top-10 for user {user} after their whole history (seen films excluded)")
        _print_top10(model, prepared, items, user, ["title", "year"])
