"""A burst of SSE disconnects affects nobody else: the other followers of the run keep getting every epoch
within a second, a new follower gets the full replay then live epochs, the API logs no error, and the
API's Redis connections for the event streams come back to a small bound.

Real processes: the API under uvicorn (its own log file) and redis-server, via ``stack.testing.live_stack``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from backend.services.events import READER_CLIENT_NAME, REPLAY_CLIENT_NAME, REPLAY_CONNECTIONS
from backend.store import REQUEST_POOL_SIZE
from difficultynet.synthetic import synthetic_record as make_record
from stack.testing.live_stack import LiveStack
from stack.testing.sse import aiter_sse
from stack.testing.sse_storm import (
    StormPlan,
    log_defects,
    run_storm,
    start_synthetic_run,
    upload_tiny_dataset,
)
from worker.reporter import RedisReporter

TOKEN = "storm-token"
OBSERVER = "test-observer"  # CLIENT SETNAME of this test's own Redis connections
MAX_LATENCY_MS = 1000.0


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[LiveStack]:
    with LiveStack(tmp_path, api_token=TOKEN, workers_at_start=0) as live:
        yield live


def observer(stack: LiveStack) -> redis.Redis:
    return redis.Redis.from_url(stack.redis.url, decode_responses=True, client_name=OBSERVER)


def api_log_defects(stack: LiveStack) -> list[str]:
    """Lines of the API log (complete: the API has exited) that name an error."""
    assert stack.api is not None
    stack.api.stop()
    return log_defects(stack.api.log_path.read_text(errors="replace"))


def test_followers_survive_a_disconnect_storm(stack: LiveStack) -> None:
    db = observer(stack)
    with stack.client() as http:
        run_id = start_synthetic_run(http, db, upload_tiny_dataset(http, stack.data_root), epochs=12)
    plan = StormPlan(clients=150, drop=140, epochs=12, storm_after=3, join_after=6, interval_s=0.5)

    result = asyncio.run(run_storm(stack.url, stack.headers(), db, run_id, plan))

    assert not result.problems(), result.problems()
    late = {
        (name, epoch): round(ms)
        for name, follower, live_only in [
            *((f"survivor {i}", f, False) for i, f in enumerate(result.survivors)),
            ("joiner", result.joiner, True),
        ]
        for epoch, ms in result.latencies_ms(follower, live_only=live_only).items()
        if ms > MAX_LATENCY_MS
    }
    assert not late, f"epochs later than {MAX_LATENCY_MS:g} ms after their XADD: {late}"
    assert result.joiner.order == list(range(1, plan.epochs + 1))
    assert api_log_defects(stack) == []


def api_connections(db: redis.Redis) -> list[dict[str, Any]]:
    clients: list[dict[str, Any]] = db.client_list()
    return [client for client in clients if client.get("name") != OBSERVER]


def count_by_name(connections: list[dict[str, Any]], name: str) -> int:
    return sum(1 for connection in connections if connection.get("name") == name)


async def follow(
    client: httpx.AsyncClient, run_id: str, epochs: list[int], replayed: asyncio.Event | None
) -> None:
    """Read the run's events (recording epochs) until cancelled; set ``replayed`` at the stored tail."""
    async with client.stream("GET", f"/api/runs/{run_id}/events") as response:
        response.raise_for_status()
        async for event in aiter_sse(response.aiter_lines()):
            if event.event == "epoch":
                epochs.append(int(str(event.id)))
                if replayed is not None and event.id == str(STORED_EPOCHS):
                    replayed.set()


async def burst(
    stack: LiveStack, db: redis.Redis, run_id: str, clients: int, *, leave_after_s: float | None
) -> list[dict[str, Any]]:
    """``clients`` followers at once, who all leave after ``leave_after_s`` (None: once fully replayed).
    Returns the API's Redis connections just before they leave."""
    http = [
        httpx.AsyncClient(base_url=stack.url, headers=stack.headers(), timeout=60) for _ in range(clients)
    ]
    replayed = [asyncio.Event() for _ in http]
    tasks = [asyncio.create_task(follow(c, run_id, [], e)) for c, e in zip(http, replayed, strict=True)]
    try:
        if leave_after_s is None:
            await asyncio.wait_for(asyncio.gather(*(event.wait() for event in replayed)), 60)
        else:
            await asyncio.sleep(leave_after_s)
        return api_connections(db)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for client in http:
            await client.aclose()


STORED_EPOCHS = 80  # more than a subscriber queue holds: every client replays from Redis


def test_sse_redis_connections_shrink_back_after_bursts(stack: LiveStack) -> None:
    """Bursts of followers that leave at once, after or in the middle of their replay, leave behind no
    reader and at most the replay pool; the API logs no error and a new follower is served at once."""
    db = observer(stack)
    with stack.client() as http:
        run_id = start_synthetic_run(
            http, db, upload_tiny_dataset(http, stack.data_root), epochs=STORED_EPOCHS
        )
    reporter = RedisReporter(db, run_id)
    for epoch in range(1, STORED_EPOCHS + 1):
        reporter(make_record(run_id, epoch, epochs_total=STORED_EPOCHS))
    baseline = len(api_connections(db))

    async def bursts() -> list[dict[str, Any]]:
        during = await burst(stack, db, run_id, 120, leave_after_s=None)
        for _ in range(3):  # clients that drop mid-replay: redis-py commands cancelled in flight
            await burst(stack, db, run_id, 150, leave_after_s=1.0)
        return during

    during = asyncio.run(bursts())
    assert count_by_name(during, READER_CLIENT_NAME) == 1  # one blocking reader for 120 followers
    assert count_by_name(during, REPLAY_CLIENT_NAME) <= REPLAY_CONNECTIONS
    # Request handlers share their own bounded pool (the bursts may have grown it to
    # REQUEST_POOL_SIZE); the event streams may keep only the replay pool, and no reader.
    bound = REQUEST_POOL_SIZE + REPLAY_CONNECTIONS
    deadline = time.monotonic() + 10
    while True:
        after = api_connections(db)
        added, readers = len(after) - baseline, count_by_name(after, READER_CLIENT_NAME)
        if (added <= bound and readers == 0) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert added <= bound and readers == 0, f"{added} more connections than before, {readers} readers"
    assert count_by_name(after, REPLAY_CLIENT_NAME) <= REPLAY_CONNECTIONS

    async def late_joiner() -> list[int]:
        epochs: list[int] = []
        async with httpx.AsyncClient(base_url=stack.url, headers=stack.headers(), timeout=60) as client:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(follow(client, run_id, epochs, None), 5)
        return epochs

    assert asyncio.run(late_joiner()) == list(range(1, STORED_EPOCHS + 1))
    assert api_log_defects(stack) == []
