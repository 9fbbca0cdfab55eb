"""Pure arithmetic of the exploration views: confusions, one class's history, the difficulty check,
which class a click means, and the sparkline's geometry."""

from __future__ import annotations

import pytest

from dashboard import ids
from dashboard.analysis.class_history import class_history, class_history_by_name, class_history_of
from dashboard.analysis.confusions import (
    HEATMAP_CLASS_LIMIT,
    confusion_history,
    confusion_matrix,
    most_confused_pairs,
)
from dashboard.analysis.difficulty_check import difficulty_check
from dashboard.components.sparkline import sparkline_points
from dashboard.run_view.selection import class_from_click
from difficultynet.contracts.api import ClassEpochExploration
from difficultynet.contracts.exploration import class_exploration_json
from difficultynet.contracts.records import ClassConfusion, EpochRecord
from difficultynet.synthetic import record_from_columns, synthetic_records


def record_with_confusions(
    epoch: int, confusions: list[list[tuple[int, float]]], **columns: object
) -> EpochRecord:
    counts = [300, 120, 40, 8][: len(confusions)]
    record = record_from_columns(epoch, counts=counts, val_acc=[0.9, 0.7, 0.5, 0.3][: len(counts)], **columns)  # type: ignore[arg-type]
    return record.model_copy(
        update={"confusions": [[ClassConfusion(p, r) for p, r in row] for row in confusions]}
    )


CONFUSIONS = [[(1, 0.05)], [(0, 0.2), (2, 0.1)], [(0, 0.3), (1, 0.1)], [(0, 0.5), (2, 0.2), (1, 0.1)]]


def test_most_confused_pairs_are_the_highest_rates_with_names_and_counts() -> None:
    record = record_with_confusions(3, CONFUSIONS)
    pairs = most_confused_pairs(record.classes, record.confusions, limit=3)
    assert [(p.true_name, p.predicted_name, p.rate) for p in pairs] == [
        ("c3", "c0", 0.5),
        ("c2", "c0", 0.3),
        ("c1", "c0", 0.2),
    ]
    assert (pairs[0].true_train, pairs[0].predicted_train) == (8, 300)
    assert most_confused_pairs(record.classes, None) == [] and most_confused_pairs(record.classes, []) == []


def test_the_confusion_matrix_is_frequency_ordered_and_sparse() -> None:
    record = record_with_confusions(1, CONFUSIONS)
    matrix = confusion_matrix(record.classes, record.confusions)
    assert matrix is not None and matrix.names == ["c0", "c1", "c2", "c3"]
    assert matrix.rates[3] == [0.5, 0.1, 0.2, None]  # the tail class's row; the diagonal stays empty
    assert matrix.rates[0] == [None, 0.05, None, None]
    many = synthetic_records(HEATMAP_CLASS_LIMIT + 1, 1)[0]
    assert confusion_matrix(many.classes, many.confusions) is None  # the pairs table serves large C
    assert confusion_matrix(record.classes, None) is None


def test_a_class_confusion_history_ranks_targets_by_their_summed_rate() -> None:
    records = [
        record_with_confusions(1, [[(1, 0.1)], [(0, 0.4)], [(1, 0.3), (0, 0.1)], [(2, 0.6)]]),
        record_with_confusions(2, [[(1, 0.1)], [(0, 0.2)], [(0, 0.25)], [(0, 0.2)]]),
    ]
    # class 2's exploration over the epochs, as GET /api/runs/{id}/classes/2/exploration serves it
    explored = [ClassEpochExploration.model_validate_json(class_exploration_json(r)[2]) for r in records]
    history = confusion_history(explored, records[-1].classes)
    assert history is not None and history.epochs == [1, 2]
    assert history.targets == [(0, "c0"), (1, "c1")]  # 0.35 in all vs 0.3
    assert history.rates == [[0.1, 0.25], [0.3, 0.0]]  # 0 where the class was not in the top-k
    assert confusion_history([], records[-1].classes) is None


