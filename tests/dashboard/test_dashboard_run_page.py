"""Run page callbacks, called directly with a client on the fake backend: live patches, errors, gains."""

from __future__ import annotations

import json

import plotly.graph_objects as go
from dash import Patch, no_update
from fake_backend import FakeBackend

from dashboard import ids
from dashboard.analysis.columns import Metric
from dashboard.api_client import ApiClient
from dashboard.pages.run import baseline, downloads, epoch_views
from dashboard.pages.run import layout as run_page_layout
from dashboard.pages.run.live import RunPollUpdate, poll
from dashboard.run_view.state import RunViewState
from difficultynet.synthetic import synthetic_records


def tick(
    api: ApiClient,
    run_id: str,
    state: RunViewState,
    *,
    metric: Metric = "difficulty",
    picks: list[int] | None = None,
    slider: int | None = None,
) -> tuple[RunPollUpdate, RunViewState]:
    update = poll(api, run_id, state, metric, picks, slider)
    new_state = RunViewState.load(update.view_state) if update.view_state is not no_update else state
    return update, new_state  # fmt: skip


def text_of(component: object) -> str:
    return json.dumps(component, default=lambda c: c.to_plotly_json())


def test_first_tick_builds_figures_then_ticks_only_append_new_epochs(
    backend: FakeBackend, api: ApiClient
) -> None:
    records = synthetic_records(5, 6, epochs_total=6)
    dataset_id = backend.add_dataset(1, {"a": 1})
    run_id = backend.add_run(1, dataset_id, records[:2], status="running", epochs_total=6)

    first, state = tick(api, run_id, RunViewState())
    assert isinstance(first.curves, go.Figure) and isinstance(first.heatmap, go.Figure)
    assert [len(t.x) for t in first.curves.data[:5]] == [2] * 5
    assert (state.drawn, state.latest, state.num_classes) == (2, 2, 5)
    assert first.slider_value == 2 and first.slider_max == 2
    assert first.interval_disabled is False and first.cancel_disabled is False
    assert first.progress_value == 2 and first.progress_max == 6
    assert "Epoch 2 / 6" in first.progress_text and "ETA" in first.progress_text
    assert first.picker_hidden is True  # 5 classes: one line each, no picker

    idle, same = tick(api, run_id, state, slider=2)
    assert idle.curves is no_update and idle.heatmap is no_update and idle.view_state is no_update
    assert backend.paths()[-1] == f"GET /api/runs/{run_id}/epochs?after=2"

    backend.set_records(run_id, records[:4])
    live, state = tick(api, run_id, same, slider=2)
    assert isinstance(live.curves, Patch) and isinstance(live.heatmap, Patch)
    ops = live.curves.to_plotly_json()["operations"]
    assert {op["location"][1] for op in ops} == set(range(5))
    assert next(op for op in ops if op["location"] == ["data", 0, "x"])["params"]["value"] == [3, 4]
    assert live.slider_value == 4 and state.drawn == 4  # the slider followed the latest epoch


def test_slider_stays_where_the_user_put_it(backend: FakeBackend, api: ApiClient) -> None:
    records = synthetic_records(4, 5)
    run_id = backend.add_run(
        1, backend.add_dataset(1, {"a": 1}), records[:3], status="running", epochs_total=5
    )
    _, state = tick(api, run_id, RunViewState())
    backend.set_records(run_id, records)
    update, _ = tick(api, run_id, state, slider=1)
    assert update.slider_max == 5 and update.slider_value is no_update


def test_terminal_run_stops_polling_after_reading_every_record(backend: FakeBackend, api: ApiClient) -> None:
    records = synthetic_records(3, 2)
    run_id = backend.add_run(1, backend.add_dataset(1, {"a": 1}), records, status="succeeded")
    update, state = tick(api, run_id, RunViewState())
    assert update.interval_disabled is True and update.cancel_disabled is True
    assert state.drawn == 2 and update.alert is None
    # status is read before the records, so a terminal status implies the records are complete
    paths = backend.paths()
    assert paths.index(f"GET /api/runs/{run_id}") < paths.index(f"GET /api/runs/{run_id}/epochs?after=0")


