"""Runs API against a real redis-server: validation, queueing by task name, caps, cancel, delete, reads.

No worker runs here: epoch records are written with the worker's own reporter (``worker.reporter``),
exactly as a training task would, and status changes are made directly in the run hash.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from fastapi.testclient import TestClient

from backend.queue import TaskQueue
from backend.settings import Settings
from difficultynet.contracts.config import TrainConfig
from difficultynet.contracts.records import EpochRecord
from difficultynet.export import build_weights_export, validate_weights_export
from difficultynet.memory_estimate import GIB, WorkerCapacity
from difficultynet.synthetic import synthetic_record as make_record
from service_contracts import protocol
from stack.testing.sse import SseEvent, follow_while, iter_sse
from worker.capacity import publish_capacity
from worker.reporter import RedisReporter


def create(client: TestClient, dataset: str, **fields: Any) -> httpx.Response:
    return client.post("/api/runs", json={"dataset_id": dataset, "epochs": 3, **fields})


def queued_messages(db: redis.Redis) -> list[dict[str, Any]]:
    """Celery messages waiting on the ``gpu`` queue (kombu's Redis transport: a list of JSON envelopes)."""
    return [json.loads(raw) for raw in db.lrange(protocol.QUEUE_GPU, 0, -1)]


def publish(db: redis.Redis, run_id: str, epochs: range, total: int) -> list[EpochRecord]:
    def export(records: Any) -> str:
        doc = build_weights_export(records, _config(db, run_id), dataset_sha256="0" * 64, partial=True)
        return json.dumps(doc)

    reporter = RedisReporter(db, run_id, export=export)
    records = [make_record(run_id, epoch, epochs_total=total) for epoch in epochs]
    for record in records:
        reporter(record)
    return records


def _config(db: redis.Redis, run_id: str) -> TrainConfig:
    return TrainConfig.model_validate_json(str(db.hget(protocol.run_key(run_id), "config")))


def set_status(db: redis.Redis, run_id: str, status: str) -> None:
    db.hset(protocol.run_key(run_id), mapping={"status": status, "finished_at": time.time()})


# -- create ---------------------------------------------------------------------------------------------


def test_create_records_the_run_and_sends_worker_train_by_name(
    client: TestClient, dataset_id: str, db: redis.Redis, api_settings: Settings
) -> None:
    response = create(client, dataset_id, method="ce", model="resnet8", batch_size=64, lr=0.05, num_threads=1)
    assert response.status_code == 202, response.text
    run = response.json()
    assert run["status"] == "queued" and run["epoch"] == 0 and run["epochs_total"] == 3
    assert run["config"]["method"] == "ce" and run["config"]["batch_size"] == 64
    assert run["config"]["num_threads"] == 1 and run["progress"] == 0.0

    [message] = queued_messages(db)
    assert message["headers"]["task"] == protocol.TASK_TRAIN
    assert message["headers"]["id"] == run["id"]
    args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
    dataset = client.get(f"/api/datasets/{dataset_id}").json()
    assert args[0] == run["id"] and kwargs == {}
    assert args[1] == run["config"]
    assert Path(args[2]) == api_settings.uploads_dir / dataset_id / "manifest.csv"
    assert Path(args[3]) == (api_settings.data_root / "tiny").resolve()
    assert dataset["id"] == dataset_id


def test_dnet_fields_map_into_the_nested_config(client: TestClient, dataset_id: str) -> None:
    run = create(client, dataset_id, method="dnet", meta_mode="head", meta_every=4, dnet_lr=0.01).json()
    assert run["config"]["dnet"]["meta_mode"] == "head"
    assert run["config"]["dnet"]["meta_every"] == 4
    assert run["config"]["dnet"]["lr"] == 0.01


@pytest.mark.parametrize(
    ("fields", "column"),
    [
        ({"epochs": 0}, "epochs"),
        ({"epochs": 51}, "epochs"),  # under TrainConfig's 1000 but over this server's DNET_MAX_EPOCHS
        ({"lr": -1}, "lr"),
        ({"lr": "fast"}, "lr"),
        ({"batch_size": 0}, "batch_size"),
        ({"seed": -1}, "seed"),
        ({"method": "magic"}, "method"),
        ({"model": "vgg"}, "model"),
        ({"meta_mode": "all"}, "meta_mode"),
        ({"meta_every": 0}, "meta_every"),
        ({"device": "gpu"}, "device"),
        ({"device": "cuda:x"}, "device"),
        ({"dnet_lr": 0}, "dnet_lr"),
        ({"num_threads": 0}, "num_threads"),
        ({"image_size": 4}, "image_size"),
        ({"surprise": 1}, "surprise"),
        ({"dataset_id": "nothex"}, "dataset_id"),
        ({"dataset_id": "0" * 16}, "dataset_id"),
        ({"baseline_run_id": "f" * 32}, "baseline_run_id"),
    ],
)
def test_every_invalid_field_is_a_located_422(
    client: TestClient, dataset_id: str, db: redis.Redis, fields: dict[str, Any], column: str
) -> None:
    response = create(client, dataset_id, **fields)
    assert response.status_code == 422, response.text
    body = response.json()
    assert column in [error["column"] for error in body["errors"]], body
    assert queued_messages(db) == [] and client.get("/api/runs").json()["total"] == 0


@pytest.mark.parametrize(
    ("fields", "column"),
    [
        ({"epochs": "5"}, "epochs"),
        ({"epochs": True}, "epochs"),
        ({"epochs": 5.0}, "epochs"),
        ({"batch_size": "64"}, "batch_size"),
        ({"lr": "0.1"}, "lr"),
        ({"seed": False}, "seed"),
        ({"meta_every": "2"}, "meta_every"),
        ({"device": 0}, "device"),
    ],
)
def test_loosely_typed_fields_are_refused_not_coerced(
    client: TestClient, dataset_id: str, db: redis.Redis, fields: dict[str, Any], column: str
) -> None:
    response = create(client, dataset_id, **fields)
    assert response.status_code == 422, response.text
    body = response.json()
    [error] = body["errors"]
    assert error["column"] == column and body["detail"].startswith(f"{column}: "), body
    assert "Input should be a valid" in error["reason"], body  # plain words, no class names
    assert queued_messages(db) == []


def test_integers_are_still_accepted_for_float_fields(client: TestClient, dataset_id: str) -> None:
    response = create(client, dataset_id, lr=1, dnet_lr=1)
    assert response.status_code == 202, response.text
    assert response.json()["config"]["lr"] == 1.0


def test_a_run_that_fits_no_worker_is_refused_with_the_reason(
    client: TestClient, dataset_id: str, db: redis.Redis
) -> None:
    """Before any worker reported, this host's RAM is the yardstick; resnet50 at 512 px, batch 4096 needs
    terabytes of activations."""
    huge = {"method": "ce", "model": "resnet50", "image_size": 512, "batch_size": 4096}
    response = create(client, dataset_id, **huge)
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["column"] == "batch_size"
    assert error["reason"].startswith("this run cannot fit in any worker's memory: it needs about")
    assert "TiB of RAM" in error["reason"] and "Lower batch_size (now 4096)" in error["reason"]
    assert queued_messages(db) == [] and client.get("/api/runs").json()["total"] == 0


def test_the_memory_check_uses_the_capacity_live_workers_report(
    client: TestClient, dataset_id: str, db: redis.Redis
) -> None:
    small = WorkerCapacity(worker="gpu0@box", ram_bytes=64 * GIB, gpu_bytes=8 * GIB, gpu_name="RTX 4060")
    publish_capacity(db, small, ttl_s=60)
    big = {"method": "ce", "model": "resnet18", "image_size": 64, "batch_size": 1024}
    response = create(client, dataset_id, **big)  # ≈14 GiB of half-precision activations
    assert response.status_code == 422, response.text
    reason = response.json()["errors"][0]["reason"]
    assert "of GPU memory (RTX 4060)" in reason and "the largest worker has 8.0 GiB" in reason
    assert create(client, dataset_id, **{**big, "batch_size": 128}).status_code == 202
    large = WorkerCapacity(worker="gpu1@box", ram_bytes=64 * GIB, gpu_bytes=141 * GIB, gpu_name="H200")
    publish_capacity(db, large, ttl_s=60)
    assert create(client, dataset_id, **big).status_code == 202  # one worker that can hold it is enough


def test_a_run_states_the_memory_it_needs(client: TestClient, dataset_id: str, db: redis.Redis) -> None:
    """Estimated once, at creation, for the device it will train on; kept in every later read."""
    run = create(client, dataset_id, method="ce", device="cpu", model="resnet18", image_size=64).json()
    memory = run["memory_estimate"]
    assert memory["device"] == "cpu" and memory["overhead_bytes"] == GIB
    parts = ("activation_bytes", "params_bytes", "data_bytes", "overhead_bytes")
    assert memory["total_bytes"] == sum(memory[part] for part in parts) > GIB
    assert memory["data_bytes"] > 0  # the dataset's images, decoded at 64 px
    assert memory["summary"].startswith("about ") and "of RAM: activations " in memory["summary"]
    assert client.get(f"/api/runs/{run['id']}").json()["memory_estimate"] == memory
    gpu = WorkerCapacity(worker="gpu0@box", ram_bytes=64 * GIB, gpu_bytes=80 * GIB, gpu_name="H100")
    publish_capacity(db, gpu, ttl_s=60)
    on_gpu = create(client, dataset_id, method="ce", device="auto").json()["memory_estimate"]
    assert on_gpu["device"] == "gpu" and "of GPU memory: " in on_gpu["summary"]
    db.hdel(protocol.run_key(run["id"]), "memory_estimate")  # a run created before estimates were stored
    assert client.get(f"/api/runs/{run['id']}").json()["memory_estimate"] is None


def test_non_json_body_is_422(client: TestClient) -> None:
    response = client.post("/api/runs", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 422 and response.json()["errors"]


def test_active_run_cap_answers_429(client: TestClient, dataset_id: str, api_settings: Settings) -> None:
    runs = [create(client, dataset_id).json()["id"] for _ in range(api_settings.max_active_runs)]
    refused = create(client, dataset_id)
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    client.post(f"/api/runs/{runs[0]}/cancel")
    assert create(client, dataset_id).status_code == 202


def test_baseline_must_exist_and_is_kept(client: TestClient, dataset_id: str) -> None:
    baseline = create(client, dataset_id, method="ce").json()["id"]
    run = create(client, dataset_id, baseline_run_id=baseline).json()
    assert run["baseline_run_id"] == baseline


# -- read and list --------------------------------------------------------------------------------------


def test_list_filters_and_pages_newest_first(client: TestClient, dataset_id: str, db: redis.Redis) -> None:
    ids = [create(client, dataset_id).json()["id"] for _ in range(3)]
    set_status(db, ids[0], "failed")
    assert [r["id"] for r in client.get("/api/runs").json()["runs"]] == ids[::-1]
    failed = client.get("/api/runs", params={"status": "failed"}).json()
    assert failed["total"] == 1 and failed["runs"][0]["id"] == ids[0]
    page = client.get("/api/runs", params={"limit": 1, "offset": 1}).json()
    assert page["total"] == 3 and [r["id"] for r in page["runs"]] == [ids[1]]
    assert client.get("/api/runs", params={"dataset_id": "f" * 16}).json()["total"] == 0
    assert client.get("/api/runs", params={"status": "exploded"}).status_code == 422


def test_progress_and_eta_follow_the_reported_epochs(
    client: TestClient, dataset_id: str, db: redis.Redis
) -> None:
    run_id = create(client, dataset_id, epochs=4).json()["id"]
    db.hset(protocol.run_key(run_id), mapping={"status": "running", "started_at": time.time()})
    publish(db, run_id, range(1, 3), total=4)  # make_record: 2.5 s per epoch
    run = client.get(f"/api/runs/{run_id}").json()
    assert run["epoch"] == 2 and run["progress"] == 0.5
    assert run["elapsed_s"] == 5.0 and 0 < run["eta_s"] <= 5.0
    assert run["top1"] is not None and run["started_at"] is not None


def test_unknown_run_is_404_and_malformed_id_422(client: TestClient) -> None:
    for path in ("", "/epochs", "/weights.json", "/events"):
        assert client.get(f"/api/runs/{'a' * 32}{path}").status_code == 404
        assert client.get(f"/api/runs/nope{path}").status_code == 422
    assert client.post(f"/api/runs/{'a' * 32}/cancel").status_code == 404
    assert client.delete(f"/api/runs/{'a' * 32}").status_code == 404


# -- epochs, weights, events ----------------------------------------------------------------------------


def test_epochs_after_n_returns_exactly_the_newer_records(
    client: TestClient, dataset_id: str, db: redis.Redis
) -> None:
    run_id = create(client, dataset_id, epochs=5).json()["id"]
    records = publish(db, run_id, range(1, 5), total=5)
    page = client.get(f"/api/runs/{run_id}/epochs").json()
    assert [r["epoch"] for r in page["records"]] == [1, 2, 3, 4] and page["last_epoch"] == 4
    assert (
        "confusions" not in page["records"][0] and "hardest" not in page["records"][0]
    )  # routes of their own
    core = records[0].model_copy(update={"confusions": None, "hardest": None})
    assert EpochRecord.model_validate(page["records"][0]) == core
    assert [r["epoch"] for r in client.get(f"/api/runs/{run_id}/epochs?after=2").json()["records"]] == [3, 4]
    empty = client.get(f"/api/runs/{run_id}/epochs?after=4").json()
    assert empty["records"] == [] and empty["last_epoch"] == 4 and empty["status"] == "queued"
    assert [r["epoch"] for r in client.get(f"/api/runs/{run_id}/epochs?limit=1").json()["records"]] == [1]


def test_replayed_epochs_never_duplicate(client: TestClient, dataset_id: str, db: redis.Redis) -> None:
    run_id = create(client, dataset_id, epochs=3).json()["id"]
    publish(db, run_id, range(1, 3), total=3)
    publish(db, run_id, range(1, 4), total=3)  # a resumed worker re-reports 1-2, then adds 3
    assert [r["epoch"] for r in client.get(f"/api/runs/{run_id}/epochs").json()["records"]] == [1, 2, 3]


def test_weights_404_before_first_epoch_then_partial_export(
    client: TestClient, dataset_id: str, db: redis.Redis, api_settings: Settings
) -> None:
    run_id = create(client, dataset_id, epochs=3).json()["id"]
    assert client.get(f"/api/runs/{run_id}/weights.json").status_code == 404
    publish(db, run_id, range(1, 2), total=3)
    response = client.get(f"/api/runs/{run_id}/weights.json")
    assert response.status_code == 200 and "attachment" in response.headers["content-disposition"]
    doc = response.json()
    validate_weights_export(doc)
    assert doc["partial"] is True and doc["epochs_completed"] == 1

    # Redis lost the key (e.g. restored from an old snapshot): the run folder's copy is served.
    db.delete(protocol.weights_key(run_id))
    (api_settings.runs_dir / run_id).mkdir(parents=True)
    (api_settings.runs_dir / run_id / "weights.json").write_text(json.dumps({**doc, "partial": False}))
    assert client.get(f"/api/runs/{run_id}/weights.json").json()["partial"] is False


def read_events(response: httpx.Response) -> list[SseEvent]:
    return list(iter_sse(response.iter_lines()))


def test_events_of_a_finished_run_replay_then_end_with_the_terminal_status(
    client: TestClient, dataset_id: str, db: redis.Redis
) -> None:
    run_id = create(client, dataset_id, epochs=3).json()["id"]
    publish(db, run_id, range(1, 4), total=3)
    set_status(db, run_id, "succeeded")
    with client.stream("GET", f"/api/runs/{run_id}/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = read_events(response)
    assert [(e.event, e.id) for e in events] == [
        ("epoch", "1"),
        ("epoch", "2"),
        ("epoch", "3"),
        ("status", None),
    ]
    assert json.loads(events[-1].data)["status"] == "succeeded"
    assert EpochRecord.model_validate_json(events[0].data).epoch == 1

    with client.stream("GET", f"/api/runs/{run_id}/events", headers={"Last-Event-ID": "2"}) as response:
        assert [e.id for e in read_events(response)] == ["3", None]
    with client.stream("GET", f"/api/runs/{run_id}/events?after=1") as response:
        assert [e.id for e in read_events(response)] == ["2", "3", None]
    assert client.get(f"/api/runs/{run_id}/events", headers={"Last-Event-ID": "x"}).status_code == 422


def test_events_follow_a_live_run_and_resume_from_last_event_id(
    live_api: str, client: TestClient, dataset_id: str, db: redis.Redis
) -> None:
    run_id = create(client, dataset_id, epochs=4).json()["id"]
    db.hset(protocol.run_key(run_id), "status", "running")
    publish(db, run_id, range(1, 2), total=4)

    def writer(received: list[SseEvent]) -> None:
        while not any(e.id == "1" for e in received):
            time.sleep(0.02)
        publish(db, run_id, range(1, 4), total=4)  # replays epoch 1 (ignored), adds 2 and 3
        time.sleep(0.3)
        publish(db, run_id, range(1, 5), total=4)
        set_status(db, run_id, "succeeded")

    received = follow_while(f"{live_api}/api/runs/{run_id}/events", writer)
    assert [(e.event, e.id) for e in received] == [
        ("status", None), ("epoch", "1"), ("epoch", "2"), ("epoch", "3"), ("epoch", "4"), ("status", None)
    ]  # fmt: skip
    assert received[0].retry is not None
    assert [json.loads(e.data)["status"] for e in received if e.event == "status"] == ["running", "succeeded"]

    # A browser reconnecting with Last-Event-ID gets exactly the epochs it missed.
    resumed = httpx.get(f"{live_api}/api/runs/{run_id}/events", headers={"Last-Event-ID": "2"}, timeout=20)
    assert [e.id for e in iter_sse(iter(resumed.text.splitlines()))] == ["3", "4", None]


# -- cancel and delete ----------------------------------------------------------------------------------


def test_cancel_of_a_queued_run_is_immediate(client: TestClient, dataset_id: str, db: redis.Redis) -> None:
    run_id = create(client, dataset_id).json()["id"]
    response = client.post(f"/api/runs/{run_id}/cancel")
    assert response.status_code == 202
    run = response.json()
    assert run["status"] == "cancelled" and run["finished_at"] is not None
    assert db.exists(protocol.cancel_key(run_id))  # a worker that already took it stops at once
    assert client.post(f"/api/runs/{run_id}/cancel").json()["status"] == "cancelled"  # idempotent


def test_cancel_of_a_running_run_whose_lease_expired_is_immediate(
    client: TestClient, dataset_id: str, db: redis.Redis
) -> None:
    """The worker died and its lease is gone: nobody would act on the flag until recovery re-queues it."""
    run_id = create(client, dataset_id).json()["id"]
    db.hset(protocol.run_key(run_id), "status", "running")
    started = time.monotonic()
    run = client.post(f"/api/runs/{run_id}/cancel").json()
    assert run["status"] == "cancelled" and run["finished_at"] is not None, run
    assert time.monotonic() - started < 2
    assert db.exists(protocol.cancel_key(run_id))  # a late redelivery skips it too
    assert client.delete(f"/api/runs/{run_id}").status_code == 204


def test_cancel_of_a_running_run_whose_worker_is_gone_is_immediate(
    client: TestClient, dataset_id: str, db: redis.Redis
) -> None:
    """The lease still ticks (up to its TTL) but its worker answers no ping: cancel now, drop the lease."""
    run_id = create(client, dataset_id).json()["id"]
    db.hset(protocol.run_key(run_id), "status", "running")
    db.set(protocol.lease_key(run_id), "gpu0@vanished-host:4242:0badcafe", px=30_000)
    run = client.post(f"/api/runs/{run_id}/cancel").json()
    assert run["status"] == "cancelled", run
    assert not db.exists(protocol.lease_key(run_id))  # the dead owner can write nothing if it returns
    assert client.delete(f"/api/runs/{run_id}").status_code == 204


def test_run_read_shows_the_crash_count(client: TestClient, dataset_id: str, db: redis.Redis) -> None:
    run_id = create(client, dataset_id).json()["id"]
    assert client.get(f"/api/runs/{run_id}").json()["crashes"] == 0
    db.hset(protocol.run_key(run_id), mapping={"status": "running", "attempt": 3, "crashes": 2})
    run = client.get(f"/api/runs/{run_id}").json()
    assert run["crashes"] == 2 and run["attempt"] == 3


@pytest.mark.parametrize("status", ["succeeded", "failed"])
def test_cancel_of_a_finished_run_is_409(
    client: TestClient, dataset_id: str, db: redis.Redis, status: str
) -> None:
    run_id = create(client, dataset_id).json()["id"]
    set_status(db, run_id, status)
    assert client.post(f"/api/runs/{run_id}/cancel").status_code == 409


def test_delete_refuses_active_runs_and_removes_everything_of_finished_ones(
    client: TestClient, dataset_id: str, db: redis.Redis, api_settings: Settings
) -> None:
    run_id = create(client, dataset_id).json()["id"]
    assert client.delete(f"/api/runs/{run_id}").status_code == 409
    publish(db, run_id, range(1, 2), total=3)
    set_status(db, run_id, "succeeded")
    (api_settings.runs_dir / run_id).mkdir(parents=True)
    (api_settings.runs_dir / run_id / "metrics.jsonl").write_text("{}\n")
    # The task result as a worker's Celery result backend stores it when the task returns.
    TaskQueue(api_settings).app.backend.store_result(run_id, {"status": "succeeded"}, "SUCCESS")
    assert db.exists(f"celery-task-meta-{run_id}")
    assert client.delete(f"/api/runs/{run_id}").status_code == 204
    assert client.get(f"/api/runs/{run_id}").status_code == 404
    assert not db.keys(f"*{run_id}*") and db.zscore(protocol.RUNS_INDEX_KEY, run_id) is None
    assert not (api_settings.runs_dir / run_id).exists()


# -- health and outages ---------------------------------------------------------------------------------


def test_health_reports_redis_and_no_worker(client: TestClient) -> None:
    health = client.get("/api/health").json()
    assert health["status"] == "degraded" and health["redis"] is True and health["workers"] == []
    major, minor = (int(part) for part in health["versions"]["redis_server"].split(".")[:2])
    assert (major, minor) >= (5, 0)  # the oldest server with streams (XADD / XRANGE / XREAD), all we need


def test_redis_outage_is_503_not_a_crash(make_client: Callable[..., TestClient]) -> None:
    from stack.redis_server import free_port

    client = make_client(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    health = client.get("/api/health")
    assert health.status_code == 503 and health.json()["status"] == "down"
    response = client.get("/api/runs")
    assert response.status_code == 503 and "unavailable" in response.json()["detail"]
