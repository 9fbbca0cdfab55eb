"""'Is Difficulty-Net learning?' — per-epoch diagnostics of the learned weights. Torch-free.

Spearman's ρ is computed on average ranks (ties share their mean rank), so a class-count column with ties
gives the textbook value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from difficultynet.contracts.records import DNetDiagnostics, clean_float


def average_ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, ties replaced by their mean rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        mean_rank = (start + end) / 2 + 1
        for k in range(start, end + 1):
            ranks[order[k]] = mean_rank
        start = end + 1
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rank correlation; None when either side is constant or has fewer than 2 values."""
    if len(x) != len(y):
        raise ValueError(f"need two sequences of the same length, got {len(x)} and {len(y)}")
    if len(x) < 2:
        return None
    rx, ry = average_ranks(x), average_ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    vx = sum((a - mx) ** 2 for a in rx)
    vy = sum((b - my) ** 2 for b in ry)
    if vx == 0 or vy == 0:
        return None
    return cov / math.sqrt(vx * vy)


def dnet_diagnostics(
    weights: Sequence[float],
    train_counts: Sequence[int],
    val_acc: Sequence[float],
    *,
    meta_grad_norm: float | None,
    driver_grad_norm: float | None,
    weights_applied: bool = True,
) -> DNetDiagnostics:
    """Spread and orientation of the learned weights ``w`` at an epoch end, with the φ-gradient norms."""
    low, high = min(weights), max(weights)
    rho_count = spearman(weights, [float(n) for n in train_counts])
    rho_error = spearman(weights, [1.0 - a for a in val_acc])
    return DNetDiagnostics(
        meta_grad_norm=meta_grad_norm,
        driver_grad_norm=driver_grad_norm,
        weight_spread=clean_float(high / low) if low > 0 else None,
        spearman_weight_count=None if rho_count is None else clean_float(rho_count, 4),
        spearman_weight_error=None if rho_error is None else clean_float(rho_error, 4),
        weights_applied=weights_applied,
    )


def reading(diagnostics: DNetDiagnostics) -> str:
    """One line for a person: is Difficulty-Net learning anything useful?"""
    spread = diagnostics.weight_spread
    rho = diagnostics.spearman_weight_count
    if spread is None:
        return "No weight spread yet."
    if spread < 1.1:
        return f"Weights are nearly uniform (max/min {spread:.2f}): DNet is close to the plain base loss."
    parts = [f"Weights span {spread:.1f}× (max/min)"]
    if rho is not None:
        if rho <= -0.6:
            parts.append(f"and favour rare classes (ρ with train count {rho:+.2f})")
        elif rho >= 0.6:
            parts.append(f"and favour frequent classes (ρ with train count {rho:+.2f})")
        else:
            parts.append(f"with no clear link to class frequency (ρ with train count {rho:+.2f})")
    error = diagnostics.spearman_weight_error
    if error is not None:
        parts.append(f"; ρ with val error {error:+.2f}")
    if not diagnostics.weights_applied:
        parts.append(" (learned, not yet applied: deferred start)")
    return " ".join(parts).replace(" ;", ";") + "."
