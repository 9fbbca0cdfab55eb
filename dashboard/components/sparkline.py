"""A tiny inline line chart (an SVG data URI in an ``<img>``): one per table row costs no plotly figure."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

from dash import html

WIDTH, HEIGHT, PAD = 120, 28, 2
STROKE = "#0b5cad"


def sparkline_points(values: Sequence[float], width: int = WIDTH, height: int = HEIGHT) -> str:
    """``x,y`` pairs of an SVG polyline over ``values``, scaled to the box (y grows downwards)."""
    if not values:
        return ""
    low, high = min(values), max(values)
    span = high - low or 1.0
    step = (width - 2 * PAD) / max(len(values) - 1, 1)
    return " ".join(
        f"{PAD + i * step:.1f},{PAD + (height - 2 * PAD) * (1 - (v - low) / span):.1f}"
        for i, v in enumerate(values)
    )


def sparkline_svg(values: Sequence[float]) -> str:
    points = sparkline_points(values)
    last = points.rsplit(" ", 1)[-1].split(",") if points else None
    dot = f'<circle cx="{last[0]}" cy="{last[1]}" r="2.5" fill="{STROKE}"/>' if last else ""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}">'
        f'<polyline fill="none" stroke="{STROKE}" stroke-width="1.6" points="{points}"/>{dot}</svg>'
    )


def sparkline(values: Sequence[float], label: str) -> html.Img | html.Span:
    """The sparkline of ``values`` with a text alternative; a dash when there is nothing to draw."""
    if len(values) < 2:
        return html.Span("–", className="muted")
    return html.Img(
        src="data:image/svg+xml;utf8," + quote(sparkline_svg(values)),
        alt=label,
        title=label,
        width=WIDTH,
        height=HEIGHT,
        className="sparkline",
    )
