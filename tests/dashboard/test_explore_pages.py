"""The exploration views' server side against the fake backend: the class panel, the thumbnail relay,
the runs overview with deletion, and the class frequencies of any dataset."""

from __future__ import annotations

import json

import plotly.graph_objects as go
from dash import no_update
from fake_backend import FakeBackend, thumbnail_png

from dashboard.api_client import ApiClient
from dashboard.app import create_app
from dashboard.components.class_frequencies import frequency_choices, frequency_figure
from dashboard.pages import runs
from dashboard.pages.run.class_panel import class_panel, thumbnail_url
from dashboard.settings import DashboardSettings
from difficultynet.synthetic import long_tail_counts, synthetic_records

TOKEN = "tok-relay-9d2e"


def text_of(component: object) -> str:
    return json.dumps(component, default=lambda c: c.to_plotly_json())


def seeded(backend: FakeBackend) -> tuple[str, str, str]:
    counts = {f"class_{i:04d}": n for i, n in enumerate(long_tail_counts(8))}
    dataset_id = backend.add_dataset(1, counts)
    ce_id = backend.add_run(1, dataset_id, synthetic_records(8, 3, method="ce", seed=2), method="ce")
    run_id = backend.add_run(2, dataset_id, synthetic_records(8, 4, seed=1), baseline_run_id=ce_id)
    return dataset_id, ce_id, run_id


def test_class_panel_shows_counts_history_confusions_and_hardest_examples(
    backend: FakeBackend, api: ApiClient
) -> None:
    _, ce_id, run_id = seeded(backend)
    panel = class_panel(api, run_id, 7, 2, ce_id)
    text = text_of(panel)
    assert "class_0007" in text and "Few-shot" in text.replace("few-shot", "Few-shot")
    assert '"Val images"' in text and '"Test images"' in text and "in ce run" in text
    record = backend.records[run_id][1]  # epoch 2, the slider's
    hardest = record.hardest[7]  # type: ignore[index]
    for example in hardest:
        assert thumbnail_url(run_id, example.row) in text
    assert "Top confusions at epoch 2" in text and "Hardest test images at epoch 2" in text
    figures = [c.figure for c in _graphs(panel)]
    assert len(figures[0].data) == 4 * 3  # four panels × (class, median class, baseline class)
    assert isinstance(figures[1], go.Figure) and figures[1].layout.title.text == "Predicted as, over epochs"


def _graphs(component: object) -> list:
    found = []
    children = getattr(component, "children", None)
    if type(component).__name__ == "Graph":
        found.append(component)
    for child in children if isinstance(children, list) else [children] if children is not None else []:
        found.extend(_graphs(child))
    return found


def test_class_panel_without_a_class_or_a_baseline(backend: FakeBackend, api: ApiClient) -> None:
    _, _, run_id = seeded(backend)
    assert "Click a class on any chart" in text_of(class_panel(api, run_id, None, 2, None))
    alone = text_of(class_panel(api, run_id, 3, None, None))
    assert "pick a baseline run below" in alone and "at epoch 4" in alone  # no epoch chosen: the latest
    assert "not in this run" in text_of(class_panel(api, run_id, 99, 2, None))
    backend.down = True
    assert "cannot reach the backend" in text_of(class_panel(api, run_id, 3, 2, None))


def test_thumbnails_are_relayed_with_the_server_side_token_and_cache_headers() -> None:
    backend = FakeBackend(token=TOKEN)
    _, _, run_id = seeded(backend)
    settings = DashboardSettings(api_url="http://backend.test", api_token=TOKEN)
    client = create_app(settings, api=backend.client()).server.test_client()
    response = client.get(thumbnail_url(run_id, 42))
    assert response.status_code == 200 and response.data == thumbnail_png(42)
    assert response.mimetype == "image/png" and "max-age" in response.headers["Cache-Control"]
    assert backend.requests[-1].headers["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in response.get_data(as_text=False).decode("latin-1")
    assert client.get(thumbnail_url("f" * 32, 1)).status_code == 404  # no such run: the API's 404
    assert client.get("/thumbnails/not-a-run/1").status_code == 404  # never asked


def test_runs_table_lists_runs_with_dataset_names_and_deletion_rules(
    backend: FakeBackend, api: ApiClient
) -> None:
    _, ce_id, run_id = seeded(backend)
    live = backend.add_run(
        3, next(iter(backend.datasets)), synthetic_records(8, 1), status="running", epochs_total=5
    )
    table, problem = runs.load_runs(api)
    text = text_of(table)
    assert problem is None and text.count("/runs/0000") >= 3 and "mini.csv" in text
    assert text.count("data:image/svg+xml") == 2  # a sparkline per run with two epochs or more
    assert text.count("Cancel the run before deleting it") == 1  # only the running run cannot be deleted
    assert "was deleted" in text_of(runs.delete_run(api, ce_id)) and ce_id not in backend.runs
    refused = text_of(runs.delete_run(api, live))
    assert "was not deleted" in refused and "cancel it first" in refused and live in backend.runs
    assert "No runs yet" in text_of(runs.runs_table([], []))
    backend.down = True
    assert "cannot reach the backend" in text_of(runs.load_runs(api)[1])
    assert run_id in backend.runs


def test_class_frequencies_of_any_dataset(backend: FakeBackend, api: ApiClient) -> None:
    dataset_id, _, _ = seeded(backend)
    other = backend.add_dataset(2, {"a": 300, "b": 30, "c": 3}, name="tiny.csv")
    datasets = api.list_datasets()
    options, value = frequency_choices(datasets, None)
    assert [o["value"] for o in options] == [dataset_id, other] and value == dataset_id
    assert frequency_choices(datasets, other)[1] is no_update  # the user's pick stays
    figure = frequency_figure(api, other)
    assert sum(len(t.x) for t in figure.data) == 3 and figure.layout.yaxis.type == "log"
    assert "upload one" in frequency_figure(api, None).layout.annotations[0].text
    assert "not found" in frequency_figure(api, "9" * 16).layout.annotations[0].text


def test_records_come_without_exploration_columns_which_have_routes_of_their_own(
    backend: FakeBackend, api: ApiClient
) -> None:
    _, _, run_id = seeded(backend)
    records = api.epochs(run_id)
    assert all(r.confusions is None and r.hardest is None for r in records)
    kept = backend.records[run_id]
    assert [r.classes for r in records] == [r.classes for r in kept]
    assert api.epoch_confusions(run_id, 2).confusions == kept[1].confusions
    explored = api.class_exploration(run_id, 5)
    assert [e.epoch for e in explored.epochs] == [1, 2, 3, 4]
    assert explored.epochs[3].hardest == kept[3].hardest[5]  # type: ignore[index]
    assert [e.epoch for e in api.class_exploration(run_id, 5, after=3).epochs] == [4]
