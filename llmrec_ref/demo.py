"""The main job, ``python -m llmrec_ref demo``: the course's pipeline end to end on one data set.

So far it generates the synthetic shop (or loads MovieLens-100k with ``--dataset ml-100k``),
preprocesses and splits it without leakage, and prints a summary and the worked example's
history ("purchased an Apple phone, browsed a Huawei phone, favourited a Xiaomi phone").
Training and recommending join when the model chapters land.
"""

from __future__ import annotations

import time

import pandas as pd

from llmrec_ref import seed_everything
from llmrec_ref.preprocess import preprocess
from llmrec_ref.split import check_no_leakage, leave_one_out

__all__ = ["run_demo", "worked_example"]

WORKED_EXAMPLE = (("Apple", "purchase"), ("Huawei", "browse"), ("Xiaomi", "favorite"))


def worked_example(interactions: pd.DataFrame, items: pd.DataFrame, user: int) -> pd.DataFrame:
    """The session of ``user`` that starts with the worked example (purchase Apple phone, browse
    Huawei phone, favourite Xiaomi phone), joined with the items; empty if there is none."""
    events = interactions[interactions["user_id"] == user].merge(items, on="item_id", how="left")
    for session, rows in events.groupby("session_id", sort=False):
        head = rows.head(len(WORKED_EXAMPLE))
        pattern = tuple(zip(head["brand"], head["behavior"]))
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


def run_demo(dataset: str = "shop", seed: int = 0) -> None:
    """Run the demo on ``dataset`` ("shop" or "ml-100k") and print what it did."""
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
    _print_split(leave_one_out(prepared))

    if dataset == "shop":
        shown = worked_example(prepared, items, user)
        columns = ["timestamp", "hour", "device", "behavior", "title", "price"]
        shown = shown.assign(timestamp=pd.to_datetime(shown["timestamp"], unit="s"))
        _print_history(f"example user {user}: the session with the worked example", shown, columns)
    else:
        history = prepared[prepared["user_id"] == user].merge(items, on="item_id", how="left")
        shown = history.head(8).assign(timestamp=lambda d: pd.to_datetime(d["timestamp"], unit="s"))
        _print_history(f"user {user}: first ratings", shown, ["timestamp", "rating", "title"])
