"""Celery *client*: sends ``worker.train`` by name on queue ``gpu``; never imports the worker package.

All methods block (kombu is synchronous); the API calls them through a threadpool.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery

from backend.settings import Settings
from service_contracts.protocol import QUEUE_GPU, TASK_TRAIN

logger = logging.getLogger(__name__)


class TaskQueue:
    def __init__(self, settings: Settings) -> None:
        self.app = Celery(
            "dnet-api", broker=settings.redis_url, backend=settings.redis_url, set_as_current=False
        )
        self.app.conf.update(
            task_serializer="json",
            accept_content=["json"],
            result_serializer="json",
            # Must match the workers': kombu reads it on both ends of the Redis transport.
            broker_transport_options={"visibility_timeout": settings.visibility_timeout_s},
            broker_connection_timeout=2.0,
            broker_connection_retry_on_startup=False,
            task_publish_retry_policy={"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5},
        )
        self._health_timeout_s = settings.health_timeout_s

    def submit_training(
        self, run_id: str, config: dict[str, Any], manifest_path: str, data_root: str
    ) -> None:
        """Enqueue a run; the run id doubles as the task id so revoke and result lookups need no mapping."""
        self.app.send_task(
            TASK_TRAIN,
            args=[run_id, config, manifest_path, data_root],
            task_id=run_id,
            queue=QUEUE_GPU,
        )

    def revoke(self, task_id: str) -> None:
        """Tell workers to discard a queued task (the worker also skips runs that are already terminal)."""
        self.app.control.revoke(task_id)

    def forget(self, task_id: str) -> None:
        """Delete the task's result (``celery-task-meta-<id>``) from the result backend."""
        self.app.AsyncResult(task_id).forget()

    def ping_workers(self) -> list[str]:
        """Names of the workers that answered within the health timeout."""
        replies = self.app.control.inspect(timeout=self._health_timeout_s).ping() or {}
        return sorted(replies)

    def worker_alive(self, worker: str) -> bool:
        """Whether the Celery worker named ``worker`` answers a ping within the health timeout."""
        inspect = self.app.control.inspect(destination=[worker], timeout=self._health_timeout_s, limit=1)
        return bool((inspect.ping() or {}).get(worker))

    def close(self) -> None:
        self.app.close()
