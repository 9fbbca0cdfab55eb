"""The class panel's figures: one class over epochs (d, w, val acc, test acc) and its top confusions."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.analysis.class_history import PANEL_METRICS, ClassHistory
from dashboard.analysis.columns import ACCURACY_METRICS, METRICS
from dashboard.analysis.confusions import ConfusionHistory
from dashboard.figures.style import GRID, INK, OKABE_ITO, base_layout, placeholder_figure

CLASS_COLOR = OKABE_ITO[0]
MEDIAN_COLOR = "#6b7280"
BASELINE_COLOR = OKABE_ITO[3]


def epoch_ticks(epochs: list[int]) -> dict[str, object]:
    """Whole epochs only: with two epochs plotly would tick 1, 1.5, 2 (and "d" prints them as 1, 1, 2)."""
    return {"tickformat": "d", "dtick": 1 if len(epochs) <= 20 else None}


def class_history_figure(
    history: ClassHistory, baseline: ClassHistory | None = None, baseline_label: str = "baseline"
) -> go.Figure:
    """Four small panels; in each, this class (solid), the run's median class (grey) and the baseline."""
    figure = make_subplots(
        rows=2,
        cols=2,
        subplot_titles=[METRICS[m] for m in PANEL_METRICS],
        horizontal_spacing=0.12,
        vertical_spacing=0.2,
    )
    layout = base_layout(f"{history.name} over epochs", "", "", showlegend=True)
    del layout["xaxis"], layout["yaxis"]
    layout["margin"] = {"l": 56, "r": 16, "t": 72, "b": 48}
    traces, rows, cols = [], [], []
    for i, metric in enumerate(PANEL_METRICS):
        row, col = divmod(i, 2)
        first = i == 0
        fmt = ".1%" if metric in ACCURACY_METRICS else ".3f"
        series = [
            (history.name, history.epochs, history.values[metric], CLASS_COLOR, "solid", 2.5),
            ("median class", history.epochs, history.median[metric], MEDIAN_COLOR, "dot", 1.5),
        ]
        if baseline is not None:
            series.append(
                (
                    f"{history.name} in {baseline_label}",
                    baseline.epochs,
                    baseline.values[metric],
                    BASELINE_COLOR,
                    "dash",
                    2,
                )
            )
        for name, xs, ys, color, dash, width in series:
            traces.append(
                go.Scatter(
                    x=np.asarray(xs),  # arrays: plotly checks lists value by value
                    y=np.asarray(ys, dtype=float),
                    name=name,
                    legendgroup=name,
                    showlegend=first,
                    mode="lines+markers" if len(xs) <= 30 else "lines",
                    line={"color": color, "dash": dash, "width": width},
                    marker={"size": 5},
                    hovertemplate=f"<b>{name}</b><br>epoch %{{x}}<br>{METRICS[metric]} %{{y:{fmt}}}"
                    "<extra></extra>",
                )
            )
            rows.append(row + 1)
            cols.append(col + 1)
        axis = {"gridcolor": GRID, "linecolor": INK, "rangemode": "tozero"}
        if metric in ACCURACY_METRICS:
            axis["tickformat"] = ".0%"
        suffix = "" if i == 0 else str(i + 1)  # make_subplots numbers the axes row by row
        layout[f"yaxis{suffix}"] = axis
        layout[f"xaxis{suffix}"] = {"gridcolor": GRID, "linecolor": INK, **epoch_ticks(history.epochs)}
    # all at once: every add_trace and update_layout call re-checks the whole figure
    figure.add_traces(traces, rows=rows, cols=cols)
    figure.update_layout(layout)
    return figure


def confusion_history_figure(history: ConfusionHistory | None, name: str) -> go.Figure:
    """Rate over epochs of each class this class's images were most often predicted as."""
    title = "Predicted as, over epochs"
    if history is not None and history.epochs and history.epochs[0] > 1:  # only the latest epochs were read
        title = f"Predicted as, epochs {history.epochs[0]}–{history.epochs[-1]}"
    if history is None or not history.targets:
        message = (
            "No confusions recorded for this run (records from before confusions were kept)."
            if history is None
            else f"No image of {name} was predicted as another class."
        )
        return placeholder_figure(message, title)
    traces = [
        go.Scatter(
            x=np.asarray(history.epochs),
            y=np.asarray(rates, dtype=float),
            name=f"as {target}",
            mode="lines+markers" if len(rates) <= 30 else "lines",
            line={"color": OKABE_ITO[(i + 1) % len(OKABE_ITO)], "width": 2},
            hovertemplate=f"<b>{name} → {target}</b><br>epoch %{{x}}<br>%{{y:.1%}} of its images"
            "<extra></extra>",
        )
        for i, ((_, target), rates) in enumerate(zip(history.targets, history.rates, strict=True))
    ]
    layout = base_layout(
        title,
        "epoch",
        "share of its evaluation images",
        yaxis={"tickformat": ".0%", "rangemode": "tozero"},
        xaxis=epoch_ticks(history.epochs),
    )
    return go.Figure(traces, layout=layout)
