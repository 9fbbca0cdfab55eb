"""Headline metric cards: overall, balanced, many/medium/few accuracy, with the gain over a baseline."""

from __future__ import annotations

from dash import html

from dashboard.components.a11y import aria
from dashboard.formatting import percent, points
from difficultynet.contracts.records import EpochRecord

HEADLINES: tuple[tuple[str, str], ...] = (
    ("top1", "Overall"),
    ("balanced_acc", "Balanced"),
    ("many_acc", "Many-shot"),
    ("medium_acc", "Medium-shot"),
    ("few_acc", "Few-shot"),
)


def _value(record: EpochRecord | None, key: str) -> float | None:
    if record is None:
        return None
    value = getattr(record, key)
    return float(value) if value is not None else None


def headline_cards(record: EpochRecord | None, baseline: EpochRecord | None = None) -> html.Div:
    """Five cards with this run's test accuracies and, when a baseline is given, the difference."""
    cards = []
    for key, title in HEADLINES:
        value = _value(record, key)
        base = _value(baseline, key)
        delta = value - base if value is not None and base is not None else None
        trend = "" if delta is None else (" gain" if delta > 0 else " loss" if delta < 0 else "")
        cards.append(
            html.Div(
                [
                    html.Div(title, className="card-title"),
                    html.Div(percent(value), className="card-value"),
                    html.Div(
                        f"{points(delta)} vs baseline" if baseline is not None else "no baseline",
                        className=f"card-delta{trend}",
                    ),
                ],
                className="metric-card",
                role="group",
                **aria(label=f"{title} test accuracy"),
            )
        )
    return html.Div(cards, className="metric-cards")
