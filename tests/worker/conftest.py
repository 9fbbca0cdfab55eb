"""Worker tests: real redis-server (own database), tasks run in-process without a Celery worker."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from stack.redis_server import RedisServer
from worker.settings import WorkerSettings

REDIS_DB = 6


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    url = f"redis://{redis_server.host}:{redis_server.port}/{REDIS_DB}"
    redis.Redis.from_url(url).flushdb()
    return url


@pytest.fixture
def db(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url, decode_responses=True)


@pytest.fixture
def worker_settings(redis_url: str, tmp_path: Path) -> WorkerSettings:
    return WorkerSettings(
        redis_url=redis_url,
        runs_dir=tmp_path / "runs",
        cache_dir=None,
        lease_ttl_s=1.0,
        heartbeat_s=0.2,
        recovery_interval_s=0.2,
        redis_retry_s=2.0,
    )
