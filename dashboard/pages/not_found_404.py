"""404: any path that no page serves."""

from __future__ import annotations

from dash import dcc, html


def layout(**_query: str) -> html.Div:
    return html.Div(
        [
            html.H1("Page not found"),
            html.P("There is no page at this address."),
            html.P(dcc.Link("Go to the runs", href="/", className="button")),
        ]
    )
