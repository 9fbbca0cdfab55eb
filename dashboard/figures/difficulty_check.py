"""'Is the difficulty right?': predicted difficulty against observed error, and against class size.

Two separate figures (not subplots), so they sit side by side on a wide screen and stack on a phone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from dashboard.analysis.difficulty_check import DifficultyCheck
from dashboard.figures.style import OKABE_ITO, base_layout, log_axis


def _rho(value: float | None) -> str:
    return "ρ undefined" if value is None else f"Spearman ρ = {value:+.2f}"


def _subtitle(text: str) -> str:
    return f'<br><span style="font-size:13px">{text}</span>'


def _difficulty_label(check: DifficultyCheck) -> str:
    return "difficulty d_c" if check.learned else "difficulty = 1 − val acc"


def _points(check: DifficultyCheck, xs: Sequence[float], x_hover: str) -> go.Scattergl:
    # numpy arrays: plotly checks them whole, where lists cost it a Python call per value (1000 classes)
    customdata = np.empty((len(check.names), 2), dtype=object)
    customdata[:, 0], customdata[:, 1] = check.names, check.indices  # [1]: the class index, for clicks
    return go.Scattergl(
        x=np.asarray(xs, dtype=float),
        y=np.asarray(check.difficulty, dtype=float),
        mode="markers",
        customdata=customdata,
        marker={"color": OKABE_ITO[0], "size": 8, "opacity": 0.8, "line": {"width": 1, "color": "white"}},
        hovertemplate=f"<b>%{{customdata[0]}}</b><br>{x_hover}<br>d = %{{y:.3f}}<extra></extra>",
    )


def difficulty_vs_error_figure(check: DifficultyCheck) -> go.Figure:
    """d_c against the observed error 1 − acc_c on the evaluation split, with Spearman ρ."""
    layout: dict[str, Any] = base_layout(
        f"vs observed error · epoch {check.epoch}{_subtitle(_rho(check.rho_error))}",
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
        f"vs train images · epoch {check.epoch}{_subtitle(_rho(check.rho_count))}",
        "train images (log)",
        _difficulty_label(check),
        xaxis=log_axis(check.train_counts),
        yaxis={"rangemode": "tozero"},
        showlegend=False,
    )
    return go.Figure(_points(check, check.train_counts, "%{x} train images"), layout=layout)
