"""Runs ("/", the landing page): every run with its dataset, method, status, progress, balanced accuracy
and a sparkline, and links to open, compare and delete it (deleting asks first)."""

from __future__ import annotations

import logging
from typing import Any

from dash import ALL, Dash, Input, Output, State, ctx, dcc, html, no_update
from dash.development.base_component import Component

from dashboard import ids
from dashboard.api_client import ApiClient, ApiError
from dashboard.components.a11y import aria
from dashboard.components.alerts import alert
from dashboard.components.layout import section
from dashboard.components.sparkline import sparkline
from dashboard.formatting import percent, short_id
from dashboard.models import Dataset, Run

logger = logging.getLogger(__name__)

PATH = "/"
REFRESH_MS = 5000
COLUMNS = ("Run", "Dataset", "Method", "Status", "Progress", "Balanced acc", "Over epochs", "Actions")


def layout(**_query: str) -> html.Div:
    return html.Div(
        [
            html.H1("Runs"),
            dcc.Interval(id=ids.RUNS_INTERVAL, interval=REFRESH_MS),
            dcc.Store(id=ids.RUNS_VERSION, data=0),
            section(
                "Every run",
                html.P(
                    [
                        "Newest first. ",
                        dcc.Link("Start a new run", href="/runs/new"),
                        " or ",
                        dcc.Link("add a dataset", href="/datasets"),
                        ".",
                    ],
                    className="muted",
                ),
                html.Div(id=ids.RUNS_ALERT, **aria(live="polite")),
                html.Div(id=ids.RUNS_TABLE, children=html.P("Loading…", className="muted")),
                section_id="runs-section",
            ),
        ]
    )


def _method(run: Run) -> str:
    config = run.config
    return f"{config.method} ({config.dnet.meta_mode} meta)" if config.is_dnet else config.method


def _progress(run: Run) -> html.Div:
    return html.Div(
        [
            html.Progress(
                value=str(run.epoch),
                max=str(max(run.epochs_total, 1)),
                className="progress-small",
                **aria(label=f"{run.epoch} of {run.epochs_total} epochs"),
            ),
            html.Span(f"{run.epoch} / {run.epochs_total}", className="progress-count"),
        ],
        className="progress-cell",
    )


def _actions(run: Run) -> html.Div:
    deletable = run.terminal
    return html.Div(
        [
            dcc.Link("Open", href=f"/runs/{run.id}", className="button-link"),
            dcc.Link(
                "Compare", href=f"/compare?dataset={run.dataset_id}&runs={run.id}", className="button-link"
            ),
            dcc.ConfirmDialogProvider(
                html.Button(
                    "Delete",
                    id={"type": ids.RUNS_DELETE_BUTTON, "index": run.id},
                    className="button-danger button-small",
                    disabled=not deletable,
                    title="" if deletable else "Cancel the run before deleting it",
                ),
                id={"type": ids.RUNS_DELETE, "index": run.id},
                message=f"Delete run {short_id(run.id)} ({_method(run)}, {run.status})? Its epochs, weights "
                "and files are removed for good.",
            ),
        ],
        className="row-actions",
    )


def _values(run: Run, names: dict[str, str]) -> list[Component | str]:
    return [
        dcc.Link(html.Code(short_id(run.id)), href=f"/runs/{run.id}"),
        names.get(run.dataset_id, short_id(run.dataset_id, 16)),
        _method(run),
        html.Span(run.status, className=f"status status-{run.status}"),
        _progress(run),
        percent(run.balanced_acc),
        sparkline(run.balanced_acc_history, f"balanced accuracy of run {short_id(run.id)}"),
        _actions(run),
    ]


def _cell(column: str, value: Component | str) -> html.Td:
    # data-label: on a phone the rows become cards and each value shows its column name (CSS)
    attributes: dict[str, Any] = {"data-label": column}
    return html.Td(value, **attributes)


def runs_table(runs: list[Run], datasets: list[Dataset]) -> Component:
    """One row per run, newest first."""
    if not runs:
        return html.P(
            ["No runs yet. ", dcc.Link("Start one", href="/runs/new"), " on the demo dataset or your own."],
            className="muted",
        )
    names = {d.id: d.name or short_id(d.id, 16) for d in datasets}
    header = html.Thead(html.Tr([html.Th(c, scope="col") for c in COLUMNS]))
    rows = [html.Tr([_cell(c, v) for c, v in zip(COLUMNS, _values(run, names), strict=True)]) for run in runs]
    return html.Div(
        html.Table([header, html.Tbody(rows)], className="data-table runs-table"), className="table-scroll"
    )


def load_runs(api: ApiClient) -> tuple[Component, Component | None]:
    try:
        runs = api.list_runs()
        datasets = api.list_datasets()
    except ApiError as exc:
        return html.Div(), alert(exc.message)
    return runs_table(runs, datasets), None


def delete_run(api: ApiClient, run_id: str) -> Component:
    try:
        api.delete_run(run_id)
    except ApiError as exc:
        return alert(f"Run {short_id(run_id)} was not deleted: {exc.message}")
    return alert(f"Run {short_id(run_id)} was deleted.", "success")


def register_callbacks(app: Dash, api: ApiClient) -> None:
    @app.callback(
        Output(ids.RUNS_ALERT, "children"),
        Output(ids.RUNS_VERSION, "data"),
        Input({"type": ids.RUNS_DELETE, "index": ALL}, "submit_n_clicks"),
        State(ids.RUNS_VERSION, "data"),
        prevent_initial_call=True,
    )
    def on_delete(_submits: list[int | None], version: int | None) -> tuple[Any, Any]:
        trigger = ctx.triggered_id
        if not isinstance(trigger, dict) or not ctx.triggered[0].get("value"):
            return no_update, no_update  # the table was redrawn: no confirmation happened
        return delete_run(api, str(trigger["index"])), (version or 0) + 1

    @app.callback(
        Output(ids.RUNS_TABLE, "children"),
        Output(ids.RUNS_ALERT, "children", allow_duplicate=True),
        Input(ids.RUNS_INTERVAL, "n_intervals"),
        Input(ids.RUNS_VERSION, "data"),
        prevent_initial_call="initial_duplicate",
    )
    def on_refresh(_n: int | None, _version: int | None) -> tuple[Any, Any]:
        table, problem = load_runs(api)
        return table, problem if problem is not None else no_update
