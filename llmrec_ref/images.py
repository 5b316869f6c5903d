"""Product images for the synthetic shop: drawn from each item's attributes, cached on disk.

Derived in notebooks/09_multimodal. An image (H = W = ``SIZE`` = 32, RGB, uint8) shows three
things about an item and hides the rest:

- its **category**, as a silhouette (a tall slab for a phone, a screen on a base for a laptop, a
  ring and two cups for headphones, ...: ``SHAPES``);
- its **colour** (the one its text names, ``shop.COLOURS``);
- its **pattern** (plain, striped, dotted, two-tone: ``shop.PATTERNS``), which the text never
  mentions and which some users care about (``make_synthetic_shop(visual_taste_share=...)``).

Brand, price tier and appeal are not drawn. Nuisance variation makes an encoder learn rather
than read pixels: position (+-4 px), scale (0.75-1.05), a pale background tint, a brightness
jitter of the colour and Gaussian pixel noise (sd 10 grey levels), drawn from a generator seeded
from (``IMAGE_STREAM``, shop seed) so the shop's own draws are untouched.

``shop_images(shop)`` returns a (n_items + 1, H, W, 3) uint8 tensor, row 0 blank (padding); it
is drawn once (about a second for 10,000 items) and cached as ``.npy`` (30 MB at the default
size) in ``$LLMREC_DATA/images`` (or ``~/.cache/llmrec_ref/images``), written to a temporary
file then renamed. ``check_images`` is the one validation every consumer calls.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from llmrec_ref.shop import CATEGORIES, COLOURS, PATTERNS, Shop

__all__ = ["SIZE", "RGB", "SHAPES", "IMAGE_STREAM", "render", "shop_images", "check_images", "missing_images",
           "image_cache_dir"]

SIZE = 32
IMAGE_STREAM = 4242
VERSION = 1  # bump when the drawing changes: the cache file name carries it
RGB = {"black": (30, 30, 34), "white": (245, 245, 245), "silver": (175, 180, 188), "blue": (40, 80, 200),
       "red": (205, 35, 40), "green": (40, 150, 60), "gold": (212, 170, 40), "grey": (110, 110, 115),
       "pink": (235, 120, 175)}
assert set(RGB) == set(COLOURS)


def _box(x, y, cx, cy, w, h):
    """Inside the axis-aligned box centred at (cx, cy) with half-sizes (w, h)."""
    return (abs(x - cx) <= w) & (abs(y - cy) <= h)


def _disc(x, y, cx, cy, r):
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r


# each silhouette: mask of (x, y) in [-1, 1]^2, y pointing down
SHAPES = {
    "phone": lambda x, y: _box(x, y, 0, 0, 0.38, 0.8),
    "laptop": lambda x, y: _box(x, y, 0, -0.2, 0.7, 0.45) | _box(x, y, 0, 0.4, 0.9 - 0.3 * (y - 0.3), 0.12),
    "tablet": lambda x, y: _box(x, y, 0, 0, 0.6, 0.8),
    "headphones": lambda x, y: ((x ** 2 + (y + 0.05) ** 2 <= 0.75 ** 2) & (x ** 2 + (y + 0.05) ** 2 >= 0.55 ** 2)
                                & (y < 0.1)) | _box(x, y, -0.65, 0.3, 0.2, 0.32) | _box(x, y, 0.65, 0.3, 0.2, 0.32),
    "camera": lambda x, y: (_box(x, y, 0, 0.1, 0.85, 0.5) | _box(x, y, -0.45, -0.5, 0.22, 0.12))
                           & ~_disc(x, y, 0.1, 0.1, 0.22),
    "watch": lambda x, y: _disc(x, y, 0, 0, 0.45) | _box(x, y, 0, 0, 0.22, 0.95),
    "tv": lambda x, y: _box(x, y, 0, -0.15, 0.95, 0.55) | _box(x, y, 0, 0.6, 0.1, 0.2) | _box(x, y, 0, 0.78, 0.4, 0.06),
    "shoes": lambda x, y: _box(x, y, 0, 0.45, 0.9, 0.2) | _box(x, y, -0.5, 0.05, 0.4, 0.3),
    "jacket": lambda x, y: _box(x, y, 0, 0.1, 0.5, 0.75) | (_box(x, y, 0, -0.35, 0.95, 0.25)
                                                            | _box(x, y, -0.8, 0.1, 0.15, 0.4) | _box(x, y, 0.8, 0.1, 0.15, 0.4)),
    "jeans": lambda x, y: _box(x, y, 0, -0.65, 0.55, 0.2) | _box(x, y, -0.32, 0.15, 0.23, 0.75)
                          | _box(x, y, 0.32, 0.15, 0.23, 0.75),
    "backpack": lambda x, y: (_box(x, y, 0, 0.15, 0.6, 0.7) | (_disc(x, y, 0, -0.55, 0.3) & ~_disc(x, y, 0, -0.55, 0.15))),
    "book": lambda x, y: _box(x, y, 0.08, 0, 0.55, 0.8) | _box(x, y, -0.55, 0, 0.08, 0.85),
    "coffee": lambda x, y: _box(x, y, -0.15, 0.1, 0.5 - 0.15 * y, 0.6)
                           | ((_disc(x, y, 0.45, 0.05, 0.3)) & ~_disc(x, y, 0.45, 0.05, 0.15)),
    "toy": lambda x, y: _box(x, y, 0, 0.2, 0.8, 0.45) | _disc(x, y, -0.45, -0.35, 0.17) | _disc(x, y, 0, -0.35, 0.17)
                        | _disc(x, y, 0.45, -0.35, 0.17),
}
assert tuple(SHAPES) == CATEGORIES


def render(category: np.ndarray, colour: np.ndarray, pattern: np.ndarray, seed: int = 0, view: int = 0) -> np.ndarray:
    """Images of items given their codes: (n,) category, colour, pattern -> (n, SIZE, SIZE, 3) uint8.

    Pixel (r, c) maps to x = (c - 15.5) / 15.5, y likewise, then to the item's frame
    x' = (x - dx) / scale; the silhouette ``SHAPES[category](x', y')`` is filled with the colour
    and its pattern (stripes: bands of 4 px along x' + y'; dots: a 6 px grid; two-tone: the lower
    half in a second shade), over a pale tinted background, plus noise. Deterministic in ``seed``;
    ``view`` k > 0 draws another photo of the same items (new position, scale, background, noise).
    """
    category, colour, pattern = (np.asarray(a, dtype=np.int64).reshape(-1) for a in (category, colour, pattern))
    n = len(category)
    if not (len(colour) == len(pattern) == n):
        raise ValueError(f"category, colour and pattern must have one code per item, got {n}, {len(colour)}, "
                         f"{len(pattern)}")
    for name, codes, names in (("category", category, CATEGORIES), ("colour", colour, COLOURS),
                               ("pattern", pattern, PATTERNS)):
        if n and (codes.min() < 0 or codes.max() >= len(names)):
            raise ValueError(f"{name} codes must lie in 0..{len(names) - 1} ({names}), got {codes.min()}..{codes.max()}")
    if isinstance(view, bool) or not isinstance(view, (int, np.integer)) or view < 0:
        raise ValueError(f"view must be an int >= 0 (0 = the catalogue photo), got {view!r}")
    rng = np.random.default_rng([IMAGE_STREAM, seed] + ([int(view)] if view else []))
    shift = rng.uniform(-0.25, 0.25, (n, 2))                        # +-4 px
    scale = rng.uniform(0.75, 1.05, n)
    background = 200 + rng.uniform(0, 55, (n, 3))                   # pale, tinted
    bright = rng.uniform(0.85, 1.15, n)
    noise_seed = rng.integers(0, 2**63)
    grid = (np.arange(SIZE) - (SIZE - 1) / 2) / ((SIZE - 1) / 2)    # (W,) in [-1, 1]
    px, py = np.arange(SIZE)[None, :], np.arange(SIZE)[:, None]     # pixel coordinates for the patterns
    out = np.empty((n, SIZE, SIZE, 3), dtype=np.uint8)
    base_rgb = np.array([RGB[c] for c in COLOURS], dtype=np.float64)  # (K, 3)
    noise_rng = np.random.default_rng(noise_seed)
    for start in range(0, n, 2048):                                 # bounded temporary memory
        s = slice(start, min(start + 2048, n))
        m = s.stop - s.start
        x = (grid[None, None, :] - shift[s, 0, None, None]) / scale[s, None, None]   # (m, 1, W)
        y = (grid[None, :, None] - shift[s, 1, None, None]) / scale[s, None, None]   # (m, H, 1)
        x, y = np.broadcast_to(x, (m, SIZE, SIZE)), np.broadcast_to(y, (m, SIZE, SIZE))
        mask = np.zeros((m, SIZE, SIZE), dtype=bool)
        for k, shape in enumerate(SHAPES.values()):
            rows = np.flatnonzero(category[s] == k)
            if len(rows):
                mask[rows] = shape(x[rows], y[rows])
        fg = base_rgb[colour[s]] * bright[s, None]                  # (m, 3)
        other = np.where(fg.mean(1, keepdims=True) > 128, fg * 0.35, fg * 0.4 + 150)  # a contrasting shade
        pat = pattern[s, None, None]
        alt = (((px + py + (shift[s, 0, None, None] * 16).astype(int)) // 4) % 2 == 1) & (pat == 1)   # stripes
        alt |= (((px % 6) - 2.5) ** 2 + ((py % 6) - 2.5) ** 2 <= 3.0) & (pat == 2)                     # dots
        alt |= (y > 0.1) & (pat == 3)                                                                  # two-tone
        colour_px = np.where(alt[..., None], other[:, None, None], fg[:, None, None])  # (m, H, W, 3)
        img = np.where(mask[..., None], colour_px, background[s, None, None])
        img = img + noise_rng.normal(0.0, 10.0, img.shape)
        out[s] = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    return out


def image_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """``cache_dir``, else ``$LLMREC_DATA/images``, else ``~/.cache/llmrec_ref/images``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    return Path(os.environ.get("LLMREC_DATA") or Path.home() / ".cache" / "llmrec_ref").expanduser() / "images"


