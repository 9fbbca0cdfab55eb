"""Orphan recovery: runs marked running whose lease expired are re-queued exactly when they should be."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

import pytest
import redis
from kombu.asynchronous.timer import Timer
from support.runs import add_run

from difficultynet.contracts.config import TrainConfig
from service_contracts import protocol
from worker.celery_app import create_celery
from worker.recovery import orphaned_runs, recover_orphaned_runs, requeue
from worker.settings import WorkerSettings

CONFIG = TrainConfig(method="ce", epochs=2)
ORPHAN, LEASED, QUEUED, DONE = "a" * 32, "b" * 32, "c" * 32, "d" * 32


class Sent:
    """Records the tasks recovery sends (stands in for Celery's ``send_task``)."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[str, list[Any]]] = []
        self.fail = fail
        self.event = threading.Event()

    def __call__(self, task_id: str, args: list[Any]) -> None:
        if self.fail:
            raise ConnectionError("broker down")
        self.calls.append((task_id, args))
        self.event.set()


@pytest.fixture
def runs(db: redis.Redis) -> None:
    extra = {"manifest_path": "/data/m.csv", "data_root": "/data"}
    add_run(db, ORPHAN, CONFIG, status="running", **extra)
    add_run(db, LEASED, CONFIG, status="running", **extra)
    db.set(protocol.lease_key(LEASED), "live-worker", px=60_000)
    add_run(db, QUEUED, CONFIG, status="queued", **extra)
    add_run(db, DONE, CONFIG, status="succeeded", **extra)


def test_only_running_runs_without_a_lease_are_orphans(db: redis.Redis, runs: None) -> None:
    assert orphaned_runs(db) == [ORPHAN]


def test_requeue_marks_queued_and_resends_the_original_task_args(db: redis.Redis, runs: None) -> None:
    sent = Sent()
    assert recover_orphaned_runs(db, sent) == [ORPHAN]
    assert sent.calls == [(ORPHAN, [ORPHAN, CONFIG.model_dump(mode="json"), "/data/m.csv", "/data"])]
    run = db.hgetall(protocol.run_key(ORPHAN))
    assert run["status"] == "queued" and float(run["requeued_at"]) > 0
    assert recover_orphaned_runs(db, sent) == []  # queued now: never sent twice


def test_a_run_that_regained_its_lease_is_left_alone(db: redis.Redis, runs: None) -> None:
    db.set(protocol.lease_key(ORPHAN), "came-back", px=60_000)
    sent = Sent()
    assert not requeue(db, ORPHAN, sent) and sent.calls == []


def test_failed_send_puts_the_run_back_for_the_next_scan(db: redis.Redis, runs: None) -> None:
    with pytest.raises(ConnectionError):
        requeue(db, ORPHAN, Sent(fail=True))
    assert db.hget(protocol.run_key(ORPHAN), "status") == "running"
    assert recover_orphaned_runs(db, Sent(fail=True)) == []  # logged, not raised
    assert recover_orphaned_runs(db, Sent()) == [ORPHAN]


def test_the_worker_step_scans_at_startup_and_on_its_timer(
    db: redis.Redis, runs: None, worker_settings: WorkerSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_celery(worker_settings)
    sent: list[tuple[str, str, str]] = []
    monkeypatch.setattr(
        app, "send_task", lambda name, args, task_id, queue: sent.append((name, task_id, queue))
    )
    [step_class] = [step for step in app.steps["worker"] if step.__name__ == "OrphanRecovery"]
    worker = SimpleNamespace(app=app, timer=Timer())
    step = step_class(worker)
    step.start(worker)
    assert sent == [(protocol.TASK_TRAIN, ORPHAN, protocol.QUEUE_GPU)]  # the startup scan
    [scheduled] = worker.timer.queue
    # The re-queued run's new worker dies too: the next timed scan catches it again.
    db.hset(protocol.run_key(ORPHAN), "status", "running")
    scheduled.entry()
    assert len(sent) == 2
    step.stop(worker)
    assert scheduled.entry.canceled
