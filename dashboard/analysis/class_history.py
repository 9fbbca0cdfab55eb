"""One class over the epochs of a run: its d, w, val acc and test acc next to the run's median class."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dashboard.analysis.columns import Metric
from difficultynet.contracts.api import ClassEpochExploration
from difficultynet.contracts.records import EpochRecord

PANEL_METRICS: tuple[Metric, ...] = ("difficulty", "weight", "val_acc", "test_acc")


@dataclass(frozen=True)
class ClassHistory:
    """Per-epoch values of one class (``values``) and the median over all classes (``median``)."""

    name: str
    epochs: list[int]
    values: dict[Metric, list[float]]
    median: dict[Metric, list[float]]


def position_of(records: Sequence[EpochRecord], class_index: int) -> int | None:
    """Column position of a class index in these records (None when the class is not there)."""
    if not records:
        return None
    try:
        return records[0].classes.index.index(class_index)
    except ValueError:
        return None


def class_history(records: Sequence[EpochRecord], class_index: int) -> ClassHistory | None:
    """The class's series over ``records``; None when there is no record or no such class."""
    pos = position_of(records, class_index)
    if pos is None:
        return None
    values: dict[Metric, list[float]] = {}
    median: dict[Metric, list[float]] = {}
    for metric in PANEL_METRICS:
        matrix = np.asarray([getattr(r.classes, metric) for r in records], dtype=float)
        values[metric] = matrix[:, pos].tolist()
        median[metric] = np.median(matrix, axis=1).tolist()
    return ClassHistory(
        name=records[0].classes.name[pos], epochs=[r.epoch for r in records], values=values, median=median
    )


def class_history_of(name: str, entries: Sequence[ClassEpochExploration]) -> ClassHistory | None:
    """The class's series from its exploration entries (they carry its values and the median class's);
    None when there are none (a run recorded before they were kept: read its records instead)."""
    if not entries:
        return None
    return ClassHistory(
        name=name,
        epochs=[entry.epoch for entry in entries],
        values={metric: [getattr(entry.values, metric) for entry in entries] for metric in PANEL_METRICS},
        median={metric: [getattr(entry.median, metric) for entry in entries] for metric in PANEL_METRICS},
    )


def class_history_by_name(records: Sequence[EpochRecord], name: str) -> ClassHistory | None:
    """The same class in another run (a baseline), matched by name as the gains are."""
    if not records:
        return None
    classes = records[0].classes
    if name not in classes.name:
        return None
    return class_history(records, classes.index[classes.name.index(name)])
