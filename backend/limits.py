"""Request caps: body sizes enforced while the body streams in (FastAPI and Starlette have none), and
the per-address limit on wrong API tokens.

A declared ``Content-Length`` over the cap is refused before a single body byte is read; chunked or
lying clients are cut off by counting bytes in ``receive``. Either way the client gets a 413 JSON body.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.errors import ApiError, PayloadTooLarge, error_body

LimitFor = Callable[[Scope], int]
MULTIPART_OVERHEAD = 64 * 1024  # boundaries and part headers around the uploaded file


def _human(limit: int) -> str:
    return f"{limit / (1024 * 1024):.1f} MiB" if limit >= 1024 * 1024 else f"{limit / 1024:.0f} KiB"


class BodySizeLimitMiddleware:
    def __init__(self, app: ASGIApp, limit_for: LimitFor) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = _content_length(scope)
        if isinstance(declared, str):
            await _reject(scope, receive, send, ApiError(400, declared))
            return
        if declared is not None and declared > limit:
            too_large = PayloadTooLarge(f"request body of {declared} bytes exceeds the {_human(limit)} limit")
            await _reject(scope, receive, send, too_large)
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Raised inside body parsing; the app's error handler turns it into a 413 response.
                    # Close the connection too: the rest of the body must not be read as a next request.
                    detail = f"request body exceeds the {_human(limit)} limit"
                    raise ApiError(413, detail, headers={"Connection": "close"})
            return message

        await self.app(scope, limited_receive, send)


def _content_length(scope: Scope) -> int | str | None:
    """The declared length, None when absent, or a message when it is malformed."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else "malformed Content-Length header"
    return None


async def _reject(scope: Scope, receive: Receive, send: Send, error: ApiError) -> None:
    body = error_body(str(error.detail))
    response = JSONResponse(body, status_code=error.status_code, headers={"Connection": "close"})
    await response(scope, receive, send)


def upload_aware_limit(upload_path: str, upload_bytes: int, other_bytes: int) -> LimitFor:
    """``upload_bytes`` (+ multipart framing) for POSTs to ``upload_path``, ``other_bytes`` elsewhere."""

    def limit_for(scope: Scope) -> int:
        if scope.get("method") == "POST" and scope.get("path", "").rstrip("/") == upload_path:
            return upload_bytes + MULTIPART_OVERHEAD
        return other_bytes

    return limit_for


class BadTokenLimiter:
    """Per client address: after ``limit`` wrong API tokens within ``window_s`` the address is locked out
    (429 with Retry-After) until its oldest failure ages out of the window.

    While locked, even the right token is refused: otherwise a guesser would learn which guess was right
    from the status code and could keep guessing at full speed. In-memory and per API process; the
    number of addresses tracked is capped (least recently failing ones are forgotten first).
    """

    def __init__(self, limit: int, window_s: float = 60.0, max_clients: int = 10_000) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_clients = max_clients
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, client: str, now: float) -> deque[float] | None:
        failures = self._failures.get(client)
        if failures is None:
            return None
        while failures and failures[0] <= now - self.window_s:
            failures.popleft()
        if not failures:
            del self._failures[client]
            return None
        return failures

    def retry_after(self, client: str, now: float | None = None) -> int | None:
        """Whole seconds until ``client`` may try again, or None when it is not locked out."""
        now = time.monotonic() if now is None else now
        failures = self._recent(client, now)
        if failures is None or len(failures) < self.limit:
            return None
        return max(1, math.ceil(failures[-self.limit] + self.window_s - now))

    def record_failure(self, client: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        failures = self._recent(client, now) or deque(maxlen=self.limit)
        failures.append(now)
        self._failures[client] = failures
        self._failures.move_to_end(client)
        while len(self._failures) > self.max_clients:
            self._failures.popitem(last=False)
