"""Runs API for real-size photos and pretrained backbones: the preparing phase (read and SSE), the disk
check of the image cache, and the pretrained / fine-tuning fields. No worker: the run hash is written with
the worker's own preparation writer (``worker.reporter.PrepareStatusWriter``)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
import redis
from fastapi.testclient import TestClient

from backend.services import runs as run_service
from backend.settings import Settings
from difficultynet.progress import PrepareProgress
from service_contracts import protocol
from stack.testing.sse import SseEvent, follow_while
from worker.reporter import PrepareStatusWriter


def create(client: TestClient, dataset: str, **fields: Any) -> httpx.Response:
    return client.post("/api/runs", json={"dataset_id": dataset, "epochs": 3, **fields})


def test_a_run_reads_its_preparation_progress(client: TestClient, dataset_id: str, db: redis.Redis) -> None:
    run_id = create(client, dataset_id, image_size=64).json()["id"]
    queued = client.get(f"/api/runs/{run_id}").json()
    assert queued["phase"] == "queued" and queued["preparing"] is None
    db.hset(protocol.run_key(run_id), "status", "running")
    writer = PrepareStatusWriter(db, run_id, min_interval_s=0)
    writer(PrepareProgress(done=250, total=1000, elapsed_s=5.0, cache="miss"))
    run = client.get(f"/api/runs/{run_id}").json()
    assert run["phase"] == "preparing"
    assert run["preparing"] == {"done": 250, "total": 1000, "rate": 50.0, "eta_s": 15.0, "cache": "miss"}
    writer(PrepareProgress(done=1000, total=1000, elapsed_s=20.0, cache="miss"))
    assert client.get(f"/api/runs/{run_id}").json()["phase"] == "training"
    db.hset(protocol.run_key(run_id), "status", "succeeded")
    assert client.get(f"/api/runs/{run_id}").json()["phase"] == "finished"


def test_the_writer_throttles_but_keeps_the_first_and_last_report(db: redis.Redis) -> None:
    run_id = "7" * 32
    writer = PrepareStatusWriter(db, run_id, min_interval_s=60)
    for done in (0, 10, 20, 30):
        writer(PrepareProgress(done=done, total=40, elapsed_s=done / 10, cache="miss"))
    assert db.hget(protocol.run_key(run_id), "prepare_done") == "0"  # the later ones came too soon
    writer(PrepareProgress(done=40, total=40, elapsed_s=4, cache="miss"))
    fields = db.hgetall(protocol.run_key(run_id))
    assert fields["prepare_done"] == "40" and fields["phase"] == "training"
    writer(PrepareProgress(done=40, total=40, elapsed_s=0, cache="hit"))
    assert db.hget(protocol.run_key(run_id), "prepare_cache") == "hit"


def test_sse_sends_a_status_event_per_preparation_step(
    live_api: str, client: TestClient, dataset_id: str, db: redis.Redis
) -> None:
    run_id = create(client, dataset_id, epochs=1).json()["id"]
    db.hset(protocol.run_key(run_id), mapping={"status": "running", "phase": "preparing"})

    def writer(received: list[SseEvent]) -> None:
        while not received:
            time.sleep(0.02)
        prepare = PrepareStatusWriter(db, run_id, min_interval_s=0)
        for done in (0, 5, 10):
            prepare(PrepareProgress(done=done, total=10, elapsed_s=1.0 + done, cache="miss"))
            time.sleep(0.4)
        db.hset(protocol.run_key(run_id), "status", "cancelled")

    received = follow_while(f"{live_api}/api/runs/{run_id}/events", writer)
    shown = [json.loads(e.data) for e in received if e.event == "status"]
    steps = [(s["phase"], (s["preparing"] or {}).get("done")) for s in shown]
    assert ("preparing", 5) in steps and ("training", 10) in steps, steps
    assert shown[-1]["status"] == "cancelled"


def test_a_run_whose_image_cache_cannot_fit_the_disk_is_refused(
    client: TestClient, dataset_id: str, api_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run_service, "_free_disk_bytes", lambda path: 1024 * 1024)
    response = create(client, dataset_id, method="ce", image_size=256, batch_size=8)  # 17 × 3 × 256² bytes
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["column"] == "image_size"
    assert error["reason"].startswith("the decoded images need 3.2 MiB of disk for the image cache")
    assert "only 1.0 MiB is free there" in error["reason"] and "lower image_size (now 256)" in error["reason"]
    assert str(api_settings.cache_dir) not in error["reason"]  # no server path
    assert create(client, dataset_id, method="ce", image_size=64).status_code == 202  # 0.2 MiB fits


def test_pretrained_and_fine_tuning_fields(client: TestClient, dataset_id: str) -> None:
    fields = {"model": "resnet18", "pretrained": True, "backbone_lr_scale": 0.1, "lr": 0.01,
              "lr_schedule": "cosine", "warmup_epochs": 1, "image_size": 64}  # fmt: skip
    response = create(client, dataset_id, **fields)
    assert response.status_code == 202, response.text
    config = response.json()["config"]
    assert {k: config[k] for k in fields} == fields
    refused = create(client, dataset_id, model="resnet8", pretrained=True)
    assert refused.status_code == 422
    assert "resnet8 has no pretrained weights" in refused.json()["errors"][0]["reason"]
    assert create(client, dataset_id, backbone_lr_scale=0).status_code == 422
    assert create(client, dataset_id, weights_file="/etc/passwd").status_code == 422  # not an API field