def test_failed_run_shows_its_error(backend: FakeBackend, api: ApiClient) -> None:
    run_id = backend.add_run(1, backend.add_dataset(1, {"a": 1}), synthetic_records(3, 1), status="failed")
    backend.runs[run_id]["error"] = "CUDA out of memory"
    update, _ = tick(api, run_id, RunViewState())
    assert "The run failed: CUDA out of memory" in text_of(update.alert)
    assert update.interval_disabled is True


def test_unknown_run_is_a_message_not_a_crash(api: ApiClient) -> None:
    update, _ = tick(api, "f" * 32, RunViewState())
    assert "was not found" in text_of(update.alert)
    assert update.interval_disabled is True and update.curves is no_update


def test_backend_down_keeps_the_figures_and_keeps_polling(backend: FakeBackend, api: ApiClient) -> None:
    run_id = backend.add_run(1, backend.add_dataset(1, {"a": 1}), synthetic_records(3, 2), status="running",
                             epochs_total=4)  # fmt: skip
    _, state = tick(api, run_id, RunViewState())
    backend.down = True
    update, after = tick(api, run_id, state, slider=2)
    assert "cannot reach the backend" in text_of(update.alert)
    assert update.curves is no_update and update.interval_disabled is False and after == state
    backend.down = False
    recovered, _ = tick(api, run_id, state, slider=2)
    assert recovered.alert is None  # the warning goes away by itself


def test_changing_the_metric_rebuilds_from_all_epochs(backend: FakeBackend, api: ApiClient) -> None:
    records = synthetic_records(3, 3)
    run_id = backend.add_run(1, backend.add_dataset(1, {"a": 1}), records, status="running", epochs_total=9)
    _, state = tick(api, run_id, RunViewState())
    update, state = tick(api, run_id, state, metric="test_acc", slider=3)
    assert isinstance(update.curves, go.Figure)
    assert list(update.curves.data[0].y) == [r.classes.test_acc[0] for r in records]
    assert update.heatmap is no_update  # the heatmap shows weights whatever the metric
    assert state.metric == "test_acc"


def test_many_classes_offer_a_picker_with_head_median_tail(backend: FakeBackend, api: ApiClient) -> None:
    records = synthetic_records(120, 2)
    run_id = backend.add_run(1, backend.add_dataset(1, {"a": 1}), records, status="running", epochs_total=4)
    update, state = tick(api, run_id, RunViewState())
    assert update.picker_hidden is False and update.picker_value == [0, 60, 119]
    assert len(update.picker_options) == 120 and update.picker_options[0]["value"] == 0
    assert "120 classes" in update.curves_note
    assert [t.name for t in update.curves.data][:3] == ["many-shot mean", "medium-shot mean", "few-shot mean"]
    # picking another class redraws with it
    picked, state = tick(api, run_id, state, picks=[5, 0, 60, 119], slider=2)
    assert isinstance(picked.curves, go.Figure) and len(picked.curves.data) == 3 + 4
    assert state.picks == [0, 5, 60, 119]
    calm, _ = tick(api, run_id, state, picks=[119, 60, 5, 0], slider=2)
    assert calm.curves is no_update  # same picks in another order: nothing to redraw


def test_epoch_views_build_the_scatter_once_then_patch_it(backend: FakeBackend, api: ApiClient) -> None:
    run_id = backend.add_run(1, backend.add_dataset(1, {"a": 1}), synthetic_records(6, 3), status="succeeded")
    first = epoch_views.epoch_views_update(api, run_id, 3, True, None)
    assert isinstance(first.scatter, go.Figure) and first.scatter_state == f"{run_id}:6"
    assert "epoch 3" in first.scatter.layout.title.text
    assert "epoch 3" in first.check.layout.title.text and "Spearman" in first.check_count.layout.title.text
    assert "epoch 3" in first.confusions.layout.title.text and "Most confused pairs" in text_of(first.pairs)
    again = epoch_views.epoch_views_update(api, run_id, 1, False, first.scatter_state)
    assert isinstance(again.scatter, Patch) and again.scatter_state is no_update
    nothing = epoch_views.epoch_views_update(api, run_id, None, True, first.scatter_state)
    assert nothing.scatter is no_update and nothing.confusions is no_update
    assert epoch_views.epoch_views_update(api, run_id, 99, True, first.scatter_state).scatter is no_update


