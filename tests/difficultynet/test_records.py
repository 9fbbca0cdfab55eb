"""Epoch records: the optional exploration columns (confusions, hardest examples) validate and round-trip."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from difficultynet.contracts.records import (
    CONFUSION_TOP_K,
    HARDEST_K,
    ClassConfusion,
    EpochRecord,
    HardExample,
)
from difficultynet.synthetic import record_from_columns, synthetic_records

COUNTS = [50, 20, 5]


def _record(**fields: Any) -> EpochRecord:
    return record_from_columns(1, counts=COUNTS, val_acc=[0.9, 0.6, 0.2], **fields)


GOOD_CONFUSIONS = [[(1, 0.06), (2, 0.04)], [(0, 0.3), (2, 0.1)], [(0, 0.5), (1, 0.3)]]
GOOD_HARDEST = [[(70, 0.1, 1, 0.8), (71, 0.9, 0, 0.9)], [(80, 0.05, 0, 0.9)], []]


def test_old_records_without_the_exploration_columns_still_load() -> None:
    raw = json.loads(_record().model_dump_json())
    del raw["confusions"], raw["hardest"]
    record = EpochRecord.model_validate(raw)
    assert record.confusions is None and record.hardest is None


def test_exploration_columns_round_trip_as_compact_arrays() -> None:
    record = _record(confusions=GOOD_CONFUSIONS, hardest=GOOD_HARDEST)
    wire = json.loads(record.model_dump_json())
    assert wire["confusions"][1] == [[0, 0.3], [2, 0.1]]
    assert wire["hardest"][0][0] == [70, 0.1, 1, 0.8]
    again = EpochRecord.model_validate_json(record.model_dump_json())
    assert again == record
    assert again.confusions is not None and again.hardest is not None
    assert again.confusions[2][0] == ClassConfusion(predicted=0, rate=0.5)
    assert again.hardest[1][0].row == 80 and again.hardest[1][0].predicted_prob == 0.9


def test_entries_are_also_accepted_as_objects() -> None:
    record = _record(
        confusions=[[{"predicted": 1, "rate": 0.1}], [], []],
        hardest=[[{"row": 3, "true_prob": 0.2, "predicted": 2, "predicted_prob": 0.7}], [], []],
    )
    assert record.confusions == [[ClassConfusion(1, 0.1)], [], []]
    assert record.hardest == [[HardExample(3, 0.2, 2, 0.7)], [], []]


@pytest.mark.parametrize(
    ("confusions", "message"),
    [
        ([[(1, 0.1)]], "confusions has 1 per-class lists, expected 3"),
        ([[(3, 0.1)], [], []], "predicted class 3 does not exist"),
        ([[(0, 0.1)], [], []], "list the class itself"),
        ([[(1, 0.1), (2, 0.2)], [], []], "not sorted by decreasing rate"),
        ([[(1, 0.2), (1, 0.1)], [], []], "predicted class twice"),
        ([[(1, 1.5)], [], []], "less than or equal to 1"),
        ([[(-1, 0.5)], [], []], "greater than or equal to 0"),
    ],
)
def test_invalid_confusions_are_refused_with_the_reason(confusions: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _record(confusions=confusions)


@pytest.mark.parametrize(
    ("hardest", "message"),
    [
        ([[], []], "hardest has 2 per-class lists, expected 3"),
        ([[(1, 0.1, 7, 0.9)], [], []], "predicted class 7 does not exist"),
        ([[(1, 0.5, 0, 0.5), (2, 0.1, 1, 0.8)], [], []], "not sorted by increasing true-class probability"),
        ([[(1, 0.1, 1, 0.8), (1, 0.2, 1, 0.7)], [], []], "list a row twice"),
        ([[(-4, 0.1, 1, 0.8)], [], []], "greater than or equal to 0"),
        ([[(4, 0.1, 1, 1.8)], [], []], "less than or equal to 1"),
    ],
)
def test_invalid_hardest_examples_are_refused_with_the_reason(hardest: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _record(hardest=hardest)


def test_synthetic_records_carry_valid_exploration_columns() -> None:
    (record,) = synthetic_records(30, 1)
    assert record.confusions is not None and record.hardest is not None
    assert all(len(entries) == CONFUSION_TOP_K for entries in record.confusions)
    assert all(len(entries) == HARDEST_K for entries in record.hardest)
    for true_class, entries in enumerate(record.confusions):
        assert sum(e.rate for e in entries) <= 1 - record.classes.test_acc[true_class] + 1e-3
    assert EpochRecord.model_validate_json(record.model_dump_json()) == record
    (plain,) = synthetic_records(30, 1, explore=False)
    assert plain.confusions is None and plain.hardest is None
