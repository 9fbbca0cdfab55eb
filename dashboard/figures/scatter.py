"""The run page's difficulty-vs-frequency scatter at one epoch, with a trend line."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from dash import Patch

from dashboard.analysis.columns import GROUP_LABELS
from dashboard.analysis.trend import trend_line, value_range
from dashboard.figures.style import (
    GROUP_COLORS,
    GROUP_SYMBOLS,
    INK,
    base_layout,
    log_axis,
    placeholder_figure,
)
from difficultynet.contracts.records import GROUPS, EpochRecord, Group


def _scatter_group_data(record: EpochRecord, group: Group) -> tuple[list[int], list[float], list[list[Any]]]:
    c = record.classes
    positions = [p for p in range(len(c.index)) if c.group[p] == group]
    return (
        [c.train_count[p] for p in positions],
        [c.difficulty[p] for p in positions],
        [[c.name[p], c.weight[p], c.val_acc[p], c.test_acc[p], c.index[p]] for p in positions],
    )


def _scatter_title(epoch: int) -> str:
    return f"Difficulty vs train images · epoch {epoch}"


def frequency_scatter_figure(record: EpochRecord | None, trend: bool) -> go.Figure:
    """d_c against train count (log x) at one epoch: a WebGL trace per group, then a trend line."""
    if record is None:
        return placeholder_figure("Waiting for the first epoch…", "Difficulty vs train images")
    figure = go.Figure(
        layout=base_layout(
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
