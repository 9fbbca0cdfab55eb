"""The datasets page's class-frequency chart for any dataset (the demo too), picked from a list."""

from __future__ import annotations

from typing import Any

from dash import Dash, Input, Output, State, dcc, html, no_update

from dashboard import ids
from dashboard.api_client import ApiClient, ApiError
from dashboard.components.layout import field as form_field
from dashboard.components.layout import section
from dashboard.figures.datasets import class_frequency_figure
from dashboard.figures.style import placeholder_figure
from dashboard.models import Dataset

TITLE = "Train images per class"


def class_frequency_section() -> html.Section:
    return section(
        "Class frequencies",
        form_field(
            "Dataset",
            ids.DATASETS_FREQUENCY_PICK,
            dcc.Dropdown(id=ids.DATASETS_FREQUENCY_PICK, placeholder="Pick a dataset", clearable=False),
        ),
        dcc.Graph(
            id=ids.DATASETS_FREQUENCY_GRAPH,
            figure=placeholder_figure("Loading…", TITLE),
            config={"displaylogo": False, "responsive": True},
            className="graph",
        ),
        section_id="datasets-frequency-section",
    )


def frequency_choices(datasets: list[Dataset], current: str | None) -> tuple[list[dict[str, str]], Any]:
    """Every dataset as an option; keep the current pick while it exists, else the newest dataset."""
    options = [{"label": f"{d.label} · {len(d.classes)} classes", "value": d.id} for d in datasets]
    if current and any(d.id == current for d in datasets):
        return options, no_update
    return options, datasets[0].id if datasets else None


def frequency_figure(api: ApiClient, dataset_id: str | None) -> Any:
    if not dataset_id:
        return placeholder_figure("No dataset yet: upload one above.", TITLE)
    try:
        return class_frequency_figure(api.get_dataset(dataset_id))
    except ApiError as exc:
        return placeholder_figure(exc.message, TITLE)


def register_class_frequency_callbacks(app: Dash, api: ApiClient) -> None:
    @app.callback(
        Output(ids.DATASETS_FREQUENCY_PICK, "options"),
        Output(ids.DATASETS_FREQUENCY_PICK, "value"),
        Input(ids.DATASETS_VERSION, "data"),
        Input(ids.DATASETS_REFRESH, "n_clicks"),
        State(ids.DATASETS_FREQUENCY_PICK, "value"),
    )
    def on_datasets(_version: int | None, _clicks: int | None, current: str | None) -> tuple[Any, Any]:
        try:
            datasets = api.list_datasets()
        except ApiError:
            return no_update, no_update  # the list above already says the backend is unreachable
        return frequency_choices(datasets, current)

    @app.callback(Output(ids.DATASETS_FREQUENCY_GRAPH, "figure"), Input(ids.DATASETS_FREQUENCY_PICK, "value"))
    def on_pick(dataset_id: str | None) -> Any:
        return frequency_figure(api, dataset_id)
