"""Polling helpers for tests that drive a live stack over HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

from difficultynet.contracts.api import TERMINAL_STATUSES

T = TypeVar("T")


class Timeout(AssertionError):
    pass


def wait_for(check: Callable[[], T | None], timeout: float, what: str, interval: float = 0.2) -> T:
    """Call ``check`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise Timeout(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def run_state(client: httpx.Client, run_id: str) -> dict[str, Any]:
    response = client.get(f"/api/runs/{run_id}")
    response.raise_for_status()
    state: dict[str, Any] = response.json()
    return state


def _state_unless_unavailable(client: httpx.Client, run_id: str) -> dict[str, Any] | None:
    """The run, or None while the API answers 503 (e.g. Redis restarting) or is unreachable."""
    try:
        return run_state(client, run_id)
    except httpx.HTTPStatusError as exc:
        if exc.response.status_code == 503:
            return None
        raise
    except httpx.TransportError:
        return None


def wait_until_finished(client: httpx.Client, run_id: str, timeout: float) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        state = _state_unless_unavailable(client, run_id)
        return state if state and state["status"] in TERMINAL_STATUSES else None

    return wait_for(finished, timeout, f"run {run_id} to finish")


def wait_for_epoch(client: httpx.Client, run_id: str, epoch: int, timeout: float) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        state = _state_unless_unavailable(client, run_id)
        if state is None:
            return None
        if state["status"] in TERMINAL_STATUSES and state["epoch"] < epoch:
            raise AssertionError(f"run ended ({state['status']}: {state['error']}) before epoch {epoch}")
        return state if state["epoch"] >= epoch else None

    return wait_for(reached, timeout, f"run {run_id} to reach epoch {epoch}")


def all_epochs(client: httpx.Client, run_id: str) -> list[int]:
    """Epoch numbers of every record the API returns, in order (duplicates would show up here)."""
    page = client.get(f"/api/runs/{run_id}/epochs").json()
    return [record["epoch"] for record in page["records"]]
