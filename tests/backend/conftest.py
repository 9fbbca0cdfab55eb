"""API tests: the real app (TestClient, lifespan included) against a real redis-server; no worker."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
import uvicorn
from fastapi.testclient import TestClient

from backend.main import create_app
from backend.settings import Settings
from stack.redis_server import RedisServer, free_port
from stack.testing.datasets import tiny_files, write_files

REDIS_DB = 5  # other test packages share the session redis-server; keep to our own database


@pytest.fixture
def api_settings(tmp_path: Path, redis_server: RedisServer) -> Settings:
    url = f"redis://{redis_server.host}:{redis_server.port}/{REDIS_DB}"
    redis.Redis.from_url(url).flushdb()
    return Settings(
        redis_url=url,
        data_root=tmp_path / "data",
        runs_dir=tmp_path / "runs",
        cache_dir=tmp_path / "cache",
        api_token=None,
        health_timeout_s=0.2,
        max_upload_mb=0.25,
        max_zip_files=40,
        max_unzipped_mb=1.0,
        max_active_runs=3,
        max_epochs=50,
        sse_block_ms=100,
    )


@pytest.fixture
def make_client(api_settings: Settings) -> Iterator[Callable[..., TestClient]]:
    """Factory for clients of apps with per-test setting overrides (entered and closed for you)."""
    clients: list[TestClient] = []

    def factory(**overrides: object) -> TestClient:
        settings = Settings(**{**dict(api_settings), **overrides})  # validated, unlike model_copy
        client = TestClient(create_app(settings))
        client.__enter__()
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


@pytest.fixture
def tiny_dir(api_settings: Settings) -> Path:
    """The tiny dataset written under ``<data root>/tiny``; upload its manifest with ``base="tiny"``."""
    return write_files(api_settings.data_root / "tiny", tiny_files())


@pytest.fixture
def upload_tiny(client: TestClient, tiny_dir: Path) -> Callable[[], dict[str, object]]:
    def upload() -> dict[str, object]:
        manifest = (tiny_dir / "manifest.csv").read_bytes()
        response = client.post("/api/datasets", files={"file": ("tiny.csv", manifest)}, data={"base": "tiny"})
        assert response.status_code in (200, 201), response.text
        body: dict[str, object] = response.json()
        return body

    return upload


@pytest.fixture
def db(api_settings: Settings) -> redis.Redis:
    """A client of the API's own Redis, for tests that look at (or plant) what the services store."""
    return redis.Redis.from_url(api_settings.redis_url, decode_responses=True)


@pytest.fixture
def dataset_id(upload_tiny: Callable[[], dict[str, object]]) -> str:
    """The id of a freshly uploaded tiny dataset."""
    return str(upload_tiny()["id"])


@pytest.fixture
def live_api(api_settings: Settings) -> Iterator[str]:
    """The app served by a real uvicorn in a thread (for streaming responses, which TestClient buffers)."""
    config = uvicorn.Config(
        create_app(api_settings), host="127.0.0.1", port=free_port(), log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="live-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{config.port}"
    server.should_exit = True
    thread.join(timeout=10)
