"""Many SSE clients on one run share one Redis reader, and every client still gets every epoch once,
however slowly it reads."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from fastapi.sse import ServerSentEvent
from fastapi.testclient import TestClient

from backend.services import events
from backend.services.events import SUBSCRIBER_QUEUE, RunFeeds, run_events
from backend.settings import Settings
from difficultynet.synthetic import synthetic_record as make_record
from service_contracts import protocol
from stack.testing.sse import aiter_sse
from worker.reporter import RedisReporter

CLIENTS = 150  # above the API's request pool (64) and redis-py's default pool size (100)
EPOCHS = 3
# Hang guards, not speed claims (the storm benchmark measures latency): 150 clients connecting on a
# 2-core machine busy with other jobs took over 30 s once, which says nothing about the fan-out.
PATIENCE_S = 120


async def follow(base_url: str, run_id: str, connected: asyncio.Event) -> list[str]:
    ids: list[str] = []
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=PATIENCE_S) as client,
        client.stream("GET", f"/api/runs/{run_id}/events") as response,
    ):
        assert response.status_code == 200
        async for event in aiter_sse(response.aiter_lines()):
            connected.set()
            if event.event == "epoch":
                ids.append(str(event.id))
            elif '"status":"succeeded"' in event.data:
                return ids
    return ids


def xread_connections(db: redis.Redis) -> int:
    clients: list[dict[str, Any]] = db.client_list()
    return sum(1 for client in clients if client.get("cmd") == "xread")


def test_one_reader_per_run_serves_every_subscriber(
    live_api: str, client: TestClient, upload_tiny: Callable[[], dict[str, Any]], api_settings: Settings
) -> None:
    db = redis.Redis.from_url(api_settings.redis_url, decode_responses=True)
    dataset_id = upload_tiny()["id"]
    run_id = client.post("/api/runs", json={"dataset_id": dataset_id, "epochs": EPOCHS}).json()["id"]
    db.hset(protocol.run_key(run_id), "status", "running")

    async def scenario() -> tuple[list[list[str]], int]:
        connected = [asyncio.Event() for _ in range(CLIENTS)]
        tasks = [asyncio.create_task(follow(live_api, run_id, event)) for event in connected]
        await asyncio.wait_for(asyncio.gather(*(event.wait() for event in connected)), PATIENCE_S)
        reporter = RedisReporter(db, run_id)
        for epoch in range(1, EPOCHS + 1):
            await asyncio.to_thread(reporter, make_record(run_id, epoch, epochs_total=EPOCHS))
            await asyncio.sleep(0.2)
        readers = xread_connections(db)
        db.hset(protocol.run_key(run_id), mapping={"status": "succeeded", "finished_at": time.time()})
        return await asyncio.wait_for(asyncio.gather(*tasks), PATIENCE_S), readers

    received, readers = asyncio.run(scenario())
    assert all(ids == ["1", "2", "3"] for ids in received), {tuple(ids) for ids in received}
    assert readers == 1  # one blocking XREAD for 150 followers


def test_a_slow_subscriber_catches_up_from_redis_without_holding_back_the_others(
    make_client: Callable[..., TestClient], tiny_dir: Path, api_settings: Settings
) -> None:
    """A subscriber that stops reading falls a whole queue behind; the reader drops its backlog instead of
    waiting, the other subscriber keeps up, and the slow one still gets every epoch once, in order."""
    db = redis.Redis.from_url(api_settings.redis_url, decode_responses=True)
    epochs = SUBSCRIBER_QUEUE + 40
    client = make_client(max_epochs=epochs)
    manifest = (tiny_dir / "manifest.csv").read_bytes()
    dataset = client.post("/api/datasets", files={"file": ("tiny.csv", manifest)}, data={"base": "tiny"})
    run_id = client.post("/api/runs", json={"dataset_id": dataset.json()["id"], "epochs": epochs}).json()[
        "id"
    ]
    db.hset(protocol.run_key(run_id), "status", "running")

    async def read_epochs(events: AsyncGenerator[ServerSentEvent], out: list[int]) -> None:
        async for event in events:
            if event.event == "epoch":
                out.append(int(str(event.id)))
            elif event.event == "status" and '"status":"succeeded"' in str(event.raw_data):
                return

    async def scenario() -> tuple[list[int], list[int], int]:
        feeds = RunFeeds.from_url(api_settings.redis_url, block_ms=100)
        slow, fast = run_events(feeds, run_id, 0), run_events(feeds, run_id, 0)
        slow_epochs: list[int] = []
        fast_epochs: list[int] = []
        try:
            assert (await anext(slow)).event == "status"  # subscribed, then stops reading
            fast_reader = asyncio.create_task(read_epochs(fast, fast_epochs))
            reporter = RedisReporter(db, run_id)
            for epoch in range(1, epochs + 1):  # one reader batch per epoch: more than a queue holds
                await asyncio.to_thread(reporter, make_record(run_id, epoch, epochs_total=epochs))
                await asyncio.sleep(0.005)
                assert await _eventually(lambda e=epoch: fast_epochs[-1:] == [e]), "the fast subscriber lags"
            catch_ups = feeds._feeds[run_id].catch_ups
            db.hset(protocol.run_key(run_id), mapping={"status": "succeeded", "finished_at": time.time()})
            await asyncio.wait_for(asyncio.gather(fast_reader, read_epochs(slow, slow_epochs)), 30)
        finally:
            await slow.aclose()
            await fast.aclose()
            await feeds.close()
        return slow_epochs, fast_epochs, catch_ups

    slow_epochs, fast_epochs, catch_ups = asyncio.run(scenario())
    assert catch_ups >= 1
    assert fast_epochs == list(range(1, epochs + 1))
    assert slow_epochs == list(range(1, epochs + 1))


async def _eventually(check: Callable[[], bool], timeout_s: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.002)
    return True


def test_an_idle_stream_sends_keep_alive_comments_and_still_ends(
    client: TestClient,
    upload_tiny: Callable[[], dict[str, Any]],
    api_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With no epoch for a while the stream sends comment lines (proxies keep it open), then carries on."""
    monkeypatch.setattr(events, "KEEPALIVE_S", 0.2)
    db = redis.Redis.from_url(api_settings.redis_url, decode_responses=True)
    run_id = client.post("/api/runs", json={"dataset_id": upload_tiny()["id"], "epochs": 1}).json()["id"]
    db.hset(protocol.run_key(run_id), "status", "running")

    async def scenario() -> list[ServerSentEvent]:
        feeds = RunFeeds.from_url(api_settings.redis_url, block_ms=100)
        stream = run_events(feeds, run_id, 0)
        try:
            seen = [await anext(stream), await anext(stream)]  # status, then a keep-alive
            RedisReporter(db, run_id)(make_record(run_id, 1, epochs_total=1))
            db.hset(protocol.run_key(run_id), "status", "succeeded")
            seen += [event async for event in stream if event.comment is None]
            return seen
        finally:
            await stream.aclose()
            await feeds.close()

    seen = asyncio.run(asyncio.wait_for(scenario(), 20))
    assert [(event.event, event.comment) for event in seen] == [
        ("status", None),
        (None, "keep-alive"),
        ("epoch", None),
        ("status", None),
    ]
