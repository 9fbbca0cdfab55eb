"""The run page's classes × epochs heatmap of loss weights."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
from dash import Patch

from dashboard.analysis.columns import frequency_order
from dashboard.figures.style import INK, base_layout, placeholder_figure
from difficultynet.contracts.records import EpochRecord

HEATMAP_COLORSCALE = "RdBu_r"  # diverging around w = 1 (ColorBrewer RdBu is color-blind safe)

# Why a method's weights look the way they do (methods whose weights are not learned).
WEIGHT_RULES: dict[str, str] = {
    "ce": "ce uses no class weights: every w_c is 1, so the map is flat",
    "focal": "focal loss uses no class weights: every w_c is 1",
    "bsce": "balanced softmax adjusts logits instead: every w_c is 1",
    "cb": "class-balanced: fixed weights from the train counts",
    "cdb": "cdb: w_c follows (1 − val acc)^τ of the previous epoch",
    "ldam-drw": "ldam-drw: weights are 1 until the deferred re-weighting starts",
}


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
        layout=base_layout(
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


def heatmap_patch(new_records: Sequence[EpochRecord]) -> Patch:
    """Append one heatmap row per new epoch (one operation per array, whatever the class count)."""
    patch = Patch()
    if not new_records:
        return patch
    order = frequency_order(new_records[0].classes)
    patch["data"][0]["y"].extend([r.epoch for r in new_records])
    patch["data"][0]["z"].extend(_heatmap_rows(new_records, order))
    return patch
