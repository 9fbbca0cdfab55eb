"""Pure arithmetic of the dashboard: frequency order, picks, trend, ticks and gains."""

from __future__ import annotations

import math
from typing import Any

import pytest

from dashboard.analysis.columns import LINE_CLASS_LIMIT, default_picks, frequency_order, group_means
from dashboard.analysis.gains import IncomparableRuns, gains
from dashboard.analysis.trend import log_ticks, trend_line, value_range
from difficultynet.contracts.records import EpochRecord
from difficultynet.synthetic import record_from_columns, synthetic_records


def make_record(epoch: int, counts: list[int], difficulty: list[float], **columns: Any) -> EpochRecord:
    val_acc = [1 - d for d in difficulty]
    return record_from_columns(epoch, counts=counts, val_acc=val_acc, difficulty=difficulty, **columns)


def test_frequency_order_is_head_to_tail_with_index_tiebreak() -> None:
    record = make_record(1, [5, 300, 40, 300], [0.1, 0.2, 0.3, 0.4])
    assert frequency_order(record.classes) == [1, 3, 2, 0]


def test_default_picks_are_head_median_tail() -> None:
    record = synthetic_records(LINE_CLASS_LIMIT + 10, 1)[0]
    assert default_picks(record.classes) == [0, 30, LINE_CLASS_LIMIT + 9]
    assert default_picks(make_record(1, [5, 300], [0.1, 0.2]).classes) == [1, 0]


def test_group_means_cover_the_groups_present() -> None:
    record = make_record(1, [500, 300, 5], [0.1, 0.3, 0.9])
    assert group_means(record, "difficulty") == pytest.approx({"many": 0.2, "few": 0.9})


def test_trend_line_recovers_a_known_log_linear_relation() -> None:
    counts = [10, 100, 1000]
    values = [0.9 - 0.2 * math.log10(c) for c in counts]
    xs, ys = trend_line(counts, values)
    assert xs == pytest.approx([10, 1000])
    assert ys == pytest.approx([0.7, 0.3])
    assert trend_line([50, 50], [0.1, 0.2]) == ([], [])


def test_value_range_and_log_ticks() -> None:
    assert value_range([0.5, float("nan"), 0.25]) == [0.0, pytest.approx(0.54)]
    assert value_range([]) == [0.0, 1.08]
    assert log_ticks([12, 33, 92, 200]) == [10, 20, 50, 100, 200]
    assert log_ticks([0, -1]) == []


def test_gains_match_classes_by_name_and_average_per_group() -> None:
    run = make_record(2, [300, 50, 5], [0.1, 0.3, 0.5], test_acc=[0.9, 0.6, 0.4], names=["a", "b", "c"])
    base = make_record(2, [5, 50, 300], [0.1, 0.3, 0.5], test_acc=[0.1, 0.5, 0.85], names=["c", "b", "a"])
    g = gains(run, base)
    assert g.names == ["a", "b", "c"]
    assert g.deltas == pytest.approx([0.05, 0.1, 0.3])
    assert g.group_mean("few") == pytest.approx(0.3) and g.group_mean("many") == pytest.approx(0.05)
    assert g.summary() == "many-shot +5.0 pts, medium-shot +10.0 pts, few-shot +30.0 pts"


def test_gains_refuse_runs_on_different_classes() -> None:
    run = make_record(1, [300, 5], [0.1, 0.5], names=["a", "b"])
    other = make_record(1, [300, 5], [0.1, 0.5], names=["a", "zebra"])
    with pytest.raises(IncomparableRuns):
        gains(run, other)
