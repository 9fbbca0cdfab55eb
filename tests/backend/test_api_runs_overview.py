"""What a runs overview needs from ``GET /api/runs``: status, progress, balanced accuracy and its history
for a sparkline; and the class frequencies of every dataset. Records are published with the worker's own
reporter against a real redis-server (no worker process)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from backend.services.runs import SPARKLINE_POINTS, sparkline
from backend.settings import Settings
from difficultynet.synthetic import synthetic_record
from stack.testing.datasets import TINY_COUNTS
from worker.reporter import RedisReporter

Upload = Callable[[], dict[str, Any]]


def start_run(client: TestClient, dataset_id: str, epochs: int) -> str:
    response = client.post("/api/runs", json={"dataset_id": dataset_id, "epochs": epochs, "method": "ce"})
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def test_the_runs_list_carries_a_balanced_accuracy_history(
    client: TestClient, upload_tiny: Upload, api_settings: Settings
) -> None:
    dataset_id = str(upload_tiny()["id"])
    short, long = start_run(client, dataset_id, 40), start_run(client, dataset_id, 50)
    db = redis.Redis.from_url(api_settings.redis_url, decode_responses=True)
    published: dict[str, list[float]] = {}
    for run_id, epochs in ((short, 3), (long, SPARKLINE_POINTS + 7)):
        reporter = RedisReporter(db, run_id)
        for epoch in range(1, epochs + 1):
            reporter(synthetic_record(run_id, epoch, epochs_total=max(epochs, 40), num_classes=3))
        published[run_id] = [r.balanced_acc for r in reporter.records]

    listed = {run["id"]: run for run in client.get("/api/runs").json()["runs"]}
    assert listed[short]["balanced_acc_history"] == published[short]
    assert listed[short]["balanced_acc"] == published[short][-1]
    assert listed[short]["progress"] == pytest.approx(3 / 40)
    assert listed[short]["status"] == "queued" and listed[short]["config"]["method"] == "ce"
    assert listed[short]["dataset_id"] == dataset_id
    history = listed[long]["balanced_acc_history"]
    assert len(history) == SPARKLINE_POINTS
    assert history[0] == published[long][0] and history[-1] == published[long][-1]
    assert set(history) <= set(published[long])
    assert client.get(f"/api/runs/{long}").json()["balanced_acc_history"] == history

    fresh = start_run(client, dataset_id, 2)
    assert client.get(f"/api/runs/{fresh}").json()["balanced_acc_history"] == []


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        (None, []),
        ("", []),
        ("not json", []),
        ('{"a": 1}', []),
        ('["x"]', []),
        ("[0.1,0.2]", [0.1, 0.2]),
        ("[" + ",".join(str(i) for i in range(101)) + "]", [float(2 * i) for i in range(51)]),
    ],
)
def test_sparkline_thins_out_and_never_fails(stored: str | None, expected: list[float]) -> None:
    assert sparkline(stored, points=51) == expected


def test_every_dataset_reports_its_train_counts_per_class(client: TestClient, upload_tiny: Upload) -> None:
    dataset_id = str(upload_tiny()["id"])
    classes = client.get(f"/api/datasets/{dataset_id}").json()["classes"]
    assert {c["name"]: c["train"] for c in classes} == TINY_COUNTS
    listed = client.get("/api/datasets").json()["datasets"]
    assert [c["train"] for c in listed[0]["classes"]] == list(TINY_COUNTS.values())
