"""Shared route dependencies: the service container and bearer-token authentication."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Cookie, Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from backend.errors import ApiError
from backend.queue import TaskQueue
from backend.schemas import ErrorBody
from backend.services.datasets import DatasetService
from backend.services.events import RunFeeds
from backend.services.health import HealthService
from backend.services.runs import RunService
from backend.settings import Settings
from backend.store import Store

TOKEN_COOKIE = "dnet_token"

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


def _unauthorized() -> ApiError:
    return ApiError(401, "missing or invalid API token", headers={"WWW-Authenticate": "Bearer"})


def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """``Authorization: Bearer <DNET_API_TOKEN>`` on every route but health, when a token is configured."""
    expected: SecretStr | None = request.app.state.settings.api_token
    if expected is None:
        return
    if credentials is None or not token_matches(credentials.credentials, expected):
        raise _unauthorized()


def require_token_for_browser(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    token: Annotated[str | None, Query(description="API token, for EventSource clients")] = None,
    dnet_token: Annotated[str | None, Cookie(description="HttpOnly cookie set by POST /api/session")] = None,
) -> None:
    """Also accepts ``?token=`` or the session cookie: a browser EventSource cannot set headers.

    Only read-only GET routes (the event stream, the weights download) use this dependency.
    """
    expected: SecretStr | None = request.app.state.settings.api_token
    if expected is None:
        return
    given = [credentials.credentials if credentials else None, token, dnet_token]
    if not any(token_matches(candidate, expected) for candidate in given):
        raise _unauthorized()


ServicesDep = Annotated[Services, Depends(get_services)]


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for a route: 401 (token) plus ``codes``, all with the ErrorBody shape."""
    return {code: {"model": ErrorBody} for code in (401, *codes)}
