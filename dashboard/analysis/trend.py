"""Least-squares trend of a per-class value against class frequency, and axis ranges that fit the data."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def trend_line(train_counts: Sequence[int], values: Sequence[float]) -> tuple[list[float], list[float]]:
    """Least-squares fit of value on log10(train count), as a two-point line; empty if undefined."""
    counts = np.maximum(np.asarray(train_counts, dtype=float), 1.0)
    x = np.log10(counts)
    y = np.asarray(values, dtype=float)
    if len(x) < 2 or np.ptp(x) == 0:
        return [], []
    slope, intercept = np.polyfit(x, y, 1)
    ends = np.array([x.min(), x.max()])
    return [float(counts.min()), float(counts.max())], (intercept + slope * ends).tolist()


def value_range(values: Sequence[float]) -> list[float]:
    """A y range from 0 to just above the data, so a trend line never stretches the axis."""
    top = max([v for v in values if math.isfinite(v)], default=1.0)
    return [0.0, top * 1.08 if top > 0 else 1.0]


def log_ticks(values: Sequence[float]) -> list[int | float]:
    """Tick values 1, 2, 5 × 10^k over the data's range (powers of ten only when that is too many)."""
    positive = [v for v in values if v > 0]
    if not positive:
        return []
    low, high = min(positive), max(positive)
    ticks = [
        mantissa * 10**exponent
        for exponent in range(math.floor(math.log10(low)), math.floor(math.log10(high)) + 1)
        for mantissa in (1, 2, 5)
        if low / 1.5 <= mantissa * 10**exponent <= high * 1.5
    ]
    if len(ticks) > 12:  # wide ranges: powers of ten only
        ticks = [t for t in ticks if str(t).startswith("1")]
    return ticks
