"""The datasets page's class-frequency chart."""

from __future__ import annotations

import plotly.graph_objects as go

from dashboard.analysis.columns import GROUP_LABELS
from dashboard.figures.style import GROUP_COLORS, base_layout, log_axis
from dashboard.models import Dataset
from difficultynet.contracts.records import GROUPS


def class_frequency_figure(dataset: Dataset) -> go.Figure:
    """Train images per class, sorted by count (log axis), colored by many/medium/few group."""
    ordered = sorted(dataset.classes, key=lambda c: (-c.train, c.index))
    figure = go.Figure(
        layout=base_layout(
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
