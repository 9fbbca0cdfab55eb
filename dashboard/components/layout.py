"""Page scaffolding: sections, labelled form fields, the navigation bar."""

from __future__ import annotations

from typing import Any

from dash import dcc, html
from dash.development.base_component import Component

from dashboard.components.a11y import aria


def section(title: str, *children: Any, section_id: str | None = None, extra_class: str = "") -> html.Section:
    heading_id = f"{section_id}-heading" if section_id else None
    props: dict[str, Any] = {"className": f"card {extra_class}".strip()}
    if section_id:
        props["id"] = section_id
        props["aria-labelledby"] = heading_id
    heading = html.H2(title, id=heading_id) if heading_id else html.H2(title)
    return html.Section([heading, *children], **props)


def field(
    label: str, control_id: str, control: Component, *, hint: str | None = None, error_id: str | None = None
) -> html.Div:
    """A control with a real ``<label for=…>``, an optional hint and a slot for the API's message."""
    parts: list[Component] = [html.Label(label, htmlFor=control_id, className="field-label"), control]
    if hint:
        parts.append(html.Small(hint, className="field-hint"))
    if error_id:
        parts.append(html.Div(id=error_id, className="field-error", role="alert", **aria(live="polite")))
    return html.Div(parts, className="field")


def navbar(links: list[tuple[str, str]], status_id: str) -> html.Header:
    """Site header: name, one link per page, and the backend health indicator."""
    return html.Header(
        [
            dcc.Link("Difficulty-Net", href="/", className="brand"),
            html.Nav(
                html.Ul([html.Li(dcc.Link(name, href=href, className="nav-link")) for name, href in links]),
                **aria(label="Main"),
            ),
            html.Div(id=status_id, className="backend-status", role="status", **aria(live="polite")),
        ],
        className="site-header",
    )
