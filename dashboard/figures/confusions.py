"""The confusion heatmap of one epoch, frequency-ordered, from the records' sparse top-k confusions."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from dashboard.analysis.confusions import ConfusionMatrix
from dashboard.figures.style import base_layout


def confusion_heatmap_figure(matrix: ConfusionMatrix, epoch: int) -> go.Figure:
    """Rows: true class, columns: predicted class, head → tail; blank cells are outside each top-k."""
    size = len(matrix.names)
    # numpy arrays (NaN = no entry): plotly checks and encodes them whole (typed arrays), where nested
    # lists cost it a Python call per cell (~150 ms at 100 classes)
    rates = np.array([[np.nan if r is None else r for r in row] for row in matrix.rates], dtype=float)
    figure = go.Figure(
        go.Heatmap(
            x=matrix.names,
            y=matrix.names,
            z=rates.reshape(size, size),
            customdata=np.repeat(np.asarray(matrix.indices)[:, None], size, axis=1),  # the true class
            colorscale="Reds",
            zmin=0,
            hoverongaps=False,
            colorbar={"title": {"text": "rate"}, "thickness": 12, "tickformat": ".0%"},
            hovertemplate="true <b>%{y}</b> → predicted <b>%{x}</b><br>%{z:.1%} of its images<extra></extra>",
        ),
        layout=base_layout(
            f"Confusions · epoch {epoch}",
            "predicted class (head → tail)",
            "true class (head → tail)",
            xaxis={"type": "category", "showgrid": False, "tickangle": -45},
            yaxis={"type": "category", "showgrid": False, "autorange": "reversed"},
        ),
    )
    return figure
