"""Dying workers on a live stack: a poison run stops after its retry budget, and a cancel of a run whose
worker died finishes at once instead of waiting out the lease.

The lease TTL here is production-like (20 s), so "at once" is told apart from "after the lease expired".
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support.waiting import run_state, wait_for, wait_until_finished

from stack.testing.live_stack import LiveStack, StackTimings

pytestmark = pytest.mark.integration

TOKEN = "integration-token"
LEASE_TTL_S = 20.0
TRAINING: dict[str, Any] = {
    "method": "ce", "model": "resnet8", "epochs": 50, "batch_size": 64, "num_threads": 1, "device": "cpu",
}  # fmt: skip
MAX_ATTEMPTS = 3


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    timings = StackTimings(lease_ttl_s=LEASE_TTL_S, heartbeat_s=2.0, recovery_interval_s=1.0)
    root = tmp_path_factory.mktemp("stack")
    env = {"DNET_MAX_ATTEMPTS": str(MAX_ATTEMPTS)}
    with LiveStack(root, api_token=TOKEN, timings=timings, extra_env=env) as live:
        yield live


def start_run(client: httpx.Client, dataset_id: str) -> str:
    response = client.post("/api/runs", json={"dataset_id": dataset_id, **TRAINING})
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def child_pid(state: dict[str, Any]) -> int | None:
    match = re.search(r"\(pid (\d+)\)", state.get("worker") or "")
    return int(match.group(1)) if match else None


def wait_for_attempt(client: httpx.Client, run_id: str, attempt: int, timeout: float = 60) -> dict[str, Any]:
    def started() -> dict[str, Any] | None:
        state = run_state(client, run_id)
        assert state["status"] in ("queued", "running"), state
        return state if state["attempt"] >= attempt and state["status"] == "running" else None

    return wait_for(started, timeout, f"attempt {attempt} of run {run_id}", interval=0.1)


def test_a_run_whose_task_process_is_killed_every_time_fails_after_the_budget(
    stack: LiveStack, client: httpx.Client, dataset_id: str
) -> None:
    run_id = start_run(client, dataset_id)
    killed: list[int] = []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        state = wait_for_attempt(client, run_id, attempt)
        assert state["crashes"] == attempt - 1, state
        pid = child_pid(state)
        assert pid is not None and pid not in killed, state
        os.kill(pid, signal.SIGKILL)  # like the OOM killer: no chance to record anything
        killed.append(pid)
    # Each redelivery takes the dead child's lease over at once: no lease TTL is waited out.
    state = wait_until_finished(client, run_id, timeout=LEASE_TTL_S)
    assert state["status"] == "failed", (state, stack.logs())
    assert state["crashes"] == MAX_ATTEMPTS and state["attempt"] == MAX_ATTEMPTS, state
    error = state["error"]
    expected = f"the worker process died {MAX_ATTEMPTS} times while training epoch 1 of"
    assert error.startswith(expected), error
    assert "the last log lines: " in error and f"attempt {MAX_ATTEMPTS} of {MAX_ATTEMPTS}" in error, error
    assert str(stack.root) not in error  # no host paths in what clients see
    # The worker is not tied up: the next run is picked up.
    healthy = start_run(client, dataset_id)
    wait_for_attempt(client, healthy, 1)
    assert client.post(f"/api/runs/{healthy}/cancel").status_code == 202
    assert wait_until_finished(client, healthy, timeout=30)["status"] == "cancelled"


def test_cancel_right_after_the_task_process_died_finishes_at_once(
    stack: LiveStack, client: httpx.Client, dataset_id: str
) -> None:
    run_id = start_run(client, dataset_id)
    pid = child_pid(wait_for_attempt(client, run_id, 1))
    assert pid is not None
    os.kill(pid, signal.SIGKILL)  # the worker's parent lives on and redelivers the run
    started = time.monotonic()
    assert client.post(f"/api/runs/{run_id}/cancel").status_code == 202
    state = wait_until_finished(client, run_id, timeout=LEASE_TTL_S * 2)
    took = time.monotonic() - started
    # Celery's parent may take a few seconds to notice its child died; then the fresh child takes the
    # lease over at once and finds the cancel flag. Without the takeover this waits out the 20 s lease.
    assert state["status"] == "cancelled" and took < LEASE_TTL_S / 2, (took, state, stack.logs())
    assert client.delete(f"/api/runs/{run_id}").status_code == 204


def test_cancel_after_the_whole_worker_died_finishes_at_once(
    stack: LiveStack, client: httpx.Client, dataset_id: str
) -> None:
    run_id = start_run(client, dataset_id)
    pid = child_pid(wait_for_attempt(client, run_id, 1))
    [worker] = [w for w in stack.workers if w.alive()]
    stack.kill_worker(worker, child_pid=pid)  # nobody is left to redeliver; the lease ticks down
    started = time.monotonic()
    response = client.post(f"/api/runs/{run_id}/cancel")
    took = time.monotonic() - started
    assert response.status_code == 202 and response.json()["status"] == "cancelled", response.text
    assert took < 5, took
    assert client.delete(f"/api/runs/{run_id}").status_code == 204
