"""Run lifecycle on the API side: validate and enqueue, read progress, cancel, delete.

Status transitions owned here: (new) → queued, queued → cancelled, queued → failed (enqueue failed).
Workers own queued → running → succeeded | failed | cancelled (see ``worker/tasks.py``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from backend.errors import ApiError, Conflict, NotFound, Unprocessable, field_error, pydantic_errors
from backend.queue import TaskQueue
from backend.settings import Settings
from backend.store import ACTIVE_STATUSES, RunHash, Store
from difficultynet.contracts.api import MemoryEstimateRead, PrepareRead, RunCreate, RunPhase, RunRead
from difficultynet.contracts.config import TrainConfig, dnet_recipe
from difficultynet.manifest import ManifestReport
from difficultynet.memory_estimate import (
    WorkerCapacity,
    disk_shortfall,
    host_ram_bytes,
    run_memory_estimate,
    shortfall,
)
from service_contracts.protocol import lease_owner_worker

logger = logging.getLogger(__name__)

# TrainConfig locations → the RunCreate field a client sent.
_FIELD_FOR_LOC = {"dnet.meta_mode": "meta_mode", "dnet.meta_every": "meta_every", "dnet.lr": "dnet_lr"}


def train_config(body: RunCreate) -> TrainConfig:
    """The full TrainConfig for a request; its own validators have the last word (422 on failure)."""
    overrides: dict[str, Any] = {"meta_mode": body.meta_mode, "meta_every": body.meta_every}
    if body.dnet_lr is not None:
        overrides["lr"] = body.dnet_lr
    fields = body.model_dump(include={"method", "model", "epochs", "batch_size", "lr", "seed", "device"})
    fields.update(
        body.model_dump(
            include={
                "num_threads",
                "image_size",
                "pretrained",
                "backbone_lr_scale",
                "lr_schedule",
                "warmup_epochs",
            }
        )
    )
    try:
        fields["dnet"] = dnet_recipe(body.dnet_recipe, **overrides)
        return TrainConfig.model_validate(fields)
    except ValidationError as exc:
        errors = pydantic_errors(exc.errors())
        for error in errors:
            error.column = _FIELD_FOR_LOC.get(error.column or "", error.column)
        raise Unprocessable("invalid training configuration", errors) from exc


SPARKLINE_POINTS = 50


def sparkline(history_json: str | None, points: int = SPARKLINE_POINTS) -> list[float]:
    """At most ``points`` values of a per-epoch history, evenly spread, first and last kept ([] if unset
    or unreadable)."""
    try:
        values = json.loads(history_json) if history_json else []
    except ValueError:
        return []
    if not isinstance(values, list) or not all(isinstance(v, int | float) for v in values):
        return []
    if len(values) <= points:
        return [float(v) for v in values]
    step = (len(values) - 1) / (points - 1)
    return [float(values[round(i * step)]) for i in range(points)]


def _timestamp(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def _phase(run: RunHash) -> RunPhase:
    if run.is_terminal:
        return "finished"
    if run.status == "queued":
        return "queued"
    return "preparing" if run.phase == "preparing" else "training"


def _preparing(run: RunHash) -> PrepareRead | None:
    if run.prepare_total is None or run.prepare_done is None:
        return None
    cache = run.prepare_cache if run.prepare_cache in ("hit", "miss", "none") else "none"
    return PrepareRead(
        done=run.prepare_done,
        total=run.prepare_total,
        rate=run.prepare_rate,
        eta_s=run.prepare_eta_s,
        cache=cache,
    )


def _memory_estimate(run: RunHash) -> MemoryEstimateRead | None:
    if run.memory_estimate is None:  # a run created before the API stored estimates
        return None
    try:
        return MemoryEstimateRead.model_validate_json(run.memory_estimate)
    except ValidationError:
        return None


def to_read(run: RunHash, *, cancel_requested: bool, now: float | None = None) -> RunRead:
    now = time.time() if now is None else now
    eta: float | None = None
    if run.status == "running" and run.epoch > 0 and run.elapsed_s is not None:
        per_epoch = run.elapsed_s / run.epoch
        since_last = max(0.0, now - run.epoch_at) if run.epoch_at is not None else 0.0
        eta = max(0.0, per_epoch * (run.epochs_total - run.epoch) - since_last)
    return RunRead(
        id=run.id,
        status=run.status,
        dataset_id=run.dataset_id,
        baseline_run_id=run.baseline_run_id,
        config=TrainConfig.model_validate_json(run.config),
        created_at=datetime.fromtimestamp(run.created_at, UTC),
        started_at=_timestamp(run.started_at),
        finished_at=_timestamp(run.finished_at),
        epoch=run.epoch,
        epochs_total=run.epochs_total,
        progress=min(1.0, run.epoch / run.epochs_total) if run.epochs_total else 0.0,
        elapsed_s=run.elapsed_s,
        eta_s=eta,
        top1=run.top1,
        balanced_acc=run.balanced_acc,
        balanced_acc_history=sparkline(run.balanced_acc_history),
        error=run.error,
        worker=run.worker,
        device=run.device,
        attempt=run.attempt,
        crashes=run.crashes,
        cancel_requested=cancel_requested and not run.is_terminal,
        phase=_phase(run),
        preparing=_preparing(run),
        memory_estimate=_memory_estimate(run),
    )


class RunService:
    def __init__(self, settings: Settings, store: Store, queue: TaskQueue) -> None:
        self.settings = settings
        self.store = store
        self.queue = queue
        # Serialises "count active runs, then create one" within this API process.
        self._admission = asyncio.Lock()

    async def get(self, run_id: str) -> RunHash:
        run = await self.store.get_run(run_id)
        if run is None:
            raise NotFound("run", run_id)
        return run

    async def read(self, run_id: str) -> RunRead:
        run = await self.get(run_id)
        return to_read(run, cancel_requested=await self.store.cancel_requested(run_id))

    async def page(
        self, *, dataset_id: str | None, status: str | None, limit: int, offset: int
    ) -> tuple[list[RunRead], int]:
        runs = await self.store.get_runs(await self.store.run_ids())
        matching = [
            run
            for run in runs
            if (dataset_id is None or run.dataset_id == dataset_id)
            and (status is None or run.status == status)
        ]
        page = matching[offset : offset + limit]
        now = time.time()
        return [to_read(run, cancel_requested=False, now=now) for run in page], len(matching)

    async def create(self, body: RunCreate) -> RunRead:
        if body.epochs > self.settings.max_epochs:
            raise field_error("epochs", f"this server allows at most {self.settings.max_epochs} epochs")
        config = train_config(body)
        dataset = await self.store.get_dataset(body.dataset_id)
        if dataset is None:
            raise field_error("dataset_id", f"dataset {body.dataset_id!r} not found")
        if body.baseline_run_id is not None and await self.store.get_run(body.baseline_run_id) is None:
            raise field_error("baseline_run_id", f"run {body.baseline_run_id!r} not found")
        memory = await self._check_memory(config, dataset.report)
        run_id = uuid.uuid4().hex
        now = time.time()
        async with self._admission:
            active = len(await self.store.active_runs())
            if active >= self.settings.max_active_runs:
                raise ApiError(
                    429,
                    f"{active} runs are queued or running (limit {self.settings.max_active_runs}); "
                    "wait for one to finish or cancel one",
                    headers={"Retry-After": "30"},
                )
            await self.store.create_run(
                run_id,
                {
                    "status": "queued",
                    "config": config.model_dump_json(),
                    "dataset_id": dataset.id,
                    "baseline_run_id": body.baseline_run_id or "",
                    "created_at": now,
                    "epoch": 0,
                    "epochs_total": config.epochs,
                    "task_id": run_id,
                    "manifest_path": dataset.manifest_path,
                    "data_root": dataset.data_root,
                    "attempt": 0,
                    "memory_estimate": memory.model_dump_json(),
                },
            )
        try:
            await run_in_threadpool(
                self.queue.submit_training,
                run_id,
                config.model_dump(mode="json"),
                dataset.manifest_path,
                dataset.data_root,
            )
        except Exception as exc:
            logger.exception("could not enqueue run %s", run_id)
            await self.store.transition(
                run_id,
                "queued",
                {"status": "failed", "error": f"could not enqueue: {exc}", "finished_at": now},
            )
            raise ApiError(503, "the task broker is unavailable; the run was not queued") from exc
        logger.info("run %s queued (%s/%s, %d epochs)", run_id, config.method, config.model, config.epochs)
        return await self.read(run_id)

    async def _check_memory(self, config: TrainConfig, report: ManifestReport) -> MemoryEstimateRead:
        """422 for a run that cannot fit any live worker (or, before any worker reported, this host's RAM):
        it would be OOM-killed at start, attempt after attempt. Else the memory it needs, for the run."""
        capacities = await self.store.worker_capacities()
        if not capacities:
            capacities = [WorkerCapacity(worker="this API host", ram_bytes=host_ram_bytes())]
        reason = shortfall(config, len(report.classes), report.num_rows, capacities)
        if reason is not None:
            raise field_error("batch_size", reason)
        free = await run_in_threadpool(_free_disk_bytes, self.settings.cache_dir)
        if free is not None and (too_big := disk_shortfall(config, report.num_rows, free)) is not None:
            raise field_error("image_size", too_big)
        return run_memory_estimate(config, len(report.classes), report.num_rows, capacities)

    async def cancel(self, run_id: str) -> RunRead:
        """Cooperative: the worker polls the flag every batch. A queued run is cancelled right here, and
        so is a running run whose worker is gone (lease expired, or its worker answers no ping)."""
        run = await self.get(run_id)
        if run.status in ("succeeded", "failed"):
            raise Conflict(f"run already {run.status}")
        if run.status == "cancelled":
            return await self.read(run_id)
        await self.store.request_cancel(run_id)
        finished: dict[str, str | float] = {"status": "cancelled", "finished_at": time.time(), "error": ""}
        cancelled_here = False
        if run.status == "queued":
            cancelled_here = await self.store.transition(run_id, "queued", finished)
        elif run.status == "running":
            cancelled_here = await self._cancel_if_orphaned(run_id, finished)
        if cancelled_here:
            try:
                await run_in_threadpool(self.queue.revoke, run.task_id or run_id)
            except Exception:  # the worker skips terminal runs anyway; revoke only saves it the trip
                logger.warning("revoke of run %s failed", run_id, exc_info=True)
        return await self.read(run_id)

    async def _cancel_if_orphaned(self, run_id: str, finished: dict[str, str | float]) -> bool:
        """Nobody would act on the cancel flag before the dead owner's lease expires and the run is
        re-queued (up to the lease TTL): finish the cancel here instead. A live owner stops by itself."""
        owner = await self.store.lease_owner(run_id)
        if owner is not None:
            worker = lease_owner_worker(owner)
            try:
                alive = await run_in_threadpool(self.queue.worker_alive, worker)
            except Exception:  # broker trouble: do not guess, the worker (if alive) stops within a batch
                logger.warning("could not ping worker %s for run %s", worker, run_id, exc_info=True)
                return False
            if alive:
                return False
        if await self.store.cancel_orphan(run_id, owner, finished):
            logger.info("run %s cancelled at once: its worker %s is gone", run_id, owner or "(no lease)")
            return True
        return False

    async def delete(self, run_id: str) -> None:
        """Refused while queued or running (cancel first), so a worker never writes to a deleted run."""
        run = await self.get(run_id)
        if run.status in ACTIVE_STATUSES:
            raise Conflict(f"run is {run.status}; cancel it before deleting")
        await self.store.delete_run(run_id)
        await run_in_threadpool(self.queue.forget, run.task_id or run_id)
        await run_in_threadpool(shutil.rmtree, self.settings.runs_dir / run_id, True)

    async def epochs(self, run_id: str, after: int, limit: int) -> tuple[RunHash, list[tuple[int, str]]]:
        run = await self.get(run_id)
        return run, await self.store.epochs_after(run_id, after, count=limit)

    async def weights(self, run_id: str) -> str:
        """The latest export from Redis, else the worker's ``weights.json`` on disk; 404 before epoch 1."""
        await self.get(run_id)
        doc = await self.store.weights(run_id)
        if doc is None:
            path = self.settings.runs_dir / run_id / "weights.json"
            doc = await run_in_threadpool(_read_text_or_none, path)
        if doc is None:
            raise ApiError(404, "no weights yet: the run has not finished an epoch")
        return doc


def _free_disk_bytes(path: Path) -> int | None:
    """Free bytes on the disk holding ``path`` (its nearest existing parent); None when unknown."""
    for candidate in (path, *path.parents):
        try:
            return shutil.disk_usage(candidate).free
        except OSError:
            continue
    return None


def _read_text_or_none(path: Any) -> str | None:
    try:
        text: str = path.read_text(encoding="utf-8")
    except OSError:
        return None
    return text
