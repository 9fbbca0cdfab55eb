"""The ``text/event-stream`` response of ``GET /api/runs/{id}/events``.

FastAPI's own SSE path (``response_class=EventSourceResponse`` on a generator endpoint) relays each event
through two memory streams and a keep-alive task; a client that disconnects while an event is in flight
makes it raise ``BrokenResourceError`` (one traceback in the API log per such client in a disconnect
storm). This response writes the events straight to the client, and closes the event generator (which
unsubscribes it from the run's feed) the moment the response ends, however it ends. Keep-alive comments
come from the generator itself (:func:`backend.services.events.run_events`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator

from fastapi.sse import ServerSentEvent, format_sse_event
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # no proxy buffering (nginx)


class EventStreamResponse(StreamingResponse):
    media_type = "text/event-stream"

    def __init__(self, events: AsyncGenerator[ServerSentEvent]) -> None:
        self._body = _encode(events)
        super().__init__(self._body, headers=HEADERS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._body.aclose()


async def _encode(events: AsyncGenerator[ServerSentEvent]) -> AsyncGenerator[bytes]:
    """Wire format of events whose data is pre-serialised (``raw_data``) or absent (comments)."""
    async with contextlib.aclosing(events):
        async for event in events:
            yield format_sse_event(
                data_str=event.raw_data,
                event=event.event,
                id=event.id,
                retry=event.retry,
                comment=event.comment,
            )
