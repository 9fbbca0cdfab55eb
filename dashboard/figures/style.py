"""Colors, symbols and the shared layout of every figure, plus the figure that says why it is empty.

Colors are color-blind safe: Okabe-Ito for categories, a truncated Cividis ramp for frequency rank.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio
from plotly.colors import sample_colorscale

from dashboard.analysis.columns import ACCURACY_METRICS, Metric
from dashboard.analysis.trend import log_ticks
from difficultynet.contracts.records import Group

OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442")
GROUP_COLORS: dict[Group, str] = {"many": "#0072B2", "medium": "#E69F00", "few": "#D55E00"}
GROUP_SYMBOLS: dict[Group, str] = {"many": "circle", "medium": "square", "few": "diamond"}
# the gains chart's group-mean lines: one dash pattern per group, so the legend tells them apart without color
MEAN_LINE_DASH: dict[Group, str] = {"many": "dash", "medium": "dot", "few": "dashdot"}
# Cividis ends in a pale yellow that is unreadable on white: stop the ramp at 85 %.
RANK_RAMP_END = 0.85
RANK_COLORSCALE_STEPS = 11

INK = "#1b1f24"
GRID = "#d8dde3"

# The house template, as plotly's default rather than in every layout: a template named in a layout is
# validated and deep-copied for each figure (~30 ms on a busy core), the default is added once serialised.
pio.templates.default = "plotly_white"


def rank_colors(count: int) -> list[str]:
    """One color per frequency rank, head (dark blue) → tail (yellow)."""
    if count <= 0:
        return []
    stops = [RANK_RAMP_END * i / max(count - 1, 1) for i in range(count)]
    return [str(c) for c in sample_colorscale("Cividis", stops)]


def rank_colorscale() -> list[list[float | str]]:
    colors = rank_colors(RANK_COLORSCALE_STEPS)
    return [[i / (len(colors) - 1), color] for i, color in enumerate(colors)]


def base_layout(title: str, x_title: str, y_title: str, **extra: Any) -> dict[str, Any]:
    """The house layout; ``extra`` entries that are dicts are merged into the defaults, others replace."""
    layout: dict[str, Any] = {
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


def metric_axis(metric: Metric) -> dict[str, Any]:
    if metric in ACCURACY_METRICS:
        return {"tickformat": ".0%", "rangemode": "tozero"}
    return {"rangemode": "tozero"}


def value_format(metric: Metric) -> str:
    return ".1%" if metric in ACCURACY_METRICS else ".3f"


def log_axis(values: Sequence[float]) -> dict[str, Any]:
    """A log axis whose ticks read as plain numbers (10, 20, 50, 100, 200 …) over the data's range.

    Plotly's own log ticks label short ranges with bare digits ("2", "5" for 20, 50 or 200).
    """
    ticks = log_ticks(values)
    if not ticks:
        return {"type": "log"}
    return {"type": "log", "tickvals": ticks, "ticktext": [f"{t:,}" for t in ticks]}


def placeholder_figure(message: str, title: str = "") -> go.Figure:
    """An empty figure that says why it is empty (no data yet, no baseline, …)."""
    layout = base_layout(title, "", "")
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