def test_a_class_history_from_its_exploration_entries_is_the_one_from_every_record() -> None:
    records = synthetic_records(7, 4)
    entries = [
        ClassEpochExploration.model_validate_json(class_exploration_json(r)[5]) for r in records
    ]  # what the worker stores and GET /api/runs/{id}/classes/5/exploration serves
    from_entries, from_records = class_history_of("class_0005", entries), class_history(records, 5)
    assert from_entries is not None and from_records is not None
    assert (from_entries.name, from_entries.epochs, from_entries.values) == (
        from_records.name,
        from_records.epochs,
        from_records.values,
    )
    for metric, medians in from_records.median.items():  # rounded to 6 digits for the wire
        assert from_entries.median[metric] == pytest.approx(medians, abs=1e-6)
    assert class_history_of("class_0005", []) is None


def test_class_history_against_the_median_class_and_by_name_in_another_run() -> None:
    records = synthetic_records(7, 3)
    history = class_history(records, 6)
    assert history is not None and history.name == "class_0006" and history.epochs == [1, 2, 3]
    assert history.values["test_acc"] == [r.classes.test_acc[6] for r in records]
    assert history.median["difficulty"][2] == pytest.approx(sorted(records[2].classes.difficulty)[3])
    other = synthetic_records(7, 2, seed=5)
    assert class_history_by_name(other, "class_0006").values["weight"] == [r.classes.weight[6] for r in other]  # type: ignore[union-attr]
    assert class_history_by_name(other, "zebra") is None and class_history(records, 99) is None
    assert class_history([], 0) is None


def test_the_difficulty_check_ranks_difficulty_against_error_and_size() -> None:
    record = record_from_columns(
        4, counts=[500, 100, 20, 5], val_acc=[0.9, 0.7, 0.5, 0.2], test_acc=[0.85, 0.7, 0.45, 0.1]
    )
    check = difficulty_check(record)
    assert check.rho_error == pytest.approx(1.0) and check.rho_count == pytest.approx(-1.0)
    assert check.error == pytest.approx([0.15, 0.3, 0.55, 0.9]) and check.learned  # dnet by default
    ce = difficulty_check(record.model_copy(update={"method": "ce"}))
    assert not ce.learned


def test_a_click_means_the_class_its_point_carries() -> None:
    def click(**point: object) -> dict[str, object]:
        return {"points": [point]}

    assert class_from_click(ids.RUN_SCATTER, click(customdata=["c4", 1.0, 0.5, 0.4, 4])) == 4
    assert class_from_click(ids.RUN_CURVES, click(customdata=[0.1, 1.0, 0.5, 0.4, 2])) == 2
    assert class_from_click(ids.RUN_CURVES, click(x=3, y=0.2)) is None  # a group-mean line has no class
    assert class_from_click(ids.RUN_GAINS, click(customdata=[40, 0.5, 0.4, 7])) == 7
    assert class_from_click(ids.RUN_CONFUSIONS, click(customdata=3)) == 3
    assert class_from_click(ids.RUN_HEATMAP, click(x="b"), ["a", "b"]) == 1
    assert class_from_click(ids.RUN_HEATMAP, click(x="zebra"), ["a", "b"]) is None
    assert (
        class_from_click(ids.RUN_SCATTER, None) is None
        and class_from_click("elsewhere", click(customdata=1)) is None
    )
    assert class_from_click(ids.RUN_CONFUSIONS, click(customdata=True)) is None


def test_sparkline_points_span_the_box_with_the_best_epoch_on_top() -> None:
    points = [
        tuple(map(float, p.split(",")))
        for p in sparkline_points([0.2, 0.5, 0.4], width=102, height=22).split()
    ]
    assert [x for x, _ in points] == [2.0, 51.0, 100.0]
    assert points[1][1] == 2.0 and points[0][1] == 20.0  # highest value at the top, lowest at the bottom
    assert sparkline_points([]) == "" and "nan" not in sparkline_points([0.3, 0.3])
