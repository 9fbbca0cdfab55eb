"""Liveness of the pieces the API depends on: Redis and the Celery workers."""

from __future__ import annotations

import asyncio
import logging
import platform
import time
from importlib import metadata

import celery
import fastapi
import redis.exceptions
from starlette.concurrency import run_in_threadpool

from backend.queue import TaskQueue
from backend.store import Store
from difficultynet.contracts.api import HealthRead

logger = logging.getLogger(__name__)
WORKER_PING_TTL_S = 5.0


def _package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"


class HealthService:
    def __init__(self, store: Store, queue: TaskQueue) -> None:
        self.store = store
        self.queue = queue
        # A Celery ping waits the whole timeout; share one in-flight ping and reuse it for a few seconds.
        self._ping_lock = asyncio.Lock()
        self._workers: list[str] = []
        self._pinged_at = float("-inf")

    async def check(self) -> HealthRead:
        versions = {
            "difficultynet": _package_version("difficultynet-dashboard"),
            "python": platform.python_version(),
            "fastapi": fastapi.__version__,
            "celery": celery.__version__,
        }
        try:
            info = await self.store.redis.info("server")
            versions["redis_server"] = str(info.get("redis_version", "unknown"))
        except (redis.exceptions.RedisError, OSError) as exc:
            return HealthRead(status="down", redis=False, redis_error=str(exc), workers=[], versions=versions)
        workers = await self._online_workers()
        return HealthRead(
            status="ok" if workers else "degraded", redis=True, workers=workers, versions=versions
        )

    async def _online_workers(self) -> list[str]:
        async with self._ping_lock:
            if time.monotonic() - self._pinged_at > WORKER_PING_TTL_S:
                try:
                    self._workers = await run_in_threadpool(self.queue.ping_workers)
                except Exception as exc:  # a broker hiccup must not fail the health check itself
                    logger.warning("worker ping failed: %r", exc)
                    self._workers = []
                self._pinged_at = time.monotonic()
            return list(self._workers)
