"""A synthetic shop whose ground truth is known: users, items with text, sessions with context.

Derived in notebooks/01_data_preprocessing. ``make_synthetic_shop(seed=0)`` is the course's
embedded data set (no network). The generative story, in order:

1. Items: each (category, brand) pair gets a share of the catalogue; price = base price of the
   category x brand multiplier x log-normal noise; the tier t (0 budget, 1 mid-range, 2 premium)
   follows from the price; an appeal ``s_i ~ N(brand popularity, 1.4^2)`` makes popularity
   long-tailed; title and text come from templates (brand, category, tier word, colour, two
   graded attributes, a use-case sentence).
2. Users: a segment (student/professional/family/senior) sets the age, a Dirichlet prior over
   categories (weights w_u) and a price sensitivity beta_u; brand affinities a_u are N(0, 1).
   Gender is drawn independently and influences nothing (a deliberately useless feature).
3. Sessions (~18 per user): a day of 2024, an hour, a device given the time slot, and an intent
   ``k ~ softmax(log w_uk + slot bias + device bias)``: weekday work hours on a desktop favour
   laptops/books/backpacks/coffee, evenings on a phone favour phones/fashion, leisure time on a
   tablet favours TVs/cameras/toys.
4. Events (3 + Poisson(2.5) per session): the category is the intent (80 %), one of its two
   complements (10 %) or a draw from w_u (10 %); the item i of category c is drawn with
   probability ``exp(x_ui) / sum_{j in c} exp(x_uj)``, ``x_ui = a_u[b_i] - (beta_u - d) t_i + s_i``
   (d: desktops +0.3, phones -0.3), plus a pull to the previous event's brand and tier.
5. Behaviour: the deepest funnel stage reached (browse < favorite < cart < purchase); deeper with
   taste and appeal, shallower with beta_u x tier; desktops buy more.
6. Looks (added for notebooks/09_multimodal): every item has a visual ``pattern`` (plain /
   striped / dotted / two-tone, see ``PATTERNS``) that its text never mentions; its image is drawn
   by ``llmrec_ref.images``. With ``visual_taste_share > 0`` that share of users likes one pattern:
   inside the (category, brand, tier) cell of step 4 their item draw weighs
   ``exp(s_i + gamma [pattern_i = liked_u])``, gamma = ``VISUAL_STRENGTH``. These draws come
   from a second generator seeded from (``VISUAL_STREAM``, seed), so the default shop
   (``visual_taste_share=0``) is byte-identical to the shop before images existed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

_CATALOGUE = """
phone      |0.12| 500|go  |64 GB, 128 GB, 256 GB, 512 GB        |camera, battery                |headphones, watch|Apple 1.7, Samsung 1.3, Huawei 1.0, Xiaomi 0.6, Google 1.2, OnePlus 0.9
laptop     |0.09|1000|work|8 GB RAM, 16 GB RAM, 32 GB RAM, 64 GB RAM|screen, battery life      |backpack, headphones|Apple 1.6, Lenovo 0.9, Dell 1.0, HP 0.9, Asus 0.8, Acer 0.6
tablet     |0.06| 450|home|64 GB, 128 GB, 256 GB, 1 TB          |display, battery               |headphones, book |Apple 1.6, Samsung 1.2, Huawei 0.9, Xiaomi 0.6, Lenovo 0.7
headphones |0.08| 150|go  |wired, wireless, noise cancelling, studio|sound, noise cancelling     |phone, laptop    |Sony 1.3, Bose 1.5, Apple 1.4, Sennheiser 1.2, JBL 0.8, Xiaomi 0.5
camera     |0.05| 800|home|16 MP, 24 MP, 33 MP, 45 MP           |sensor, autofocus              |backpack, tv     |Canon 1.2, Nikon 1.1, Sony 1.4, Fujifilm 1.2, GoPro 0.6
watch      |0.06| 250|go  |38 mm, 41 mm, 44 mm, 49 mm           |fitness tracking, battery      |phone, shoes     |Apple 1.6, Samsung 1.2, Garmin 1.3, Huawei 0.9, Casio 0.4
tv         |0.05| 700|home|32-inch, 43-inch, 55-inch, 65-inch   |picture, sound                 |tablet, headphones|Samsung 1.3, LG 1.2, Sony 1.5, TCL 0.6, Hisense 0.6
shoes      |0.10|  90|go  |canvas, running, trail, carbon       |cushioning, grip               |jacket, jeans    |Nike 1.2, Adidas 1.1, Puma 0.8, New Balance 1.0, Asics 1.0
jacket     |0.07| 120|go  |rain, fleece, down, shell            |insulation, waterproofing      |shoes, jeans     |The North Face 1.5, Patagonia 1.6, Uniqlo 0.6, Zara 0.8, Columbia 1.0
jeans      |0.06|  60|go  |regular, slim, straight, selvedge    |fit, denim                     |shoes, jacket    |Levi's 1.2, Wrangler 0.9, Uniqlo 0.6, Zara 0.8, Diesel 1.6
backpack   |0.05|  70|work|15 L, 20 L, 25 L, 30 L               |padding, storage               |laptop, jacket   |Herschel 1.1, Samsonite 1.5, Eastpak 0.7, Fjallraven 1.2, Osprey 1.3
book       |0.12|  18|work|paperback, paperback, hardcover, collector's edition|story, writing   |coffee, tablet   |Penguin 0.7, HarperCollins 1.0, O'Reilly 2.0, Vintage 0.9, Bloomsbury 1.1
coffee     |0.05|  12|work|250 g, 500 g, 1 kg, capsules         |aroma, crema                   |book, backpack   |Lavazza 1.0, Illy 1.3, Starbucks 1.1, Nespresso 1.6, Kimbo 0.7
toy        |0.04|  35|home|small set, medium set, large set, collector set|build quality, play value|book, tablet |Lego 1.6, Hasbro 1.0, Mattel 1.0, Playmobil 1.2, Ravensburger 0.7
"""


class Category(NamedTuple):
    share: float           # share of the catalogue
    base_price: float      # EUR, before the brand multiplier
    group: str             # context group: work / go / home
    variants: tuple        # title suffixes, budget -> premium
    attributes: tuple      # two graded attributes in the text
    complements: tuple     # categories browsed alongside
    brands: dict           # brand -> price multiplier


def _parse(row: str) -> tuple[str, Category]:
    name, share, base, group, *lists, brands = [f.strip() for f in row.split("|")]
    parts = [tuple(p.strip() for p in field.split(",")) for field in lists]
    prices = {b.rsplit(" ", 1)[0].strip(): float(b.rsplit(" ", 1)[1]) for b in brands.split(",")}
    return name, Category(float(share), float(base), group, *parts, prices)


CATALOGUE = dict(_parse(row) for row in _CATALOGUE.strip().splitlines())
CATEGORIES = tuple(CATALOGUE)
BRANDS = tuple(dict.fromkeys(b for spec in CATALOGUE.values() for b in spec.brands))
GROUPS = ("work", "go", "home")
SEGMENTS = ("student", "professional", "family", "senior")
DEVICES = ("mobile", "desktop", "tablet")
BEHAVIORS = ("browse", "favorite", "cart", "purchase")
SLOTS = ("night", "work", "evening", "leisure")  # 0-6 h / weekday 9-17 h / 18-23 h / the rest
TIERS = ("budget", "mid-range", "premium")
COLOURS = ("black", "white", "silver", "blue", "red", "green", "gold", "grey", "pink")
QUALITY = ("basic", "decent", "great", "outstanding")
TIER_WORDS = (("budget", "affordable", "entry-level"), ("mid-range", "everyday", "solid"),
              ("premium", "flagship", "high-end"))
USE = {"work": ("Ideal for work and study.", "A reliable companion at the office."),
       "go": ("Built for life on the go.", "Made for busy days in the city."),
       "home": ("Made for relaxing evenings at home.", "Perfect for weekends with the family.")}

EPOCH_2024 = 1_704_067_200  # 2024-01-01 00:00 UTC, a Monday
SEGMENT_P = np.array([0.2, 0.4, 0.25, 0.15])
SEGMENT_AGE = np.array([[18, 26], [23, 62], [28, 50], [60, 80]])
SEGMENT_GROUP = np.array([[1.5, 1.5, 0.7], [1.5, 1.0, 0.8], [0.6, 0.9, 2.0], [0.8, 0.6, 1.6]])
SEGMENT_BETA = np.array([1.2, 0.5, 0.9, 0.8])   # price sensitivity: utility lost per tier step
TASTE_CONCENTRATION = 5.0                       # Dirichlet total: small = few favourite categories
SLOT_GROUP_BIAS = np.array([[0.0, 0.5, 0.5], [2.5, 0.0, 0.0], [0.0, 2.0, 0.5], [0.0, 0.5, 2.0]])
DEVICE_GROUP_BIAS = np.array([[0.0, 1.5, 0.0], [1.5, 0.0, 0.0], [0.0, 0.0, 1.5]])  # (device, group)
SLOT_DEVICE_LOGIT = np.array([[1.0, -0.5, 0.3], [0.0, 1.2, -1.0], [1.0, 0.0, 0.3], [0.8, 0.0, 0.5]])
DEVICE_TIER = np.array([-0.3, 0.3, 0.0])        # desktops lean premium, phones lean budget
DEVICE_BUY = np.array([-0.3, 0.4, 0.0])         # ... and desktops convert more
DAY_HOURS = np.array([0.3] * 7 + [1.0, 1.5] + [2.0] * 9)  # weights of hours 0-17 (else 18-23)
SESSIONS_PER_USER, EXTRA_EVENTS = 18.0, 2.5     # events per session = 3 + Poisson(2.5)
INTENT_SHARE, COMPLEMENT_SHARE = 0.8, 0.1       # the rest (0.1) follows the user's taste
SAME_BRAND, SAME_TIER = 1.5, 1.0                # pull towards the previous item of the session
PATTERNS = ("plain", "striped", "dotted", "two-tone")  # the look an image shows and the text never says
VISUAL_STRENGTH = 2.0                           # gamma: a liked pattern weighs e^2 ~ 7.4x inside its cell
VISUAL_STREAM = 9009                            # the looks' generator: default_rng([VISUAL_STREAM, seed])

GROUP_OF = np.array([GROUPS.index(spec.group) for spec in CATALOGUE.values()])        # (C,)
COMP_OF = np.array([[CATEGORIES.index(k) for k in spec.complements] for spec in CATALOGUE.values()])
MAX_BRANDS = max(len(spec.brands) for spec in CATALOGUE.values())
CAT_BRANDS = np.array([[BRANDS.index(b) for b in s.brands] + [0] * (MAX_BRANDS - len(s.brands))
                       for s in CATALOGUE.values()])                  # (C, MAX_BRANDS), 0-padded
N_PAIRS = sum(len(spec.brands) for spec in CATALOGUE.values())  # the smallest possible n_items
CHUNK = 1 << 18  # rows per vectorised block: bounds temporary memory at large sizes


@dataclass(repr=False)
class Preferences:
    """Ground truth of the generator; arrays indexed by ``user_id`` / ``item_id`` (row 0 = padding).

    Users: ``category_weight`` (n_users+1, C) w_u, rows sum to 1; ``brand_affinity``
    (n_users+1, B) a_u; ``price_sensitivity`` (n_users+1,) beta_u, utility lost per tier step;
    ``device_affinity`` (n_users+1, 3) and ``evening_bias`` (n_users+1,) shape their context.
    Items: ``item_category``, ``item_brand``, ``item_tier`` (n_items+1,) codes into
    ``categories``, ``brands`` and ``TIERS``; ``item_appeal`` (n_items+1,) s_i.
    Looks: ``item_pattern`` (n_items+1,) codes into ``PATTERNS``; ``visual_taste`` (n_users+1,)
    the pattern a user likes, -1 for none (everyone when ``visual_taste_share=0``); gamma =
    ``visual_strength``.
    """

    categories: tuple
    brands: tuple
    category_weight: np.ndarray
    brand_affinity: np.ndarray
    price_sensitivity: np.ndarray
    device_affinity: np.ndarray
    evening_bias: np.ndarray
    item_category: np.ndarray
    item_brand: np.ndarray
    item_tier: np.ndarray
    item_appeal: np.ndarray
    item_pattern: np.ndarray | None = None
    visual_taste: np.ndarray | None = None
    visual_strength: float = VISUAL_STRENGTH


@dataclass(repr=False)
class Shop:
    """The synthetic shop: ``items``, ``users``, ``interactions`` frames plus the ground truth.

    ``example_user`` has, in this order, a purchase of an Apple phone, a browse of a Huawei phone
    and a favourite of a Xiaomi phone: the generator writes them into the first three events of
    one phone session (of the user who likes phones most), so the course's worked query is real.
    """

    items: pd.DataFrame
    users: pd.DataFrame
    interactions: pd.DataFrame
    preferences: Preferences
    example_user: int
    seed: int

    def describe(self) -> str:
        """One line with the sizes and the behaviour mix."""
        mix = self.interactions["behavior"].value_counts(normalize=True)
        return (f"Shop(seed={self.seed}): {len(self.users):,} users, {len(self.items):,} items "
                f"({len(CATEGORIES)} categories, {len(BRANDS)} brands), {len(self.interactions):,} "
                f"interactions in {self.interactions['session_id'].nunique():,} sessions; "
                + ", ".join(f"{b} {mix.get(b, 0.0):.1%}" for b in BEHAVIORS)
                + f"; example_user={self.example_user}")

    __repr__ = describe


def _pad(a: np.ndarray) -> np.ndarray:
    """Prepend a zero row so that arrays can be indexed by 1-based ids (row 0 = padding)."""
    return np.concatenate([np.zeros_like(a[:1]), a])


def _categorical(rng: np.random.Generator, logits: np.ndarray) -> np.ndarray:
    """One draw per row of ``softmax(logits)`` (rows, K) by inverting the row's cumulative sum."""
    cdf = np.cumsum(np.exp(logits - logits.max(1, keepdims=True)), axis=1)   # (rows, K)
    u = (1.0 - rng.random(len(cdf))) * cdf[:, -1]                            # in (0, total]
    return (cdf < u[:, None]).sum(1)  # first k with cdf_k >= u: never a zero-probability entry


