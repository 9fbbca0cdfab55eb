"""Many SSE clients on one run share one Redis reader, and every client still gets every epoch once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import redis
from fastapi.testclient import TestClient

from backend.settings import Settings
from difficultynet import protocol
from difficultynet.synthetic import synthetic_record as make_record
from stack.testing.sse import aiter_sse
from worker.reporter import RedisReporter

CLIENTS = 150  # above the API's request pool (64) and redis-py's default pool size (100)
EPOCHS = 3


async def follow(base_url: str, run_id: str, connected: asyncio.Event) -> list[str]:
    ids: list[str] = []
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=30) as client,
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
        await asyncio.wait_for(asyncio.gather(*(event.wait() for event in connected)), 30)
        reporter = RedisReporter(db, run_id)
        for epoch in range(1, EPOCHS + 1):
            await asyncio.to_thread(reporter, make_record(run_id, epoch, epochs_total=EPOCHS))
            await asyncio.sleep(0.2)
        readers = xread_connections(db)
        db.hset(protocol.run_key(run_id), mapping={"status": "succeeded", "finished_at": time.time()})
        return await asyncio.wait_for(asyncio.gather(*tasks), 60), readers

    received, readers = asyncio.run(scenario())
    assert all(ids == ["1", "2", "3"] for ids in received), {tuple(ids) for ids in received}
    assert readers == 1  # one blocking XREAD for 150 followers
