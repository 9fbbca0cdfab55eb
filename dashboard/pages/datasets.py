"""Datasets ("/"): upload a manifest CSV or zip bundle, see its class histogram or row errors, list all."""

from __future__ import annotations

import base64
import binascii
import logging
from collections import defaultdict
from typing import Any

from dash import Dash, Input, Output, State, dcc, html, no_update
from dash.development.base_component import Component

from dashboard import ids
from dashboard.api_client import ApiClient, ApiError, ApiValidationError
from dashboard.components.a11y import aria
from dashboard.components.alerts import alert
from dashboard.components.errors_table import row_errors_table
from dashboard.components.layout import field as form_field
from dashboard.components.layout import section
from dashboard.figures.datasets import class_frequency_figure
from dashboard.formatting import short_id
from dashboard.models import Dataset, Run

logger = logging.getLogger(__name__)

PATH = "/"
# No ``accept`` filter on the drop zone: the browser would drop other files without a word, so the
# callback sees every file and names what is accepted (``handle_upload``).


def layout(max_upload_mb: float = 256.0, **_query: str) -> html.Div:
    return html.Div(
        [
            html.H1("Datasets"),
            section(
                "Upload a dataset",
                html.P(
                    [
                        "A manifest is a CSV with the header ",
                        html.Code("path,label[,split]"),
                        " (split: train, val or test). Paths are relative to the server's data root; "
                        "a .zip bundle holds the manifest and its images together.",
                    ]
                ),
                form_field(
                    "Folder of the images (CSV only, optional)",
                    ids.DATASETS_BASE,
                    dcc.Input(
                        id=ids.DATASETS_BASE,
                        type="text",
                        value="",
                        className="input",
                        placeholder="e.g. cifar10-lt",
                    ),
                    hint="relative to the server's data root; leave empty when the CSV's paths start there",
                ),
                dcc.Upload(
                    id=ids.DATASETS_UPLOAD,
                    children=html.Div(
                        [
                            html.Strong("Drag and drop a manifest CSV or a .zip bundle here"),
                            html.Span(" or click to choose a file"),
                        ]
                    ),
                    multiple=False,
                    max_size=int(max_upload_mb * 1024 * 1024),
                    className="upload-zone",
                    className_active="upload-zone upload-zone-active",
                    className_reject="upload-zone upload-zone-reject",
                ),
                dcc.Loading(
                    html.Div(id=ids.DATASETS_UPLOAD_RESULT, **aria(live="polite")),
                    type="circle",
                    id=ids.DATASETS_UPLOAD_STATUS,
                ),
                section_id="datasets-upload-section",
            ),
            dcc.Store(id=ids.DATASETS_VERSION, data=0),
            section(
                "Your datasets",
                html.Button(
                    "Refresh", id=ids.DATASETS_REFRESH, className="button button-secondary", n_clicks=0
                ),
                html.Div(id=ids.DATASETS_LIST_ALERT),
                dcc.Loading(html.Div(id=ids.DATASETS_LIST), type="dot"),
                section_id="datasets-list-section",
            ),
        ]
    )


def decode_upload(contents: str) -> bytes:
    """``data:<mime>;base64,<payload>`` from dcc.Upload → bytes; ValueError if malformed."""
    _, sep, payload = contents.partition(",")
    if not sep:
        raise ValueError("the browser sent the file in an unexpected format")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("the browser sent a corrupt file") from exc


def dataset_summary(dataset: Dataset) -> html.Div:
    """What a successful upload shows: key numbers, notes, the class histogram and next steps."""
    splits = " · ".join(f"{split} {count}" for split, count in dataset.split_counts.items())
    groups = " · ".join(f"{group} {count}" for group, count in dataset.group_counts.items())
    imbalance = f"{dataset.imbalance_factor:.1f}" if dataset.imbalance_factor else "–"
    facts = [
        ("Dataset", dataset.label),
        ("Classes", str(len(dataset.classes))),
        ("Images per split", splits or "–"),
        ("Imbalance factor (max/min train)", imbalance),
        ("Classes per group (many/medium/few)", groups or "–"),
        ("Evaluated on", dataset.eval_split or "–"),
        ("Meta set", dataset.meta_source or "–"),
    ]
    return html.Div(
        [
            html.Dl(
                [part for label, value in facts for part in (html.Dt(label), html.Dd(value))],
                className="facts",
            ),
            html.Ul([html.Li(note) for note in dataset.notes], className="notes") if dataset.notes else None,
            dcc.Graph(
                figure=class_frequency_figure(dataset),
                config={"displaylogo": False},
                className="graph",
                id=ids.DATASETS_CLASS_FREQUENCY,
            ),
            html.P(
                [
                    dcc.Link(
                        "Start a run on this dataset",
                        href=f"/runs/new?dataset={dataset.id}",
                        className="button",
                    ),
                    " ",
                    dcc.Link(
                        "Compare its runs", href=f"/compare?dataset={dataset.id}", className="button-link"
                    ),
                ]
            ),
        ],
        className="dataset-summary",
    )


