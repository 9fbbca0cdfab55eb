"""Pure functions from records to plotly figures, and to :class:`dash.Patch` deltas for live updates.

Each live figure has a ``*_figure`` builder (first render, or after the user changes what is shown) and a
``*_patch`` function that appends or replaces only the new data. Both derive their trace list from the
same helper, so trace ``i`` of a patch always addresses trace ``i`` of the built figure.

Per-class traces are ordered by frequency: most train images first ("head"), rarest last ("tail").
Colors are color-blind safe: Okabe-Ito for categories, a truncated Cividis ramp for frequency rank.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import plotly.graph_objects as go
from dash import Patch
from plotly.colors import sample_colorscale

from dashboard.models import Dataset
from difficultynet.records import GROUPS, ClassColumns, EpochRecord, Group

Metric = Literal["difficulty", "weight", "val_acc", "test_acc"]
METRICS: dict[Metric, str] = {
    "difficulty": "difficulty d_c",
    "weight": "loss weight w_c",
    "val_acc": "val accuracy",
    "test_acc": "test accuracy",
}
ACCURACY_METRICS: frozenset[str] = frozenset({"val_acc", "test_acc"})

LINE_CLASS_LIMIT = 50  # above this, curves show group means + picked classes; the heatmap shows all
DEFAULT_PICKS = 3

OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442")
GROUP_COLORS: dict[Group, str] = {"many": "#0072B2", "medium": "#E69F00", "few": "#D55E00"}
GROUP_SYMBOLS: dict[Group, str] = {"many": "circle", "medium": "square", "few": "diamond"}
GROUP_LABELS: dict[Group, str] = {"many": "many-shot", "medium": "medium-shot", "few": "few-shot"}
# the gains chart's group-mean lines: one dash pattern per group, so the legend tells them apart without color
MEAN_LINE_DASH: dict[Group, str] = {"many": "dash", "medium": "dot", "few": "dashdot"}
# Cividis ends in a pale yellow that is unreadable on white: stop the ramp at 85 %.
RANK_RAMP_END = 0.85
RANK_COLORSCALE_STEPS = 11
HEATMAP_COLORSCALE = "RdBu_r"  # diverging around w = 1 (ColorBrewer RdBu is color-blind safe)

INK = "#1b1f24"
GRID = "#d8dde3"


# -- shared helpers ---------------------------------------------------------------------------------


def frequency_order(classes: ClassColumns) -> list[int]:
    """Column positions sorted head → tail (train count descending, then class index)."""
    return sorted(range(len(classes.index)), key=lambda pos: (-classes.train_count[pos], classes.index[pos]))


def rank_colors(count: int) -> list[str]:
    """One color per frequency rank, head (dark blue) → tail (yellow)."""
    if count <= 0:
        return []
    stops = [RANK_RAMP_END * i / max(count - 1, 1) for i in range(count)]
    return [str(c) for c in sample_colorscale("Cividis", stops)]


def rank_colorscale() -> list[list[float | str]]:
    colors = rank_colors(RANK_COLORSCALE_STEPS)
    return [[i / (len(colors) - 1), color] for i, color in enumerate(colors)]


def column(record: EpochRecord, metric: Metric) -> np.ndarray:
    return np.asarray(getattr(record.classes, metric), dtype=float)


def group_means(record: EpochRecord, metric: Metric) -> dict[Group, float]:
    """Mean of ``metric`` over the classes of each group present in the record."""
    values = column(record, metric)
    groups = np.asarray(record.classes.group)
    return {g: float(values[groups == g].mean()) for g in GROUPS if (groups == g).any()}


def _layout(title: str, x_title: str, y_title: str, **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "template": "plotly_white",
        "title": {"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 16}},
        "font": {"color": INK, "family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"},
        "margin": {"l": 64, "r": 24, "t": 56, "b": 56},
        "xaxis": {"title": {"text": x_title}, "gridcolor": GRID, "linecolor": INK},
        "yaxis": {"title": {"text": y_title}, "gridcolor": GRID, "linecolor": INK},
        # Below everything, in container coordinates: a legend placed relative to the plot area collides
        # with the x-axis title once it wraps (phone widths); plotly grows the bottom margin to fit it.
        "legend": {"orientation": "h", "yref": "container", "yanchor": "bottom", "y": 0, "x": 0},
        "hoverlabel": {"bgcolor": "white", "font": {"color": INK}},
        "uirevision": "keep",  # zoom and hidden traces survive patches and rebuilds
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(layout.get(key), dict):
            layout[key] = {**layout[key], **value}
        else:
            layout[key] = value
    return layout


def _metric_axis(metric: Metric) -> dict[str, Any]:
    if metric in ACCURACY_METRICS:
        return {"tickformat": ".0%", "rangemode": "tozero"}
    return {"rangemode": "tozero"}


def placeholder_figure(message: str, title: str = "") -> go.Figure:
    """An empty figure that says why it is empty (no data yet, no baseline, …)."""
    layout = _layout(title, "", "")
    layout["xaxis"] = {"visible": False}
    layout["yaxis"] = {"visible": False}
    layout["annotations"] = [
        {
            "text": message,
            "showarrow": False,
            "xref": "paper",
            "yref": "paper",
            "x": 0.5,
            "y": 0.5,
            "font": {"size": 14, "color": INK},
        }
    ]
    return go.Figure(layout=layout)


# -- datasets page ----------------------------------------------------------------------------------


def class_frequency_figure(dataset: Dataset) -> go.Figure:
    """Train images per class, sorted by count (log axis), colored by many/medium/few group."""
    ordered = sorted(dataset.classes, key=lambda c: (-c.train, c.index))
    figure = go.Figure(
        layout=_layout(
            "Train images per class",
            "class (sorted by train images)",
            "train images (log)",
            yaxis=log_axis([c.train for c in ordered]),
            xaxis={"categoryorder": "array", "categoryarray": [c.name for c in ordered]},
            bargap=0.15,
        )
    )
    for group in GROUPS:
        members = [c for c in ordered if c.group == group]
        if not members:
            continue
        figure.add_trace(
            go.Bar(
                x=[c.name for c in members],
                y=[c.train for c in members],
                customdata=[[c.val, c.test] for c in members],
                name=f"{GROUP_LABELS[group]} ({len(members)})",
                marker={"color": GROUP_COLORS[group]},
                hovertemplate="<b>%{x}</b><br>train %{y}<br>val %{customdata[0]}<br>test %{customdata[1]}"
                "<extra>%{fullData.name}</extra>",
            )
        )
    return figure


# -- run page: difficulty curves --------------------------------------------------------------------


@dataclass(frozen=True)
class CurveSeries:
    """One line of the curves chart: a class, or the mean of a group."""

    kind: Literal["class", "group"]
    position: int  # column position of the class (kind == "class")
    group: Group
    name: str
    color: str
    train_count: int = 0


def uses_class_lines(num_classes: int) -> bool:
    return num_classes <= LINE_CLASS_LIMIT


def default_picks(classes: ClassColumns, count: int = DEFAULT_PICKS) -> list[int]:
    """Class indices to show in summary mode: head, median and tail by default."""
    order = frequency_order(classes)
    if len(order) <= count:
        return [classes.index[pos] for pos in order]
    spots = np.linspace(0, len(order) - 1, count).round().astype(int)
    return [classes.index[order[s]] for s in dict.fromkeys(spots.tolist())]


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


def group_mean_series(records: Sequence[EpochRecord], metric: Metric) -> dict[Group, list[float]]:
    """Per-epoch mean of ``metric`` in each group, from one (epochs × classes) matrix."""
    matrix = np.asarray([getattr(r.classes, metric) for r in records], dtype=float)
    groups = np.asarray(records[0].classes.group)
    return {g: matrix[:, groups == g].mean(axis=1).tolist() for g in GROUPS if (groups == g).any()}


def _series_points(
    records: Sequence[EpochRecord], metric: Metric, series: CurveSeries, means: dict[Group, list[float]]
) -> tuple[list, list, list]:
    xs = [r.epoch for r in records]
    if series.kind == "group":
        return xs, means.get(series.group, [0.0] * len(records)), []
    p = series.position
    ys = [getattr(r.classes, metric)[p] for r in records]
    custom = [
        [r.classes.difficulty[p], r.classes.weight[p], r.classes.val_acc[p], r.classes.test_acc[p]]
        for r in records
    ]
    return xs, ys, custom


def _value_format(metric: Metric) -> str:
    return ".1%" if metric in ACCURACY_METRICS else ".3f"


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
            f"%{{y:{_value_format(metric)}}}<extra></extra>",
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
        layout=_layout(
            title,
            "epoch",
            METRICS[metric],
            yaxis=_metric_axis(metric),
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


# -- run page: weights heatmap ----------------------------------------------------------------------


def _heatmap_rows(records: Sequence[EpochRecord], order: Sequence[int]) -> list[list[float]]:
    return [[r.classes.weight[p] for p in order] for r in records]


def heatmap_figure(records: Sequence[EpochRecord]) -> go.Figure:
    """Loss weight w_c per class (x, head → tail) and epoch (y); one row is appended per epoch."""
    if not records:
        return placeholder_figure("Waiting for the first epoch…", "Loss weights per class and epoch")
    classes = records[0].classes
    order = frequency_order(classes)
    figure = go.Figure(
        go.Heatmap(
            x=[classes.name[p] for p in order],
            y=[r.epoch for r in records],
            z=_heatmap_rows(records, order),
            colorscale=HEATMAP_COLORSCALE,
            zmid=1.0,
            colorbar={"title": {"text": "w_c"}, "thickness": 12},
            hovertemplate="<b>%{x}</b><br>epoch %{y}<br>weight w = %{z:.3f}<extra></extra>",
        ),
        layout=_layout(
            "Loss weights per class and epoch",
            "class (head → tail)",
            "epoch",
            yaxis={"dtick": 1 if records[-1].epochs_total <= 20 else None},
            xaxis={"type": "category", "showgrid": False},
        ),
    )
    note = WEIGHT_RULES.get(records[0].method)
    if note:  # a fixed rule: say why the map is flat (or stepped) instead of leaving a grey box
        figure.add_annotation(
            text=note,
            xref="paper",
            yref="paper",
            x=0.5,
            y=1.0,
            yanchor="bottom",
            showarrow=False,
            font={"size": 12, "color": INK},
        )
    return figure


# Why a method's weights look the way they do (methods whose weights are not learned).
WEIGHT_RULES: dict[str, str] = {
    "ce": "ce uses no class weights: every w_c is 1, so the map is flat",
    "focal": "focal loss uses no class weights: every w_c is 1",
    "bsce": "balanced softmax adjusts logits instead: every w_c is 1",
    "cb": "class-balanced: fixed weights from the train counts",
    "cdb": "cdb: w_c follows (1 − val acc)^τ of the previous epoch",
    "ldam-drw": "ldam-drw: weights are 1 until the deferred re-weighting starts",
}


def heatmap_patch(new_records: Sequence[EpochRecord]) -> Patch:
    """Append one heatmap row per new epoch (one operation per array, whatever the class count)."""
    patch = Patch()
    if not new_records:
        return patch
    order = frequency_order(new_records[0].classes)
    patch["data"][0]["y"].extend([r.epoch for r in new_records])
    patch["data"][0]["z"].extend(_heatmap_rows(new_records, order))
    return patch


# -- run page: difficulty vs frequency --------------------------------------------------------------


def log_axis(values: Sequence[float]) -> dict[str, Any]:
    """A log axis whose ticks read as plain numbers (10, 20, 50, 100, 200 …) over the data's range.

    Plotly's own log ticks label short ranges with bare digits ("2", "5" for 20, 50 or 200).
    """
    positive = [v for v in values if v > 0]
    if not positive:
        return {"type": "log"}
    low, high = min(positive), max(positive)
    ticks = [
        mantissa * 10**exponent
        for exponent in range(math.floor(math.log10(low)), math.floor(math.log10(high)) + 1)
        for mantissa in (1, 2, 5)
        if low / 1.5 <= mantissa * 10**exponent <= high * 1.5
    ]
    if len(ticks) > 12:  # wide ranges: powers of ten only
        ticks = [t for t in ticks if str(t).startswith("1")]
    return {"type": "log", "tickvals": ticks, "ticktext": [f"{t:,}" for t in ticks]}


def value_range(values: Sequence[float]) -> list[float]:
    """A y range from 0 to just above the data, so a trend line never stretches the axis."""
    top = max([v for v in values if math.isfinite(v)], default=1.0)
    return [0.0, top * 1.08 if top > 0 else 1.0]


def trend_line(train_counts: Sequence[int], values: Sequence[float]) -> tuple[list[float], list[float]]:
    """Least-squares fit of value on log10(train count), as a two-point line; empty if undefined."""
    counts = np.maximum(np.asarray(train_counts, dtype=float), 1.0)
    x = np.log10(counts)
    y = np.asarray(values, dtype=float)
    if len(x) < 2 or np.ptp(x) == 0:
        return [], []
    slope, intercept = np.polyfit(x, y, 1)
    ends = np.array([x.min(), x.max()])
    return [float(counts.min()), float(counts.max())], (intercept + slope * ends).tolist()


def _scatter_group_data(record: EpochRecord, group: Group) -> tuple[list[int], list[float], list[list[Any]]]:
    c = record.classes
    positions = [p for p in range(len(c.index)) if c.group[p] == group]
    return (
        [c.train_count[p] for p in positions],
        [c.difficulty[p] for p in positions],
        [[c.name[p], c.weight[p], c.val_acc[p], c.test_acc[p]] for p in positions],
    )


def _scatter_title(epoch: int) -> str:
    return f"Difficulty vs train images · epoch {epoch}"


def frequency_scatter_figure(record: EpochRecord | None, trend: bool) -> go.Figure:
    """d_c against train count (log x) at one epoch: a WebGL trace per group, then a trend line."""
    if record is None:
        return placeholder_figure("Waiting for the first epoch…", "Difficulty vs train images")
    figure = go.Figure(
        layout=_layout(
            _scatter_title(record.epoch),
            "train images (log)",
            "difficulty d_c",
            xaxis=log_axis(record.classes.train_count),
            yaxis={"range": value_range(record.classes.difficulty)},
        )
    )
    for group in GROUPS:
        xs, ys, custom = _scatter_group_data(record, group)
        figure.add_trace(
            go.Scattergl(
                x=xs,
                y=ys,
                customdata=custom,
                mode="markers",
                name=GROUP_LABELS[group],
                marker={
                    "color": GROUP_COLORS[group],
                    "symbol": GROUP_SYMBOLS[group],
                    "size": 9,
                    "line": {"width": 1, "color": "white"},
                },
                hovertemplate="<b>%{customdata[0]}</b> · %{x} train images<br>difficulty d = %{y:.3f}"
                "<br>weight w = %{customdata[1]:.3f}<br>val acc %{customdata[2]:.1%} · test acc "
                "%{customdata[3]:.1%}<extra>%{fullData.name}</extra>",
            )
        )
    tx, ty = trend_line(record.classes.train_count, record.classes.difficulty) if trend else ([], [])
    figure.add_trace(
        go.Scatter(
            x=tx,
            y=ty,
            mode="lines",
            name="trend (least squares on log count)",
            line={"color": INK, "dash": "dot", "width": 2},
            hoverinfo="skip",
        )
    )
    return figure


def frequency_scatter_patch(record: EpochRecord, trend: bool) -> Patch:
    """Move the points of a :func:`frequency_scatter_figure` to another epoch (x is fixed per class)."""
    patch = Patch()
    for i, group in enumerate(GROUPS):
        _, ys, custom = _scatter_group_data(record, group)
        patch["data"][i]["y"] = ys
        patch["data"][i]["customdata"] = custom
    tx, ty = trend_line(record.classes.train_count, record.classes.difficulty) if trend else ([], [])
    patch["data"][len(GROUPS)]["x"] = tx
    patch["data"][len(GROUPS)]["y"] = ty
    patch["layout"]["title"]["text"] = _scatter_title(record.epoch)
    patch["layout"]["yaxis"]["range"] = value_range(record.classes.difficulty)
    return patch


# -- run page: gains over a baseline ----------------------------------------------------------------


class IncomparableRuns(ValueError):
    """The baseline's classes are not this run's classes (different datasets)."""


@dataclass(frozen=True)
class Gains:
    """Per-class test-accuracy gain (fractions) of a run over its baseline, head → tail."""

    names: list[str]
    groups: list[Group]
    train_counts: list[int]
    run_acc: list[float]
    baseline_acc: list[float]

    @property
    def deltas(self) -> list[float]:
        return [a - b for a, b in zip(self.run_acc, self.baseline_acc, strict=True)]

    def group_mean(self, group: Group) -> float | None:
        values = [d for d, g in zip(self.deltas, self.groups, strict=True) if g == group]
        return float(np.mean(values)) if values else None


def gains(record: EpochRecord, baseline: EpochRecord) -> Gains:
    """Match classes by name; raise :class:`IncomparableRuns` if the class sets differ."""
    base = baseline.classes
    base_acc = dict(zip(base.name, base.test_acc, strict=True))
    c = record.classes
    if set(base_acc) != set(c.name):
        raise IncomparableRuns("the baseline run was trained on different classes")
    order = frequency_order(c)
    return Gains(
        names=[c.name[p] for p in order],
        groups=[c.group[p] for p in order],
        train_counts=[c.train_count[p] for p in order],
        run_acc=[c.test_acc[p] for p in order],
        baseline_acc=[base_acc[c.name[p]] for p in order],
    )


def _gains_group(g: Gains, group: Group) -> tuple[list[str], list[float], list[list[Any]]]:
    idx = [i for i, grp in enumerate(g.groups) if grp == group]
    deltas = g.deltas
    return (
        [g.names[i] for i in idx],
        [100 * deltas[i] for i in idx],
        [[g.train_counts[i], g.run_acc[i], g.baseline_acc[i]] for i in idx],
    )


def _mean_line(g: Gains, group: Group) -> tuple[list[str], list[float], str]:
    names = [n for n, grp in zip(g.names, g.groups, strict=True) if grp == group]
    mean = g.group_mean(group)
    if mean is None:
        return [], [], f"{GROUP_LABELS[group]} mean"
    return (
        [names[0], names[-1]],
        [100 * mean, 100 * mean],
        f"{GROUP_LABELS[group]} mean {100 * mean:+.1f} pts",
    )


def gains_figure(g: Gains, epoch: int, baseline_label: str) -> go.Figure:
    """Bars of per-class test-accuracy gain (points) sorted head → tail, plus dashed group means."""
    figure = go.Figure(
        layout=_layout(
            _gains_title(epoch, baseline_label),
            "class (head → tail)",
            "test accuracy gain (pts)",
            xaxis={"categoryorder": "array", "categoryarray": g.names, "type": "category"},
            yaxis={"zeroline": True, "zerolinecolor": INK},
            bargap=0.15,
        )
    )
    for group in GROUPS:
        xs, ys, custom = _gains_group(g, group)
        figure.add_trace(
            go.Bar(
                x=xs,
                y=ys,
                customdata=custom,
                name=GROUP_LABELS[group],
                marker={"color": GROUP_COLORS[group]},
                hovertemplate="<b>%{x}</b> · %{customdata[0]} train images<br>gain %{y:+.1f} pts"
                "<br>this run %{customdata[1]:.1%} · baseline %{customdata[2]:.1%}"
                "<extra>%{fullData.name}</extra>",
            )
        )
    for group in GROUPS:
        xs, ys, name = _mean_line(g, group)
        figure.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                name=name,
                hoverinfo="name",
                line={"color": INK, "dash": MEAN_LINE_DASH[group], "width": 2},
            )
        )
    return figure


def gains_patch(g: Gains, epoch: int, baseline_label: str) -> Patch:
    """Update a :func:`gains_figure` with the same classes to a newer epoch of the run."""
    patch = Patch()
    for i, group in enumerate(GROUPS):
        _, ys, custom = _gains_group(g, group)
        patch["data"][i]["y"] = ys
        patch["data"][i]["customdata"] = custom
    for i, group in enumerate(GROUPS, start=len(GROUPS)):
        _, ys, name = _mean_line(g, group)
        patch["data"][i]["y"] = ys
        patch["data"][i]["name"] = name
    patch["layout"]["title"]["text"] = _gains_title(epoch, baseline_label)
    return patch


def _gains_title(epoch: int, baseline_label: str) -> str:
    return f"Per-class test accuracy gain over {baseline_label} · epoch {epoch}"


# -- compare page -----------------------------------------------------------------------------------


def _style(i: int) -> tuple[str, str]:
    dashes = ("solid", "dash", "dot", "dashdot", "longdash")
    return OKABE_ITO[i % len(OKABE_ITO)], dashes[(i // len(OKABE_ITO)) % len(dashes)]


def balanced_curves_figure(runs: Sequence[tuple[str, Sequence[EpochRecord]]]) -> go.Figure:
    """Balanced accuracy per epoch, one line per run."""
    if not any(records for _, records in runs):
        return placeholder_figure("Pick runs that have finished at least one epoch.", "Balanced accuracy")
    figure = go.Figure(
        layout=_layout(
            "Balanced accuracy per epoch",
            "epoch",
            "balanced accuracy",
            yaxis={"tickformat": ".0%", "rangemode": "tozero"},
            # whole epochs only: with two epochs Plotly would tick 1, 1.5, 2
            xaxis={"tickformat": "d", "dtick": 1 if max(len(r) for _, r in runs) <= 20 else None},
        )
    )
    for i, (label, records) in enumerate(runs):
        color, dash = _style(i)
        figure.add_trace(
            go.Scatter(
                x=[r.epoch for r in records],
                y=[r.balanced_acc for r in records],
                name=label,
                mode="lines+markers",
                line={"color": color, "dash": dash, "width": 2},
                hovertemplate="<b>%{fullData.name}</b><br>epoch %{x}<br>balanced acc %{y:.1%}<extra></extra>",
            )
        )
    return figure


def per_class_accuracy_figure(runs: Sequence[tuple[str, EpochRecord]]) -> go.Figure:
    """Final per-class test accuracy, classes head → tail; grouped bars up to 50 classes, lines above."""
    if not runs:
        return placeholder_figure(
            "Pick runs that have finished at least one epoch.", "Per-class test accuracy"
        )
    reference = runs[0][1].classes
    order = frequency_order(reference)
    names = [reference.name[p] for p in order]
    counts = {reference.name[p]: reference.train_count[p] for p in order}
    bars = uses_class_lines(len(order))
    figure = go.Figure(
        layout=_layout(
            "Per-class test accuracy (classes sorted by train images)",
            "class (head → tail)",
            "test accuracy",
            yaxis={"tickformat": ".0%", "range": [0, 1.02]},
            barmode="group",
            xaxis={"type": "category", "categoryorder": "array", "categoryarray": names},
        )
    )
    for i, (label, record) in enumerate(runs):
        color, dash = _style(i)
        acc = dict(zip(record.classes.name, record.classes.test_acc, strict=True))
        xs = [n for n in names if n in acc]
        common: dict[str, Any] = {
            "x": xs,
            "y": [acc[n] for n in xs],
            "customdata": [[counts[n]] for n in xs],
            "name": label,
            "hovertemplate": "<b>%{x}</b> · %{customdata[0]} train images<br>%{fullData.name}: %{y:.1%}"
            "<extra></extra>",
        }
        if bars:
            figure.add_trace(go.Bar(marker={"color": color}, **common))
        else:
            figure.add_trace(
                go.Scattergl(mode="lines", line={"color": color, "dash": dash, "width": 1.5}, **common)
            )
    return figure
