"""The run page's "Is DNet learning?" panel: a one-line reading plus the numbers behind it."""

from __future__ import annotations

from dash import html

from dashboard.components.a11y import aria
from difficultynet.contracts.records import EpochRecord
from difficultynet.diagnostics import reading

NOT_DNET = (
    "Not a Difficulty-Net run: its weights follow a fixed rule, and its “difficulty” is 1 − val accuracy."
)


def _number(value: float | None, fmt: str) -> str:
    return "–" if value is None else format(value, fmt)


def dnet_health_panel(record: EpochRecord | None) -> html.Div:
    """Reading of the latest epoch's diagnostics (or why there is none)."""
    if record is None:
        return html.Div(html.P("Waiting for the first epoch…", className="muted"))
    diagnostics = record.dnet
    if diagnostics is None:
        return html.Div(html.P(NOT_DNET, className="muted"))
    facts = (
        ("Weight spread (max/min)", _number(diagnostics.weight_spread, ".2f")),
        ("ρ(w, train count)", _number(diagnostics.spearman_weight_count, "+.2f")),
        ("ρ(w, 1 − val acc)", _number(diagnostics.spearman_weight_error, "+.2f")),
        ("Meta-gradient norm", _number(diagnostics.meta_grad_norm, ".2e")),
        ("Driver-gradient norm", _number(diagnostics.driver_grad_norm, ".2e")),
    )
    return html.Div(
        [
            html.P(
                [html.Strong(f"Epoch {record.epoch}: "), reading(diagnostics)],
                className="dnet-reading",
                role="status",
                **aria(live="polite"),
            ),
            html.Dl(  # one <div> per term/value pair, so a pair never wraps apart
                [html.Div([html.Dt(label), html.Dd(value)], className="fact") for label, value in facts],
                className="facts-inline",
            ),
        ]
    )
