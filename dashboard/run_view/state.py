"""The run page's view state (what its live figures show now) and the epoch slider's arithmetic."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ValidationError

from dashboard.analysis.columns import Metric

RUN_ID = re.compile(r"[0-9a-f]{32}")
MAX_PICKS = 12
SLIDER_MARKS = 10


class RunViewState(BaseModel):
    """What the live figures of one page currently show (kept in a browser store, never trusted blindly)."""

    run_id: str = ""
    drawn: int = 0
    metric: Metric = "difficulty"
    picks: list[int] = []
    latest: int = 0
    num_classes: int = 0

    @classmethod
    def load(cls, data: Any) -> RunViewState:
        try:
            return cls.model_validate(data or {})
        except ValidationError:
            return cls()


def is_run_id(value: str) -> bool:
    return RUN_ID.fullmatch(value) is not None


def slider_marks(latest: int) -> dict[int, str]:
    """About ``SLIDER_MARKS`` evenly spaced epoch labels, always including the latest epoch."""
    if latest <= 0:
        return {}
    step = max(1, round(latest / SLIDER_MARKS))
    marks = {e: str(e) for e in range(1, latest + 1, step)}
    marks[latest] = str(latest)
    return marks


def clamp_epoch(typed: float | str | None, latest: int) -> int | None:
    """The epoch a typed value asks for, rounded and clamped to 1…latest; None when it is not a number."""
    if latest < 1 or typed is None or isinstance(typed, bool):
        return None
    try:
        value = float(typed)
    except ValueError:
        return None
    if value != value or value in (float("inf"), float("-inf")):  # NaN and ±inf clamp to nothing sensible
        return None
    return min(max(round(value), 1), latest)
