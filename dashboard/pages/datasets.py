"""Datasets ("/datasets"): upload a manifest CSV, a zip bundle or a zip of image folders, or register image
folders on the server; see the class histogram, generated splits or row errors; download manifests;
list all; the class frequencies of any dataset."""

from __future__ import annotations

import base64
import binascii
import logging
from collections import defaultdict
from typing import Any

from dash import ALL, Dash, Input, Output, State, ctx, dcc, html, no_update
from dash.development.base_component import Component

from dashboard import ids
from dashboard.api_client import ApiClient, ApiError, ApiValidationError, SplitSettings
from dashboard.components.a11y import aria
from dashboard.components.alerts import alert
from dashboard.components.class_frequencies import class_frequency_section, register_class_frequency_callbacks
from dashboard.components.errors_table import row_errors_table
from dashboard.components.layout import field as form_field
from dashboard.components.layout import section
from dashboard.figures.datasets import class_frequency_figure
from dashboard.formatting import short_id
from dashboard.models import Dataset, Run
from difficultynet.manifest import DEFAULT_TEST_FRACTION, DEFAULT_VAL_PER_CLASS, FolderReport

logger = logging.getLogger(__name__)

PATH = "/datasets"
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
                        "a .zip bundle holds the manifest and its images together. ",
                        html.Strong("No manifest?"),
                        " Drop a .zip of image folders (",
                        html.Code("train/<class>/*"),
                        " with optional ",
                        html.Code("val/"),
                        " and ",
                        html.Code("test/"),
                        ", or ",
                        html.Code("<class>/*"),
                        "): a manifest is generated with the splits below, and you can download it.",
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
                html.Fieldset(
                    [
                        html.Legend("Splits of image folders (where no val/ or test/ folder exists)"),
                        html.Div(_split_fields(), className="form-grid"),
                        html.Div(
                            [
                                form_field(
                                    "Or register image folders already on the server",
                                    ids.DATASETS_FOLDER,
                                    dcc.Input(
                                        id=ids.DATASETS_FOLDER,
                                        type="text",
                                        value="",
                                        className="input",
                                        placeholder="e.g. photos",
                                    ),
                                    hint="a folder under the server's data root; the images are not copied",
                                ),
                                html.Button(
                                    "Register folder",
                                    id=ids.DATASETS_REGISTER_FOLDER,
                                    n_clicks=0,
                                    className="button button-secondary",
                                ),
                            ],
                            className="button-row",
                        ),
                    ],
                    className="fieldset",
                ),
                dcc.Loading(
                    html.Div(id=ids.DATASETS_UPLOAD_RESULT, **aria(live="polite")),
                    type="circle",
                    id=ids.DATASETS_UPLOAD_STATUS,
                ),
                section_id="datasets-upload-section",
            ),
            dcc.Download(id=ids.DATASETS_DOWNLOAD),
            html.Div(id=ids.DATASETS_DOWNLOAD_MESSAGE, **aria(live="polite")),
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
            class_frequency_section(),
        ]
    )


def _split_fields() -> list[Component]:
    numbers = (
        ("Val (meta) images per class", ids.DATASETS_VAL_PER_CLASS, DEFAULT_VAL_PER_CLASS, 1,
         "balanced set Difficulty-Net learns from; at most half of a class"),
        ("Test fraction per class", ids.DATASETS_TEST_FRACTION, DEFAULT_TEST_FRACTION, 0.05,
         "stratified hold-out, 0 … 0.9"),
        ("Split seed", ids.DATASETS_SPLIT_SEED, 0, 1, "same seed, same manifest"),
    )  # fmt: skip
    return [
        form_field(
            label,
            control_id,
            dcc.Input(id=control_id, type="number", value=value, step=step, className="input"),
            hint=hint,
        )
        for label, control_id, value, step, hint in numbers
    ]


