"""What each modality adds: the shop with looks, its image encoders, and a table by users' taste.

Derived in notebooks/09_multimodal; ``python -m llmrec_ref bench multimodal`` runs the same
steps at full size. The pieces the chapter and the bench share:

- ``MM_SHOP``: the chapter's shop (half the users with a visual taste);
- ``fit_clip``: image tower (``align.ImageEncoder``) + text tower (a linear map of frozen MiniLM
  vectors), aligned with the symmetric InfoNCE loss on (image, text) of the same item;
- ``fit_views``: one image tower aligned with itself across two photos of the same item (the
  same loss, other positives): it keeps what stays the same when the photo changes, the
  pattern included, which captions never mention;
- ``item_table``: an encoder's unit vectors for every item, row 0 and items without an image
  (all-zero rows) left at 0 -- the "missing" marker ``vbpr.VBPR`` and ``images.missing_images`` read;
- ``by_taste``: per-user NDCG@10 of several models split into users with and without a visual
  taste, each against a baseline with a paired bootstrap interval.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from llmrec_ref.align import ImageEncoder, TwoTower, embed, fit_two_tower
from llmrec_ref.evaluation import paired_bootstrap
from llmrec_ref.images import check_images, missing_images

__all__ = ["MM_SHOP", "TOWER", "fit_clip", "fit_views", "item_table", "by_taste"]

MM_SHOP = dict(n_users=1000, n_items=2000, seed=0, visual_taste_share=0.5)
TOWER = dict(d=32, width=8, epochs=4, batch_size=64, lr=3e-3)  # 2,000 items: 125 steps; batch 256 learned far less


def _rows(images: torch.Tensor) -> torch.Tensor:
    """Item ids with an image (row 0 and all-zero rows left out)."""
    return torch.nonzero(~missing_images(images)).squeeze(1)


def fit_clip(images: torch.Tensor, text: torch.Tensor, d: int = 32, width: int = 8, epochs: int = 4,
             batch_size: int = 64, lr: float = 3e-3, seed: int = 0) -> tuple[TwoTower, list[dict]]:
    """CLIP-style towers: left = CNN on (n_items + 1, H, W, 3) ``images``, right = Linear on the
    (n_items + 1, d_text) frozen ``text`` vectors; trained on every item that has both."""
    images = check_images(images, len(text) - 1)
    rows = _rows(images)
    rows = rows[text[rows].abs().amax(1) > 0]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = TwoTower(ImageEncoder(d, width), nn.Linear(text.shape[1], d), tau=0.1)
    log = fit_two_tower(model, images[rows], text[rows].float(), epochs=epochs, batch_size=batch_size, lr=lr,
                        seed=seed)
    return model, log


def fit_views(images: torch.Tensor, views: torch.Tensor, d: int = 32, width: int = 8, epochs: int = 4,
              batch_size: int = 64, lr: float = 3e-3, seed: int = 0) -> tuple[TwoTower, list[dict]]:
    """One shared CNN aligned across two photos of each item (``images[i]`` <-> ``views[i]``)."""
    images = check_images(images)
    views = check_images(views, len(images) - 1, name="views")
    rows = _rows(images)
    rows = rows[~missing_images(views)[rows]]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = TwoTower(ImageEncoder(d, width), tau=0.1)
    log = fit_two_tower(model, images[rows], views[rows], epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)
    return model, log


def item_table(encode, images: torch.Tensor) -> torch.Tensor:
    """(n_items + 1, d) unit vectors ``encode(images[i])``; 0 for row 0 and items without an image."""
    images = check_images(images)
    rows = _rows(images)
    z = embed(encode, images[rows])                                      # (n_with, d)
    out = torch.zeros(len(images), z.shape[1])
    out[rows] = z
    return out


def by_taste(per_user: dict[str, torch.Tensor], users: torch.Tensor | np.ndarray, visual_taste: np.ndarray,
             baseline: str, n_boot: int = 1000, seed: int = 0) -> list[dict]:
    """Rows {model, users, n, NDCG@10, vs baseline [95 % CI]} for users with a visual taste
    (``visual_taste[user] >= 0``), without, and all; ``per_user[name]`` (U,) aligned with ``users``."""
    if baseline not in per_user:
        raise ValueError(f"baseline {baseline!r} is not one of the models {list(per_user)}")
    users = np.asarray(users, dtype=np.int64)
    taste = np.asarray(visual_taste)[users] >= 0
    rows = []
    for group, mask in (("visual taste", taste), ("no visual taste", ~taste), ("all", np.ones_like(taste))):
        m = torch.as_tensor(mask)
        for name, values in per_user.items():
            if len(values) != len(users):
                raise ValueError(f"per_user[{name!r}] has {len(values)} values for {len(users)} users")
            row = {"users": group, "model": name, "n": int(mask.sum()), "NDCG@10": f"{values[m].mean().item():.4f}"}
            if name != baseline and mask.any():
                d = paired_bootstrap(values[m], per_user[baseline][m], n_boot=n_boot, seed=seed)
                row[f"vs {baseline}"] = f"{d['mean_diff']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}]"
            else:
                row[f"vs {baseline}"] = ""
            rows.append(row)
    return rows
