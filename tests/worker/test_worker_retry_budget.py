"""Poison runs stop: a run whose worker died in each of its attempts is failed with a plain reason.

In-process against a real Redis (the live SIGKILL loop is ``tests/integration/test_poison_and_cancel.py``).
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import redis
from support import runs
from support.runs import add_run
from test_worker_recovery import Sent

from difficultynet.contracts.config import TrainConfig
from service_contracts import protocol
from stack.testing.datasets import tiny_files, write_files
from worker.attempts import count_deaths
from worker.lease import RunLease, owner_token
from worker.recovery import recover_orphaned_runs
from worker.run_log import LOG_LINES_KEPT, RunLogHandler, redact_paths
from worker.settings import WorkerSettings
from worker.tasks import TrainingJob

RUN = "f" * 32
CONFIG = TrainConfig(
    method="ce", model="resnet8", epochs=2, batch_size=4, image_size=8, num_threads=1, device="cpu",
    warmup_epochs=0,
)  # fmt: skip


@pytest.fixture
def dataset(tmp_path: Path) -> tuple[str, str]:
    folder = write_files(tmp_path / "tiny", tiny_files())
    return str(folder / "manifest.csv"), str(folder)


def run_job(settings: WorkerSettings, dataset: tuple[str, str]) -> dict[str, Any]:
    return TrainingJob(settings, RUN, "test@host").run(CONFIG.model_dump(mode="json"), *dataset)


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_run_whose_worker_died_in_every_attempt_fails_with_the_reason(
    db: redis.Redis, worker_settings: WorkerSettings, dataset: tuple[str, str]
) -> None:
    # Attempts 2 and 3 started from epoch 1 and died before finishing epoch 2; attempt 3 died too.
    add_run(
        db, RUN, CONFIG, status="running", attempt="3", epoch="1", attempt_epoch="1", crashes_in_a_row="2"
    )
    db.rpush(protocol.log_key(RUN), "12:00:00 INFO loading images", "12:00:01 INFO epoch 2 started")
    result = run_job(worker_settings, dataset)
    assert result["status"] == "failed"
    run = runs.run_fields(db, RUN)
    assert run["status"] == "failed" and run["crashes"] == "3" and run["attempt"] == "3"
    error = run["error"]
    assert error.startswith("the worker process died 3 times while training epoch 2 of 2"), error
    assert "the last log lines: 12:00:00 INFO loading images | 12:00:01 INFO epoch 2 started" in error
    assert not (worker_settings.runs_dir / RUN).exists()  # not started again


def test_an_attempt_within_the_budget_counts_the_crashes_and_trains(
    db: redis.Redis,
    worker_settings: WorkerSettings,
    dataset: tuple[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)  # as `celery worker --loglevel info` does
    add_run(db, RUN, CONFIG, status="running", attempt="2")
    assert run_job(worker_settings, dataset)["status"] == "succeeded"
    run = runs.run_fields(db, RUN)
    assert run["crashes"] == "2" and run["crashes_in_a_row"] == "1" and run["attempt"] == "3"
    assert run["error"] == "" and run["attempt_epoch"] == "0"
    lines = db.lrange(protocol.log_key(RUN), 0, -1)
    assert any("attempt 3 of 3 on test@host" in line for line in lines), lines
    assert len(lines) <= LOG_LINES_KEPT


def test_recovery_fails_an_orphan_that_used_up_its_attempts_instead_of_resending_it(
    db: redis.Redis,
) -> None:
    poison, healthy = "1" * 32, "2" * 32
    extra = {"manifest_path": "/data/m.csv", "data_root": "/data"}
    add_run(
        db, poison, CONFIG, status="running", attempt="3", attempt_epoch="0", crashes_in_a_row="2", **extra
    )
    add_run(db, healthy, CONFIG, status="running", attempt="2", **extra)
    db.rpush(protocol.log_key(poison), "12:00:00 INFO decoding 50000 images")
    sent = Sent()
    assert sorted(recover_orphaned_runs(db, sent, max_attempts=3)) == [poison, healthy]
    assert [task_id for task_id, _ in sent.calls] == [healthy]
    failed = runs.run_fields(db, poison)
    assert failed["status"] == "failed" and failed["crashes"] == "3" and float(failed["finished_at"]) > 0
    assert failed["error"].startswith("the worker process died 3 times while training epoch 1 of 2")
    assert "decoding 50000 images" in failed["error"]
    requeued = runs.run_fields(db, healthy)
    assert requeued["status"] == "queued" and requeued["crashes"] == "2"


def test_a_run_that_keeps_finishing_epochs_between_deaths_is_never_given_up(db: redis.Redis) -> None:
    """Interrupted often (stack restarts, reboots) but getting further each time: not a poison run."""
    extra = {"manifest_path": "/data/m.csv", "data_root": "/data"}
    add_run(db, RUN, CONFIG, status="running", attempt="7", epoch="3", attempt_epoch="2", **extra)
    db.hset(protocol.run_key(RUN), "crashes_in_a_row", "2")
    sent = Sent()
    assert recover_orphaned_runs(db, sent, max_attempts=3) == [RUN] and len(sent.calls) == 1
    run = runs.run_fields(db, RUN)
    assert run["status"] == "queued" and run["crashes"] == "7"
    assert count_deaths(run).in_a_row == 1  # what the next attempt will record


def test_the_run_log_keeps_the_last_lines_without_host_paths(db: redis.Redis) -> None:
    handler = RunLogHandler(db, RUN)
    logger = logging.getLogger("difficultynet.test_run_log")
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        for i in range(LOG_LINES_KEPT + 5):
            logger.info("image cache hit: /srv/dnet/var/cache/%d.npz", i)
        logging.getLogger("somebody.else").info("not ours below WARNING")
    finally:
        logger.removeHandler(handler)
    lines = db.lrange(protocol.log_key(RUN), 0, -1)
    assert len(lines) == LOG_LINES_KEPT and lines[-1].endswith("INFO image cache hit: 24.npz"), lines
    assert redact_paths("cannot open '/a/b/c d.png'") == "cannot open 'c d.png'"
    assert redact_paths("ratio 3/4 and ./rel/path kept") == "ratio 3/4 and ./rel/path kept"


def test_a_dead_sibling_task_process_lease_is_taken_over_at_once(db: redis.Redis) -> None:
    key = protocol.lease_key(RUN)
    mine = RunLease(db, RUN, ttl_s=60, owner=owner_token("test@host"))
    # Another worker's dead child: its pid means nothing here, so its lease is waited out.
    db.set(key, f"other@host:{dead_pid()}:abcd", px=60_000)
    assert not mine.acquire(wait_s=0)
    # A live process of this worker keeps its lease.
    db.set(key, f"test@host:{Path('/proc/self').resolve().name}:abcd", px=60_000)
    assert not mine.acquire(wait_s=0)
    # A dead child of this worker (SIGKILL, OOM) is gone for good: no need to wait out its TTL.
    db.set(key, f"test@host:{dead_pid()}:abcd", px=60_000)
    assert mine.acquire(wait_s=0) and db.get(key) == mine.owner
