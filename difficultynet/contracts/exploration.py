"""An epoch record split in two: its core (curves, per-class values) and its exploration columns.

Every reader of the epochs needs the core; the exploration columns (``confusions``, ``hardest``: 5 times
the core at 1000 classes) are read per epoch (all classes' confusions) or per class (over every epoch).
These helpers turn a record into those pieces as compact JSON, exactly the shapes of
:class:`~difficultynet.contracts.api.ClassEpochExploration` and of
:attr:`~difficultynet.contracts.api.EpochConfusions.confusions`, so a reader can splice them unparsed.
Torch-free.
"""

from __future__ import annotations

import json
from typing import Any

from difficultynet.contracts.records import EpochRecord

EXPLORATION_COLUMNS = frozenset({"confusions", "hardest"})


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


def class_exploration_json(record: EpochRecord) -> dict[int, str]:
    """Class index → its ``ClassEpochExploration`` JSON at the record's epoch."""
    none: list[Any] = []
    confusions = record.confusions or [none] * record.num_classes
    hardest = record.hardest or [none] * record.num_classes
    return {
        index: _compact({"epoch": record.epoch, "confusions": confusions[pos], "hardest": hardest[pos]})
        for pos, index in enumerate(record.classes.index)
    }
