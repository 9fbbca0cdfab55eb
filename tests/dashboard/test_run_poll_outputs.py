"""The run page's live-update callback returns what Dash can send: Patch deltas survive ``as_outputs``."""

from __future__ import annotations

import json

from dash import Patch, no_update
from fake_backend import FakeBackend
from plotly.io.json import to_json_plotly

from dashboard.api_client import ApiClient
from dashboard.pages.run.live import poll
from dashboard.run_view.state import RunViewState
from difficultynet.synthetic import synthetic_records


def test_live_tick_outputs_keep_patches_and_serialise(backend: FakeBackend, api: ApiClient) -> None:
    records = synthetic_records(60, 3, epochs_total=3)  # > 50 classes: group means + picked classes
    run_id = backend.add_run(
        1, backend.add_dataset(1, {"a": 1}), records[:2], status="running", epochs_total=3
    )
    first = poll(api, run_id, RunViewState(), "difficulty", None, None)
    state = RunViewState.load(first.view_state)
    backend.set_records(run_id, records)

    outputs = poll(api, run_id, state, "difficulty", state.picks, 2).as_outputs()

    assert isinstance(outputs["curves"], Patch) and isinstance(outputs["heatmap"], Patch)
    sent = json.loads(to_json_plotly({k: v for k, v in outputs.items() if v is not no_update}))
    heatmap_ops = sent["heatmap"]["operations"]
    assert [op["params"]["value"] for op in heatmap_ops if op["location"] == ["data", 0, "y"]] == [[3]]