def _chunked(n: int, draw) -> np.ndarray:
    """``draw(slice)`` over blocks of ``CHUNK`` rows, concatenated (bounded temporary memory)."""
    return np.concatenate([draw(slice(i, min(i + CHUNK, n))) for i in range(0, n, CHUNK)] or [[]])


def _slot(hour: np.ndarray, weekday: np.ndarray) -> np.ndarray:
    """Time slot code (see ``SLOTS``) of each (hour, weekday)."""
    work = (weekday < 5) & (hour >= 9) & (hour <= 17)
    return np.where(hour <= 6, 0, np.where(work, 1, np.where(hour >= 18, 2, 3)))


def _intent_logits(category_weight: np.ndarray, users: np.ndarray, slot, device) -> np.ndarray:
    """Logits of the session intent, ``log w_uk + slot bias + device bias``: (len(users), C)."""
    logits = np.log(category_weight[users])
    if slot is not None:
        logits = logits + SLOT_GROUP_BIAS[slot][:, GROUP_OF]
    if device is not None:
        logits = logits + DEVICE_GROUP_BIAS[device][:, GROUP_OF]
    return logits


def _make_items(n_items: int, rng: np.random.Generator) -> tuple[pd.DataFrame, dict]:
    """Catalogue: every (category, brand) pair gets >= 1 item, the rest by category share."""
    pairs = [(c, b) for c, spec in enumerate(CATALOGUE.values()) for b in range(len(spec.brands))]
    specs = [CATALOGUE[CATEGORIES[c]] for c, _ in pairs]
    raw = np.array([s.share / len(s.brands) for s in specs])
    raw = raw / raw.sum() * (n_items - len(pairs))
    counts = 1 + np.floor(raw).astype(np.int64)  # largest remainders get the leftover items
    counts[np.argsort(np.floor(raw) - raw, kind="stable")[: n_items - counts.sum()]] += 1
    pair = np.repeat(np.arange(len(pairs)), counts)[rng.permutation(n_items)]  # (n_items,)
    cat, local = np.array(pairs)[pair].T                     # category, brand within category
    brand = CAT_BRANDS[cat, local]
    base = np.array([s.base_price for s in specs])[pair]
    mult = np.array([list(s.brands.values())[b] for s, (_, b) in zip(specs, pairs, strict=True)])
    price = base * mult[pair] * np.exp(0.35 * rng.standard_normal(n_items))
    price = np.maximum(np.round(price) - 0.01, 0.99)                       # EUR, like 499.99
    z = np.log(price / base)
    tier = (z > -0.2).astype(np.int64) + (z > 0.25)
    appeal = rng.normal(0.0, 0.5, len(BRANDS))[brand] + 1.4 * rng.standard_normal(n_items)
    colour = rng.integers(0, len(COLOURS), n_items)
    variant = np.clip(tier + rng.integers(0, 2, n_items), 0, 3)
    quality = np.clip(tier[:, None] + rng.integers(-1, 2, (n_items, 2)), 0, 3)
    model = rng.integers(0, 8, n_items), rng.integers(1, 100, n_items)
    word, use = rng.integers(0, 3, n_items), rng.integers(0, 2, n_items)
    titles, texts = [], []
    for i in range(n_items):  # one loop per item (never per interaction): string templates
        c, b = CATEGORIES[cat[i]], BRANDS[brand[i]]
        spec, noun = CATALOGUE[c], "TV" if c == "tv" else c
        code = f"{'XSAMPRGZ'[model[0][i]]}{model[1][i]}"
        titles.append(f"{b} {noun} {code} ({spec.variants[variant[i]]})")
        texts.append(f"{TIER_WORDS[tier[i]][word[i]].capitalize()} {COLOURS[colour[i]]} {b} {noun} "
                     f"with {QUALITY[quality[i, 0]]} {spec.attributes[0]} and "
                     f"{QUALITY[quality[i, 1]]} {spec.attributes[1]}. {USE[spec.group][use[i]]}")
    items = pd.DataFrame({
        "item_id": np.arange(1, n_items + 1, dtype=np.int64), "title": titles, "text": texts,
        "category": np.array(CATEGORIES, dtype=object)[cat],
        "brand": np.array(BRANDS, dtype=object)[brand],
        "price": price, "tier": np.array(TIERS, dtype=object)[tier],
        "colour": np.array(COLOURS, dtype=object)[colour]})
    return items, {"item_category": _pad(cat), "item_brand": _pad(brand), "item_tier": _pad(tier),
                   "item_appeal": _pad(appeal)}


