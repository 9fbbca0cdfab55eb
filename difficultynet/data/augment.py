"""On-device augmentation and normalisation: CIFAR-LT pad-crop (zero-pad 4 + random crop + horizontal flip)
for small images, random-resized-crop + flip for larger ones.

Everything is batched tensor indexing on the batch's device: no per-image Python loop and no host sync.
Per-sample parameters come from a ``torch.Generator`` on the same device, so a seed fixes the batch.
"""

from __future__ import annotations

import math

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


RRC_SCALE = (0.08, 1.0)  # torchvision's RandomResizedCrop defaults: area fraction and aspect ratio
RRC_RATIO = (3 / 4, 4 / 3)


def random_resized_crop(
    x: Tensor,
    generator: torch.Generator,
    *,
    scale: tuple[float, float] = RRC_SCALE,
    ratio: tuple[float, float] = RRC_RATIO,
) -> Tensor:
    """Random-resized-crop back to the input size + horizontal flip (p=0.5), independently per sample.

    One batched ``affine_grid`` + bilinear ``grid_sample`` (no per-image loop): sample b's crop covers an
    area fraction drawn from ``scale`` with an aspect ratio log-uniform in ``ratio``, clamped to the image
    (torchvision instead retries up to 10 times, then falls back to a centre crop). Returns float32 in
    [0, 255], ready for :func:`normalize`.
    """
    batch = x.shape[0]
    device = x.device
    area = torch.empty(batch, device=device).uniform_(*scale, generator=generator)
    log_ratio = torch.empty(batch, device=device).uniform_(
        math.log(ratio[0]), math.log(ratio[1]), generator=generator
    )
    aspect = log_ratio.exp()
    width = (area * aspect).sqrt().clamp(max=1.0)  # fractions of the image side
    height = (area / aspect).sqrt().clamp(max=1.0)
    centre = (torch.rand(batch, 2, generator=generator, device=device) * 2 - 1) * torch.stack(
        (1 - width, 1 - height), dim=1
    )
    flip = torch.where(torch.rand(batch, generator=generator, device=device) < 0.5, -1.0, 1.0)
    theta = torch.zeros(batch, 2, 3, device=device)
    theta[:, 0, 0] = width * flip
    theta[:, 0, 2] = centre[:, 0]
    theta[:, 1, 1] = height
    theta[:, 1, 2] = centre[:, 1]
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x.float(), grid, mode="bilinear", padding_mode="border", align_corners=False)


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
