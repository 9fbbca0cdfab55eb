"""Token authentication on every route but health, browser-friendly credentials for SSE, safe binding."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backend.limits import BadTokenLimiter
from backend.settings import Settings, insecure_bind_reason

TOKEN = "s3cret-token-for-tests"
ANY_RUN = "a" * 32
ANY_DATASET = "b" * 16


@pytest.fixture
def secured(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client(api_token=TOKEN)


def concrete(path: str) -> str:
    return re.sub(r"\{run_id\}", ANY_RUN, re.sub(r"\{dataset_id\}", ANY_DATASET, path))


def protected_operations(client: TestClient) -> list[tuple[str, str]]:
    schema = client.get("/openapi.json").json()
    operations = [
        (method.upper(), concrete(path))
        for path, item in schema["paths"].items()
        for method in item
        if not path.startswith(("/api/health", "/api/session"))
    ]
    assert len(operations) >= 12  # every dataset and run route is in the list
    return operations


def test_every_route_but_health_needs_the_token(secured: TestClient) -> None:
    for method, path in protected_operations(secured):
        response = secured.request(method, path)
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["detail"]
        wrong = secured.request(method, path, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401, (method, path)
    assert secured.get("/api/health").status_code == 200


def test_the_bearer_token_opens_every_route(secured: TestClient) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    for method, path in protected_operations(secured):
        response = secured.request(method, path, headers=headers)
        assert response.status_code != 401, (method, path, response.text)


def test_query_token_and_cookie_only_open_browser_get_routes(secured: TestClient, upload_tiny: Any) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    run = secured.post("/api/runs", json={"dataset_id": ANY_DATASET}, headers=headers)
    assert run.status_code == 422  # authenticated; the dataset just does not exist
    events = f"/api/runs/{ANY_RUN}/events"
    assert secured.get(events).status_code == 401
    assert secured.get(events, params={"token": TOKEN}).status_code == 404  # past auth: the run is unknown
    assert secured.get(f"/api/runs/{ANY_RUN}/weights.json", params={"token": TOKEN}).status_code == 404
    assert secured.get(f"/api/runs/{ANY_RUN}", params={"token": TOKEN}).status_code == 401
    assert secured.post(f"/api/runs/{ANY_RUN}/cancel", params={"token": TOKEN}).status_code == 401

    assert secured.post("/api/session", json={"token": "wrong"}).status_code == 401
    login = secured.post("/api/session", json={"token": TOKEN})
    assert login.status_code == 204
    cookie = login.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/api" in cookie
    assert TOKEN.lower() not in cookie  # a signed session id, not the token
    assert secured.get(events).status_code == 404  # the cookie now authenticates the stream
    assert secured.get(f"/api/runs/{ANY_RUN}").status_code == 401  # but not the other routes
    secured.delete("/api/session")
    secured.cookies.clear()
    assert secured.get(events).status_code == 401


def test_open_server_needs_no_token(client: TestClient) -> None:
    assert client.get("/api/runs").status_code == 200
    assert client.post("/api/session", json={"token": "anything"}).status_code == 204


def test_blank_token_means_no_token() -> None:
    assert Settings(api_token="  ").api_token is None


@pytest.mark.parametrize(
    ("host", "token", "override", "refused"),
    [
        ("127.0.0.1", None, False, False),
        ("localhost", None, False, False),
        ("0.0.0.0", None, False, True),
        ("192.168.1.5", None, False, True),
        ("0.0.0.0", TOKEN, False, False),
        ("0.0.0.0", None, True, False),
    ],
)
def test_insecure_bind_rule(host: str, token: str | None, override: bool, refused: bool) -> None:
    settings = Settings(host=host, api_token=token, allow_insecure_bind=override)
    assert (insecure_bind_reason(settings) is not None) is refused


def test_python_m_backend_refuses_a_public_bind_without_token() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DNET_")}
    result = subprocess.run(
        [sys.executable, "-m", "backend", "--host", "0.0.0.0", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "DNET_API_TOKEN" in result.stderr and "Traceback" not in result.stderr


# -- signed session cookie and the wrong-token limit ------------------------------------------------


def test_the_session_cookie_is_signed_and_cannot_be_forged(
    secured: TestClient, make_client: Callable[..., TestClient]
) -> None:
    events = f"/api/runs/{ANY_RUN}/events"
    secured.post("/api/session", json={"token": TOKEN})
    session = secured.cookies["dnet_token"]
    assert TOKEN not in session
    assert secured.get(events).status_code == 404  # authenticated: the run is unknown
    secured.cookies.clear()
    for forged in (TOKEN, session[:-2] + ("AA" if not session.endswith("AA") else "BB"), "x" * len(session)):
        secured.cookies.set("dnet_token", forged)
        assert secured.get(events).status_code == 401, forged
    # Signed with the token: a server with another token does not accept it.
    other = make_client(api_token="another-token-entirely")
    other.cookies.set("dnet_token", session)
    assert other.get(events).status_code == 401


def test_wrong_tokens_are_limited_per_address(make_client: Callable[..., TestClient]) -> None:
    client = make_client(api_token=TOKEN, max_bad_tokens_per_min=3)
    wrong = {"Authorization": "Bearer guess"}
    assert [client.get("/api/runs", headers=wrong).status_code for _ in range(3)] == [401] * 3
    limited = client.get("/api/runs", headers=wrong)
    assert limited.status_code == 429 and 1 <= int(limited.headers["retry-after"]) <= 60
    assert "too many wrong API tokens" in limited.json()["detail"]
    # Locked out means locked out: the right token would otherwise tell a guesser it was right.
    assert client.get("/api/runs", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 429
    assert client.post("/api/session", json={"token": "guess"}).status_code == 429
    assert client.get("/api/health").status_code == 200  # health needs no token


def test_bad_token_limiter_window_and_addresses() -> None:
    limiter = BadTokenLimiter(limit=2, window_s=60)
    for now in (0.0, 10.0):
        assert limiter.retry_after("10.0.0.1", now) is None
        limiter.record_failure("10.0.0.1", now)
    assert limiter.retry_after("10.0.0.1", 10.0) == 50  # until the first failure leaves the window
    assert limiter.retry_after("10.0.0.2", 10.0) is None  # other addresses are unaffected
    assert limiter.retry_after("10.0.0.1", 60.5) is None  # one failure left in the window
    limiter.record_failure("10.0.0.1", 61.0)
    assert limiter.retry_after("10.0.0.1", 61.0) == 9
