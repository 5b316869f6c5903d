"""Tests of llmrec_ref.images: the shop's product images, their cache and their validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from llmrec_ref import images as I
from llmrec_ref.shop import CATEGORIES, COLOURS, PATTERNS, make_synthetic_shop


@pytest.fixture(scope="module")
def shop():
    return make_synthetic_shop(n_users=20, n_items=300, seed=2)


def test_shop_images_shape_blank_row_and_cache(shop, tmp_path):
    first = I.shop_images(shop, cache_dir=tmp_path)
    assert first.shape == (301, I.SIZE, I.SIZE, 3) and first.dtype == torch.uint8
    assert (first[0] == 0).all() and (first[1:].reshape(300, -1).amax(1) > 0).all()
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and files[0].suffix == ".npy" and f"seed{shop.seed}" in files[0].name
    assert torch.equal(I.shop_images(shop, cache_dir=tmp_path), first)            # read back
    assert torch.equal(I.shop_images(shop, cache=False), first)                   # same drawing without disk
    files[0].write_bytes(b"not an array")                                         # damaged: drawn again
    assert torch.equal(I.shop_images(shop, cache_dir=tmp_path), first)
    assert not list(tmp_path.glob("*.part"))


def test_default_catalogue_fits_the_memory_target():
    assert (10000 + 1) * I.SIZE * I.SIZE * 3 < 100 * 2**20  # uint8 bytes of the default shop's images: 30 MB


def test_render_is_deterministic_and_seeded():
    codes = np.arange(len(CATEGORIES)), np.arange(len(CATEGORIES)) % len(COLOURS), np.arange(len(CATEGORIES)) % 4
    a, b, c = I.render(*codes, seed=0), I.render(*codes, seed=0), I.render(*codes, seed=1)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def _foreground(img, background_from=(0, 0)):
    """Pixels far from the image's corner colour (the background)."""
    img = img.astype(float)
    bg = img[:3, :3].reshape(-1, 3).mean(0)
    return img[np.abs(img - bg).sum(-1) > 120]


def test_image_shows_the_colour_and_the_pattern():
    n = 200
    rng = np.random.default_rng(0)
    cat = rng.integers(0, len(CATEGORIES), n)
    plain = I.render(cat, np.full(n, COLOURS.index("red")), np.zeros(n, np.int64), seed=3)
    red = np.array(I.RGB["red"], float)
    means = np.array([np.median(_foreground(im), 0) for im in plain])
    assert np.median(np.abs(means - red).sum(1)) < 60                     # the body is red (up to jitter, noise)
    # a pattern adds a second shade inside the body: the spread of its pixels grows
    spread = {}
    for k, name in enumerate(PATTERNS):
        imgs = I.render(cat, np.full(n, COLOURS.index("blue")), np.full(n, k), seed=3)
        spread[name] = np.median([_foreground(im).std(0).sum() if len(_foreground(im)) else 0 for im in imgs])
    assert spread["plain"] < min(spread["striped"], spread["dotted"], spread["two-tone"])


def test_silhouettes_differ_between_categories():
    grid = (np.arange(I.SIZE) - (I.SIZE - 1) / 2) / ((I.SIZE - 1) / 2)
    x, y = np.meshgrid(grid, grid)
    masks = [shape(x, y) for shape in I.SHAPES.values()]
    assert all(20 < m.sum() < I.SIZE ** 2 - 20 for m in masks)
    for i in range(len(masks)):
        for j in range(i):
            assert (masks[i] != masks[j]).sum() > 20, (CATEGORIES[i], CATEGORIES[j])


def test_bad_images_get_clear_errors():
    good = torch.zeros(5, 8, 8, 3, dtype=torch.uint8)
    assert I.check_images(good, n_items=4) is not None
    with pytest.raises(ValueError, match="uint8"):
        I.check_images(good.float())
    with pytest.raises(ValueError, match=r"\(n_items \+ 1, H, W, 3\)"):
        I.check_images(good.permute(0, 3, 1, 2))
    with pytest.raises(ValueError, match="n_items = 7"):
        I.check_images(good, n_items=7)
    with pytest.raises(ValueError, match="codes must lie"):
        I.render([0], [0], [len(PATTERNS)])
    with pytest.raises(ValueError, match="one code per item"):
        I.render([0, 1], [0], [0])
    with pytest.raises(ValueError, match="Shop"):
        I.shop_images("shop")


def test_missing_images_are_all_zero_rows(shop):
    imgs = I.shop_images(shop, cache=False).clone()
    imgs[[3, 7]] = 0
    missing = I.missing_images(imgs)
    assert missing.tolist()[:9] == [True, False, False, True, False, False, False, True, False]
    assert missing.sum() == 3


def test_a_second_view_is_the_same_item_photographed_again(shop):
    first, second = I.shop_images(shop, cache=False), I.shop_images(shop, cache=False, view=1)
    assert second.shape == first.shape and (second[0] == 0).all() and not torch.equal(first, second)
    assert torch.equal(I.shop_images(shop, cache=False), first)  # view 0 is the catalogue photo
    with pytest.raises(ValueError, match="view"):
        I.shop_images(shop, cache=False, view=-1)
