"""Request-body caps enforced while the body streams in (FastAPI and Starlette have none).

A declared ``Content-Length`` over the cap is refused before a single body byte is read; chunked or
lying clients are cut off by counting bytes in ``receive``. Either way the client gets a 413 JSON body.
"""

from __future__ import annotations

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
