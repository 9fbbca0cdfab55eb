"""Figure builders: given records, the traces hold exactly the expected values, and patches line up."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from dash import Patch

from dashboard.analysis import columns
from dashboard.analysis import gains as analysis_gains
from dashboard.analysis.class_history import class_history
from dashboard.analysis.confusions import confusion_matrix
from dashboard.analysis.difficulty_check import difficulty_check
from dashboard.figures import compare, curves, datasets, heatmap, scatter, style
from dashboard.figures import gains as gains_fig
from dashboard.figures.class_panel import class_history_figure
from dashboard.figures.confusions import confusion_heatmap_figure
from dashboard.figures.difficulty_check import difficulty_vs_count_figure, difficulty_vs_error_figure
from difficultynet.contracts.records import EpochRecord
from difficultynet.synthetic import record_from_columns, synthetic_dataset, synthetic_records


def make_record(epoch: int, counts: list[int], difficulty: list[float], **columns: Any) -> EpochRecord:
    """A record with val acc = 1 − difficulty (test acc too unless given)."""
    val_acc = [1 - d for d in difficulty]
    return record_from_columns(epoch, counts=counts, val_acc=val_acc, difficulty=difficulty, **columns)


def patch_ops(patch: Patch) -> list[dict]:
    return patch.to_plotly_json()["operations"]


# -- ordering and colors ----------------------------------------------------------------------------


def test_rank_colors_run_from_dark_to_light_and_skip_the_palest_yellow() -> None:
    colors = style.rank_colors(5)
    assert len(colors) == 5 and len(set(colors)) == 5
    assert colors[0] == "rgb(0, 34, 78)"  # cividis start

    def luminance(rgb: str) -> float:
        r, g, b = (int(v) for v in rgb[4:-1].split(","))
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    assert luminance(colors[-1]) > luminance(colors[0])
    assert luminance(colors[-1]) < 215  # stays readable on white (cividis ends near 233)


# -- curves -----------------------------------------------------------------------------------------


def test_curves_figure_draws_one_webgl_line_per_class_in_frequency_order() -> None:
    records = [make_record(e, [10, 200, 50], [0.5 + e / 10, 0.1, 0.3]) for e in (1, 2)]
    fig = curves.curves_figure(records, "difficulty")
    lines = [t for t in fig.data if t.type == "scattergl"]
    assert [t.name for t in lines] == ["c1", "c2", "c0"]
    assert list(lines[2].y) == pytest.approx([0.6, 0.7])
    assert list(lines[0].x) == [1, 2]
    # hover carries d, w, val acc, test acc (then the class index, for clicks); count and group are meta
    assert list(lines[2].customdata[0]) == pytest.approx([0.6, records[0].classes.weight[0], 0.4, 0.4, 0])
    assert list(lines[2].meta) == [10, "few-shot"]
    assert "customdata[1]" in lines[0].hovertemplate and "%{fullData.name}" in lines[0].hovertemplate
    # colored by rank, head darkest; a last invisible trace carries the colorbar
    assert lines[0].line.color == style.rank_colors(3)[0]
    assert fig.data[-1].marker.showscale is True and len(fig.data) == 4


def test_curves_figure_for_accuracy_uses_percent_axis() -> None:
    records = [make_record(1, [10, 200], [0.5, 0.1])]
    fig = curves.curves_figure(records, "test_acc")
    assert fig.layout.yaxis.tickformat == ".0%"
    assert list(fig.data[0].y) == pytest.approx([0.9])


def test_curves_patch_extends_the_same_traces_the_figure_built() -> None:
    records = [make_record(e, [10, 200, 50], [0.1 * e, 0.2, 0.3]) for e in (1, 2, 3)]
    patch = curves.curves_patch(records[1:], "difficulty")
    ops = patch_ops(patch)
    # three per class (x, y, customdata), addressed head → tail like the figure's traces
    assert len(ops) == 9
    assert {op["operation"] for op in ops} == {"Extend"}
    y_ops = [op for op in ops if op["location"][-1] == "y"]
    assert [op["location"][1] for op in y_ops] == [0, 1, 2]
    assert y_ops[2]["params"]["value"] == pytest.approx([0.2, 0.3])  # class c0 (rarest) is trace 2
    x_op = next(op for op in ops if op["location"] == ["data", 0, "x"])
    assert x_op["params"]["value"] == [2, 3]


def test_curves_switch_to_group_means_and_picks_above_the_line_limit() -> None:
    records = synthetic_records(columns.LINE_CLASS_LIMIT + 10, 2)
    picks = columns.default_picks(records[0].classes)
    assert (
        len(picks) == 3 and picks[0] == 0 and picks[-1] == columns.LINE_CLASS_LIMIT + 9
    )  # head, median, tail
    fig = curves.curves_figure(records, "weight", picks)
    names = [t.name for t in fig.data]
    assert names[:3] == ["many-shot mean", "medium-shot mean", "few-shot mean"]
    assert len(fig.data) == 6  # 3 means + 3 picked classes, no colorbar trace
    many = np.asarray(records[1].classes.group) == "many"
    expected = float(np.asarray(records[1].classes.weight)[many].mean())
    assert fig.data[0].y[1] == pytest.approx(expected)
    patch = curves.curves_patch(records[1:], "weight", picks)
    assert {op["location"][1] for op in patch_ops(patch)} == set(range(6))


def test_curves_without_records_say_so() -> None:
    fig = curves.curves_figure([], "difficulty")
    assert "Waiting for the first epoch" in fig.layout.annotations[0].text


# -- heatmap ----------------------------------------------------------------------------------------


def test_heatmap_rows_are_epochs_and_columns_classes_head_to_tail() -> None:
    records = [make_record(e, [10, 200, 50], [0.1 * e, 0.2, 0.3]) for e in (1, 2)]
    fig = heatmap.heatmap_figure(records)
    heat = fig.data[0]
    assert list(heat.x) == ["c1", "c2", "c0"]
    assert list(heat.y) == [1, 2]
    expected_row = [records[1].classes.weight[p] for p in (1, 2, 0)]
    assert list(heat.z[1]) == pytest.approx(expected_row)
    assert heat.zmid == 1.0


def test_heatmap_patch_appends_one_row_per_epoch_whatever_the_class_count() -> None:
    records = synthetic_records(1000, 3)
    ops = patch_ops(heatmap.heatmap_patch(records[1:]))
    assert len(ops) == 2
    z_op = next(op for op in ops if op["location"] == ["data", 0, "z"])
    assert len(z_op["params"]["value"]) == 2 and len(z_op["params"]["value"][0]) == 1000


# -- difficulty vs frequency ------------------------------------------------------------------------


def test_scatter_has_a_trace_per_group_and_a_trend_line() -> None:
    record = make_record(3, [500, 150, 60, 30, 10, 5], [0.1, 0.2, 0.3, 0.4, 0.6, 0.8])
    fig = scatter.frequency_scatter_figure(record, trend=True)
    assert [t.name for t in fig.data[:3]] == ["many-shot", "medium-shot", "few-shot"]
    assert list(fig.data[0].x) == [500, 150] and list(fig.data[2].y) == pytest.approx([0.6, 0.8])
    assert fig.layout.xaxis.type == "log"
    assert list(fig.data[3].x) == [5, 500] and fig.data[3].y[0] > fig.data[3].y[1]  # d falls with count
    assert "epoch 3" in fig.layout.title.text
    no_trend = scatter.frequency_scatter_figure(record, trend=False)
    assert len(no_trend.data) == 4 and len(no_trend.data[3].x) == 0


def test_scatter_patch_moves_points_to_another_epoch() -> None:
    record = make_record(4, [500, 60, 5], [0.15, 0.35, 0.9])
    ops = {
        tuple(op["location"]): op for op in patch_ops(scatter.frequency_scatter_patch(record, trend=False))
    }
    assert ops[("data", 2, "y")]["params"]["value"] == [0.9]
    assert ops[("data", 3, "x")]["params"]["value"] == []
    assert ops[("layout", "title", "text")]["params"]["value"].endswith("epoch 4")


# -- gains ------------------------------------------------------------------------------------------


def test_gains_match_classes_by_name_and_average_per_group() -> None:
    run = make_record(2, [300, 50, 5], [0.1, 0.3, 0.5], test_acc=[0.9, 0.6, 0.4], names=["a", "b", "c"])
    base = make_record(2, [5, 50, 300], [0.1, 0.3, 0.5], test_acc=[0.1, 0.5, 0.85], names=["c", "b", "a"])
    g = analysis_gains.gains(run, base)
    assert g.names == ["a", "b", "c"]
    assert g.deltas == pytest.approx([0.05, 0.1, 0.3])
    assert g.group_mean("few") == pytest.approx(0.3)
    fig = gains_fig.gains_figure(g, 2, "ce run 1234")
    assert [list(t.y) for t in fig.data[:3]] == [
        pytest.approx([5.0]),
        pytest.approx([10.0]),
        pytest.approx([30.0]),
    ]
    assert fig.data[5].name == "few-shot mean +30.0 pts"
    assert list(fig.layout.xaxis.categoryarray) == ["a", "b", "c"]
    patch = {tuple(op["location"]): op for op in patch_ops(gains_fig.gains_patch(g, 3, "ce run 1234"))}
    assert patch[("data", 3, "y")]["params"]["value"] == pytest.approx([5.0, 5.0])


# -- datasets and compare ---------------------------------------------------------------------------


def test_class_frequency_bars_are_sorted_by_count_on_a_log_axis_and_colored_by_group() -> None:
    dataset = synthetic_dataset({"cat": 40, "ship": 8, "plane": 500})
    fig = datasets.class_frequency_figure(dataset)
    assert list(fig.layout.xaxis.categoryarray) == ["plane", "cat", "ship"]
    assert fig.layout.yaxis.type == "log"
    assert [(t.name, t.marker.color) for t in fig.data] == [
        ("many-shot (1)", style.GROUP_COLORS["many"]),
        ("medium-shot (1)", style.GROUP_COLORS["medium"]),
        ("few-shot (1)", style.GROUP_COLORS["few"]),
    ]


def test_compare_figures_have_one_trace_per_run() -> None:
    a = synthetic_records(10, 3, run_id="a")
    b = synthetic_records(10, 3, run_id="b", skill=0.5)
    balanced = compare.balanced_curves_figure([("dnet", a), ("ce", b)])
    assert [t.name for t in balanced.data] == ["dnet", "ce"]
    assert list(balanced.data[1].y) == pytest.approx([r.balanced_acc for r in b])
    per_class = compare.per_class_accuracy_figure([("dnet", a[-1]), ("ce", b[-1])])
    assert [t.type for t in per_class.data] == ["bar", "bar"] and per_class.layout.barmode == "group"
    many = compare.per_class_accuracy_figure([("x", synthetic_records(200, 1)[0])])
    assert many.data[0].type == "scattergl"


def test_log_axes_label_real_numbers() -> None:
    axis = style.log_axis([12, 33, 92, 200])
    assert axis["type"] == "log"
    assert axis["tickvals"] == [10, 20, 50, 100, 200]
    assert axis["ticktext"] == ["10", "20", "50", "100", "200"]
    wide = style.log_axis([1, 1_000_000])
    assert wide["ticktext"] == ["1", "10", "100", "1,000", "10,000", "100,000", "1,000,000"]


def test_scatter_y_range_follows_the_data_not_the_trend_line() -> None:
    record = synthetic_records(20, 1)[0]
    figure = scatter.frequency_scatter_figure(record, trend=True)
    top = max(record.classes.difficulty)
    assert figure.layout.yaxis.range == (0.0, pytest.approx(top * 1.08))
    assert list(figure.layout.xaxis.ticktext)[:2] == ["5", "10"]


def test_heatmap_of_a_fixed_rule_method_says_why_it_looks_flat() -> None:
    ce = heatmap.heatmap_figure(synthetic_records(5, 2, method="ce"))
    assert "every w_c is 1" in ce.layout.annotations[0].text
    assert not heatmap.heatmap_figure(synthetic_records(5, 2, method="dnet")).layout.annotations


def test_gains_legend_sits_below_the_axis_title_and_mean_lines_differ() -> None:
    """At phone width the legend wrapped into the x-axis title; the three mean lines looked the same."""
    run, base = synthetic_records(6, 2, seed=1)[-1], synthetic_records(6, 2, seed=2, skill=0.7)[-1]
    fig = gains_fig.gains_figure(analysis_gains.gains(run, base), 2, "ce")
    assert fig.layout.legend.yref == "container" and fig.layout.legend.y == 0
    dashes = [t.line.dash for t in fig.data if t.type == "scatter"]
    assert len(dashes) == 3 and len(set(dashes)) == 3


# -- exploration views ------------------------------------------------------------------------------


def test_class_history_figure_draws_class_median_and_baseline_in_four_panels() -> None:
    records = synthetic_records(6, 2)
    history = class_history(records, 5)
    assert history is not None
    fig = class_history_figure(history, class_history(synthetic_records(6, 3, seed=4), 5), "ce run 1")
    assert len(fig.data) == 12 and [t.name for t in fig.data[:3]] == [
        "class_0005",
        "median class",
        "class_0005 in ce run 1",
    ]
    assert list(fig.data[0].y) == [r.classes.difficulty[5] for r in records]
    assert (
        fig.layout.xaxis.dtick == 1 and fig.layout.yaxis3.tickformat == ".0%"
    )  # whole epochs; accuracies in %
    assert sum(t.showlegend for t in fig.data) == 3  # one legend entry per series, not per panel


def test_confusion_heatmap_and_difficulty_figures_carry_the_class_for_clicks() -> None:
    record = synthetic_records(6, 3)[-1]
    matrix = confusion_matrix(record.classes, record.confusions)
    assert matrix is not None
    heat = confusion_heatmap_figure(matrix, 3).data[0]
    assert list(heat.x) == list(heat.y) == matrix.names and heat.customdata[2][0] == matrix.indices[2]
    check = difficulty_check(record)
    error, count = difficulty_vs_error_figure(check), difficulty_vs_count_figure(check)
    assert "Spearman ρ" in error.layout.title.text and "epoch 3" in count.layout.title.text
    assert [
        c[1] for c in error.data[0].customdata
    ] == record.classes.index and count.layout.xaxis.type == "log"
    ce = difficulty_vs_error_figure(difficulty_check(synthetic_records(6, 1, method="ce")[0]))
    assert ce.layout.yaxis.title.text == "difficulty = 1 − val acc"
