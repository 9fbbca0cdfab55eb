"""Crash safety on a live stack: a SIGKILLed worker and a crashed Redis lose no epoch and add none twice.

How recovery works is described in ``worker/recovery.py``. The stack uses short lease/heartbeat/recovery
intervals (3 s / 1 s / 1 s) so each scenario resolves within seconds.
"""

from __future__ import annotations

import os
import re
import signal
from typing import Any

import httpx
import pytest
from support.waiting import all_epochs, run_state, wait_for, wait_for_epoch, wait_until_finished

from stack.testing.live_stack import LiveStack

pytestmark = pytest.mark.integration

EPOCHS = 4
TRAINING: dict[str, Any] = {
    "method": "ce", "model": "resnet8", "epochs": EPOCHS, "batch_size": 128, "num_threads": 1,
    "device": "cpu",
}  # fmt: skip
TIMEOUT_S = 240


def start_run(client: httpx.Client, dataset_id: str) -> str:
    response = client.post("/api/runs", json={"dataset_id": dataset_id, **TRAINING})
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def task_child_pid(state: dict[str, Any]) -> int:
    """The pid of the prefork child training the run (the worker writes "<name> (pid N)")."""
    match = re.search(r"\(pid (\d+)\)", state["worker"] or "")
    assert match, state
    return int(match.group(1))


def assert_completed_exactly_once(client: httpx.Client, stack: LiveStack, run_id: str) -> dict[str, Any]:
    state = wait_until_finished(client, run_id, TIMEOUT_S)
    assert state["status"] == "succeeded", (state, stack.logs())
    assert all_epochs(client, run_id) == list(range(1, EPOCHS + 1)), stack.logs()
    # the exploration entries too: every epoch once, none lost with the stream's tail
    explored = client.get(f"/api/runs/{run_id}/classes/0/exploration").json()
    assert [e["epoch"] for e in explored["epochs"]] == list(range(1, EPOCHS + 1)), stack.logs()
    weights = client.get(f"/api/runs/{run_id}/weights.json").json()
    assert weights["partial"] is False and weights["epochs_completed"] == EPOCHS
    return state


def test_sigkilled_worker_run_resumes_on_a_new_worker(
    stack: LiveStack, client: httpx.Client, dataset_id: str
) -> None:
    run_id = start_run(client, dataset_id)
    state = wait_for_epoch(client, run_id, 1, TIMEOUT_S)
    # Kill the whole worker, parent first, so nothing is left to requeue the message: it stays unacked
    # in Redis (visibility timeout 48 h) and only the lease-based recovery can bring the run back.
    [old_worker] = [w for w in stack.workers if w.alive()]
    stack.kill_worker(old_worker, child_pid=task_child_pid(state))
    assert run_state(client, run_id)["status"] == "running"  # orphaned, not failed

    stack.start_worker()
    state = assert_completed_exactly_once(client, stack, run_id)
    assert state["attempt"] == 2 and not state["worker"].startswith(old_worker.name), state


def test_sigkilled_task_child_is_requeued_by_its_parent_and_resumes(
    stack: LiveStack, client: httpx.Client, dataset_id: str
) -> None:
    run_id = start_run(client, dataset_id)
    state = wait_for_epoch(client, run_id, 1, TIMEOUT_S)
    child = task_child_pid(state)
    os.kill(child, signal.SIGKILL)  # the parent survives: reject_on_worker_lost requeues the message
    # The next child waits out the dead child's lease, then resumes from the checkpoint.
    state = assert_completed_exactly_once(client, stack, run_id)
    assert state["attempt"] == 2 and task_child_pid(state) != child, state


def test_redis_crash_mid_run_loses_nothing(stack: LiveStack, client: httpx.Client, dataset_id: str) -> None:
    wait_for(lambda: client.get("/api/health").json()["workers"], 60, "a worker to answer pings")
    run_id = start_run(client, dataset_id)
    wait_for_epoch(client, run_id, 1, TIMEOUT_S)
    stack.restart_redis(kill=True, down_s=1.0)  # SIGKILL: only what the AOF fsynced survives
    assert_completed_exactly_once(client, stack, run_id)
