"""Server-Sent Events for one run: every epoch record after a cursor, then live ones, plus status changes.

Wire format (``text/event-stream``):

* ``event: status`` - data is a :class:`~backend.schemas.RunRead` JSON; sent first, on every status
  change, and as the last event once the run is terminal (the server then closes the stream).
* ``event: epoch`` / ``id: <epoch>`` - data is the EpochRecord JSON exactly as stored in the stream.

Because the SSE id *is* the epoch, a reconnecting EventSource sends ``Last-Event-ID: <epoch>`` and
receives exactly the epochs it missed. Clients must close on a terminal status event, or the browser
will reconnect and receive that final status again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi.sse import ServerSentEvent

from backend.services.runs import to_read
from backend.store import RunHash, Store

RETRY_MS = 2000
BATCH = 100


async def _status_event(store: Store, run: RunHash, *, first: bool) -> ServerSentEvent:
    read = to_read(run, cancel_requested=await store.cancel_requested(run.id))
    return ServerSentEvent(event="status", raw_data=read.model_dump_json(), retry=RETRY_MS if first else None)


def _epoch_event(epoch: int, record_json: str) -> ServerSentEvent:
    return ServerSentEvent(event="epoch", id=str(epoch), raw_data=record_json)


async def run_events(store: Store, run_id: str, after: int, block_ms: int) -> AsyncIterator[ServerSentEvent]:
    cursor = after
    sent_status: str | None = None
    while True:
        run = await store.get_run(run_id)
        if run is None:
            return  # deleted while streaming
        if run.is_terminal:
            # The worker appends the last record before it flips the status, so draining now is complete.
            while entries := await store.epochs_after(run_id, cursor, count=BATCH):
                for epoch, record_json in entries:
                    yield _epoch_event(epoch, record_json)
                cursor = entries[-1][0]
            yield await _status_event(store, run, first=sent_status is None)
            return
        if run.status != sent_status:
            yield await _status_event(store, run, first=sent_status is None)
            sent_status = run.status
        for epoch, record_json in await store.wait_for_epochs(run_id, cursor, block_ms, count=BATCH):
            yield _epoch_event(epoch, record_json)
            cursor = epoch
