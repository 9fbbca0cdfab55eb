"""The header's health line tells "API down" from "API up, Redis down", against the real API."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from backend.main import create_app
from backend.settings import Settings
from dashboard.api_client import ApiClient
from dashboard.app import backend_status
from stack.redis_server import RedisServer, free_port


def _serve(settings: Settings) -> Iterator[str]:
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=free_port(), log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="health-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def api_without_redis(tmp_path: Path) -> Iterator[str]:
    """The real API, configured with a Redis port where nothing listens."""
    settings = Settings(
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
        data_root=tmp_path / "data",
        runs_dir=tmp_path / "runs",
        health_timeout_s=0.2,
    )
    yield from _serve(settings)


@pytest.fixture
def api_with_redis(tmp_path: Path, redis_server: RedisServer) -> Iterator[str]:
    settings = Settings(
        redis_url=f"redis://{redis_server.host}:{redis_server.port}/7",
        data_root=tmp_path / "data",
        runs_dir=tmp_path / "runs",
        health_timeout_s=0.2,
    )
    yield from _serve(settings)


def banner(base_url: str) -> tuple[str, str]:
    span = backend_status(ApiClient(base_url, timeout_s=5))
    return str(span.children), str(span.className)


def test_api_up_with_redis_down_says_so(api_without_redis: str) -> None:
    text, css = banner(api_without_redis)
    assert text == "API up, Redis unreachable" and "health-down" in css


def test_api_down_is_unreachable() -> None:
    text, css = banner(f"http://127.0.0.1:{free_port()}")
    assert text.startswith("Backend unreachable") and "health-down" in css


def test_api_and_redis_up_without_workers_is_degraded(api_with_redis: str) -> None:
    text, css = banner(api_with_redis)
    assert "no worker answering" in text and "health-degraded" in css