def _make_users(n_users: int, rng: np.random.Generator) -> tuple[pd.DataFrame, dict]:
    """Users: segment -> age, category prior and price sensitivity; brand tastes are personal."""
    seg = rng.choice(len(SEGMENTS), size=n_users, p=SEGMENT_P)
    age = rng.integers(SEGMENT_AGE[seg, 0], SEGMENT_AGE[seg, 1] + 1)
    share = np.array([spec.share for spec in CATALOGUE.values()])
    prior = share * SEGMENT_GROUP[seg][:, GROUP_OF]                           # (U, C)
    taste = rng.gamma(TASTE_CONCENTRATION * prior / prior.sum(1, keepdims=True)) + 1e-3
    users = pd.DataFrame({"user_id": np.arange(1, n_users + 1, dtype=np.int64), "age": age,
                          "gender": np.array(["F", "M"], dtype=object)[rng.integers(0, 2, n_users)],
                          "segment": np.array(SEGMENTS, dtype=object)[seg]})
    truth = {"category_weight": _pad(taste / taste.sum(1, keepdims=True)),
             "brand_affinity": _pad(rng.standard_normal((n_users, len(BRANDS)))),
             "price_sensitivity": _pad(SEGMENT_BETA[seg] * rng.lognormal(0.0, 0.4, n_users)),
             "device_affinity": _pad(0.7 * rng.standard_normal((n_users, len(DEVICES)))),
             "evening_bias": _pad(0.5 * rng.standard_normal(n_users))}
    truth["category_weight"][0] = 1.0 / len(CATEGORIES)
    return users, truth


