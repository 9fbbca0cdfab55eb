"""On-device CIFAR-LT augmentation (zero-pad 4 + random 32×32 crop + horizontal flip) and normalisation.

Everything is batched tensor indexing on the batch's device: no per-image Python loop and no host sync.
Per-sample parameters come from a ``torch.Generator`` on the same device, so a seed fixes the batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

CIFAR_PADDING = 4


def crop_flip(x: Tensor, offsets: Tensor, flips: Tensor, padding: int) -> Tensor:
    """Zero-pad ``x`` (B, C, H, W) by ``padding`` and take for sample b the H×W window whose top-left corner
    is ``offsets[b] = (row, col)`` in the padded image, mirrored left-right where ``flips[b]``."""
    batch, channels, height, width = x.shape
    padded = F.pad(x, (padding, padding, padding, padding))
    rows = offsets[:, 0, None] + torch.arange(height, device=x.device)  # (B, H)
    cols_forward = torch.arange(width, device=x.device)
    cols = offsets[:, 1, None] + torch.where(flips[:, None], cols_forward.flip(0), cols_forward)  # (B, W)
    b = torch.arange(batch, device=x.device)[:, None, None, None]
    c = torch.arange(channels, device=x.device)[None, :, None, None]
    return padded[b, c, rows[:, None, :, None], cols[:, None, None, :]]


def augment(x: Tensor, generator: torch.Generator, *, padding: int = CIFAR_PADDING) -> Tensor:
    """Random crop (zero padding ``padding``) + horizontal flip with p=0.5, independently per sample.

    ``x`` is a uint8 (or float) batch (B, C, H, W); ``generator`` must live on ``x.device``. Deterministic:
    the same generator state gives the same batch.
    """
    batch = x.shape[0]
    offsets = torch.randint(0, 2 * padding + 1, (batch, 2), generator=generator, device=x.device)
    flips = torch.rand(batch, generator=generator, device=x.device) < 0.5
    return crop_flip(x, offsets, flips, padding)


def channel_stats(x: Tensor) -> tuple[Tensor, Tensor]:
    """Exact per-channel mean and std (in [0, 1] units) of a uint8 batch, from 256-bin histograms.

    Histograms keep memory at O(C·256) however many images there are; a constant channel gets std 1.
    """
    channels = x.shape[1]
    levels = torch.arange(256, dtype=torch.float64, device=x.device) / 255.0
    means, stds = [], []
    for c in range(channels):
        hist = torch.bincount(x[:, c].reshape(-1), minlength=256).to(torch.float64)
        total = hist.sum().clamp_min(1.0)
        mean = (hist * levels).sum() / total
        var = (hist * (levels - mean) ** 2).sum() / total
        means.append(mean)
        stds.append(torch.where(var > 0, var.sqrt(), torch.ones_like(var)))
    return torch.stack(means).float(), torch.stack(stds).float()


def normalize(x: Tensor, mean: Tensor, std: Tensor) -> Tensor:
    """uint8 (B, C, H, W) → float32 ``(x / 255 - mean) / std``; ``mean`` and ``std`` have shape (C,)."""
    return (x.float() / 255.0 - mean[:, None, None]) / std[:, None, None]
