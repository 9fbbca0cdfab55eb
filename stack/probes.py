"""HTTP checks the launcher runs against its own services (health, readiness, demo registration)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

PROBE_TIMEOUT_S = 5.0
UPLOAD_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class ApiHealth:
    redis_ok: bool
    workers_online: int


def auth_headers(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def parse_health(payload: Any) -> ApiHealth:
    """Read ``GET /api/health``: Redis reachability and the number of Celery workers that answered ping."""
    if not isinstance(payload, dict):
        return ApiHealth(False, 0)
    redis = payload.get("redis")
    redis_ok = bool(redis.get("ok")) if isinstance(redis, dict) else bool(redis)
    workers = payload.get("workers")
    online = len(workers) if isinstance(workers, list | dict) else 0
    return ApiHealth(redis_ok, online)


def api_health(api_url: str, token: str | None = None) -> ApiHealth | None:
    """None while the API does not answer 200."""
    try:
        response = httpx.get(f"{api_url}/api/health", headers=auth_headers(token), timeout=PROBE_TIMEOUT_S)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    try:
        return parse_health(response.json())
    except ValueError:
        return None


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (for printing and the state file)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def redis_problem(url: str, timeout_s: float = 3.0) -> str | None:
    """Why the Redis at ``url`` cannot be used (None when it answers PING)."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
    except ValueError as exc:
        return f"invalid URL: {exc}"
    try:
        client.ping()
    except redis.RedisError as exc:
        return str(exc) or type(exc).__name__
    finally:
        client.close()
    return None


def http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=PROBE_TIMEOUT_S).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass(frozen=True)
class Registration:
    """The outcome of :func:`register_dataset`: the dataset id, or why there is none."""

    dataset_id: str | None = None
    problem: str | None = None


def register_dataset(
    api_url: str, manifest: Path, data_root: Path, *, name: str, token: str | None = None
) -> Registration:
    """Upload a manifest whose images already lie under the data root.

    The API stores datasets by content, so registering the same manifest again is a no-op (HTTP 200).
    """
    try:
        with manifest.open("rb") as handle:
            response = httpx.post(
                f"{api_url}/api/datasets",
                files={"file": (name, handle, "text/csv")},
                data={"base": manifest.parent.relative_to(data_root).as_posix()},
                headers=auth_headers(token),
                timeout=UPLOAD_TIMEOUT_S,
            )
    except (OSError, ValueError, httpx.HTTPError) as exc:
        return Registration(problem=str(exc))
    if response.status_code not in (200, 201):
        return Registration(problem=f"HTTP {response.status_code}: {response.text[:500]}")
    try:
        return Registration(dataset_id=str(response.json()["id"]))
    except (ValueError, KeyError, TypeError):
        return Registration(problem=f"HTTP {response.status_code} without a dataset id")