def test_gains_need_a_baseline_and_show_group_means(backend: FakeBackend, api: ApiClient) -> None:
    dataset_id = backend.add_dataset(1, {"a": 1})
    run_id = backend.add_run(1, dataset_id, synthetic_records(10, 3, skill=1.0), status="succeeded")
    ce_id = backend.add_run(
        2, dataset_id, synthetic_records(10, 3, skill=0.7), status="succeeded", method="ce"
    )

    none = baseline.gains_update(api, run_id, 3, None, None)
    assert "Pick a baseline" in none.note
    assert "no baseline" in text_of(none.headlines)

    with_base = baseline.gains_update(api, run_id, 3, ce_id, None)
    assert isinstance(with_base.figure, go.Figure) and with_base.state == f"{run_id}:{ce_id}:10"
    assert "Mean gain: many-shot +" in with_base.note
    assert "vs baseline" in text_of(with_base.headlines)
    again = baseline.gains_update(api, run_id, 3, ce_id, with_base.state)
    assert isinstance(again.figure, Patch)

    gone = baseline.gains_update(api, run_id, 3, "e" * 32, None)
    assert "was not found" in gone.note


def test_baseline_defaults_to_the_newest_finished_ce_run(backend: FakeBackend, api: ApiClient) -> None:
    dataset_id = backend.add_dataset(1, {"a": 1})
    run_id = backend.add_run(3, dataset_id, synthetic_records(4, 1), status="running", epochs_total=3)
    ce_id = backend.add_run(2, dataset_id, synthetic_records(4, 1), status="succeeded", method="ce")
    backend.add_run(
        1, backend.add_dataset(2, {"b": 1}), synthetic_records(4, 1), method="ce"
    )  # other dataset
    options, value = baseline.baseline_choices(api, run_id)
    assert [o["value"] for o in options] == [ce_id] and value == ce_id
    backend.runs[run_id]["baseline_run_id"] = ce_id
    assert baseline.baseline_choices(api, run_id)[1] == ce_id


def test_downloads_serve_weights_and_metrics(backend: FakeBackend, api: ApiClient) -> None:
    records = synthetic_records(3, 2)
    run_id = backend.add_run(1, backend.add_dataset(1, {"a": 1}), records, status="succeeded")
    weights, message = downloads.download(api, run_id, ids.RUN_DOWNLOAD_WEIGHTS)
    assert message is None and json.loads(weights["content"])["schema"] == "difficulty-weights/v1"
    assert weights["filename"] == f"{run_id}-weights.json"
    jsonl, _ = downloads.download(api, run_id, ids.RUN_DOWNLOAD_JSONL)
    assert [json.loads(line)["epoch"] for line in jsonl["content"].splitlines()] == [1, 2]
    csv_data, _ = downloads.download(api, run_id, ids.RUN_DOWNLOAD_CSV)
    lines = csv_data["content"].splitlines()
    assert lines[0].startswith("run_id,method,epoch") and len(lines) == 1 + 2 * 3

    empty_id = backend.add_run(2, backend.add_dataset(2, {"a": 1}), [], status="queued", epochs_total=2)
    nothing, message = downloads.download(api, empty_id, ids.RUN_DOWNLOAD_WEIGHTS)
    assert nothing is no_update and "Nothing to download yet" in text_of(message)


def test_view_state_store_tolerates_garbage() -> None:
    assert RunViewState.load({"drawn": "lots"}) == RunViewState()
    assert RunViewState.load(None) == RunViewState()


