"""Shared route dependencies: the service container, bearer-token authentication and browser sessions."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Cookie, Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from itsdangerous import BadSignature, URLSafeTimedSerializer
from pydantic import SecretStr

from backend.errors import ApiError
from backend.limits import BadTokenLimiter
from backend.queue import TaskQueue
from backend.services.datasets import DatasetService
from backend.services.events import RunFeeds
from backend.services.health import HealthService
from backend.services.runs import RunService
from backend.settings import Settings
from backend.store import Store
from difficultynet.contracts.api import ErrorBody

TOKEN_COOKIE = "dnet_token"
SESSION_MAX_AGE_S = 24 * 3600
_SESSION_SALT = "dnet-session"

_bearer = HTTPBearer(auto_error=False, description="DNET_API_TOKEN, when the server has one")


@dataclass(frozen=True)
class Services:
    settings: Settings
    store: Store
    queue: TaskQueue
    datasets: DatasetService
    runs: RunService
    health: HealthService
    feeds: RunFeeds


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def token_matches(given: str | None, expected: SecretStr) -> bool:
    """Constant-time comparison, so response timing leaks nothing about the token."""
    if not given:
        return False
    return secrets.compare_digest(given.encode(), expected.get_secret_value().encode())


def _sessions(expected: SecretStr) -> URLSafeTimedSerializer:
    """Signs session cookies with the API token: a new token invalidates every session."""
    return URLSafeTimedSerializer(expected.get_secret_value(), salt=_SESSION_SALT)


def new_session(expected: SecretStr) -> str:
    """A signed, timestamped session id for the cookie; the token itself never leaves the server."""
    return _sessions(expected).dumps(secrets.token_urlsafe(16))


def session_valid(cookie: str | None, expected: SecretStr) -> bool:
    if not cookie:
        return False
    try:
        _sessions(expected).loads(cookie, max_age=SESSION_MAX_AGE_S)
    except BadSignature:  # also SignatureExpired
        return False
    return True


def _unauthorized() -> ApiError:
    return ApiError(401, "missing or invalid API token", headers={"WWW-Authenticate": "Bearer"})


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def guard_bad_tokens(request: Request, presented: bool, accepted: bool) -> None:
    """Refuse locked-out addresses (429), count wrong credentials, and raise 401 unless ``accepted``."""
    limiter: BadTokenLimiter = request.app.state.bad_tokens
    client = client_address(request)
    if presented:
        wait = limiter.retry_after(client)
        if wait is not None:
            raise ApiError(
                429,
                f"too many wrong API tokens from this address; try again in {wait} s",
                headers={"Retry-After": str(wait)},
            )
    if accepted:
        return
    if presented:
        limiter.record_failure(client)
    raise _unauthorized()


def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """``Authorization: Bearer <DNET_API_TOKEN>`` on every route but health, when a token is configured."""
    expected: SecretStr | None = request.app.state.settings.api_token
    if expected is None:
        return
    given = credentials.credentials if credentials else None
    guard_bad_tokens(request, presented=bool(given), accepted=token_matches(given, expected))


def require_token_for_browser(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    token: Annotated[str | None, Query(description="API token, for EventSource clients")] = None,
    dnet_token: Annotated[
        str | None, Cookie(description="signed session cookie set by POST /api/session")
    ] = None,
) -> None:
    """Also accepts ``?token=`` or the session cookie: a browser EventSource cannot set headers.

    Only read-only GET routes (the event stream, the weights download) use this dependency.
    """
    expected: SecretStr | None = request.app.state.settings.api_token
    if expected is None:
        return
    tokens = [credentials.credentials if credentials else None, token]
    accepted = any(token_matches(candidate, expected) for candidate in tokens)
    accepted = accepted or session_valid(dnet_token, expected)
    guard_bad_tokens(request, presented=any(tokens) or bool(dnet_token), accepted=accepted)


ServicesDep = Annotated[Services, Depends(get_services)]


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for a route: 401 and 429 (token, wrong-token limit) plus ``codes``, all with
    the ErrorBody shape."""
    return {code: {"model": ErrorBody} for code in (401, 429, *codes)}