def _make_sessions(truth: dict, n_users: int, rng: np.random.Generator) -> dict:
    """Sessions sorted by (user, start): start time, device and intent codes."""
    activity = np.exp(0.35 * rng.standard_normal(n_users))
    per_user = 1 + rng.poisson(np.maximum(SESSIONS_PER_USER * activity - 1, 0))
    user = np.repeat(np.arange(1, n_users + 1), per_user)
    n = len(user)
    day = rng.integers(0, 366, n)                        # 2024 has 366 days; day 0 is a Monday
    evening = rng.random(n) < 1 / (1 + np.exp(0.25 - truth["evening_bias"][user]))
    daytime = rng.choice(18, size=n, p=DAY_HOURS / DAY_HOURS.sum())
    hour = np.where(evening, rng.integers(18, 24, n), daytime)
    start = EPOCH_2024 + day * 86400 + hour * 3600 + rng.integers(0, 3600, n)
    slot = _slot(hour, day % 7)
    device = _categorical(rng, SLOT_DEVICE_LOGIT[slot] + truth["device_affinity"][user])
    w = truth["category_weight"]
    intent = _chunked(n, lambda s: _categorical(
        rng, _intent_logits(w, user[s], slot[s], device[s])))
    order = np.lexsort((start, user))
    return {"user": user[order], "start": start[order], "device": device[order],
            "intent": intent[order]}


