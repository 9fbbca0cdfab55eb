"""The first-start demo runs through the real services (``stack.testing.LiveStack``): queued once, on the
demo dataset registered the launcher's way, and trained by a real worker whose records carry confusions and
hardest examples whose thumbnails the API serves."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from difficultynet.contracts.api import ClassExploration, EpochConfusions
from difficultynet.contracts.records import EpochRecord
from difficultynet.demo import write_demo_dataset
from stack import probes
from stack.demo_runs import DEMO_RUN_COMMON, queue_demo_runs
from stack.testing.live_stack import LiveStack

pytestmark = pytest.mark.integration

FIRST_EPOCH_TIMEOUT_S = 420.0  # 2 busy cores: loading torch and the data, then one CPU epoch


def first_record(client: httpx.Client, stack: LiveStack, run_id: str) -> EpochRecord:
    deadline = time.monotonic() + FIRST_EPOCH_TIMEOUT_S
    while time.monotonic() < deadline:
        page = client.get(f"/api/runs/{run_id}/epochs", params={"after": 0}).json()
        if page["records"]:
            return EpochRecord.model_validate(page["records"][0])
        assert page["status"] in ("queued", "running"), f"{page['status']}\n{stack.logs()}"
        time.sleep(1)
    pytest.fail(f"no epoch of run {run_id} within {FIRST_EPOCH_TIMEOUT_S:.0f} s\n{stack.logs()}")


def test_demo_runs_are_queued_once_and_train(client: httpx.Client, stack: LiveStack) -> None:
    token = stack.api_token
    manifest = write_demo_dataset(stack.data_root / "demo")
    registered = probes.register_dataset(
        stack.url, manifest, stack.data_root, name="demo-digits.csv", token=token
    )
    assert registered.problem is None and registered.dataset_id is not None
    dataset_id = registered.dataset_id

    queued = queue_demo_runs(stack.url, dataset_id, token=token)
    assert queued.problem is None and queued.skipped is None and len(queued.run_ids) == 2
    baseline_id, dnet_id = queued.run_ids
    again = queue_demo_runs(stack.url, dataset_id, token=token)
    assert again.run_ids == [] and again.skipped == "2 run(s) exist already" and again.problem is None
    assert client.get("/api/runs").json()["total"] == 2
    assert queue_demo_runs(stack.url, dataset_id, token="wrong").problem == (
        "HTTP 401: missing or invalid API token"
    )

    baseline: dict[str, Any] = client.get(f"/api/runs/{baseline_id}").json()
    dnet: dict[str, Any] = client.get(f"/api/runs/{dnet_id}").json()
    assert baseline["config"]["method"] == "ce" and dnet["config"]["method"] == "dnet-bsce"
    assert dnet["baseline_run_id"] == baseline_id  # so the gains chart has its baseline
    for run in (baseline, dnet):
        assert run["dataset_id"] == dataset_id
        assert {key: run["config"][key] for key in DEMO_RUN_COMMON} == DEMO_RUN_COMMON

    try:
        record = first_record(client, stack, baseline_id)
        assert record.confusions is None and record.hardest is None  # served by routes of their own
        confusions = EpochConfusions.model_validate(
            client.get(f"/api/runs/{baseline_id}/epochs/{record.epoch}/confusions").json()
        )
        assert confusions.confusions is not None and len(confusions.confusions) == record.num_classes
        explored = [
            ClassExploration.model_validate(
                client.get(f"/api/runs/{baseline_id}/classes/{index}/exploration").json()
            )
            for index in record.classes.index
        ]
        assert all(e.epochs and e.epochs[0].epoch == record.epoch and e.epochs[0].hardest for e in explored)
        row = explored[0].epochs[0].hardest[0].row
        thumbnail = client.get(f"/api/runs/{baseline_id}/examples/{row}")
        assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/jpeg"
        listed = client.get("/api/runs").json()["runs"]
        assert (
            next(r for r in listed if r["id"] == baseline_id)["balanced_acc_history"][0]
            == record.balanced_acc
        )
    finally:
        for run_id in (dnet_id, baseline_id):  # free the CPU for the next tests
            client.post(f"/api/runs/{run_id}/cancel")
