"""Tests of the synthetic shop generator (llmrec_ref.shop)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from llmrec_ref import shop as S
from llmrec_ref.shop import make_synthetic_shop, true_scores


@pytest.fixture(scope="module")
def shop():
    return make_synthetic_shop()  # the default size, generated once for the whole file


@pytest.fixture(scope="module")
def small():
    return make_synthetic_shop(n_users=150, n_items=1500, seed=3)


def _categories(shop, item_ids):
    return shop.items["category"].to_numpy()[np.asarray(item_ids) - 1]


def test_schema_and_dtypes(shop):
    inter, items, users = shop.interactions, shop.items, shop.users
    assert list(inter.columns) == ["user_id", "item_id", "timestamp", "behavior", "hour",
                                   "weekday", "device", "intent", "session_id"]
    assert list(items.columns[:6]) == ["item_id", "title", "text", "category", "brand", "price"]
    assert list(users.columns[:2]) == ["user_id", "age"]
    for col in ["user_id", "item_id", "timestamp", "hour", "weekday", "session_id"]:
        assert inter[col].dtype == np.int64, col
    for col in ["behavior", "device", "intent"]:
        assert pd.api.types.is_string_dtype(inter[col]), col
    assert items["price"].dtype == np.float64 and (items["price"] > 0).all()
    for frame in (inter, items, users):
        assert not frame.isna().any().any()
    assert set(inter["behavior"]) == set(S.BEHAVIORS)
    assert set(inter["device"]) == set(S.DEVICES)
    assert set(inter["intent"]) <= set(S.CATEGORIES) and set(items["category"]) == set(S.CATEGORIES)
    assert users["age"].between(18, 80).all() and set(users["gender"]) == {"F", "M"}


def test_ids_contiguous_and_time_order(shop):
    inter = shop.interactions
    np.testing.assert_array_equal(shop.items["item_id"], np.arange(1, 10001))
    np.testing.assert_array_equal(shop.users["user_id"], np.arange(1, 1001))
    assert inter["user_id"].between(1, 1000).all() and inter["item_id"].between(1, 10000).all()
    assert inter["user_id"].nunique() == 1000
    sessions = np.unique(inter["session_id"])
    np.testing.assert_array_equal(sessions, np.arange(1, len(sessions) + 1))
    assert inter["user_id"].is_monotonic_increasing
    assert (inter.groupby("user_id")["timestamp"].diff().dropna() > 0).all()  # strictly ordered
    when = pd.to_datetime(inter["timestamp"], unit="s")
    assert when.min() >= pd.Timestamp("2024-01-01") and when.max() < pd.Timestamp("2025-01-02")
    np.testing.assert_array_equal(inter["hour"], when.dt.hour)
    np.testing.assert_array_equal(inter["weekday"], when.dt.weekday)
    assert (inter.groupby("session_id")["user_id"].nunique() == 1).all()


def test_sizes_and_long_tail(shop):
    inter = shop.interactions
    per_user = inter.groupby("user_id").size()
    assert 50 <= per_user.mean() <= 150 and 80_000 <= len(inter) <= 150_000
    counts = inter["item_id"].value_counts()
    top_1pct = counts.iloc[: len(shop.items) // 100].sum() / len(inter)
    assert top_1pct > 0.10  # 1 % of the items get over 10 % of the traffic
    assert "1,000 users" in repr(shop) and "10,000 items" in shop.describe()


def test_same_seed_same_data_other_seed_other_data(small):
    again = make_synthetic_shop(n_users=150, n_items=1500, seed=3)
    for name in ["items", "users", "interactions"]:
        pd.testing.assert_frame_equal(getattr(small, name), getattr(again, name))
    np.testing.assert_array_equal(small.preferences.item_appeal, again.preferences.item_appeal)
    assert small.example_user == again.example_user
    other = make_synthetic_shop(n_users=150, n_items=1500, seed=4)
    assert not small.items["price"].equals(other.items["price"])
    assert not small.interactions["item_id"][:500].equals(other.interactions["item_id"][:500])


@pytest.mark.parametrize("which", ["shop", "small"])
def test_example_user_history(which, request):
    s = request.getfixturevalue(which)
    hist = s.interactions[s.interactions["user_id"] == s.example_user]
    hist = hist.merge(s.items[["item_id", "title", "brand", "category"]], on="item_id", how="left")
    wanted = [("purchase", "Apple"), ("browse", "Huawei"), ("favorite", "Xiaomi")]
    rows = list(zip(hist["behavior"], hist["brand"], hist["category"], hist["title"], strict=True))
    k = 0  # find the three events as a subsequence, in order
    for behavior, brand, category, title in rows:
        if k < 3 and (behavior, brand) == wanted[k] and category == "phone":
            assert brand in title and "phone" in title
            k += 1
    assert k == 3


def test_smallest_shop_has_every_brand_and_the_example():
    tiny = make_synthetic_shop(n_users=1, n_items=S.N_PAIRS, seed=0)
    pairs = set(zip(tiny.items["category"], tiny.items["brand"], strict=True))
    assert len(pairs) == S.N_PAIRS
    assert tiny.example_user == 1 and len(tiny.interactions) >= 3


def test_phones_of_the_four_brands(shop):
    phones = shop.items[shop.items["category"] == "phone"]
    for brand in ["Apple", "Huawei", "Xiaomi", "Samsung"]:
        mine = phones[phones["brand"] == brand]
        assert len(mine) >= 5, brand
        assert mine["title"].str.contains(f"{brand} phone").all()
        assert mine["text"].str.contains(brand).all()
    apple, xiaomi = phones[phones["brand"] == "Apple"], phones[phones["brand"] == "Xiaomi"]
    assert apple["price"].median() > 2 * xiaomi["price"].median()  # brand price tiers


def test_behaviour_funnel(shop):
    share = shop.interactions["behavior"].value_counts(normalize=True)
    assert share["browse"] > 0.5
    assert share["browse"] > share["favorite"] > share["cart"] > share["purchase"] > 0.01
    # the funnel depends on price: premium items are bought less often than budget ones
    tier = shop.items["tier"].to_numpy()[shop.interactions["item_id"] - 1]
    bought = shop.interactions["behavior"].eq("purchase").to_numpy()
    assert bought[tier == "budget"].mean() > bought[tier == "premium"].mean()


def test_context_is_predictive(shop):
    inter = shop.interactions
    cat = _categories(shop, inter["item_id"])
    chance = (shop.items["category"].value_counts(normalize=True) ** 2).sum()
    assert chance < 0.15 and (cat == inter["intent"].to_numpy()).mean() > 0.7
    work = ((inter["weekday"] < 5) & inter["hour"].between(9, 17)).to_numpy()
    evening = inter["hour"].between(18, 23).to_numpy()
    desktop = inter["device"].eq("desktop").to_numpy()
    mobile = inter["device"].eq("mobile").to_numpy()
    def share(mask, cats):
        return pd.Series(cat[mask]).isin(cats).mean()

    office, leisure = ["laptop", "book"], ["phone", "shoes"]
    assert share(work & desktop, office) > 2 * share(evening & mobile, office)
    assert share(evening & mobile, leisure) > 2 * share(work & desktop, leisure)
    # the hour matters on its own (same device), and so does the device (same hours)
    assert share(work & desktop, office) > 1.5 * share(evening & desktop, office)
    assert share(evening & mobile, leisure) > 1.25 * share(evening & desktop, leisure)
    # consecutive items of one category share their brand more often inside a session than across
    brand = shop.items["brand"].to_numpy()[inter["item_id"] - 1]
    same_cat, same_brand = cat[1:] == cat[:-1], brand[1:] == brand[:-1]
    same_user = (inter["user_id"].diff() == 0).to_numpy()[1:]
    same_session = (inter["session_id"].diff() == 0).to_numpy()[1:]
    within = same_brand[same_session & same_cat].mean()
    across = same_brand[same_user & ~same_session & same_cat].mean()
    assert within > across + 0.15


def test_true_scores_match_a_direct_computation(small):
    p, users = small.preferences, np.array([1, 7, 42])
    scores = true_scores(small, users, intent="phone", device="desktop", last_item=[0, 5, 9])
    assert scores.shape == (3, 1501) and np.isneginf(scores[:, 0]).all()
    np.testing.assert_allclose(np.exp(scores[:, 1:]).sum(1), 1.0, rtol=1e-9)
    cat, brand, tier = p.item_category, p.item_brand, p.item_tier
    for row, (u, prev) in enumerate(zip(users, [0, 5, 9], strict=True)):  # item by item
        x = np.array([p.brand_affinity[u, brand[i]] - (p.price_sensitivity[u] - 0.3) * tier[i]
                      + p.item_appeal[i] for i in range(1, 1501)])
        if prev:
            for i in range(1, 1501):
                if cat[i] == cat[prev]:
                    x[i - 1] += 1.5 * (brand[i] == brand[prev]) + 1.0 * (tier[i] == tier[prev])
        phone, (c1, c2) = 0, S.COMP_OF[0]
        for i in [25, 100, 777]:
            c = cat[i]
            in_c = cat[1:] == c
            p_cat = 0.1 * p.category_weight[u, c] + 0.8 * (c == phone) + 0.05 * (c in (c1, c2))
            expected = np.log(p_cat) + x[i - 1] - np.log(np.exp(x[in_c]).sum())
            assert scores[row, i] == pytest.approx(expected, rel=1e-9)


def test_true_scores_rank_purchases_and_reward_context(shop):
    inter = shop.interactions
    bought = inter[inter["behavior"] == "purchase"].drop_duplicates("user_id").head(300)
    scores = true_scores(shop, bought["user_id"])
    rng = np.random.default_rng(0)
    rows = np.arange(len(bought))
    hit = scores[rows, bought["item_id"]]
    rand = scores[rows, rng.integers(1, 10001, len(bought))]
    assert hit.mean() > rand.mean() + 2 and (hit > rand).mean() > 0.8
    # the first event of each session is better explained when the oracle knows the context
    starts = inter[inter["session_id"].diff().fillna(1).to_numpy() != 0].head(1500)
    rows = np.arange(len(starts))
    plain = true_scores(shop, starts["user_id"])[rows, starts["item_id"]]
    ctx = true_scores(shop, starts["user_id"], hour=starts["hour"], weekday=starts["weekday"],
                      device=starts["device"])[rows, starts["item_id"]]
    told = true_scores(shop, starts["user_id"], intent=starts["intent"])[rows, starts["item_id"]]
    assert ctx.mean() > plain.mean() + 0.1 and told.mean() > ctx.mean() + 0.5


@pytest.mark.parametrize("kwargs, name", [
    ({"n_users": 0}, "n_users"), ({"n_users": 2.5}, "n_users"), ({"n_users": True}, "n_users"),
    ({"n_items": 10}, "n_items"), ({"n_items": "100"}, "n_items"),
    ({"seed": -1}, "seed"), ({"seed": 1.0}, "seed"),
])
def test_bad_arguments_raise(kwargs, name):
    with pytest.raises(ValueError, match=name):
        make_synthetic_shop(**{"n_users": 5, "n_items": 200, **kwargs})


@pytest.mark.parametrize("kwargs, match", [
    ({"user_ids": [0]}, "user_ids"), ({"user_ids": [151]}, "user_ids"),
    ({"user_ids": [1], "hour": 20}, "hour and weekday"),
    ({"user_ids": [1], "device": "phone"}, "device"),
    ({"user_ids": [1, 2], "intent": ["tv"] * 3}, "intent"),
    ({"user_ids": [1], "hour": 24, "weekday": 0}, "hour"),
    ({"user_ids": [1], "last_item": 1501}, "last_item"),
])
def test_true_scores_bad_arguments_raise(small, kwargs, match):
    with pytest.raises(ValueError, match=match):
        true_scores(small, **kwargs)
