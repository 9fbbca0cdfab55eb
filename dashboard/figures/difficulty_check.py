"""'Is the difficulty right?': predicted difficulty against observed error, and against class size.

Two separate figures (not subplots), so they sit side by side on a wide screen and stack on a phone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

from dashboard.analysis.difficulty_check import DifficultyCheck
from dashboard.figures.style import OKABE_ITO, base_layout, log_axis


def _rho(value: float | None) -> str:
    return "ρ undefined" if value is None else f"Spearman ρ = {value:+.2f}"


def _difficulty_label(check: DifficultyCheck) -> str:
    return "difficulty d_c" if check.learned else "difficulty = 1 − val acc"


def _points(check: DifficultyCheck, xs: Sequence[float], x_hover: str) -> go.Scattergl:
    return go.Scattergl(
        x=list(xs),
        y=check.difficulty,
        mode="markers",
        customdata=[[n, i] for n, i in zip(check.names, check.indices, strict=True)],  # [1]: for clicks
        marker={"color": OKABE_ITO[0], "size": 8, "opacity": 0.8, "line": {"width": 1, "color": "white"}},
        hovertemplate=f"<b>%{{customdata[0]}}</b><br>{x_hover}<br>d = %{{y:.3f}}<extra></extra>",
    )


def difficulty_vs_error_figure(check: DifficultyCheck) -> go.Figure:
    """d_c against the observed error 1 − acc_c on the evaluation split, with Spearman ρ."""
    layout: dict[str, Any] = base_layout(
        f"vs observed error · epoch {check.epoch}<br><sup>{_rho(check.rho_error)}</sup>",
        f"observed error 1 − acc ({check.eval_split})",
        _difficulty_label(check),
        xaxis={"tickformat": ".0%"},
        yaxis={"rangemode": "tozero"},
        showlegend=False,
    )
    return go.Figure(_points(check, check.error, "error %{x:.1%}"), layout=layout)


def difficulty_vs_count_figure(check: DifficultyCheck) -> go.Figure:
    """d_c against train images (log x), with Spearman ρ."""
    layout = base_layout(
        f"vs train images · epoch {check.epoch}<br><sup>{_rho(check.rho_count)}</sup>",
        "train images (log)",
        _difficulty_label(check),
        xaxis=log_axis(check.train_counts),
        yaxis={"rangemode": "tozero"},
        showlegend=False,
    )
    return go.Figure(_points(check, check.train_counts, "%{x} train images"), layout=layout)
