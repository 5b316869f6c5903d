"""The shop's looks (item patterns, visual taste): additions that leave the old shop unchanged."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from llmrec_ref import shop as S
from llmrec_ref.shop import make_synthetic_shop, true_scores


def _digest(frame) -> str:
    """SHA-256 (first 16 hex) of a frame's column names, dtypes and values, independent of pandas' hashing."""
    h = hashlib.sha256()
    for name in frame.columns:
        col = frame[name].to_numpy()
        h.update(f"{name}:{col.dtype}".encode())
        h.update("\x00".join(map(str, col)).encode() if col.dtype == object else np.ascontiguousarray(col).tobytes())
    return h.hexdigest()[:16]


# computed on main (commit 596dfc0) before the looks existed: the default shop must not move
BEFORE = {
    (1000, 10000, 0): ("c2ca263d2097a90c", "cd7c1db35f40f041", "4a2601b18bc27099", 465),
    (50, 300, 3): ("d4156b157d9561d3", "7deb6fcd8aa13cd2", "a0cca978f044956c", 15),
}


@pytest.mark.parametrize("size", list(BEFORE))
def test_default_shop_is_byte_identical_to_before_images(size):
    n_users, n_items, seed = size
    shop = make_synthetic_shop(n_users=n_users, n_items=n_items, seed=seed)
    assert (_digest(shop.items), _digest(shop.users), _digest(shop.interactions), shop.example_user) == BEFORE[size]
    assert (shop.preferences.visual_taste[1:] == -1).all()


@pytest.fixture(scope="module")
def pair():
    return make_synthetic_shop(n_users=300, n_items=2000, seed=1), \
        make_synthetic_shop(n_users=300, n_items=2000, seed=1, visual_taste_share=0.5)


def test_visual_taste_changes_only_the_items_of_visual_users(pair):
    plain, visual = pair
    p = visual.preferences
    assert visual.items.equals(plain.items) and visual.users.equals(plain.users)
    np.testing.assert_array_equal(p.item_pattern, plain.preferences.item_pattern)  # looks do not depend on the share
    taste = p.visual_taste[visual.interactions["user_id"].to_numpy()]
    assert 0.4 < (p.visual_taste[1:] >= 0).mean() < 0.6 and p.visual_taste[0] == -1
    for col in ("user_id", "timestamp", "device", "intent", "session_id"):
        np.testing.assert_array_equal(visual.interactions[col], plain.interactions[col])
    changed = visual.interactions["item_id"].to_numpy() != plain.interactions["item_id"].to_numpy()
    assert not changed[taste < 0].any() and changed[taste >= 0].mean() > 0.3
    # same (category, brand, tier) cell as before: only the pick inside the cell moved
    for field in ("item_category", "item_brand", "item_tier"):
        a = getattr(p, field)
        np.testing.assert_array_equal(a[visual.interactions["item_id"]], a[plain.interactions["item_id"]])


def test_visual_users_pick_their_pattern_as_the_oracle_says(pair):
    _, visual = pair
    p, inter = visual.preferences, visual.interactions
    users = inter["user_id"].to_numpy()
    liked = p.item_pattern[inter["item_id"].to_numpy()] == p.visual_taste[users]
    mine = p.visual_taste[users] >= 0
    assert liked[mine].mean() > 0.55 and abs(liked[~mine].mean() - 0) < 1e-12  # -1 matches no pattern
    # the oracle gives a liked item e^gamma times the weight of an otherwise equal item
    u = int(np.flatnonzero(p.visual_taste >= 0)[0])
    s = true_scores(visual, [u])[0]
    cat = p.item_category[1:]
    base = make_synthetic_shop(n_users=300, n_items=2000, seed=1)
    diff = s[1:] - true_scores(base, [u])[0][1:]      # log-weights differ by gamma on liked items, up to a
    like = p.item_pattern[1:] == p.visual_taste[u]    # per-category normaliser
    for c in range(len(S.CATEGORIES)):
        d = diff[cat == c]
        k = like[cat == c]
        if k.any() and (~k).any():
            assert np.allclose(d[k] - d[~k][0], S.VISUAL_STRENGTH) and np.allclose(d[~k], d[~k][0])
    assert np.isclose(np.exp(s[1:]).sum(), 1.0)


def test_redraw_follows_the_weights_inside_a_cell():
    rng = np.random.default_rng(0)
    items = {"item_category": np.array([0, 0, 0, 0, 0]), "item_brand": np.full(5, S.CAT_BRANDS[0, 0]),
             "item_tier": np.zeros(5, np.int64), "item_appeal": np.array([0.0, 0.0, 1.0, -0.5, 0.3]),
             "item_pattern": np.array([0, 1, 1, 2, 3])}
    liked = np.array([-1, 1, -1])  # user 1 likes pattern 1 (items 1 and 2); user 2 has no taste
    redraw = S._visual_redraw(items, liked, rng)
    n = 200_000
    got = redraw(np.ones(n, np.int64), np.full(n, 3))
    w = np.exp(items["item_appeal"][1:]) * np.where(items["item_pattern"][1:] == 1, np.exp(S.VISUAL_STRENGTH), 1.0)
    np.testing.assert_allclose(np.bincount(got, minlength=5)[1:] / n, w / w.sum(), atol=0.005)
    np.testing.assert_array_equal(redraw(np.full(4, 2), np.array([1, 2, 3, 4])), [1, 2, 3, 4])


@pytest.mark.parametrize("bad", [-0.1, 1.5, "half", True, None])
def test_visual_taste_share_must_be_a_share(bad):
    with pytest.raises(ValueError, match="visual_taste_share"):
        make_synthetic_shop(n_users=5, n_items=100, visual_taste_share=bad)