def shop_images(shop: Shop, cache_dir: str | os.PathLike | None = None, cache: bool = True,
                view: int = 0) -> torch.Tensor:
    """(n_items + 1, SIZE, SIZE, 3) uint8 images of the shop's items, row 0 blank (all zeros).

    Drawn by ``render`` from the item's category, colour and pattern (the shop's ground truth),
    seeded by the shop's seed, and cached in ``image_cache_dir(cache_dir)`` under a name that
    carries the seed, the catalogue size, a fingerprint of the codes and ``VERSION``; a cache file
    that does not load or has the wrong shape is redrawn. ``cache=False`` never touches the disk.
    ``view`` k > 0: another photo of every item (``render``'s view), e.g. the second view that
    a contrastive image encoder learns to match with the first.
    """
    if not isinstance(shop, Shop):
        raise ValueError(f"shop must be a Shop from make_synthetic_shop, got {type(shop).__name__}")
    p = shop.preferences
    if p.item_pattern is None:
        raise ValueError("this Shop has no item patterns (made before images existed): rebuild it with "
                         "make_synthetic_shop(...)")
    cat = p.item_category[1:]
    colour = shop.items["colour"].map({c: k for k, c in enumerate(COLOURS)}).to_numpy(dtype=np.int64)
    pattern = p.item_pattern[1:]
    codes = np.stack([cat, colour, pattern]).astype(np.int64)
    finger = hashlib.sha256(codes.tobytes()).hexdigest()[:12]
    name = f"shop-seed{shop.seed}-n{len(cat)}-{finger}" + (f"-view{view}" if view else "") + f"-v{VERSION}.npy"
    path = image_cache_dir(cache_dir) / name
    shape = (len(cat) + 1, SIZE, SIZE, 3)
    if cache and path.exists():
        try:
            arr = np.load(path, allow_pickle=False)
            if arr.shape == shape and arr.dtype == np.uint8:
                return torch.from_numpy(arr)
        except (OSError, ValueError):
            pass  # a damaged file: draw again and overwrite it
    arr = np.zeros(shape, dtype=np.uint8)
    arr[1:] = render(cat, colour, pattern, seed=shop.seed, view=view)
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npy.part")
        try:
            with os.fdopen(fd, "wb") as f:
                np.save(f, arr, allow_pickle=False)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return torch.from_numpy(arr)