def _cell_index(items: dict) -> tuple[np.ndarray, ...]:
    """Items sorted by (category, brand, tier) cell: order, cumsum of exp(s_i), bounds, log mass."""
    cat, brand, tier = items["item_category"][1:], items["item_brand"][1:], items["item_tier"][1:]
    local = np.argmax(CAT_BRANDS[cat] == brand[:, None], axis=1)  # brand's place in its category
    cell = (cat * MAX_BRANDS + local) * 3 + tier
    order = np.argsort(cell, kind="stable")
    cum = np.concatenate([[0.0], np.cumsum(np.exp(items["item_appeal"][1:][order]))])
    bounds = np.searchsorted(cell[order], np.arange(len(CATEGORIES) * MAX_BRANDS * 3 + 1))
    with np.errstate(divide="ignore"):
        log_mass = np.log(cum[bounds[1:]] - cum[bounds[:-1]])
    return order, cum, bounds, log_mass.reshape(len(CATEGORIES), MAX_BRANDS, 3)
    return order, cum, bounds, log_mass


def _draw_cells(rng: np.random.Generator, truth: dict, log_mass: np.ndarray, ev: dict,
                e: np.ndarray, first: bool) -> np.ndarray:
    """(brand, tier) cell of events ``e``: softmax(a_u[b] - (beta_u - d) t + log mass + pull)."""
    c, u = ev["cat"][e], ev["user"][e]
    by_brand = truth["brand_affinity"][u[:, None], CAT_BRANDS[c]]           # (n, MAX_BRANDS)
    by_tier = (DEVICE_TIER[ev["device"][e]] - truth["price_sensitivity"][u])[:, None] * np.arange(3)
    if not first:  # same category as the previous event: pull towards its brand and tier
        same = (ev["cat"][e - 1] == c)[:, None]
        by_brand += SAME_BRAND * (same & (np.arange(MAX_BRANDS) == ev["local"][e - 1][:, None]))
        by_tier += SAME_TIER * (same & (np.arange(3) == ev["tier"][e - 1][:, None]))
    logits = by_brand[:, :, None] + by_tier[:, None, :] + log_mass[c]           # (n, MAX_BRANDS, 3)
    return _categorical(rng, logits.reshape(len(e), -1))


