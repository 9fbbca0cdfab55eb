"""Table of located problems (manifest rows, form fields) returned by the API's 422."""

from __future__ import annotations

from collections.abc import Sequence

from dash import html

from dashboard.models import FieldError

MAX_ROWS_SHOWN = 100


def row_errors_table(errors: Sequence[FieldError], total: int, title: str, detail: str = "") -> html.Div:
    """The first :data:`MAX_ROWS_SHOWN` errors as a table, and how many there are in total.

    ``detail`` is the API's one-line summary (it names the total even when only the first errors are sent).
    """
    shown = list(errors)[:MAX_ROWS_SHOWN]
    total = max(total, len(shown))
    counted = f"{total} error{'s' if total != 1 else ''}" + (
        f" — showing the first {len(shown)}" if total > len(shown) else ""
    )
    summary = f"{detail} ({counted})" if detail else counted
    rows = [
        html.Tr(
            [
                html.Td("file" if e.row is None else str(e.row)),
                html.Td(e.column or "–"),
                html.Td(e.reason),
            ]
        )
        for e in shown
    ]
    return html.Div(
        [
            html.H3(title),
            html.P(summary, className="errors-summary"),
            html.Div(
                html.Table(
                    [
                        html.Caption(f"{title}: {summary}", className="visually-hidden"),
                        html.Thead(
                            html.Tr(
                                [
                                    html.Th("Row", scope="col"),
                                    html.Th("Column", scope="col"),
                                    html.Th("Reason", scope="col"),
                                ]
                            )
                        ),
                        html.Tbody(rows),
                    ],
                    className="data-table errors-table",
                ),
                className="table-scroll",
            ),
        ],
        className="errors-block",
        role="alert",
    )
