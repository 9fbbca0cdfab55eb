"""End to end on a live stack (redis-server, two Celery worker processes, uvicorn API, bearer token):
upload, train ``ce`` and ``dnet`` at the same time, follow one by SSE (with a reconnect) and one by
polling, export and validate the weights, then cancel a running run."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
import pytest
from support.waiting import all_epochs, run_state, wait_for_epoch, wait_until_finished

from difficultynet.contracts.records import EpochRecord
from difficultynet.export import validate_weights_export
from stack.testing.live_stack import LiveStack
from stack.testing.sse import SseEvent, iter_sse

pytestmark = pytest.mark.integration

WORKERS = 2
TRAINING = {"model": "resnet8", "batch_size": 128, "num_threads": 1, "device": "cpu", "seed": 1}
RUN_TIMEOUT_S = 240


def start_run(client: httpx.Client, dataset_id: str, **fields: Any) -> str:
    response = client.post("/api/runs", json={"dataset_id": dataset_id, **TRAINING, **fields})
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def follow_by_sse(stack: LiveStack, run_id: str) -> list[SseEvent]:
    """Read events until epoch 1, drop the connection, reconnect with Last-Event-ID and read to the end."""
    events: list[SseEvent] = []
    url = f"{stack.url}/api/runs/{run_id}/events"
    with httpx.stream("GET", url, params={"token": stack.api_token}, timeout=RUN_TIMEOUT_S) as response:
        assert response.status_code == 200
        for event in iter_sse(response.iter_lines()):
            events.append(event)
            if event.event == "epoch" or (
                event.event == "status"
                and json.loads(event.data)["status"] in ("succeeded", "failed", "cancelled")
            ):
                break  # fmt: skip
    last_id = next(e.id for e in reversed(events) if e.id is not None)
    headers = {**stack.headers(), "Last-Event-ID": last_id}
    with httpx.stream("GET", url, headers=headers, timeout=RUN_TIMEOUT_S) as response:
        events += list(iter_sse(response.iter_lines()))
    return events


def follow_by_polling(client: httpx.Client, run_id: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        page = client.get(f"/api/runs/{run_id}/epochs", params={"after": len(records)}).json()
        records += page["records"]
        if page["status"] in ("succeeded", "failed", "cancelled") and not page["records"]:
            return records
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} did not finish in {RUN_TIMEOUT_S}s")


def test_ce_and_dnet_train_concurrently_and_stream_every_epoch_once(
    stack: LiveStack, client: httpx.Client, dataset_id: str
) -> None:
    dataset = client.get(f"/api/datasets/{dataset_id}").json()
    ce = start_run(client, dataset_id, method="ce", epochs=2)
    dnet = start_run(client, dataset_id, method="dnet", epochs=2, meta_every=2, baseline_run_id=ce)

    sse_events: list[SseEvent] = []
    follower = threading.Thread(target=lambda: sse_events.extend(follow_by_sse(stack, ce)))
    follower.start()
    polled = follow_by_polling(client, dnet)
    follower.join(RUN_TIMEOUT_S)
    assert not follower.is_alive()

    # SSE: each epoch exactly once across the reconnect, then the terminal status closes the stream.
    epoch_events = [e for e in sse_events if e.event == "epoch"]
    assert [e.id for e in epoch_events] == ["1", "2"], stack.logs()
    assert [EpochRecord.model_validate_json(e.data).epoch for e in epoch_events] == [1, 2]
    assert json.loads(sse_events[-1].data)["status"] == "succeeded", stack.logs()
    # Polling: the same guarantee for the other run.
    assert [r["epoch"] for r in polled] == [1, 2] == all_epochs(client, dnet)

    for run_id, method in ((ce, "ce"), (dnet, "dnet")):
        state = run_state(client, run_id)
        assert state["status"] == "succeeded" and state["progress"] == 1.0, state
        assert state["device"] == "cpu" and state["attempt"] == 1 and state["worker"]
        records = [
            EpochRecord.model_validate(r) for r in client.get(f"/api/runs/{run_id}/epochs").json()["records"]
        ]
        assert {r.method for r in records} == {method}
        assert records[-1].num_classes == dataset["num_classes"]
        weights = client.get(f"/api/runs/{run_id}/weights.json").json()
        validate_weights_export(weights)
        assert weights["partial"] is False and weights["epochs_completed"] == 2
        assert weights["dataset_sha256"] == dataset["manifest_sha256"]
        assert (weights["difficulty_net"] is not None) == (method == "dnet")
    # The two runs overlapped on the two workers.
    assert run_state(client, ce)["worker"].split(" ")[0] != run_state(client, dnet)["worker"].split(" ")[0]
    assert run_state(client, dnet)["baseline_run_id"] == ce

    finished = client.get("/api/runs", params={"dataset_id": dataset_id, "status": "succeeded"}).json()
    assert {ce, dnet} <= {r["id"] for r in finished["runs"]}
    health = client.get("/api/health").json()
    assert health["status"] == "ok" and len(health["workers"]) == WORKERS


def test_cancel_stops_a_running_run_within_a_batch_and_keeps_its_records(
    stack: LiveStack, client: httpx.Client, dataset_id: str
) -> None:
    run_id = start_run(client, dataset_id, method="ce", epochs=30)
    wait_for_epoch(client, run_id, 1, timeout=RUN_TIMEOUT_S)
    response = client.post(f"/api/runs/{run_id}/cancel")
    assert response.status_code == 202 and response.json()["cancel_requested"] is True
    requested = time.monotonic()
    state = wait_until_finished(client, run_id, timeout=60)
    stopped_after = time.monotonic() - requested
    assert state["status"] == "cancelled", (state, stack.logs())
    assert stopped_after < 20, f"took {stopped_after:.1f}s to stop"  # one batch, plus polling slack
    kept = all_epochs(client, run_id)
    assert kept and kept == list(range(1, len(kept) + 1)) and len(kept) < 30
    assert client.get(f"/api/runs/{run_id}/weights.json").json()["partial"] is True
    assert client.delete(f"/api/runs/{run_id}").status_code == 204