def _visual_redraw(items: dict, liked: np.ndarray, rng: np.random.Generator):
    """A function (user ids, item ids) -> item ids redrawn inside each item's (category, brand,
    tier) cell with weights ``exp(s_j) * (e^gamma if pattern_j = liked_u else 1)``; users with
    ``liked_u = -1`` keep their item. Uses (and only uses) the looks' generator ``rng``."""
    cat, brand, tier = items["item_category"][1:], items["item_brand"][1:], items["item_tier"][1:]
    n_pat, gain = len(PATTERNS), np.exp(VISUAL_STRENGTH)
    local = np.argmax(CAT_BRANDS[cat] == brand[:, None], axis=1)
    cell = ((cat * MAX_BRANDS + local) * 3 + tier) * n_pat + items["item_pattern"][1:]   # (n_items,)
    order = np.argsort(cell, kind="stable")
    cum = np.concatenate([[0.0], np.cumsum(np.exp(items["item_appeal"][1:][order]))])
    bounds = np.searchsorted(cell[order], np.arange(len(CATEGORIES) * MAX_BRANDS * 3 * n_pat + 1))
    cell_of = np.concatenate([[0], cell // n_pat])                                       # by item id

    def redraw(user: np.ndarray, item: np.ndarray) -> np.ndarray:
        out, pick = item.copy(), np.flatnonzero(liked[user] >= 0)
        base, pat = cell_of[item[pick]] * n_pat, liked[user[pick]]
        lo, hi = bounds[base], bounds[base + n_pat]                   # the whole cell
        llo, lhi = bounds[base + pat], bounds[base + pat + 1]         # its items with the liked pattern
        total, mass = cum[hi] - cum[lo], cum[lhi] - cum[llo]
        p_liked = mass * gain / (mass * gain + total - mass)
        take, r = rng.random(len(pick)) < p_liked, rng.random(len(pick))
        v_other = r * (total - mass)                                  # skip over the liked block
        v = np.where(take, cum[llo] + r * mass,
                     cum[lo] + v_other + np.where(v_other >= cum[llo] - cum[lo], mass, 0.0))
        out[pick] = order[np.clip(np.searchsorted(cum, v, side="right") - 1, lo, hi - 1)] + 1
        return out

    return redraw


def _make_events(truth: dict, items: dict, sessions: dict, rng: np.random.Generator,
                 visual=None) -> dict:
    """Events of every session: category, then (brand, tier) cell, then item, then behaviour.
    ``visual`` (``_visual_redraw``) re-picks visual-taste users' items inside their cell."""
    length = 3 + rng.poisson(EXTRA_EVENTS, len(sessions["user"]))
    first = np.cumsum(length) - length
    sess = np.repeat(np.arange(len(length)), length)                           # (E,)
    n, user = len(sess), sessions["user"][sess]
    ev = {"user": user, "device": sessions["device"][sess], "cat": sessions["intent"][sess].copy(),
          **{key: np.zeros(n, np.int64) for key in ("local", "tier", "item")}}
    r = rng.random(n)
    comp = (r >= INTENT_SHARE) & (r < INTENT_SHARE + COMPLEMENT_SHARE)
    ev["cat"][comp] = COMP_OF[ev["cat"][comp], rng.integers(0, 2, comp.sum())]
    taste = np.flatnonzero(r >= INTENT_SHARE + COMPLEMENT_SHARE)
    log_w = np.log(truth["category_weight"])
    ev["cat"][taste] = _chunked(len(taste), lambda s: _categorical(rng, log_w[user[taste[s]]]))
    order, cum, bounds, log_mass = _cell_index(items)
    for j in range(length.max()):  # one step per position, vectorised over all sessions
        idx = first[length > j] + j
        picked = _chunked(len(idx), lambda s, idx=idx, j=j: _draw_cells(
            rng, truth, log_mass, ev, idx[s], first=j == 0))
        ev["local"][idx], ev["tier"][idx] = picked // 3, picked % 3
        cell = ev["cat"][idx] * MAX_BRANDS * 3 + picked
        lo, hi = bounds[cell], bounds[cell + 1]
        v = cum[lo] + rng.random(len(idx)) * (cum[hi] - cum[lo])   # inverse CDF inside the cell
        ev["item"][idx] = order[np.clip(np.searchsorted(cum, v, side="right") - 1, lo, hi - 1)] + 1
        if visual is not None:  # same cell, so the pulls of the next step are unchanged
            ev["item"][idx] = visual(ev["user"][idx], ev["item"][idx])
    # funnel: taste and appeal push deeper, price x sensitivity pulls back, desktops buy more
    item, cat = ev["item"], ev["cat"]
    fit = (truth["brand_affinity"][user, items["item_brand"][item]]
           + 0.3 * items["item_appeal"][item]
           + 0.5 * np.log(len(CATEGORIES) * truth["category_weight"][user, cat]))
    cost = truth["price_sensitivity"][user] * ev["tier"]
    fav = rng.random(n) < 1 / (1 + np.exp(3.2 - 0.8 * fit))
    cart = rng.random(n) < 1 / (1 + np.exp(3.2 - 0.8 * fit + 0.3 * cost))
    buy_logit = -1.7 + 0.5 * fit - 0.5 * cost + DEVICE_BUY[ev["device"]]
    buy = cart & (rng.random(n) < 1 / (1 + np.exp(-buy_logit)))
    ev["stage"] = np.where(buy, 3, np.where(cart, 2, np.where(fav, 1, 0)))
    gaps = 5 + np.round(rng.exponential(40.0, n)).astype(np.int64)  # seconds between events
    gaps[first] = 0
    ts = sessions["start"][sess] + np.cumsum(gaps) - np.cumsum(gaps)[first][sess]
    key = ts + user * (1 << 32)                          # make time strictly increasing per user
    ev["ts"] = np.maximum.accumulate(key - np.arange(n)) + np.arange(n) - user * (1 << 32)
    ev["sess"], ev["first"] = sess, first
    return ev


def _inject_example(truth: dict, items: dict, sessions: dict, ev: dict) -> int:
    """Make the worked query real: buy an Apple phone, browse a Huawei, favourite a Xiaomi phone."""
    phone = CATEGORIES.index("phone")
    candidates = np.flatnonzero(sessions["intent"] == phone)
    if len(candidates) == 0:  # tiny shops: turn the first session into a phone session
        candidates = np.array([0])
        sessions["intent"][0] = phone
    s = candidates[np.argmax(truth["category_weight"][sessions["user"][candidates], phone])]
    appeal = np.where(items["item_category"] == phone, items["item_appeal"], -np.inf)
    appeal[0] = -np.inf
    for k, (brand, stage) in enumerate([("Apple", 3), ("Huawei", 0), ("Xiaomi", 1)]):
        e = ev["first"][s] + k    # the most appealing phone of that brand
        mine = items["item_brand"] == BRANDS.index(brand)
        ev["item"][e] = np.argmax(np.where(mine, appeal, -np.inf))
        ev["stage"][e] = stage
    return int(sessions["user"][s])


def _check_int(value: object, name: str, minimum: int, hint: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum} ({hint}), got {value!r}")
    return int(value)


def make_synthetic_shop(n_users: int = 1000, n_items: int = 10000, seed: int = 0,
                        visual_taste_share: float = 0.0) -> Shop:
    """Generate the synthetic shop (see the module docstring for the generative story).

    Returns a ``Shop`` with ``items`` [item_id, title, text, category, brand, price, tier, colour],
    ``users`` [user_id, age, gender, segment], ``interactions`` [user_id, item_id, timestamp,
    behavior, hour, weekday, device, intent, session_id] sorted by (user_id, timestamp), the
    ground truth ``preferences`` and ``example_user``. About 100 events per user (~100k at the
    default size); time and memory grow linearly in n_users + n_items (no users x items matrix).
    ``visual_taste_share`` in [0, 1]: the share of users who like one visual pattern (step 6 of
    the module docstring); it changes which items those users pick, so the default 0 keeps the
    shop of the chapters before 09 byte for byte.
    """
    n_users = _check_int(n_users, "n_users", 1, "the number of users to generate")
    n_items = _check_int(n_items, "n_items", N_PAIRS, "every (category, brand) pair needs an item")
    seed = _check_int(seed, "seed", 0, "any non-negative int")
    if isinstance(visual_taste_share, bool) or not isinstance(visual_taste_share, (int, float)) \
            or not 0.0 <= visual_taste_share <= 1.0:
        raise ValueError(f"visual_taste_share must be a number in [0, 1] (the share of users with a taste "
                         f"for a visual pattern), got {visual_taste_share!r}")
    rng = np.random.default_rng(seed)
    items, item_truth = _make_items(n_items, rng)
    users, truth = _make_users(n_users, rng)
    sessions = _make_sessions(truth, n_users, rng)
    looks = np.random.default_rng([VISUAL_STREAM, seed])  # never touches rng: old frames stay as they were
    item_truth["item_pattern"] = _pad(looks.integers(0, len(PATTERNS), n_items))
    has_taste = looks.random(n_users) < visual_taste_share
    truth["visual_taste"] = _pad(np.where(has_taste, looks.integers(0, len(PATTERNS), n_users), -1))
    truth["visual_taste"][0] = -1
    visual = _visual_redraw(item_truth, truth["visual_taste"], looks) if has_taste.any() else None
    ev = _make_events(truth, item_truth, sessions, rng, visual)
    example_user = _inject_example(truth, item_truth, sessions, ev)
    ts = ev["ts"]
    interactions = pd.DataFrame({
        "user_id": ev["user"], "item_id": ev["item"], "timestamp": ts,
        "behavior": np.array(BEHAVIORS, dtype=object)[ev["stage"]],
        "hour": (ts // 3600) % 24, "weekday": (ts // 86400 + 3) % 7,   # 1970-01-01 was a Thursday
        "device": np.array(DEVICES, dtype=object)[ev["device"]],
        "intent": np.array(CATEGORIES, dtype=object)[sessions["intent"][ev["sess"]]],
        "session_id": ev["sess"] + 1})
    preferences = Preferences(categories=CATEGORIES, brands=BRANDS, **truth, **item_truth)
    return Shop(items, users, interactions, preferences, example_user, seed)


def _codes(value: object, names: tuple, name: str, m: int) -> np.ndarray:
    """A context argument (names or codes, one value or one per user) as int codes of shape (m,)."""
    arr = np.asarray(value)
    if arr.dtype.kind in "OUS":
        lookup = {v: k for k, v in enumerate(names)}
        bad = [v for v in np.unique(arr.astype(str)) if v not in lookup]
        if bad:
            raise ValueError(f"{name} has unknown values {bad[:3]}; use one of {names}")
        arr = np.vectorize(lookup.__getitem__, otypes=[np.int64])(arr.astype(str))
    if arr.ndim > 1 or (arr.ndim == 1 and len(arr) != m):
        raise ValueError(f"{name} must be one value or one per user ({m}), got shape {arr.shape}")
    if names and arr.size and (arr.min() < 0 or arr.max() >= len(names)):
        raise ValueError(f"{name} codes must lie in 0..{len(names) - 1}, "
                         f"got {arr.min()}..{arr.max()}")
    return np.broadcast_to(arr.astype(np.int64), (m,))


Context = int | str | np.ndarray | pd.Series | None  # one value, or one value per user


def true_scores(shop: Shop, user_ids: np.ndarray | pd.Series | list, *, hour: Context = None,
                weekday: Context = None, device: Context = None, intent: Context = None,
                last_item: Context = None) -> np.ndarray:
    """The generator's log-probability of every item for each user: (len(user_ids), n_items + 1).

    ``score[u, i] = log P(c_i | u, context) + x_ui - logsumexp_{j in c_i} x_uj`` with
    ``x_ui = a_u[b_i] - (beta_u - d) t_i + s_i (+ brand/tier pull towards last_item)
    (+ gamma [pattern_i = liked_u] for a user with a visual taste)``: the
    probability that an event of a session in this context shows item i, i.e. the oracle a model
    can approach (``exp`` of a row sums to 1). ``P(c | u, context)`` mixes the intents
    ``softmax(log w_u + slot bias + device bias)`` (only the parts of the context that are given;
    ``intent`` fixes it) with their complements and the taste w_u. Context arguments take names or
    codes, one value or one per user; ``hour`` needs ``weekday``; ``last_item`` (0 = none) must be
    the previous item of the same session. Column 0 (padding) is ``-inf``. Memory is
    len(user_ids) x n_items floats: score many users in batches.
    """
    p = shop.preferences
    users = np.asarray(user_ids, dtype=np.int64).reshape(-1)
    n_users, n_items, n_cats = len(p.price_sensitivity) - 1, len(p.item_tier) - 1, len(CATEGORIES)
    if users.size and (users.min() < 1 or users.max() > n_users):
        raise ValueError(f"user_ids must lie in 1..{n_users} (0 is padding)")
    if (hour is None) != (weekday is None):
        raise ValueError("pass hour and weekday together (the time slot needs both), or neither")
    m, rows, w = len(users), np.arange(len(users)), p.category_weight[users]      # w: (m, C)
    dev = None if device is None else _codes(device, DEVICES, "device", m)
    if intent is not None:
        k = _codes(intent, CATEGORIES, "intent", m)
        p_cat = (1 - INTENT_SHARE - COMPLEMENT_SHARE) * w
        p_cat[rows, k] += INTENT_SHARE
        p_cat[rows, COMP_OF[k, 0]] += COMPLEMENT_SHARE / 2
        p_cat[rows, COMP_OF[k, 1]] += COMPLEMENT_SHARE / 2
    else:
        slot = None if hour is None else _slot(_codes(hour, tuple(range(24)), "hour", m),
                                               _codes(weekday, tuple(range(7)), "weekday", m))
        logits = _intent_logits(p.category_weight, users, slot, dev)
        p_k = np.exp(logits - logits.max(1, keepdims=True))
        p_k /= p_k.sum(1, keepdims=True)                                        # (m, C) intents
        mix = INTENT_SHARE * np.eye(n_cats)                                     # intent -> category
        np.add.at(mix, (np.repeat(np.arange(n_cats), 2), COMP_OF.ravel()), COMPLEMENT_SHARE / 2)
        p_cat = p_k @ mix + (1 - INTENT_SHARE - COMPLEMENT_SHARE) * w
    cat, brand, tier = p.item_category[1:], p.item_brand[1:], p.item_tier[1:]
    coef = -p.price_sensitivity[users] + (0.0 if dev is None else DEVICE_TIER[dev])
    x = p.brand_affinity[users][:, brand] + coef[:, None] * tier + p.item_appeal[1:]  # (m, n_items)
    if p.visual_taste is not None:  # + gamma for the items whose pattern the user likes
        x += p.visual_strength * (p.item_pattern[1:] == p.visual_taste[users][:, None])
    if last_item is not None:
        prev = _codes(last_item, (), "last_item", m)
        if prev.size and (prev.min() < 0 or prev.max() > n_items):
            raise ValueError(f"last_item must lie in 0..{n_items} (0 = no previous item)")
        same = (prev > 0)[:, None] & (cat == p.item_category[prev][:, None])
        x += same * (SAME_BRAND * (brand == p.item_brand[prev][:, None])
                     + SAME_TIER * (tier == p.item_tier[prev][:, None]))
    with np.errstate(divide="ignore"):
        log_p_cat = np.log(p_cat)
    for c in range(n_cats):  # normalise within each category
        cols = np.flatnonzero(cat == c)
        block = x[:, cols]
        top = block.max(1, keepdims=True)
        log_z = top + np.log(np.exp(block - top).sum(1, keepdims=True))        # (m, 1)
        x[:, cols] = block - log_z + log_p_cat[:, c:c + 1]
    return np.concatenate([np.full((m, 1), -np.inf), x], axis=1)
