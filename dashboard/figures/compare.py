"""The compare page: balanced accuracy per epoch and per-class test accuracy, one trace per run."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

from dashboard.analysis.columns import frequency_order, uses_class_lines
from dashboard.figures.style import OKABE_ITO, base_layout, placeholder_figure
from difficultynet.contracts.records import EpochRecord


def _style(i: int) -> tuple[str, str]:
    dashes = ("solid", "dash", "dot", "dashdot", "longdash")
    return OKABE_ITO[i % len(OKABE_ITO)], dashes[(i // len(OKABE_ITO)) % len(dashes)]


def balanced_curves_figure(runs: Sequence[tuple[str, Sequence[EpochRecord]]]) -> go.Figure:
    """Balanced accuracy per epoch, one line per run."""
    if not any(records for _, records in runs):
        return placeholder_figure("Pick runs that have finished at least one epoch.", "Balanced accuracy")
    figure = go.Figure(
        layout=base_layout(
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
        layout=base_layout(
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