def check_images(images: torch.Tensor | np.ndarray, n_items: int | None = None, name: str = "images") -> torch.Tensor:
    """``images`` as a (n_items + 1, H, W, 3) uint8 tensor, or a ``ValueError`` that says what is wrong.

    Row 0 is padding. ``n_items`` (when given) must match the number of rows - 1. An item
    without an image is an all-zero row (exactly 0 in every pixel: a drawn image never is, its
    background is pale); ``missing_images`` finds them.
    """
    t = torch.as_tensor(images)
    if t.dtype != torch.uint8:
        raise ValueError(f"{name} must be uint8 pixels 0..255, got dtype {t.dtype}; convert with "
                         f"(x * 255).round().clamp(0, 255).to(torch.uint8) if they are floats in [0, 1]")
    if t.dim() != 4 or t.shape[-1] != 3 or t.shape[0] < 2:
        raise ValueError(f"{name} must have shape (n_items + 1, H, W, 3) (RGB, channels last, row 0 = padding), "
                         f"got {tuple(t.shape)}")
    if n_items is not None and t.shape[0] != n_items + 1:
        raise ValueError(f"{name} has {t.shape[0] - 1} item rows but the catalogue has n_items = {n_items}: one "
                         "image per item id 1..n_items is needed (an all-zero row marks an item without one)")
    return t


def missing_images(images: torch.Tensor) -> torch.Tensor:
    """(n_items + 1,) bool: True where an item has no image (an all-zero row; row 0 counts as missing)."""
    t = check_images(images)
    return t.reshape(len(t), -1).amax(1) == 0
