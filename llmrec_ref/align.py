"""Aligning two views of the same items, CLIP-style: a small CNN, two towers and the InfoNCE loss.

Derived in notebooks/09_multimodal. This file imports only torch (copy it alone).
Parts before the whole:

1. ``ImageEncoder``: uint8 RGB images (B, H, W, 3) -> (B, d): three blocks of 3x3 convolution,
   ReLU and 2x2 max-pooling (the k-th convolution sees a patch 3, 8, then 18 px wide), a
   global average over positions (the same object anywhere in the frame gives the same vector),
   and a linear map to d.
2. ``info_nce`` / ``info_nce_grad``: the symmetric contrastive loss of a batch of B matched pairs
   (a_i, b_i), unit vectors, temperature tau:

       S = A B^T / tau                          (B, B), S_ij = cos(a_i, b_j) / tau
       L = 1/2 [ -1/B sum_i log softmax_j(S_i.)_i  -  1/B sum_j log softmax_i(S_.j)_j ]

   Row i is chapter 05's sampled softmax with the positive b_i and the other B - 1 items of the
   batch as its negatives (no log Q correction); the column term does the same from b's side.
   Its gradient: dL/dS = [(softmax_rows(S) - I) + (softmax_cols(S) - I)] / (2B),
   dL/dA = dL/dS B / tau, dL/dB = dL/dS^T A / tau.
3. ``TwoTower``: a left and a right encoder (or one shared), unit outputs, a learned temperature;
   ``fit_two_tower`` trains it on matched rows with ``info_nce``.
4. ``recall_at_k``: cross-modal retrieval, each query's own match among all candidates.

Shapes: B batch, d embedding width, N items.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["ImageEncoder", "info_nce", "info_nce_grad", "TwoTower", "fit_two_tower", "embed", "recall_at_k"]


class ImageEncoder(nn.Module):
    """A small CNN: (B, H, W, 3) uint8 -> (B, d_out) float (not normalised).

    Pixels are scaled to (x / 255 - 0.5) / 0.25; three conv(3x3, padding 1) -> ReLU -> maxpool(2)
    blocks with ``width``, 2 ``width``, 4 ``width`` channels; the mean over the remaining
    positions; a linear layer to ``d_out``.

    Shape:
        - images: (B, H, W, 3) uint8, H and W multiples of 8
        - output: (B, d_out)
    """

    def __init__(self, d_out: int = 64, width: int = 16) -> None:
        super().__init__()
        if min(d_out, width) < 1:
            raise ValueError(f"d_out and width must be >= 1, got {d_out}, {width}")
        chans = [3, width, 2 * width, 4 * width]
        self.blocks = nn.Sequential(*[nn.Sequential(nn.Conv2d(a, b, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
                                      for a, b in zip(chans[:-1], chans[1:], strict=True)])
        self.head = nn.Linear(chans[-1], d_out)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """(B, H, W, 3) uint8 -> (B, 4 width, H / 8, W / 8) feature maps of the last block."""
        if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[-1] != 3:
            raise ValueError(f"images must be a (B, H, W, 3) uint8 tensor (RGB, channels last), got "
                             f"{images.dtype} {tuple(images.shape)}")
        x = images.permute(0, 3, 1, 2).float() / 255.0  # (B, 3, H, W) in [0, 1]
        return self.blocks((x - 0.5) / 0.25)            # (B, C, H/8, W/8)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images).mean((2, 3)))  # (B, C) -> (B, d_out)


def _check_pair(a: torch.Tensor, b: torch.Tensor, tau: float) -> None:
    if a.dim() != 2 or a.shape != b.shape or len(a) < 1:
        raise ValueError(f"a and b must be matched (B, d) batches of the same shape, got {tuple(a.shape)} and "
                         f"{tuple(b.shape)}")
    if not float(tau) > 0:
        raise ValueError(f"tau must be > 0, got {tau!r}")


def info_nce(a: torch.Tensor, b: torch.Tensor, tau: float | torch.Tensor = 0.1) -> torch.Tensor:
    """Symmetric InfoNCE of matched unit vectors a_i <-> b_i (see the module docstring): a scalar.

    ``a``, ``b`` (B, d), normalised by the caller (rows of unit length); pair i is the positive of
    row i and column i, every other row of the batch a negative. log(B) at chance.
    """
    _check_pair(a, b, float(tau.detach()) if isinstance(tau, torch.Tensor) else tau)
    s = a @ b.T / tau                                                  # (B, B)
    target = torch.arange(len(a), device=a.device)
    return 0.5 * (F.cross_entropy(s, target) + F.cross_entropy(s.T, target))


def info_nce_grad(a: torch.Tensor, b: torch.Tensor, tau: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    """(dL/da, dL/db), each (B, d), of ``info_nce`` derived by hand (a and b treated as free vectors)."""
    _check_pair(a, b, tau)
    s = a @ b.T / tau                                                  # (B, B)
    eye = torch.eye(len(a), dtype=s.dtype, device=s.device)
    g = (s.softmax(1) - eye + s.softmax(0) - eye) / (2 * len(a))       # dL/dS (B, B)
    return g @ b / tau, g.T @ a / tau


class TwoTower(nn.Module):
    """Two encoders into one space: z_a = normalise(left(x_a)), z_b = normalise(right(x_b)).

    ``right=None`` shares the left encoder (two views of the same kind of input). The temperature
    tau = exp(log_tau) is learned (clamped to >= 0.01) when ``learn_tau``.

    Shape:
        - x_a, x_b: whatever the encoders take, B rows each
        - output: (z_a (B, d), z_b (B, d)) unit rows
    """

    def __init__(self, left: nn.Module, right: nn.Module | None = None, tau: float = 0.1,
                 learn_tau: bool = True) -> None:
        super().__init__()
        if not tau > 0:
            raise ValueError(f"tau must be > 0, got {tau!r}")
        self.left, self.right = left, right
        self.log_tau = nn.Parameter(torch.tensor(math.log(tau)), requires_grad=learn_tau)

    @property
    def tau(self) -> torch.Tensor:
        return self.log_tau.exp().clamp(min=0.01)

    def encode_left(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.left(x), dim=-1)

    def encode_right(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize((self.right or self.left)(x), dim=-1)

    def forward(self, x_a: torch.Tensor, x_b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encode_left(x_a), self.encode_right(x_b)

    def loss(self, x_a: torch.Tensor, x_b: torch.Tensor) -> torch.Tensor:
        return info_nce(*self(x_a, x_b), self.tau)


def fit_two_tower(model: TwoTower, left: torch.Tensor, right: torch.Tensor, epochs: int = 5, batch_size: int = 256,
                  lr: float = 3e-3, seed: int = 0, verbose: bool = False) -> list[dict]:
    """Train ``model`` with ``info_nce`` on matched rows left[n] <-> right[n] (N rows each), Adam,
    shuffled batches from a ``torch.Generator`` seeded by ``seed``; returns one {epoch, loss} per
    epoch (the mean batch loss). A batch of one row is dropped (it has no negative)."""
    if len(left) != len(right) or len(left) < 2:
        raise ValueError(f"left and right must hold the same number (>= 2) of matched rows, got {len(left)} and "
                         f"{len(right)}")
    if min(epochs, batch_size) < 1 or batch_size < 2:
        raise ValueError(f"epochs must be >= 1 and batch_size >= 2, got {epochs}, {batch_size}")
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    log, model = [], model.train()
    for epoch in range(1, epochs + 1):
        order, total, n = torch.randperm(len(left), generator=gen), 0.0, 0
        for start in range(0, len(left), batch_size):
            idx = order[start:start + batch_size]
            if len(idx) < 2:
                continue
            loss = model.loss(left[idx], right[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total, n = total + loss.item() * len(idx), n + len(idx)
        log.append({"epoch": epoch, "loss": total / n})
        if verbose:
            print(f"epoch {epoch}: InfoNCE {total / n:.3f}")
    return log


@torch.no_grad()
def embed(encode, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """``encode`` (e.g. ``model.encode_left``) over ``x`` in batches, in eval mode: (N, d)."""
    module = getattr(encode, "__self__", None)
    was = module.training if isinstance(module, nn.Module) else None
    if was is not None:
        module.eval()
    out = torch.cat([encode(x[s:s + batch_size]) for s in range(0, len(x), batch_size)])
    if was:
        module.train()
    return out


def recall_at_k(queries: torch.Tensor, candidates: torch.Tensor, ks=(1, 10), match=None) -> dict[str, float]:
    """Cross-modal retrieval: query n ranks all N candidates by cosine; its own candidate n (or any
    candidate m with ``match[n, m]``, an (N, N) bool) counts as found at K if it is in the top K.

    Returns {"recall@K": share of queries found at K, "chance@K": the same for a random ranking,
    K / N (or the expected share with ``match``)}.
    """
    q, c = F.normalize(queries.float(), dim=1), F.normalize(candidates.float(), dim=1)
    if q.dim() != 2 or q.shape != c.shape:
        raise ValueError(f"queries and candidates must be matched (N, d) tensors, got {tuple(q.shape)}, {tuple(c.shape)}")
    n, out = len(q), {}
    kmax = max(ks)
    if not 1 <= kmax <= n:
        raise ValueError(f"every K must lie in 1..N = {n}, got {ks}")
    top = torch.cat([(q[s:s + 1024] @ c.T).topk(kmax, dim=1).indices for s in range(0, n, 1024)])  # (N, K)
    if match is None:
        match_top = top == torch.arange(n)[:, None]
        n_match = torch.ones(n, dtype=torch.float64)
    else:
        match = torch.as_tensor(match, dtype=torch.bool)
        match_top = match.gather(1, top)
        n_match = match.sum(1).double()
    for k in ks:
        out[f"recall@{k}"] = match_top[:, :k].any(1).float().mean().item()
        # chance that a random top-K holds at least one of the m matches: 1 - C(N - m, K) / C(N, K)
        miss = torch.exp(torch.lgamma(n - n_match + 1) - torch.lgamma(n - n_match - k + 1)
                         - math.lgamma(n + 1.0) + math.lgamma(n - k + 1.0))
        out[f"chance@{k}"] = (1 - torch.where(n - n_match >= k, miss, torch.zeros(()))).mean().item()
    return out
