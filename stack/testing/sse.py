"""A minimal Server-Sent Events parser for tests and benchmarks (httpx streams lines, we build events)."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field

import httpx


@dataclass
class SseEvent:
    event: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None
    _data_lines: list[str] = field(default_factory=list, repr=False)


class _Builder:
    """Feeds lines per the WHATWG event-stream rules; returns an event at each blank line."""

    def __init__(self) -> None:
        self.current = SseEvent()

    def feed(self, line: str) -> SseEvent | None:
        if line == "":
            event, self.current = self.current, SseEvent()
            if not event._data_lines and event.id is None and event.event == "message":
                return None  # comment-only block (keep-alive ping)
            event.data = "\n".join(event._data_lines)
            return event
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self.current._data_lines.append(value)
        elif name == "event":
            self.current.event = value
        elif name == "id":
            self.current.id = value
        elif name == "retry" and value.isdigit():
            self.current.retry = int(value)
        return None


def iter_sse(lines: Iterator[str]) -> Iterator[SseEvent]:
    builder = _Builder()
    for line in lines:
        event = builder.feed(line.rstrip("\r\n"))
        if event is not None:
            yield event


async def aiter_sse(lines: AsyncIterator[str]) -> AsyncIterator[SseEvent]:
    builder = _Builder()
    async for line in lines:
        event = builder.feed(line.rstrip("\r\n"))
        if event is not None:
            yield event


def follow_while(url: str, action: Callable[[list[SseEvent]], None], timeout: float = 20) -> list[SseEvent]:
    """Read the event stream at ``url`` to its end while ``action`` runs in a thread.

    ``action`` gets the list the events are appended to as they arrive, so it can wait for one before it
    changes what the stream reports.
    """
    received: list[SseEvent] = []
    thread = threading.Thread(target=action, args=(received,))
    thread.start()
    with httpx.stream("GET", url, timeout=timeout) as response:
        for event in iter_sse(response.iter_lines()):
            received.append(event)  # one at a time: ``action`` watches the list grow
    thread.join()
    return received