def handle_upload(
    api: ApiClient, contents: str | None, filename: str | None, base: str = ""
) -> tuple[Component, bool]:
    """Send an uploaded file to the API; returns what to show and whether a dataset was created."""
    if not contents or not filename:
        return html.Div(), False
    if not filename.lower().endswith((".csv", ".zip")):
        return alert(
            f"{filename} was not uploaded: choose a manifest .csv (path,label[,split]) or a .zip bundle."
        ), False
    try:
        content = decode_upload(contents)
    except ValueError as exc:
        return alert(f"Could not read {filename}: {exc}"), False
    try:
        dataset, created = api.upload_dataset(filename, content, base=(base or "").strip())
    except ApiValidationError as exc:
        if exc.errors:
            return row_errors_table(
                exc.errors, exc.errors_total, f"{filename} was rejected", exc.message
            ), False
        return alert(f"{filename} was rejected: {exc.message}"), False
    except ApiError as exc:
        return alert(exc.message), False
    if created:
        text = f"Uploaded {filename}: dataset {dataset.id} with {len(dataset.classes)} classes."
    else:
        text = (
            f"{filename} has the same content as dataset {dataset.id} ({dataset.label}), uploaded before: "
            "nothing new was stored; here it is."
        )
    message = alert(text, "success" if created else "info")
    return html.Div([message, dataset_summary(dataset)]), created


def _run_links(runs: list[Run]) -> Component:
    if not runs:
        return html.Span("no runs yet", className="muted")
    return html.Ul(
        [html.Li(dcc.Link(run.label, href=f"/runs/{run.id}")) for run in runs],
        className="run-links",
    )


def datasets_table(datasets: list[Dataset], runs: list[Run]) -> Component:
    """One row per dataset with its numbers, its runs (links) and actions."""
    if not datasets:
        return html.P("No datasets yet: upload a manifest above.", className="muted")
    by_dataset: dict[str, list[Run]] = defaultdict(list)
    for run in runs:
        by_dataset[run.dataset_id].append(run)
    header = html.Thead(
        html.Tr(
            [html.Th(h, scope="col") for h in ("Dataset", "Classes", "Rows", "Imbalance", "Runs", "Actions")]
        )
    )
    rows = []
    for dataset in datasets:
        rows.append(
            html.Tr(
                [
                    html.Td([html.Div(dataset.name or "–"), html.Code(short_id(dataset.id, 16))]),
                    html.Td(str(len(dataset.classes))),
                    html.Td(str(dataset.num_rows)),
                    html.Td(f"{dataset.imbalance_factor:.1f}" if dataset.imbalance_factor else "–"),
                    html.Td(_run_links(by_dataset.get(dataset.id, []))),
                    html.Td(
                        [
                            dcc.Link(
                                "New run", href=f"/runs/new?dataset={dataset.id}", className="button-link"
                            ),
                            " · ",
                            dcc.Link(
                                "Compare", href=f"/compare?dataset={dataset.id}", className="button-link"
                            ),
                        ]
                    ),
                ]
            )
        )
    return html.Div(html.Table([header, html.Tbody(rows)], className="data-table"), className="table-scroll")


def load_datasets(api: ApiClient) -> tuple[Component, Component | None]:
    """The datasets table, or an alert when the backend cannot be asked."""
    try:
        datasets = api.list_datasets()
        runs = api.list_runs()
    except ApiError as exc:
        return html.Div(), alert(exc.message)
    return datasets_table(datasets, runs), None


def register_callbacks(app: Dash, api: ApiClient) -> None:
    @app.callback(
        Output(ids.DATASETS_UPLOAD_RESULT, "children"),
        Output(ids.DATASETS_VERSION, "data"),
        Input(ids.DATASETS_UPLOAD, "contents"),
        State(ids.DATASETS_UPLOAD, "filename"),
        State(ids.DATASETS_BASE, "value"),
        State(ids.DATASETS_VERSION, "data"),
        prevent_initial_call=True,
    )
    def on_upload(
        contents: str | None, filename: str | None, base: str | None, version: int | None
    ) -> tuple[Any, Any]:
        shown, created = handle_upload(api, contents, filename, base or "")
        return shown, (version or 0) + 1 if created else no_update

    @app.callback(
        Output(ids.DATASETS_LIST, "children"),
        Output(ids.DATASETS_LIST_ALERT, "children"),
        Input(ids.DATASETS_REFRESH, "n_clicks"),
        Input(ids.DATASETS_VERSION, "data"),
    )
    def on_refresh(_clicks: int | None, _version: int | None) -> tuple[Component, Component | None]:
        return load_datasets(api)
