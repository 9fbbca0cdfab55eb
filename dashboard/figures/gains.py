"""The run page's per-class test-accuracy gains over a baseline run (arithmetic: analysis.gains)."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from dash import Patch

from dashboard.analysis.columns import GROUP_LABELS
from dashboard.analysis.gains import Gains
from dashboard.figures.style import GROUP_COLORS, INK, MEAN_LINE_DASH, base_layout
from difficultynet.contracts.records import GROUPS, Group


def _gains_group(g: Gains, group: Group) -> tuple[list[str], list[float], list[list[Any]]]:
    idx = [i for i, grp in enumerate(g.groups) if grp == group]
    deltas = g.deltas
    return (
        [g.names[i] for i in idx],
        [100 * deltas[i] for i in idx],
        [[g.train_counts[i], g.run_acc[i], g.baseline_acc[i], g.indices[i]] for i in idx],
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


def _gains_title(epoch: int, baseline_label: str) -> str:
    return f"Per-class test accuracy gain over {baseline_label} · epoch {epoch}"


def gains_figure(g: Gains, epoch: int, baseline_label: str) -> go.Figure:
    """Bars of per-class test-accuracy gain (points) sorted head → tail, plus dashed group means."""
    figure = go.Figure(
        layout=base_layout(
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
