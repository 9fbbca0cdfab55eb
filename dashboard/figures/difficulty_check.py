"""'Is the difficulty right?': predicted difficulty against observed error and against class size."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.analysis.difficulty_check import DifficultyCheck
from dashboard.analysis.trend import log_ticks
from dashboard.figures.style import GRID, INK, OKABE_ITO, base_layout


def _rho(value: float | None) -> str:
    return "ρ undefined" if value is None else f"Spearman ρ = {value:+.2f}"


def difficulty_check_figure(check: DifficultyCheck) -> go.Figure:
    """Two scatters of d_c at one epoch: against 1 − acc_c and against train count (log), with ρ."""
    d_label = "difficulty d_c" if check.learned else "difficulty = 1 − val acc"
    figure = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=[
            f"vs observed error · {_rho(check.rho_error)}",
            f"vs train images · {_rho(check.rho_count)}",
        ],
        horizontal_spacing=0.14,
    )
    layout = base_layout(f"Is the difficulty right? · epoch {check.epoch}", "", "", showlegend=False)
    del layout["xaxis"], layout["yaxis"]
    figure.update_layout(layout)
    custom = [[n, i] for n, i in zip(check.names, check.indices, strict=True)]
    common = {
        "mode": "markers",
        "customdata": custom,
        "marker": {"color": OKABE_ITO[0], "size": 8, "opacity": 0.8, "line": {"width": 1, "color": "white"}},
    }
    figure.add_trace(
        go.Scattergl(
            x=check.error,
            y=check.difficulty,
            hovertemplate="<b>%{customdata[0]}</b><br>error %{x:.1%}<br>d = %{y:.3f}<extra></extra>",
            **common,
        ),
        row=1,
        col=1,
    )
    figure.add_trace(
        go.Scattergl(
            x=check.train_counts,
            y=check.difficulty,
            hovertemplate="<b>%{customdata[0]}</b><br>%{x} train images<br>d = %{y:.3f}<extra></extra>",
            **common,
        ),
        row=1,
        col=2,
    )
    axis = {"gridcolor": GRID, "linecolor": INK}
    figure.update_yaxes({**axis, "title": {"text": d_label}, "rangemode": "tozero"}, row=1, col=1)
    figure.update_yaxes({**axis, "rangemode": "tozero"}, row=1, col=2)
    figure.update_xaxes(
        {**axis, "title": {"text": f"observed error 1 − acc ({check.eval_split})"}, "tickformat": ".0%"},
        row=1,
        col=1,
    )
    ticks = log_ticks(check.train_counts)
    figure.update_xaxes(
        {
            **axis,
            "type": "log",
            "title": {"text": "train images (log)"},
            "tickvals": ticks,
            "ticktext": [f"{t:,}" for t in ticks],
        },
        row=1,
        col=2,
    )
    return figure
