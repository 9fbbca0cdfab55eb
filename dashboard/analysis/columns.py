"""Per-class columns of an epoch record: what can be plotted, in which order, and group summaries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from difficultynet.contracts.records import GROUPS, ClassColumns, EpochRecord, Group

Metric = Literal["difficulty", "weight", "val_acc", "test_acc"]
METRICS: dict[Metric, str] = {
    "difficulty": "difficulty d_c",
    "weight": "loss weight w_c",
    "val_acc": "val accuracy",
    "test_acc": "test accuracy",
}
ACCURACY_METRICS: frozenset[str] = frozenset({"val_acc", "test_acc"})
GROUP_LABELS: dict[Group, str] = {"many": "many-shot", "medium": "medium-shot", "few": "few-shot"}

LINE_CLASS_LIMIT = 50  # above this, curves show group means + picked classes; the heatmap shows all
DEFAULT_PICKS = 3


def frequency_order(classes: ClassColumns) -> list[int]:
    """Column positions sorted head → tail (train count descending, then class index)."""
    return sorted(range(len(classes.index)), key=lambda pos: (-classes.train_count[pos], classes.index[pos]))


def uses_class_lines(num_classes: int) -> bool:
    return num_classes <= LINE_CLASS_LIMIT


def default_picks(classes: ClassColumns, count: int = DEFAULT_PICKS) -> list[int]:
    """Class indices to show in summary mode: head, median and tail by default."""
    order = frequency_order(classes)
    if len(order) <= count:
        return [classes.index[pos] for pos in order]
    spots = np.linspace(0, len(order) - 1, count).round().astype(int)
    return [classes.index[order[s]] for s in dict.fromkeys(spots.tolist())]


def column(record: EpochRecord, metric: Metric) -> np.ndarray:
    return np.asarray(getattr(record.classes, metric), dtype=float)


def group_means(record: EpochRecord, metric: Metric) -> dict[Group, float]:
    """Mean of ``metric`` over the classes of each group present in the record."""
    values = column(record, metric)
    groups = np.asarray(record.classes.group)
    return {g: float(values[groups == g].mean()) for g in GROUPS if (groups == g).any()}


def group_mean_series(records: Sequence[EpochRecord], metric: Metric) -> dict[Group, list[float]]:
    """Per-epoch mean of ``metric`` in each group, from one (epochs × classes) matrix."""
    matrix = np.asarray([getattr(r.classes, metric) for r in records], dtype=float)
    groups = np.asarray(records[0].classes.group)
    return {g: matrix[:, groups == g].mean(axis=1).tolist() for g in GROUPS if (groups == g).any()}
