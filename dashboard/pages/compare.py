"""Compare ("/compare"): several runs on one dataset; balanced accuracy curves and per-class accuracy."""

from __future__ import annotations

import logging
from typing import Any

from dash import Dash, Input, Output, State, dcc, html
from dash.development.base_component import Component

from dashboard import ids
from dashboard.api_client import ApiClient, ApiError
from dashboard.components.alerts import alert
from dashboard.components.layout import field as form_field
from dashboard.components.layout import section
from dashboard.figures.compare import balanced_curves_figure, per_class_accuracy_figure
from dashboard.figures.style import placeholder_figure
from dashboard.formatting import percent, short_id
from dashboard.models import Run
from difficultynet.contracts.records import EpochRecord

logger = logging.getLogger(__name__)

PATH = "/compare"
DEFAULT_RUNS = 6
GRAPH_CONFIG: dcc.Graph.Config = {"displaylogo": False, "responsive": True}


def layout(dataset: str | None = None, runs: str | None = None, **_query: str) -> html.Div:
    wanted = [r for r in (runs or "").split(",") if r]
    empty = "Pick a dataset and runs above."
    return html.Div(
        [
            html.H1("Compare runs"),
            dcc.Store(id=ids.COMPARE_QUERY, data={"dataset": dataset, "runs": wanted}),
            html.Div(id=ids.COMPARE_ALERT),
            section(
                "Runs",
                html.Div(
                    [
                        form_field(
                            "Dataset",
                            ids.COMPARE_DATASET,
                            dcc.Dropdown(
                                id=ids.COMPARE_DATASET, placeholder="Choose a dataset", clearable=False
                            ),
                        ),
                        form_field(
                            "Runs on this dataset",
                            ids.COMPARE_RUNS,
                            dcc.Dropdown(id=ids.COMPARE_RUNS, multi=True, placeholder="Choose runs"),
                            hint="runs with at least one finished epoch",
                        ),
                    ],
                    className="form-grid",
                ),
                dcc.Loading(html.Div(id=ids.COMPARE_TABLE), type="dot"),
                section_id="compare-runs-section",
            ),
            section(
                "Balanced accuracy",
                dcc.Graph(
                    id=ids.COMPARE_BALANCED,
                    figure=placeholder_figure(empty),
                    config=GRAPH_CONFIG,
                    className="graph",
                ),
                section_id="compare-balanced-section",
            ),
            section(
                "Per-class accuracy by frequency",
                dcc.Graph(
                    id=ids.COMPARE_PER_CLASS,
                    figure=placeholder_figure(empty),
                    config=GRAPH_CONFIG,
                    className="graph",
                ),
                section_id="compare-per-class-section",
            ),
        ]
    )


def summary_table(runs: list[tuple[Run, EpochRecord]]) -> Component:
    """Final numbers of each run side by side."""
    if not runs:
        return html.P("No run selected.", className="muted")
    header = ["Run", "Status", "Method", "Model", "Epoch", "Overall", "Balanced", "Many", "Medium", "Few"]
    rows = [
        html.Tr(
            [
                html.Td(dcc.Link(short_id(run.id), href=f"/runs/{run.id}")),
                html.Td(html.Span(run.status, className=f"status status-{run.status}")),
                html.Td(
                    run.config.method + (f" ({run.config.dnet.meta_mode})" if run.config.is_dnet else "")
                ),
                html.Td(run.config.model),
                html.Td(f"{record.epoch}/{record.epochs_total}"),
                *[
                    html.Td(percent(v))
                    for v in (
                        record.top1,
                        record.balanced_acc,
                        record.many_acc,
                        record.medium_acc,
                        record.few_acc,
                    )
                ],
            ]
        )
        for run, record in runs
    ]
    return html.Div(
        html.Table(
            [html.Thead(html.Tr([html.Th(h, scope="col") for h in header])), html.Tbody(rows)],
            className="data-table",
        ),
        className="table-scroll",
    )


