"""A burst of SSE disconnects affects nobody else: the other followers of the run keep getting every epoch
within a second, a new follower gets the full replay then live epochs, the API logs no error, and the
API's Redis connections for the event streams come back to a small bound.

Real processes: the API under uvicorn (its own log file) and redis-server, via ``support.live_stack``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from support.live_stack import LiveStack
from support.records import make_record
from support.sse import aiter_sse
from support.sse_storm import (
    StormPlan,
    log_defects,
    run_storm,
    start_synthetic_run,
    upload_tiny_dataset,
)

from backend.services.events import READER_CLIENT_NAME, REPLAY_CLIENT_NAME, REPLAY_CONNECTIONS
from backend.store import REQUEST_POOL_SIZE
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


async def follow_until(
    base_url: str, headers: dict[str, str], run_id: str, epoch: int, replayed: asyncio.Event
) -> None:
    """Connect, read the replay up to ``epoch``, then stay connected until cancelled."""
    async with (
        httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as client,
        client.stream("GET", f"/api/runs/{run_id}/events") as response,
    ):
        response.raise_for_status()
        async for event in aiter_sse(response.aiter_lines()):
            if event.event == "epoch" and event.id == str(epoch):
                replayed.set()


def test_sse_redis_connections_shrink_back_after_a_burst(stack: LiveStack) -> None:
    db = observer(stack)
    epochs, clients = 80, 120  # more epochs than the feed keeps in memory: every client replays from Redis
    with stack.client() as http:
        run_id = start_synthetic_run(http, db, upload_tiny_dataset(http, stack.data_root), epochs=epochs)
    reporter = RedisReporter(db, run_id)
    for epoch in range(1, epochs + 1):
        reporter(make_record(run_id, epoch, epochs_total=epochs))
    baseline = len(api_connections(db))

    async def burst() -> list[dict[str, Any]]:
        replayed = [asyncio.Event() for _ in range(clients)]
        tasks = [
            asyncio.create_task(follow_until(stack.url, stack.headers(), run_id, epochs, event))
            for event in replayed
        ]
        await asyncio.wait_for(asyncio.gather(*(event.wait() for event in replayed)), 60)
        during = api_connections(db)
        for task in tasks:
            task.cancel()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(outcome, asyncio.CancelledError) for outcome in outcomes), outcomes
        return during

    during = asyncio.run(burst())
    assert count_by_name(during, READER_CLIENT_NAME) == 1  # one blocking reader for 120 followers
    assert count_by_name(during, REPLAY_CLIENT_NAME) <= REPLAY_CONNECTIONS

    # Request handlers share their own bounded pool (the 120 requests may have grown it to
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
    assert api_log_defects(stack) == []
