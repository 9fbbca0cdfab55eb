"""Re-queue orphaned runs: status ``running`` but nobody holds the lease (its worker died).

Why this exists: with ``task_acks_late`` on the Redis transport, the message of a task whose *whole*
worker died (SIGKILL, OOM, host loss) sits in kombu's unacked set until ``visibility_timeout`` (48 h,
so long runs are not duplicated). Celery's ``reject_on_worker_lost`` covers only a dead child whose
parent survives, and ``worker_cancel_long_running_tasks_on_connection_loss`` terminates the task after
a broker outage without requeueing it. Instead of waiting, every worker runs this scan at startup and
every ``recovery_interval_s`` (on the worker's own event-loop timer, see ``worker/celery_app.py``: no
extra thread in a process that forks): an expired lease proves the owner stopped heartbeating, so the
run is flipped back to ``queued`` and sent again. The new task resumes from ``runs_dir/<id>/checkpoint.pt``;
duplicates (the old message surfacing later) find the run terminal or leased and exit.

Retry budget (``worker/attempts.py``): a run whose worker died ``max_attempts`` times in a row while
training the same epoch (a poison run, e.g. one that is OOM-killed at start) is not sent again but
marked ``failed`` with the reason and its last log lines; the task itself applies the same rule when a
Celery parent redelivers it (``worker/tasks.py``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, cast

import redis

from service_contracts import protocol
from worker.attempts import count_deaths, give_up_reason
from worker.run_log import last_lines
from worker.settings import DEFAULT_MAX_ATTEMPTS

logger = logging.getLogger(__name__)

SendTask = Callable[[str, list[Any]], None]  # (task id, task args)
_CHUNK = 500


def _chunks(items: Sequence[str], size: int = _CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def orphaned_runs(client: redis.Redis) -> list[str]:
    """Runs marked running whose lease key is gone."""
    orphans: list[str] = []
    run_ids = cast(list[str], client.zrange(protocol.RUNS_INDEX_KEY, 0, -1))
    for chunk in _chunks(run_ids):
        with client.pipeline(transaction=False) as pipe:
            for run_id in chunk:
                pipe.hget(protocol.run_key(run_id), "status")
                pipe.exists(protocol.lease_key(run_id))
            replies = pipe.execute()
        for i, run_id in enumerate(chunk):
            status, leased = replies[2 * i], replies[2 * i + 1]
            if status == "running" and not leased:
                orphans.append(run_id)
    return orphans


def requeue(
    client: redis.Redis, run_id: str, send: SendTask, *, max_attempts: int = DEFAULT_MAX_ATTEMPTS
) -> bool:
    """Flip an orphan back to ``queued`` and resend its task, or fail it once its attempts are used up.

    False if it was not (or no longer) orphaned.
    """
    run_key, lease_key = protocol.run_key(run_id), protocol.lease_key(run_id)
    with client.pipeline(transaction=True) as pipe:
        try:
            pipe.watch(run_key, lease_key)
            fields = cast(dict[str, str], pipe.hgetall(run_key))
            if fields.get("status") != "running" or pipe.exists(lease_key):
                return False
            deaths = count_deaths(fields)  # its worker died: the run is running, but nobody holds it
            give_up = deaths.in_a_row >= max_attempts
            update: dict[str, str | int | float] = {"crashes": deaths.crashes}
            if give_up:
                reason = give_up_reason(deaths, last_lines(pipe, run_id))
                update.update(status="failed", error=reason, finished_at=time.time())
                update["crashes_in_a_row"] = deaths.in_a_row
            else:  # the next attempt recomputes the same count from the same fields
                update.update(status="queued", requeued_at=time.time())
            pipe.multi()
            pipe.hset(run_key, mapping=update)  # type: ignore[arg-type]
            pipe.execute()
        except redis.WatchError:
            return False  # a worker touched the run meanwhile: it is not orphaned
    if give_up:
        logger.error("run %s: failed; its worker died %d times in a row", run_id, deaths.in_a_row)
        return True
    args = [
        run_id,
        json.loads(fields["config"]),
        fields.get("manifest_path", ""),
        fields.get("data_root", ""),
    ]
    try:
        send(fields.get("task_id") or run_id, args)
    except Exception:
        # Put it back so the next scan retries; a queued run without a message would wait forever.
        client.hset(run_key, "status", "running")
        raise
    logger.warning("run %s: its worker stopped heartbeating; re-queued to resume from checkpoint", run_id)
    return True


def recover_orphaned_runs(
    client: redis.Redis, send: SendTask, *, max_attempts: int = DEFAULT_MAX_ATTEMPTS
) -> list[str]:
    """Re-queue (or give up on) every orphan; problems with one run are logged and retried next scan."""
    recovered = []
    for run_id in orphaned_runs(client):
        try:
            if requeue(client, run_id, send, max_attempts=max_attempts):
                recovered.append(run_id)
        except Exception:
            logger.exception("run %s: re-queue failed; will retry", run_id)
    return recovered
