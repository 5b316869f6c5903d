"""Tests of llmrec_ref.multimodal: image towers on shop images, item tables, the by-taste table."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from llmrec_ref.images import shop_images
from llmrec_ref.multimodal import by_taste, fit_clip, fit_views, item_table
from llmrec_ref.shop import make_synthetic_shop

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def small():
    shop = make_synthetic_shop(n_users=10, n_items=120, seed=4)
    return shop, shop_images(shop, cache=False), shop_images(shop, cache=False, view=1)


def test_views_tower_trains_and_tables_keep_missing_rows_at_zero(small):
    _, images, views = small
    imgs = images.clone()
    imgs[5] = 0                                                        # item 5 has no image
    model, log = fit_views(imgs, views, d=8, width=4, epochs=3, batch_size=32)
    assert len(log) == 3 and log[-1]["loss"] < log[0]["loss"]
    z = item_table(model.encode_left, imgs)
    assert z.shape == (121, 8) and (z[0] == 0).all() and (z[5] == 0).all()
    assert torch.allclose(z[[1, 2, 6]].norm(dim=1), torch.ones(3), atol=1e-5)
    again, _ = fit_views(imgs, views, d=8, width=4, epochs=3, batch_size=32)
    assert torch.equal(item_table(again.encode_left, imgs), z)           # same seed, same vectors


def test_clip_towers_need_matching_rows(small):
    _, images, _ = small
    text = torch.randn(121, 6)
    text[0] = 0
    model, log = fit_clip(images, text, d=4, width=4, epochs=1, batch_size=32)
    assert model.right.in_features == 6 and len(log) == 1
    with pytest.raises(ValueError, match="n_items = 99"):
        fit_clip(images, torch.randn(100, 6), d=4, width=4, epochs=1)
    with pytest.raises(ValueError, match="uint8"):
        fit_views(images.float(), images, d=4, width=4, epochs=1)


def test_by_taste_splits_users_and_pairs_them():
    users = np.array([1, 2, 3, 4])
    taste = np.array([-1, 0, -1, 2, -1])                               # users 1 and 3 have a visual taste
    per_user = {"text": torch.tensor([0.1, 0.2, 0.3, 0.4]), "both": torch.tensor([0.3, 0.2, 0.5, 0.4])}
    rows = by_taste(per_user, users, taste, baseline="text", n_boot=50)
    got = {(r["users"], r["model"]): r for r in rows}
    assert got[("visual taste", "both")]["n"] == 2 and got[("visual taste", "both")]["NDCG@10"] == "0.4000"
    assert got[("visual taste", "both")]["vs text"].startswith("+0.2000 [+0.2000, +0.2000]")
    assert got[("no visual taste", "both")]["vs text"].startswith("+0.0000")
    assert got[("all", "text")]["NDCG@10"] == "0.2500" and got[("all", "text")]["vs text"] == ""
    with pytest.raises(ValueError, match="baseline"):
        by_taste(per_user, users, taste, baseline="image")
    with pytest.raises(ValueError, match="3 values for 4 users"):
        by_taste({"text": torch.zeros(3)}, users, taste, baseline="text")


def test_contextrec_takes_image_vectors_as_an_item_table_of_their_own(small):
    """ContextRec's item table has an "image" source: ``item_repr="image"`` (image vectors alone,
    e_i = P_image v_i) or ``"id+text+image"`` (e_i = E[i] + P_text t_i + P_image v_i), each set of
    vectors given with ``set_item_vectors`` and kept in its own buffer."""
    from llmrec_ref.models import ContextRec
    from llmrec_ref.split import leave_one_out

    shop, images, views = small
    model, _ = fit_views(images, views, d=8, width=4, epochs=1, batch_size=32)
    image = item_table(model.encode_left, images)                         # (121, 8)
    text = torch.randn(121, 6, generator=torch.Generator().manual_seed(0))
    text[0] = 0
    log = shop.interactions[["user_id", "item_id", "timestamp"]]
    split = leave_one_out(log.drop_duplicates(["user_id", "item_id"]))
    for repr_ in ("image", "id+text+image"):
        rec = ContextRec(item_repr=repr_, n_items=120, d_model=8, n_heads=2, max_len=5, epochs=1, features=[],
                         verbose=False).set_item_vectors("image", image)
        if "text" in repr_:
            rec.set_item_text(text)
        s = rec.fit(split.train).score([1, 2], split.train)
        assert s.shape == (2, 121) and torch.isfinite(s[:, 1:]).all()
        assert torch.equal(rec.network_.item_image[1:], image[1:]) and rec.network_.config.image_dim == 8
        assert ("text" in repr_) == (getattr(rec.network_, "item_text", None) is not None)
