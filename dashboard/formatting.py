"""Small text formatters shared by pages and components."""

from __future__ import annotations

import math


def duration(seconds: float | None) -> str:
    """``95`` → ``"1 min 35 s"``; ``None`` → ``"–"``."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "–"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def percent(value: float | None, digits: int = 1) -> str:
    """Accuracy fraction → ``"41.3 %"``."""
    if value is None or not math.isfinite(value):
        return "–"
    return f"{100 * value:.{digits}f} %"


def points(delta: float | None, digits: int = 1) -> str:
    """Accuracy difference (fractions) → signed percentage points, ``"+3.2 pts"``."""
    if delta is None or not math.isfinite(delta):
        return "–"
    return f"{100 * delta:+.{digits}f} pts"


def short_id(identifier: str, length: int = 8) -> str:
    return identifier[:length]
