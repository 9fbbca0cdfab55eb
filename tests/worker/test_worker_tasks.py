"""The ``worker.train`` job body, in-process (real fit on a tiny dataset, real Redis; no Celery)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from support import runs
from support.runs import add_run

from difficultynet.contracts.config import TrainConfig
from difficultynet.export import validate_weights_export
from service_contracts import protocol
from stack.testing.datasets import tiny_files, write_files
from worker.lease import RunLease
from worker.settings import WorkerSettings
from worker.tasks import TrainingJob

RUN = "e" * 32


def tiny_config(epochs: int, method: str = "ce") -> TrainConfig:
    return TrainConfig(
        method=method,
        model="resnet8",
        epochs=epochs,
        batch_size=4,
        image_size=8,
        num_threads=1,
        device="cpu",
        warmup_epochs=0,
    )


@pytest.fixture
def dataset(tmp_path: Path) -> tuple[str, str]:
    folder = write_files(tmp_path / "tiny", tiny_files())
    return str(folder / "manifest.csv"), str(folder)


def run_job(settings: WorkerSettings, config: TrainConfig, dataset: tuple[str, str]) -> dict[str, Any]:
    return TrainingJob(settings, RUN, "test@host").run(config.model_dump(mode="json"), *dataset)


def train_to_the_end_then_redeliver(
    db: redis.Redis, worker_settings: WorkerSettings, config: TrainConfig, dataset: tuple[str, str]
) -> None:
    """A run that trained to its end, its task then delivered again (as after a crash before the ack)."""
    add_run(db, RUN, config)
    assert run_job(worker_settings, config, dataset)["status"] == "succeeded"
    db.hset(protocol.run_key(RUN), "status", "running")


def stream_epochs(db: redis.Redis) -> list[int]:
    return runs.stream_epochs(db, RUN)


def test_a_run_trains_reports_every_epoch_and_succeeds(
    db: redis.Redis, worker_settings: WorkerSettings, dataset: tuple[str, str]
) -> None:
    config = tiny_config(epochs=2, method="dnet")
    add_run(db, RUN, config)
    result = run_job(worker_settings, config, dataset)
    assert result["status"] == "succeeded", result
    run = runs.run_fields(db, RUN)
    assert run["status"] == "succeeded" and run["epoch"] == "2" and run["attempt"] == "1"
    assert run["device"] == "cpu" and run["worker"].startswith("test@host (pid ")
    assert float(run["started_at"]) <= float(run["finished_at"])
    assert stream_epochs(db) == [1, 2]
    weights = json.loads(db.get(protocol.weights_key(RUN)) or "")
    validate_weights_export(weights)
    assert weights["partial"] is False and weights["difficulty_net"] is not None
    assert not db.exists(protocol.lease_key(RUN))  # released
    assert (worker_settings.runs_dir / RUN / "checkpoint.pt").is_file()


def test_terminal_runs_are_skipped_without_training(
    db: redis.Redis, worker_settings: WorkerSettings, dataset: tuple[str, str]
) -> None:
    config = tiny_config(epochs=1)
    add_run(db, RUN, config, status="cancelled")
    assert run_job(worker_settings, config, dataset)["skipped"] is True
    assert stream_epochs(db) == [] and not (worker_settings.runs_dir / RUN).exists()


def test_a_cancel_requested_before_start_ends_the_run_at_once(
    db: redis.Redis, worker_settings: WorkerSettings, dataset: tuple[str, str]
) -> None:
    config = tiny_config(epochs=1)
    add_run(db, RUN, config)
    db.set(protocol.cancel_key(RUN), "1")
    assert run_job(worker_settings, config, dataset)["status"] == "cancelled"
    assert stream_epochs(db) == [] and not db.exists(protocol.cancel_key(RUN))


def test_cancel_stops_within_a_batch_and_resume_completes_exactly_once(
    db: redis.Redis, worker_settings: WorkerSettings, dataset: tuple[str, str]
) -> None:
    config = tiny_config(epochs=40)
    add_run(db, RUN, config)
    results: list[dict[str, Any]] = []
    thread = threading.Thread(target=lambda: results.append(run_job(worker_settings, config, dataset)))
    thread.start()
    deadline = time.monotonic() + 120
    while not stream_epochs(db) and time.monotonic() < deadline:
        time.sleep(0.05)
    db.set(protocol.cancel_key(RUN), "1")
    cancelled_at = time.monotonic()
    thread.join(60)
    assert results and results[0]["status"] == "cancelled"
    assert time.monotonic() - cancelled_at < 10
    kept = stream_epochs(db)
    assert 1 <= len(kept) < 40 and kept == list(range(1, len(kept) + 1))

    # The same run delivered again: it resumes from the checkpoint and reports each epoch exactly once.
    db.hset(protocol.run_key(RUN), "status", "running")
    resumed = run_job(worker_settings, config, dataset)
    assert resumed["status"] == "succeeded", resumed
    assert stream_epochs(db) == list(range(1, 41))
    run = runs.run_fields(db, RUN)
    assert run["status"] == "succeeded" and run["epoch"] == "40" and run["attempt"] == "2"
    records = [json.loads(line) for line in (worker_settings.runs_dir / RUN / "metrics.jsonl").open()]
    assert [r["epoch"] for r in records] == list(range(1, 41))


def test_a_resume_with_another_config_fails_with_a_readable_error(
    db: redis.Redis, worker_settings: WorkerSettings, dataset: tuple[str, str]
) -> None:
    train_to_the_end_then_redeliver(db, worker_settings, tiny_config(epochs=1), dataset)
    longer = tiny_config(epochs=3)
    db.hset(protocol.run_key(RUN), "config", longer.model_dump_json())
    resumed = run_job(worker_settings, longer, dataset)
    assert resumed["status"] == "failed" and "checkpoint" in (resumed["error"] or "").lower()
    assert "Traceback" not in resumed["error"] and stream_epochs(db) == [1]


def test_redelivery_resumes_from_the_checkpoint_without_duplicates(
    db: redis.Redis, worker_settings: WorkerSettings, dataset: tuple[str, str]
) -> None:
    config = tiny_config(epochs=3)
    train_to_the_end_then_redeliver(db, worker_settings, config, dataset)
    # Simulate the crash window "checkpoint of epoch 3 written, Redis lost epoch 3": trim the stream tail.
    db.delete(protocol.epochs_key(RUN))
    for epoch in (1, 2):
        db.xadd(protocol.epochs_key(RUN), {"record": "{}"}, id=protocol.epoch_stream_id(epoch))
    assert run_job(worker_settings, config, dataset)["status"] == "succeeded"
    assert stream_epochs(db) == [1, 2, 3]
    assert db.hget(protocol.run_key(RUN), "attempt") == "2"


def test_bad_input_fails_the_run_with_a_readable_error(
    db: redis.Redis, worker_settings: WorkerSettings, tmp_path: Path
) -> None:
    config = tiny_config(epochs=1)
    add_run(db, RUN, config)
    missing = tmp_path / "gone"
    result = run_job(worker_settings, config, (str(missing / "manifest.csv"), str(missing)))
    assert result["status"] == "failed" and result["error"]
    run = runs.run_fields(db, RUN)
    assert run["status"] == "failed" and run["error"] and "Traceback" not in run["error"]


def test_a_duplicate_delivery_leaves_a_live_owner_alone(
    db: redis.Redis, worker_settings: WorkerSettings, dataset: tuple[str, str]
) -> None:
    config = tiny_config(epochs=1)
    add_run(db, RUN, config, status="running")
    owner = RunLease(db, RUN, ttl_s=worker_settings.lease_ttl_s, owner="live-owner")
    assert owner.try_acquire()
    with owner.heartbeat(worker_settings.heartbeat_s):
        result = run_job(worker_settings, config, dataset)
    assert result["skipped"] is True and result["status"] == "running"
    assert db.get(protocol.lease_key(RUN)) == "live-owner" and stream_epochs(db) == []
