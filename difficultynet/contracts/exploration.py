"""An epoch record split in two: its core (curves, per-class values) and its exploration columns.

Every reader of the epochs needs the core; the exploration columns (``confusions``, ``hardest``: 5 times
the core at 1000 classes) are read per epoch (all classes' confusions) or per class (over every epoch).
A class's entry also carries its values and the median class's at that epoch, so the class panel reads
one class's whole history without the other classes' records. These helpers turn a record into those
pieces as compact JSON, exactly the shapes of
:class:`~difficultynet.contracts.api.ClassEpochExploration` and of
:attr:`~difficultynet.contracts.api.EpochConfusions.confusions`, so a reader can splice them unparsed.
Torch-free.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from difficultynet.contracts.records import EpochRecord, clean_float

EXPLORATION_COLUMNS = frozenset({"confusions", "hardest"})
CLASS_METRICS = ("difficulty", "weight", "val_acc", "test_acc")  # the fields of ``ClassMetrics``


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)  # named tuples go out as arrays


def core_json(record: EpochRecord) -> str:
    """The record's JSON without its exploration columns (they read as None when parsed back)."""
    return record.model_dump_json(exclude=set(EXPLORATION_COLUMNS))


def has_exploration(record: EpochRecord) -> bool:
    return record.confusions is not None or record.hardest is not None


def epoch_confusions_json(record: EpochRecord) -> str:
    """Every class's confusions, class-index order: ``[[[predicted, rate], …], …]`` (``[]`` per class when
    the record has hardest examples only)."""
    confusions: Any = record.confusions or [[] for _ in range(record.num_classes)]
    return _compact(confusions)


def class_entries(
    epoch: int,
    index: Sequence[int],
    columns: Mapping[str, Sequence[float]],
    confusions: Sequence[Sequence[Any]] | None,
    hardest: Sequence[Sequence[Any]] | None,
    only: int | None = None,
) -> dict[int, dict[str, Any]]:
    """Class index → its ``ClassEpochExploration`` fields at ``epoch``, from a record's columns (``columns``:
    the :data:`CLASS_METRICS` lists); ``only``: that class alone (none when it is not there)."""
    median = {metric: clean_float(statistics.median(columns[metric])) for metric in CLASS_METRICS}
    positions = range(len(index)) if only is None else [index.index(only)] if only in index else []
    return {
        index[pos]: {
            "epoch": epoch,
            "values": {metric: columns[metric][pos] for metric in CLASS_METRICS},
            "median": median,
            "confusions": confusions[pos] if confusions is not None else [],
            "hardest": hardest[pos] if hardest is not None else [],
        }
        for pos in positions
    }


def class_exploration_json(record: EpochRecord) -> dict[int, str]:
    """Class index → its ``ClassEpochExploration`` JSON at the record's epoch."""
    columns = {metric: getattr(record.classes, metric) for metric in CLASS_METRICS}
    entries = class_entries(record.epoch, record.classes.index, columns, record.confusions, record.hardest)
    return {index: _compact(entry) for index, entry in entries.items()}
