"""HTTP probes of the launcher and the container health check, against a real local HTTP server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from stack import healthcheck, probes
from stack.redis_server import RedisServer, free_port


class Handler(BaseHTTPRequestHandler):
    """Answers every request with the configured status and body; remembers what it received."""

    status: ClassVar[int] = 200
    body: ClassVar[bytes] = b"{}"
    received: ClassVar[list[tuple[str, str, dict[str, str], bytes]]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.received.append((self.command, self.path, dict(self.headers), self.rfile.read(length)))
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Handler.status, Handler.body, Handler.received = 200, b"{}", []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"status": "ok", "redis": True, "workers": ["cpu0@h", "gpu1@h"]}, probes.ApiHealth(True, 2)),
        ({"status": "degraded", "redis": True, "workers": []}, probes.ApiHealth(True, 0)),
        ({"status": "down", "redis": False, "workers": []}, probes.ApiHealth(False, 0)),
        ({"redis": {"ok": True}, "workers": {"w@h": "pong"}}, probes.ApiHealth(True, 1)),
        (["not", "an", "object"], probes.ApiHealth(False, 0)),
        ({}, probes.ApiHealth(False, 0)),
    ],
)
def test_parse_health(payload: object, expected: probes.ApiHealth) -> None:
    assert probes.parse_health(payload) == expected


def test_api_health_reads_the_health_route_with_the_token(server: str) -> None:
    Handler.body = json.dumps({"redis": True, "workers": ["cpu0@h"]}).encode()
    assert probes.api_health(server, token="s3cret") == probes.ApiHealth(True, 1)
    method, path, headers, _ = Handler.received[-1]
    assert (method, path) == ("GET", "/api/health")
    assert headers["Authorization"] == "Bearer s3cret"


def test_api_health_is_none_until_the_api_answers_200(server: str) -> None:
    Handler.status = 503
    assert probes.api_health(server) is None
    Handler.status, Handler.body = 200, b"<html>not json"
    assert probes.api_health(server) is None
    assert probes.api_health(f"http://127.0.0.1:{free_port()}") is None
    assert not probes.http_ok(f"http://127.0.0.1:{free_port()}")


def test_register_dataset_uploads_the_manifest_relative_to_the_data_root(server: str, tmp_path: Path) -> None:
    manifest = tmp_path / "data" / "demo" / "manifest.csv"
    manifest.parent.mkdir(parents=True)
    manifest.write_text("path,label\nimages/a.png,a\n")
    Handler.status, Handler.body = 201, b'{"id": "0123456789abcdef"}'
    registered = probes.register_dataset(server, manifest, tmp_path / "data", name="demo-digits.csv")
    assert registered == probes.Registration(dataset_id="0123456789abcdef")
    method, path, headers, body = Handler.received[-1]
    assert (method, path) == ("POST", "/api/datasets")
    assert headers["Content-Type"].startswith("multipart/form-data")
    assert b'name="file"; filename="demo-digits.csv"' in body
    assert b"path,label\nimages/a.png,a\n" in body
    assert b'name="base"\r\n\r\ndemo\r\n' in body


def test_register_dataset_reports_the_api_error(server: str, tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("path,label\n")
    Handler.status, Handler.body = 422, b'{"detail": "manifest has no rows"}'
    problem = probes.register_dataset(server, manifest, tmp_path, name="m.csv").problem
    assert problem == 'HTTP 422: {"detail": "manifest has no rows"}'
    missing = probes.register_dataset(server, tmp_path / "absent.csv", tmp_path, name="m.csv").problem
    assert missing is not None and "absent.csv" in missing


def test_healthcheck_exit_codes(server: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert healthcheck.main([f"{server}/api/health"]) == healthcheck.EXIT_HEALTHY
    Handler.status = 503
    assert healthcheck.main([f"{server}/api/health"]) == healthcheck.EXIT_UNHEALTHY
    assert "HTTP 503" in capsys.readouterr().out
    assert (
        healthcheck.main([f"http://127.0.0.1:{free_port()}/", "--timeout", "1"]) == healthcheck.EXIT_UNHEALTHY
    )
    assert "ConnectError" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis://:hunter2@head:6379/0", "redis://:***@head:6379/0"),
        ("rediss://dnet:hunter2@head.example.org/1", "rediss://dnet:***@head.example.org/1"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert probes.redact_url(url) == shown


def test_redis_problem(redis_server: RedisServer) -> None:
    assert probes.redis_problem(redis_server.url) is None
    unreachable = probes.redis_problem(f"redis://127.0.0.1:{free_port()}/0", timeout_s=1)
    assert unreachable is not None and "Connection refused" in unreachable
    invalid = probes.redis_problem("http://not-redis")
    assert invalid is not None and invalid.startswith("invalid URL")
