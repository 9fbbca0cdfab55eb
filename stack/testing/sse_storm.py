"""A disconnect storm on one run's event stream: many SSE followers, most drop at once mid-run.

The survivors must keep receiving every epoch promptly and exactly once, and a client that joins after the
storm must get the full replay, then the live epochs. Epochs are written the way a training task writes
them (``worker.reporter.RedisReporter``) while the clients run as asyncio tasks in this process.

Used by ``tests/backend/test_sse_disconnect_storm.py`` and ``benchmarks/stream_latency.py --storm``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis

from difficultynet.contracts.api import TERMINAL_STATUSES
from difficultynet.synthetic import synthetic_record as make_record
from service_contracts.protocol import run_key
from stack.testing.datasets import tiny_files, write_files
from stack.testing.sse import aiter_sse

TERMINAL_MARKS = tuple(f'"status":"{status}"' for status in TERMINAL_STATUSES)
CONNECT_TIMEOUT_S = 30.0
API_LOG_DEFECTS = ("Traceback", "Lock is not acquired", "Task was destroyed", "Exception in ASGI application")


def log_defects(log_text: str) -> list[str]:
    """Lines of an API log that report an error (tracebacks, lock misuse, tasks destroyed while pending)."""
    return [line for line in log_text.splitlines() if any(defect in line for defect in API_LOG_DEFECTS)]


@dataclass(frozen=True)
class StormPlan:
    clients: int = 150
    drop: int = 140  # followers that disconnect at once after ``storm_after`` epochs
    epochs: int = 12
    storm_after: int = 3
    storm_delay_s: float = 0.0  # from that epoch's XADD to the drop (0: while the API fans it out)
    join_after: int = 6  # a new follower connects once this epoch is written
    interval_s: float = 0.5  # between epochs
    num_classes: int = 10
    finish_timeout_s: float = 15.0  # after the last epoch, for every follower to see the terminal status


@dataclass
class Follower:
    """What one SSE client saw: epochs in arrival order (duplicates kept) with their arrival times."""

    order: list[int] = field(default_factory=list)
    times: dict[int, float] = field(default_factory=dict)
    connected_at: float | None = None
    finished: bool = False
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class StormResult:
    plan: StormPlan
    xadd_at: dict[int, float]  # epoch → time just before its XADD
    survivors: list[Follower]
    joiner: Follower

    def latencies_ms(self, follower: Follower, *, live_only: bool = False) -> dict[int, float]:
        """Epoch → XADD-to-receipt time; ``live_only`` skips epochs written before the client connected."""
        since = follower.connected_at if live_only and follower.connected_at is not None else 0.0
        return {
            epoch: (at - self.xadd_at[epoch]) * 1000
            for epoch, at in follower.times.items()
            if epoch in self.xadd_at and self.xadd_at[epoch] >= since
        }

    def survivor_latencies_ms(self) -> list[float]:
        return [ms for follower in self.survivors for ms in self.latencies_ms(follower).values()]

    def missed(self, follower: Follower) -> list[int]:
        return sorted(set(self.xadd_at) - set(follower.order))

    def duplicated(self, follower: Follower) -> list[int]:
        return sorted({epoch for epoch in follower.order if follower.order.count(epoch) > 1})

    def problems(self) -> list[str]:
        """Every missed, duplicated or out-of-order epoch, unfinished stream and client error, in words."""
        out: list[str] = []
        for name, follower in [*((f"survivor {i}", f) for i, f in enumerate(self.survivors)),
                               ("joiner", self.joiner)]:  # fmt: skip
            if missed := self.missed(follower):
                out.append(f"{name}: epochs {missed} never arrived")
            if duplicated := self.duplicated(follower):
                out.append(f"{name}: epochs {duplicated} arrived twice")
            if follower.order != sorted(follower.order):
                out.append(f"{name}: epochs out of order {follower.order}")
            if not follower.finished:
                out.append(f"{name}: no terminal status within {self.plan.finish_timeout_s:g} s")
            out += [f"{name}: {error}" for error in follower.errors]
        return out


async def follow(client: httpx.AsyncClient, run_id: str, out: Follower, connected: asyncio.Event) -> None:
    try:
        async with client.stream("GET", f"/api/runs/{run_id}/events") as response:
            response.raise_for_status()
            async for event in aiter_sse(response.aiter_lines()):
                if event.event == "epoch" and event.id is not None:
                    epoch = int(event.id)
                    out.order.append(epoch)
                    out.times.setdefault(epoch, time.time())
                elif event.event == "status":
                    if out.connected_at is None:
                        out.connected_at = time.time()
                    connected.set()
                    if any(mark in event.data for mark in TERMINAL_MARKS):
                        out.finished = True
                        return
    except httpx.HTTPError as exc:
        out.errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        connected.set()


async def run_storm(
    base_url: str, headers: dict[str, str], db: redis.Redis, run_id: str, plan: StormPlan
) -> StormResult:
    """Follow ``run_id`` (status ``running``, no epochs yet) through a storm, then mark it succeeded."""
    one_connection = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    clients = [
        httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60, limits=one_connection)
        for _ in range(plan.clients + 1)
    ]
    followers = [Follower() for _ in range(plan.clients + 1)]
    connected = [asyncio.Event() for _ in followers]
    tasks: list[asyncio.Task[None]] = []

    def start(i: int) -> None:
        tasks.append(asyncio.create_task(follow(clients[i], run_id, followers[i], connected[i])))

    from worker.reporter import RedisReporter  # lazily: the launcher package never loads the worker

    reporter = RedisReporter(db, run_id)
    xadd_at: dict[int, float] = {}

    async def write(epoch: int) -> None:
        record = make_record(run_id, epoch, epochs_total=plan.epochs, num_classes=plan.num_classes)
        xadd_at[epoch] = time.time()
        await asyncio.to_thread(reporter, record)

    try:
        for i in range(plan.clients):
            start(i)
        await asyncio.wait_for(
            asyncio.gather(*(event.wait() for event in connected[: plan.clients])), CONNECT_TIMEOUT_S
        )
        for epoch in range(1, plan.storm_after + 1):
            await asyncio.sleep(plan.interval_s)
            await write(epoch)
        await asyncio.sleep(plan.storm_delay_s)
        for task in tasks[: plan.drop]:  # the storm: abrupt disconnects, all in the same instant
            task.cancel()
        await asyncio.gather(*tasks[: plan.drop], return_exceptions=True)
        for epoch in range(plan.storm_after + 1, plan.epochs + 1):
            if epoch == plan.join_after + 1:
                start(plan.clients)
            await asyncio.sleep(plan.interval_s)
            await write(epoch)
        await asyncio.sleep(plan.interval_s)
        db.hset(run_key(run_id), mapping={"status": "succeeded", "finished_at": time.time()})
        await asyncio.wait(tasks[plan.drop :], timeout=plan.finish_timeout_s)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for client in clients:
            with contextlib.suppress(httpx.HTTPError):
                await client.aclose()
    return StormResult(plan, xadd_at, followers[plan.drop : plan.clients], followers[plan.clients])


def upload_tiny_dataset(http: httpx.Client, data_root: Path) -> str:
    """Write the tiny dataset under the API's data root and register it; returns its id."""
    write_files(data_root / "tiny", tiny_files())
    manifest = (data_root / "tiny" / "manifest.csv").read_bytes()
    response = http.post("/api/datasets", files={"file": ("tiny.csv", manifest)}, data={"base": "tiny"})
    response.raise_for_status()
    dataset_id: str = response.json()["id"]
    return dataset_id


def start_synthetic_run(http: httpx.Client, db: redis.Redis, dataset_id: str, epochs: int) -> str:
    """Create a run through the API and mark it ``running``: the caller then plays the worker."""
    response = http.post("/api/runs", json={"dataset_id": dataset_id, "epochs": epochs})
    response.raise_for_status()
    run_id: str = response.json()["id"]
    db.hset(run_key(run_id), "status", "running")
    return run_id
