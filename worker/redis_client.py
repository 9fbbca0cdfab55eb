"""Redis clients for the worker, each with the retry policy its caller needs."""

from __future__ import annotations

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

_BACKOFF_CAP_S = 1.0
_BACKOFF_BASE_S = 0.05


def _retries_for(budget_s: float) -> int:
    """How many capped exponential backoff steps add up to ``budget_s`` seconds of waiting."""
    retries, waited = 0, 0.0
    while waited < budget_s:
        waited += min(_BACKOFF_CAP_S, _BACKOFF_BASE_S * 2**retries)
        retries += 1
    return retries


def connect(url: str, *, retry_s: float, socket_timeout_s: float = 5.0) -> redis.Redis:
    """A client that retries connection errors with capped exponential backoff for about ``retry_s``.

    Every write the worker makes is idempotent (fixed stream ids, HSET/SET of absolute values), so
    retrying a command whose reply was lost is safe.
    """
    retries = _retries_for(retry_s)
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=socket_timeout_s,
        socket_connect_timeout=min(socket_timeout_s, 2.0),
        retry=Retry(ExponentialBackoff(cap=_BACKOFF_CAP_S, base=_BACKOFF_BASE_S), retries),
        retry_on_error=[redis.ConnectionError, redis.TimeoutError],
    )
