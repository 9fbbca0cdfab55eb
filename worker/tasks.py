"""Task ``worker.train``: a thin shell around :func:`difficultynet.train.fit`.

Life of a run on a worker: skip if already terminal → take the run lease (waiting out a dead owner's)
→ give up (``failed``) if its worker died ``max_attempts`` times in a row on one epoch → mark
``running`` → ``fit`` with ``resume=True`` (continues from ``runs_dir/<id>/checkpoint.pt`` after a
crash) while a Redis reporter publishes every epoch and ``should_stop`` polls the cancel flag every
batch (and while the images are decoded, whose progress goes to the run hash as the ``preparing`` phase)
→ mark ``succeeded`` / ``cancelled`` / ``failed``. Every run-hash write is fenced by the lease.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import redis
import torch
from celery import Task, shared_task
from pydantic import ValidationError

from difficultynet.contracts.api import TERMINAL_STATUSES
from difficultynet.contracts.config import TrainConfig
from difficultynet.contracts.records import EpochRecord
from difficultynet.device import describe_device, resolve_device
from difficultynet.errors import DnetError, RunCancelled
from difficultynet.export import build_weights_export
from difficultynet.manifest import load_manifest
from difficultynet.train import fit
from service_contracts import protocol
from worker.attempts import count_deaths, give_up_reason
from worker.lease import RunLease, owner_token
from worker.pinning import CUDA_ENV
from worker.redis_client import connect
from worker.reporter import ExportBuilder, PrepareStatusWriter, RedisReporter
from worker.run_log import RunLogHandler, last_lines
from worker.settings import WorkerSettings

logger = logging.getLogger(__name__)

# Reads the cancel flag once per batch: no retries, short timeouts, so a Redis outage never stalls training.
_STOP_CHECK_TIMEOUT_S = 0.5


class StopCheck:
    """``should_stop`` for ``fit``: true once the cancel flag is set or the lease was lost."""

    def __init__(self, client: redis.Redis, run_id: str, lease: RunLease) -> None:
        self.client = client
        self.key = protocol.cancel_key(run_id)
        self.lease = lease
        self._warned = False

    def __call__(self) -> bool:
        if self.lease.lost.is_set():
            return True
        try:
            return bool(self.client.exists(self.key))
        except redis.RedisError as exc:
            if not self._warned:
                logger.warning("cancel flag unreadable (%r); training on", exc)
                self._warned = True
            return False


def _settings(task: Task) -> WorkerSettings:
    settings = getattr(task.app, "dnet_settings", None)
    return settings if isinstance(settings, WorkerSettings) else WorkerSettings()


def _weights_from_run_dir(out_dir: Path, config: TrainConfig, dataset_sha256: str) -> ExportBuilder:
    """The export ``fit`` wrote for this epoch (includes Difficulty-Net state); rebuilt if unreadable."""

    def export(records: Sequence[EpochRecord]) -> str:
        try:
            return (out_dir / "weights.json").read_text(encoding="utf-8")
        except OSError:
            partial = records[-1].epoch < config.epochs
            doc = build_weights_export(records, config, dataset_sha256=dataset_sha256, partial=partial)
            return json.dumps(doc)

    return export


class TrainingJob:
    def __init__(self, settings: WorkerSettings, run_id: str, worker_name: str) -> None:
        self.settings = settings
        self.run_id = run_id
        self.worker_name = worker_name
        self.client = connect(settings.redis_url, retry_s=settings.redis_retry_s)
        self.run_key = protocol.run_key(run_id)

    def status(self) -> str | None:
        value: str | None = self.client.hget(self.run_key, "status")  # type: ignore[assignment]
        return value

    def run(self, config: dict[str, Any], manifest_path: str, data_root: str) -> dict[str, Any]:
        log_handler = RunLogHandler(self._stop_client(), self.run_id)
        logging.getLogger().addHandler(log_handler)
        try:
            return self._run(config, manifest_path, data_root)
        finally:
            logging.getLogger().removeHandler(log_handler)

    def _run(self, config: dict[str, Any], manifest_path: str, data_root: str) -> dict[str, Any]:
        status = self.status()
        if status is None or status in TERMINAL_STATUSES:
            logger.info("run %s: %s, nothing to do", self.run_id, status or "unknown (deleted?)")
            return {"run_id": self.run_id, "status": status, "skipped": True}
        lease = RunLease(
            self.client, self.run_id, ttl_s=self.settings.lease_ttl_s, owner=owner_token(self.worker_name)
        )
        # A redelivered message may arrive while the dead owner's lease is still ticking down.
        if not lease.acquire(wait_s=self.settings.lease_ttl_s + self.settings.heartbeat_s):
            logger.warning("run %s: held by a live worker; dropping this duplicate delivery", self.run_id)
            return {"run_id": self.run_id, "status": self.status(), "skipped": True}
        try:
            with lease.heartbeat(self.settings.heartbeat_s):
                return self._train_leased(lease, config, manifest_path, data_root)
        finally:
            lease.release()

    def _finish(self, lease: RunLease, status: str, error: str = "") -> dict[str, Any]:
        lease.update({"status": status, "finished_at": time.time(), "error": error[:4000]})
        self.client.delete(protocol.cancel_key(self.run_id))
        logger.info("run %s: %s%s", self.run_id, status, f" ({error})" if error else "")
        return {"run_id": self.run_id, "status": status, "error": error or None}

    def _train_leased(
        self, lease: RunLease, config: dict[str, Any], manifest_path: str, data_root: str
    ) -> dict[str, Any]:
        status = self.status()  # re-read: it may have been cancelled while we waited for the lease
        if status is None or status in TERMINAL_STATUSES:
            return {"run_id": self.run_id, "status": status, "skipped": True}
        if self.client.exists(protocol.cancel_key(self.run_id)):
            return self._finish(lease, "cancelled")
        run = cast(dict[str, str], self.client.hgetall(self.run_key))
        deaths = count_deaths(run)  # every earlier attempt of a non-terminal run died
        if deaths.in_a_row >= self.settings.max_attempts:
            lease.update({"crashes": deaths.crashes, "crashes_in_a_row": deaths.in_a_row})
            reason = give_up_reason(deaths, last_lines(self.client, self.run_id))
            return self._finish(lease, "failed", reason)
        started: dict[str, str | int | float] = {
            "status": "running",
            "worker": f"{self.worker_name} (pid {os.getpid()})",
            "error": "",
            "crashes": deaths.crashes,
            "crashes_in_a_row": deaths.in_a_row,
            "attempt_epoch": deaths.epoch,
            "phase": "preparing",
        }
        if not run.get("started_at"):
            started["started_at"] = time.time()
        lease.update(started)
        attempt = self.client.hincrby(self.run_key, "attempt", 1)
        max_attempts = self.settings.max_attempts
        logger.info("run %s: attempt %s of %d on %s", self.run_id, attempt, max_attempts, self.worker_name)
        try:
            train_config = TrainConfig.model_validate(config)
            manifest = load_manifest(Path(manifest_path), Path(data_root))
            out_dir = self.settings.runs_dir / self.run_id
            lease.update({"device": _device_label(train_config.device)})
            reporter = RedisReporter(
                self.client,
                self.run_id,
                lease=lease,
                export=_weights_from_run_dir(out_dir, train_config, manifest.sha256),
            )
            result = fit(
                train_config,
                manifest,
                run_id=self.run_id,
                out_dir=out_dir,
                reporter=reporter,
                should_stop=StopCheck(self._stop_client(), self.run_id, lease),
                resume=True,
                cache_dir=self.settings.cache_dir,
                on_prepare=PrepareStatusWriter(self.client, self.run_id, lease=lease),
            )
            reporter.sync()
            self.client.set(protocol.weights_key(self.run_id), json.dumps(result.export))
        except RunCancelled:
            if lease.lost.is_set():
                logger.warning("run %s: stopped; another worker owns it now", self.run_id)
                return {"run_id": self.run_id, "status": "lost"}
            return self._finish(lease, "cancelled")
        except redis.RedisError:
            # Redis stayed down past the retry budget: leave the run 'running'; once the lease expires
            # the recovery loop re-queues it and it resumes from the checkpoint.
            logger.exception("run %s: Redis unavailable; leaving it to crash recovery", self.run_id)
            raise
        except (DnetError, ValidationError) as exc:
            return self._finish(lease, "failed", str(exc))
        except Exception as exc:
            logger.exception("run %s: training crashed", self.run_id)
            return self._finish(lease, "failed", f"{type(exc).__name__}: {exc}")
        return self._finish(lease, "succeeded")

    def _stop_client(self) -> redis.Redis:
        return connect(self.settings.redis_url, retry_s=0, socket_timeout_s=_STOP_CHECK_TIMEOUT_S)


def _device_label(requested: str) -> str:
    """What this child trains on, e.g. ``cuda:0 (NVIDIA H100, CUDA_VISIBLE_DEVICES=3)`` or ``cpu``.

    CUDA is initialised here, in the task's own process, never in the worker's parent.
    """
    device = resolve_device(requested)
    if device.type == "cpu":
        return "cpu"
    index = device.index if device.index is not None else torch.cuda.current_device()
    pinned = os.environ.get(CUDA_ENV)
    host_gpu = f", {CUDA_ENV}={pinned}" if pinned else ""
    return f"cuda:{index} ({describe_device(torch.device('cuda', index))}{host_gpu})"


@shared_task(bind=True, name=protocol.TASK_TRAIN, acks_late=True, reject_on_worker_lost=True)
def train(
    self: Task, run_id: str, config: dict[str, Any], manifest_path: str, data_root: str
) -> dict[str, Any]:
    """Train one run (args as sent by the API: see ``docs/architecture.md``)."""
    worker_name = str(self.request.hostname or "worker")
    return TrainingJob(_settings(self), run_id, worker_name).run(config, manifest_path, data_root)
