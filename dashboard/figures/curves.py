"""The run page's per-class curves over epochs (difficulty, weight or accuracy), head → tail colored."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import plotly.graph_objects as go
from dash import Patch

from dashboard.analysis.columns import (
    GROUP_LABELS,
    METRICS,
    Metric,
    frequency_order,
    group_mean_series,
    uses_class_lines,
)
from dashboard.figures.style import (
    GROUP_COLORS,
    GROUP_SYMBOLS,
    base_layout,
    metric_axis,
    placeholder_figure,
    rank_colors,
    rank_colorscale,
    value_format,
)
from difficultynet.contracts.records import GROUPS, ClassColumns, EpochRecord, Group


@dataclass(frozen=True)
class CurveSeries:
    """One line of the curves chart: a class, or the mean of a group."""

    kind: Literal["class", "group"]
    position: int  # column position of the class (kind == "class")
    group: Group
    name: str
    color: str
    train_count: int = 0


def curve_series(classes: ClassColumns, picks: Sequence[int] = ()) -> list[CurveSeries]:
    """Every class (≤ LINE_CLASS_LIMIT classes), else group means + the picked class indices."""
    order = frequency_order(classes)
    colors = rank_colors(len(order))
    class_series = [
        CurveSeries(
            "class", pos, classes.group[pos], classes.name[pos], colors[rank], classes.train_count[pos]
        )
        for rank, pos in enumerate(order)
    ]
    if uses_class_lines(len(order)):
        return class_series
    present = set(classes.group)
    groups = [
        CurveSeries("group", -1, g, f"{GROUP_LABELS[g]} mean", GROUP_COLORS[g])
        for g in GROUPS
        if g in present
    ]
    wanted = set(picks)
    return groups + [s for s in class_series if classes.index[s.position] in wanted]


def _series_points(
    records: Sequence[EpochRecord], metric: Metric, series: CurveSeries, means: dict[Group, list[float]]
) -> tuple[list, list, list]:
    xs = [r.epoch for r in records]
    if series.kind == "group":
        return xs, means.get(series.group, [0.0] * len(records)), []
    p = series.position
    ys = [getattr(r.classes, metric)[p] for r in records]
    index = records[0].classes.index[p]  # last: a click on the line opens this class's panel
    custom = [
        [r.classes.difficulty[p], r.classes.weight[p], r.classes.val_acc[p], r.classes.test_acc[p], index]
        for r in records
    ]
    return xs, ys, custom


def _curve_trace(
    records: Sequence[EpochRecord], metric: Metric, series: CurveSeries, means: dict[Group, list[float]]
) -> go.Scattergl:
    xs, ys, custom = _series_points(records, metric, series, means)
    if series.kind == "group":
        return go.Scattergl(
            x=xs,
            y=ys,
            name=series.name,
            mode="lines+markers",
            line={"color": series.color, "width": 3, "dash": "dash"},
            marker={"symbol": GROUP_SYMBOLS[series.group], "size": 7},
            hovertemplate=f"<b>%{{fullData.name}}</b><br>epoch %{{x}}<br>{METRICS[metric]} "
            f"%{{y:{value_format(metric)}}}<extra></extra>",
        )
    return go.Scattergl(
        x=xs,
        y=ys,
        customdata=custom,
        name=series.name,
        mode="lines+markers",
        meta=[series.train_count, GROUP_LABELS[series.group]],
        line={"color": series.color, "width": 1.5},
        marker={"size": 4},
        hovertemplate="<b>%{fullData.name}</b> · %{meta[0]} train images (%{meta[1]})<br>epoch %{x}"
        "<br>difficulty d = %{customdata[0]:.3f}<br>weight w = %{customdata[1]:.3f}"
        "<br>val acc %{customdata[2]:.1%} · test acc %{customdata[3]:.1%}<extra></extra>",
    )


def curves_figure(records: Sequence[EpochRecord], metric: Metric, picks: Sequence[int] = ()) -> go.Figure:
    """Per-class curves of ``metric`` over epochs, colored by frequency rank (head → tail)."""
    if not records:
        return placeholder_figure("Waiting for the first epoch…", f"{METRICS[metric].capitalize()} per class")
    classes = records[0].classes
    series = curve_series(classes, picks)
    lines = uses_class_lines(len(classes.index))
    title = (
        f"{METRICS[metric].capitalize()} per class"
        if lines
        else (f"{METRICS[metric].capitalize()}: group means and picked classes")
    )
    means = {} if lines else group_mean_series(records, metric)
    figure = go.Figure(
        [_curve_trace(records, metric, s, means) for s in series],
        layout=base_layout(
            title,
            "epoch",
            METRICS[metric],
            yaxis=metric_axis(metric),
            xaxis={"dtick": 1 if records[-1].epochs_total <= 20 else None},
            showlegend=not lines,
        ),
    )
    if lines:
        # invisible trace that only carries the colorbar explaining the line colors; kept last so
        # patches address the class traces by their index
        figure.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers",
                showlegend=False,
                hoverinfo="skip",
                marker={
                    "colorscale": rank_colorscale(),
                    "cmin": 1,
                    "cmax": max(len(series), 2),
                    "color": [1],
                    "showscale": True,
                    "colorbar": {"title": {"text": "frequency rank<br>1 = most images"}, "thickness": 12},
                },
            )
        )
    return figure


def curves_patch(new_records: Sequence[EpochRecord], metric: Metric, picks: Sequence[int] = ()) -> Patch:
    """Append ``new_records`` to a figure built by :func:`curves_figure` with the same metric and picks."""
    patch = Patch()
    if not new_records:
        return patch
    classes = new_records[0].classes
    means = {} if uses_class_lines(len(classes.index)) else group_mean_series(new_records, metric)
    for i, series in enumerate(curve_series(classes, picks)):
        xs, ys, custom = _series_points(new_records, metric, series, means)
        patch["data"][i]["x"].extend(xs)
        patch["data"][i]["y"].extend(ys)
        if custom:
            patch["data"][i]["customdata"].extend(custom)
    return patch