def split_settings(val_per_class: Any, test_fraction: Any, seed: Any) -> SplitSettings:
    """The split fields as typed (empty ones are left to the API's defaults; the API range-checks)."""
    return {"val_per_class": val_per_class, "test_fraction": test_fraction, "seed": seed}


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
    if dataset.folder is not None:
        facts.append(("Manifest", folder_description(dataset.folder)))
    return html.Div(
        [
            html.Dl(
                [part for label, value in facts for part in (html.Dt(label), html.Dd(value))],
                className="facts",
            ),
            html.Ul([html.Li(note) for note in dataset.notes], className="notes") if dataset.notes else None,
            short_classes_table(dataset.folder) if dataset.folder and dataset.folder.short_classes else None,
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
                    manifest_button(
                        dataset.id, "summary", "Download manifest CSV", "button button-secondary"
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


def folder_description(folder: FolderReport) -> str:
    """One line: how the manifest was generated from the folders."""
    given = ", ".join(f"{split}/" for split in folder.given_splits)
    parts = [f"generated from image folders ({given or 'one folder per class'})"]
    if "val" in folder.carved_splits:
        parts.append(f"val {folder.val_per_class}/class")
    if "test" in folder.carved_splits:
        parts.append(f"test {folder.test_fraction:.0%} per class")
    if folder.carved_splits:
        parts.append(f"seed {folder.seed}")
    return " · ".join(parts)


def short_classes_table(folder: FolderReport) -> Component:
    """Classes too small for the requested splits: kept, with the counts they got and why."""
    header = html.Thead(
        html.Tr([html.Th(h, scope="col") for h in ("Class", "Images", "Train", "Val", "Test", "Why")])
    )
    rows = [
        html.Tr([html.Td(str(cell)) for cell in (c.name, c.images, c.train, c.val, c.test, c.reason)])
        for c in folder.short_classes
    ]
    title = f"{len(folder.short_classes)} class(es) too small for the requested splits (kept, not dropped)"
    return html.Div(
        [
            html.H3(title),
            html.Div(
                html.Table(
                    [html.Caption(title, className="visually-hidden"), header, html.Tbody(rows)],
                    className="data-table short-classes-table",
                ),
                className="table-scroll",
            ),
        ],
        className="short-classes",
    )


def manifest_button(dataset_id: str, where: str, text: str, class_name: str) -> html.Button:
    """A download button for the dataset's manifest CSV (one pattern-matching callback serves all)."""
    return html.Button(
        text,
        id={"type": ids.DATASETS_MANIFEST_BUTTON, "dataset": dataset_id, "where": where},
        n_clicks=0,
        className=class_name,
    )


def download_manifest(api: ApiClient, dataset_id: str) -> tuple[Any, Component | None]:
    """``dcc.Download`` data for a dataset's manifest; an alert when the API cannot give it."""
    try:
        content = api.manifest_csv(dataset_id)
    except ApiError as exc:
        return no_update, alert(exc.message)
    return {
        "content": content.decode("utf-8"),
        "filename": f"{dataset_id}-manifest.csv",
        "type": "text/csv",
    }, None


def handle_upload(
    api: ApiClient,
    contents: str | None,
    filename: str | None,
    base: str = "",
    split: SplitSettings | None = None,
) -> tuple[Component, bool]:
    """Send an uploaded file to the API; returns what to show and whether a dataset was created."""
    if not contents or not filename:
        return html.Div(), False
    if not filename.lower().endswith((".csv", ".zip")):
        return alert(
            f"{filename} was not uploaded: choose a manifest .csv (path,label[,split]), a .zip bundle or "
            "a .zip of image folders."
        ), False
    try:
        content = decode_upload(contents)
    except ValueError as exc:
        return alert(f"Could not read {filename}: {exc}"), False
    try:
        dataset, created = api.upload_dataset(filename, content, base=(base or "").strip(), split=split)
    except ApiError as exc:
        return rejection(filename, exc), False
    return accepted(dataset, created, f"Uploaded {filename}", filename), created


def handle_register_folder(
    api: ApiClient, folder: str | None, split: SplitSettings | None = None
) -> tuple[Component, bool]:
    """Register image folders under the server's data root; returns what to show and whether it is new."""
    folder = (folder or "").strip()
    if not folder:
        return alert("Type the folder's path under the server's data root first, e.g. photos."), False
    try:
        dataset, created = api.register_folder(folder, split=split)
    except ApiError as exc:
        return rejection(f"Folder {folder}", exc), False
    return accepted(dataset, created, f"Registered folder {folder}", f"Folder {folder}"), created


def rejection(what: str, exc: ApiError) -> Component:
    if isinstance(exc, ApiValidationError) and exc.errors:
        return row_errors_table(exc.errors, exc.errors_total, f"{what} was rejected", exc.message)
    if isinstance(exc, ApiValidationError):
        return alert(f"{what} was rejected: {exc.message}")
    return alert(exc.message)


def accepted(dataset: Dataset, created: bool, done: str, what: str) -> Component:
    if created:
        text = f"{done}: dataset {dataset.id} with {len(dataset.classes)} classes."
    else:
        text = (
            f"{what} has the same content as dataset {dataset.id} ({dataset.label}), stored before: "
            "nothing new was stored; here it is."
        )
    message = alert(text, "success" if created else "info")
    return html.Div([message, dataset_summary(dataset)])


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
                            " · ",
                            manifest_button(dataset.id, "table", "Manifest CSV", "button-link"),
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
    register_class_frequency_callbacks(app, api)

    @app.callback(
        Output(ids.DATASETS_UPLOAD_RESULT, "children"),
        Output(ids.DATASETS_VERSION, "data"),
        Input(ids.DATASETS_UPLOAD, "contents"),
        Input(ids.DATASETS_REGISTER_FOLDER, "n_clicks"),
        State(ids.DATASETS_UPLOAD, "filename"),
        State(ids.DATASETS_BASE, "value"),
        State(ids.DATASETS_FOLDER, "value"),
        State(ids.DATASETS_VAL_PER_CLASS, "value"),
        State(ids.DATASETS_TEST_FRACTION, "value"),
        State(ids.DATASETS_SPLIT_SEED, "value"),
        State(ids.DATASETS_VERSION, "data"),
        prevent_initial_call=True,
    )
    def on_upload(
        contents: str | None,
        _register_clicks: int | None,
        filename: str | None,
        base: str | None,
        folder: str | None,
        val_per_class: Any,
        test_fraction: Any,
        seed: Any,
        version: int | None,
    ) -> tuple[Any, Any]:
        split = split_settings(val_per_class, test_fraction, seed)
        if ctx.triggered_id == ids.DATASETS_REGISTER_FOLDER:
            shown, created = handle_register_folder(api, folder, split)
        else:
            shown, created = handle_upload(api, contents, filename, base or "", split)
        return shown, (version or 0) + 1 if created else no_update

    @app.callback(
        Output(ids.DATASETS_DOWNLOAD, "data"),
        Output(ids.DATASETS_DOWNLOAD_MESSAGE, "children"),
        Input({"type": ids.DATASETS_MANIFEST_BUTTON, "dataset": ALL, "where": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    def on_manifest_download(_clicks: list[int | None]) -> tuple[Any, Any]:
        trigger = ctx.triggered_id
        if not isinstance(trigger, dict) or not ctx.triggered[0].get("value"):  # a button appearing: no click
            return no_update, no_update
        return download_manifest(api, str(trigger["dataset"]))

    @app.callback(
        Output(ids.DATASETS_LIST, "children"),
        Output(ids.DATASETS_LIST_ALERT, "children"),
        Input(ids.DATASETS_REFRESH, "n_clicks"),
        Input(ids.DATASETS_VERSION, "data"),
    )
    def on_refresh(_clicks: int | None, _version: int | None) -> tuple[Component, Component | None]:
        return load_datasets(api)
