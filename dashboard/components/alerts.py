"""Visible, accessible messages: errors never surface as stack traces, always as one of these."""

from __future__ import annotations

from typing import Literal

from dash import html
from dash.development.base_component import Component

AlertKind = Literal["error", "warning", "info", "success"]


def alert(message: str | Component | list[Component | str], kind: AlertKind = "error") -> html.Div:
    """A message box; errors and warnings are announced immediately by screen readers."""
    role = "alert" if kind in ("error", "warning") else "status"
    return html.Div(message, className=f"alert alert-{kind}", role=role)