def run_label(run: Run) -> str:
    mode = f" ({run.config.dnet.meta_mode})" if run.config.is_dnet else ""
    return f"{run.config.method}{mode} · {short_id(run.id)}"


def load_datasets(
    api: ApiClient, wanted: str | None
) -> tuple[list[dict[str, str]], str | None, Component | None]:
    try:
        datasets = api.list_datasets()
    except ApiError as exc:
        return [], None, alert(exc.message)
    options = [{"label": f"{d.label} · {len(d.classes)} classes", "value": d.id} for d in datasets]
    if not options:
        return [], None, alert("No datasets yet: upload one on the Datasets page first.", "info")
    if wanted and wanted not in {o["value"] for o in options}:
        return options, None, alert(f"Dataset {wanted} does not exist (it may have been deleted).", "warning")
    return options, wanted or options[0]["value"], None


def load_runs(
    api: ApiClient, dataset_id: str | None, wanted: list[str]
) -> tuple[list[dict[str, str]], list[str], Component | None]:
    """Runs with ≥ 1 epoch; preselect the requested ones, else the newest few that were not cancelled or
    failed (those stay in the list, to pick by hand)."""
    if not dataset_id:
        return [], [], None
    try:
        runs = [r for r in api.list_runs(dataset_id=dataset_id) if r.epoch >= 1]
    except ApiError as exc:
        return [], [], alert(exc.message)
    options = [{"label": r.label, "value": r.id} for r in runs]
    available = {r.id for r in runs}
    healthy = [r.id for r in runs if r.status not in ("cancelled", "failed")]
    chosen = [r for r in wanted if r in available] or healthy[:DEFAULT_RUNS]
    return options, chosen, None


def compare(api: ApiClient, run_ids: list[str]) -> tuple[Any, Any, Component, Component | None]:
    """Both figures and the summary table for the chosen runs."""
    chosen: list[tuple[Run, list[EpochRecord]]] = []
    problems: list[str] = []
    for run_id in run_ids:
        try:
            run = api.get_run(run_id)
            chosen.append((run, api.epochs(run_id)))
        except ApiError as exc:
            problems.append(exc.message)
    with_records = [(run, records) for run, records in chosen if records]
    balanced = balanced_curves_figure([(run_label(run), records) for run, records in with_records])
    per_class = per_class_accuracy_figure([(run_label(run), records[-1]) for run, records in with_records])
    table = summary_table([(run, records[-1]) for run, records in with_records])
    return balanced, per_class, table, alert("; ".join(problems), "warning") if problems else None


def register_callbacks(app: Dash, api: ApiClient) -> None:
    @app.callback(
        Output(ids.COMPARE_DATASET, "options"),
        Output(ids.COMPARE_DATASET, "value"),
        Output(ids.COMPARE_ALERT, "children"),
        Input(ids.COMPARE_QUERY, "data"),
    )
    def on_load(query: dict[str, Any] | None) -> tuple[Any, Any, Any]:
        return load_datasets(api, (query or {}).get("dataset"))

    @app.callback(
        Output(ids.COMPARE_RUNS, "options"),
        Output(ids.COMPARE_RUNS, "value"),
        Output(ids.COMPARE_ALERT, "children", allow_duplicate=True),
        Input(ids.COMPARE_DATASET, "value"),
        State(ids.COMPARE_QUERY, "data"),
        prevent_initial_call=True,
    )
    def on_dataset(dataset_id: str | None, query: dict[str, Any] | None) -> tuple[Any, Any, Any]:
        return load_runs(api, dataset_id, list((query or {}).get("runs") or []))

    @app.callback(
        Output(ids.COMPARE_BALANCED, "figure"),
        Output(ids.COMPARE_PER_CLASS, "figure"),
        Output(ids.COMPARE_TABLE, "children"),
        Output(ids.COMPARE_ALERT, "children", allow_duplicate=True),
        Input(ids.COMPARE_RUNS, "value"),
        prevent_initial_call=True,
    )
    def on_runs(run_ids: list[str] | None) -> tuple[Any, Any, Any, Any]:
        return compare(api, list(run_ids or []))
