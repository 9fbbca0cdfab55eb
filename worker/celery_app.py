"""Celery application of the GPU workers: ``celery -A worker.celery_app worker -Q gpu ...``.

See ``worker/pinning.py`` for the recommended command line (one worker per GPU) and
``worker/recovery.py`` for how runs of dead workers are resumed.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

import redis
from celery import Celery, bootsteps

from service_contracts.protocol import QUEUE_GPU, TASK_TRAIN
from worker import log_filters
from worker.capacity import measure_capacity, publish_capacity, withdraw_capacity
from worker.pinning import assert_cuda_untouched
from worker.recovery import recover_orphaned_runs
from worker.redis_client import connect
from worker.settings import WorkerSettings

logger = logging.getLogger(__name__)

RESULT_TTL_S = 7 * 24 * 3600


class DnetCelery(Celery):
    """A Celery app that carries the worker settings its tasks run with."""

    dnet_settings: WorkerSettings


def celery_config(settings: WorkerSettings) -> dict[str, Any]:
    return {
        "broker_url": settings.redis_url,
        "result_backend": settings.redis_url,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "task_default_queue": QUEUE_GPU,
        "task_routes": {TASK_TRAIN: {"queue": QUEUE_GPU}},
        # A run is acknowledged only when it ends, and requeued if its child process dies.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,  # never reserve a second run while training one
        "worker_max_tasks_per_child": 1,  # a fresh child per run returns all host and GPU memory
        # Unacked messages are redelivered after this even while their worker is alive: keep it above
        # the longest run. Dead workers are handled by the lease-based recovery loop instead.
        "broker_transport_options": {"visibility_timeout": settings.visibility_timeout_s},
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,  # keep reconnecting through Redis restarts
        # On broker loss the task cannot be acked later anyway; stop it, recovery resumes it.
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "task_track_started": True,
        "result_expires": RESULT_TTL_S,
    }


def _recovery_step(settings: WorkerSettings) -> type[bootsteps.StartStopStep]:
    class OrphanRecovery(bootsteps.StartStopStep):
        """Scans for orphaned runs at startup and then periodically (see ``worker/recovery.py``), and
        keeps this worker's memory capacity advertised for the API's admission check (``worker/capacity.py``).

        Runs on the worker's timer, i.e. in the main process's event loop, not in a thread: the prefork
        pool forks a fresh child for every run, and forking while another thread holds a lock (an import
        lock, a connection-pool lock) can leave the child deadlocked.
        """

        requires = ("celery.worker.components:Timer",)

        def __init__(self, parent: Any, **kwargs: Any) -> None:
            super().__init__(parent, **kwargs)
            self.timer_entry: Any = None
            self.client: redis.Redis | None = None
            self.worker_name = str(getattr(parent, "hostname", None) or socket.gethostname())

        def start(self, parent: Any) -> None:
            assert_cuda_untouched()
            app = parent.app

            def send(task_id: str, args: list[Any]) -> None:
                app.send_task(TASK_TRAIN, args=args, task_id=task_id, queue=QUEUE_GPU)

            # Short timeouts and retries: a scan during a Redis outage is skipped, not allowed to stall.
            client = self.client = connect(settings.redis_url, retry_s=0.5, socket_timeout_s=2.0)
            capacity = measure_capacity(self.worker_name)
            capacity_ttl_s = max(30.0, 3 * settings.recovery_interval_s)

            def scan() -> None:
                try:
                    publish_capacity(client, capacity, capacity_ttl_s)
                    recover_orphaned_runs(client, send, max_attempts=settings.max_attempts)
                except redis.RedisError as exc:
                    logger.warning("orphan scan skipped: %r", exc)

            scan()
            self.timer_entry = parent.timer.call_repeatedly(settings.recovery_interval_s, scan)

        def stop(self, parent: Any) -> None:
            if self.timer_entry is not None:
                self.timer_entry.cancel()
            if self.client is not None:
                try:
                    withdraw_capacity(self.client, self.worker_name)
                except redis.RedisError as exc:  # it expires by itself
                    logger.warning("could not withdraw the capacity report: %r", exc)

    return OrphanRecovery


def create_celery(settings: WorkerSettings | None = None) -> DnetCelery:
    settings = settings or WorkerSettings()
    app = DnetCelery("dnet-worker", include=["worker.tasks"])
    app.conf.update(celery_config(settings))
    app.dnet_settings = settings
    app.steps["worker"].add(_recovery_step(settings))
    return app


log_filters.install()
app = create_celery()