def test_dnet_health_panel_reads_the_latest_diagnostics(backend: FakeBackend, api: ApiClient) -> None:
    dataset_id = backend.add_dataset(1, {"a": 1})
    dnet_run = backend.add_run(1, dataset_id, synthetic_records(6, 3, epochs_total=6), status="running")
    update, _ = tick(api, dnet_run, RunViewState())
    text = text_of(update.dnet_health)
    assert "Epoch 3" in text and "Weights span" in text and "favour rare classes" in text
    assert "Meta-gradient norm" in text and "Spearman" not in text

    ce_run = backend.add_run(
        2, dataset_id, synthetic_records(6, 2, epochs_total=6, method="ce"), status="running"
    )
    update, _ = tick(api, ce_run, RunViewState())
    assert "Not a Difficulty-Net run" in text_of(update.dnet_health)


def test_crashes_show_in_the_progress_line_and_a_poison_run_shows_why_it_failed(
    backend: FakeBackend, api: ApiClient
) -> None:
    records = synthetic_records(5, 3, epochs_total=6)
    dataset_id = backend.add_dataset(1, {"a": 1})
    run_id = backend.add_run(1, dataset_id, records, status="running", epochs_total=6)
    backend.runs[run_id]["crashes"] = 1
    update, _ = tick(api, run_id, RunViewState())
    assert "worker process died 1×, resumed from the last checkpoint" in update.progress_text

    reason = "the worker process died 3 times while training epoch 4 of 6 (often: out of memory)"
    backend.runs[run_id].update(status="failed", crashes=3, error=reason)
    update, _ = tick(api, run_id, RunViewState())
    assert "worker process died 3×" in update.progress_text and "resumed" not in update.progress_text
    assert reason in text_of(update.alert)


def test_malformed_run_url_says_no_such_run_and_stops_polling(backend: FakeBackend, api: ApiClient) -> None:
    update, _ = tick(api, "not-a-run", RunViewState())
    assert "No such run" in text_of(update.alert) and "32 hexadecimal digits" in text_of(update.alert)
    assert "Retrying" not in text_of(update.alert) and "pattern" not in text_of(update.alert)
    assert update.interval_disabled is True and update.cancel_disabled is True
    assert backend.requests == []  # the API is not even asked


def test_run_cancelled_while_queued_shows_its_final_state(backend: FakeBackend, api: ApiClient) -> None:
    dataset_id = backend.add_dataset(1, {"a": 1})
    run_id = backend.add_run(1, dataset_id, [], status="cancelled", epochs_total=6)
    update, _ = tick(api, run_id, RunViewState())
    assert update.interval_disabled is True
    message = "No epoch finished: the run was cancelled before its first epoch."
    assert message in json.dumps(update.curves.to_plotly_json()) and message in text_of(update.dnet_health)
    assert "Waiting" not in json.dumps(update.curves.to_plotly_json())


def test_the_epoch_box_moves_the_slider_clamped_and_follows_it() -> None:
    assert epoch_views.epoch_box_sync(True, 99, 2, 5) == (5, 5)  # Enter on 99: the last epoch, shown as 5
    assert epoch_views.epoch_box_sync(True, 3, 5, 5) == (3, 3)
    assert epoch_views.epoch_box_sync(True, 5, 5, 5) == (no_update, 5)  # already there: no new request
    assert epoch_views.epoch_box_sync(True, None, 4, 5) == (no_update, 4)  # unreadable: the box shows 4 again
    assert epoch_views.epoch_box_sync(False, 1, 4, 5) == (no_update, 4)  # the slider moved: the box follows


def test_the_layout_builds_with_every_section() -> None:
    text = text_of(run_page_layout("a" * 32))
    for section_id in ("run-scatter-section", "run-class-section", "run-confusions-section",
                       "run-difficulty-check-section", ids.RUN_EPOCH_INPUT):  # fmt: skip
        assert section_id in text
