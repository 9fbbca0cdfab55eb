"""Server-Sent Events for runs: every epoch record after a cursor, then live ones, plus status changes.

Wire format (``text/event-stream``):

* ``event: status`` - data is a :class:`~backend.schemas.RunRead` JSON; sent first, whenever the status
  (or the cancel request) changes, and as the last event once the run is terminal (the server then
  closes the stream).
* ``event: epoch`` / ``id: <epoch>`` - data is the EpochRecord JSON exactly as stored in the stream.

Because the SSE id *is* the epoch, a reconnecting EventSource sends ``Last-Event-ID: <epoch>`` and
receives exactly the epochs it missed. Clients must close on a terminal status event, or the browser
will reconnect and receive that final status again.

Fan-out: however many clients follow a run, this API process runs **one** blocking ``XREAD`` loop per
run (:class:`RunFeed`), keeps the latest records in memory and wakes every subscriber. Redis connections
therefore scale with followed runs, not with clients. Replays and slow subscribers that fall behind the
in-memory window read the stream with ``XRANGE`` (never blocking).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import redis.exceptions
from fastapi.sse import ServerSentEvent

from backend.services.runs import to_read
from backend.store import RunHash, Store

logger = logging.getLogger(__name__)

RETRY_MS = 2000
BATCH = 100
RECENT_EPOCHS = 64  # records kept in memory per followed run
PUMP_BACKOFF_S = 1.0


class RunFeed:
    """The live view of one run shared by all its subscribers in this process."""

    def __init__(self, run_id: str, store: Store, block_ms: int) -> None:
        self.run_id = run_id
        self.store = store
        self.block_ms = block_ms
        self.run: RunHash | None = None
        self.cancel_requested = False
        self.top = 0  # highest epoch the feed has seen
        self.recent: dict[int, str] = {}
        self.version = 0
        self.loaded = asyncio.Event()
        self.subscribers = 0
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    # -- the single reader ----------------------------------------------------------------------------

    def ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._pump(), name=f"feed-{self.run_id[:8]}")

    def stop(self) -> asyncio.Task[None] | None:
        """Cancel the reader without waiting (callers may run inside an already-cancelled scope)."""
        if self._task is not None:
            self._task.cancel()
        return self._task

    async def _pump(self) -> None:
        while True:
            try:
                if not self.loaded.is_set():
                    self.top = await self.store.last_epoch(self.run_id)
                    await self._refresh_status()
                    self.loaded.set()
                    await self._notify()
                if self.run is None or self.run.is_terminal:
                    return  # subscribers drain the stream themselves and close
                entries = await self.store.wait_for_epochs(self.run_id, self.top, self.block_ms, count=BATCH)
                for epoch, record_json in entries:
                    self.recent[epoch] = record_json
                    self.top = max(self.top, epoch)
                for old in sorted(self.recent)[:-RECENT_EPOCHS]:
                    del self.recent[old]
                if await self._refresh_status() or entries:
                    await self._notify()
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
                logger.warning("run %s feed: Redis unavailable (%r); retrying", self.run_id, exc)
                await asyncio.sleep(PUMP_BACKOFF_S)
            except Exception:
                logger.exception("run %s feed: unexpected error; retrying", self.run_id)
                await asyncio.sleep(PUMP_BACKOFF_S)

    async def _refresh_status(self) -> bool:
        """Reload the run hash; True when what subscribers show (status, cancel request) changed."""
        before = (self.run.status if self.run else None, self.cancel_requested)
        self.run = await self.store.get_run(self.run_id)
        self.cancel_requested = await self.store.cancel_requested(self.run_id)
        return (self.run.status if self.run else None, self.cancel_requested) != before

    async def _notify(self) -> None:
        async with self._changed:
            self.version += 1
            self._changed.notify_all()

    # -- subscriber side ------------------------------------------------------------------------------

    async def wait_for_change(self, seen_version: int, timeout_s: float) -> None:
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: self.version != seen_version), timeout_s
                )

    async def epochs_after(self, cursor: int) -> list[tuple[int, str]]:
        """Records after ``cursor`` up to what the feed has seen: from memory when the window covers
        them, else one XRANGE page (replays, slow subscribers)."""
        if cursor >= self.top:
            return []
        wanted = range(cursor + 1, self.top + 1)
        if all(epoch in self.recent for epoch in wanted):
            return [(epoch, self.recent[epoch]) for epoch in wanted]
        return await self.store.epochs_after(self.run_id, cursor, count=BATCH)

    def status_event(self, *, first: bool) -> ServerSentEvent:
        assert self.run is not None
        read = to_read(self.run, cancel_requested=self.cancel_requested)
        return ServerSentEvent(
            event="status", raw_data=read.model_dump_json(), retry=RETRY_MS if first else None
        )


class RunFeeds:
    """One :class:`RunFeed` per run that has subscribers; created on demand, dropped with the last one."""

    def __init__(self, store: Store, block_ms: int) -> None:
        self.store = store
        self.block_ms = block_ms
        self._feeds: dict[str, RunFeed] = {}

    @contextlib.asynccontextmanager
    async def subscribe(self, run_id: str) -> AsyncIterator[RunFeed]:
        feed = self._feeds.get(run_id)
        if feed is None:
            feed = self._feeds[run_id] = RunFeed(run_id, self.store, self.block_ms)
        feed.subscribers += 1
        feed.ensure_running()
        try:
            yield feed
        finally:
            feed.subscribers -= 1
            if feed.subscribers == 0 and self._feeds.get(run_id) is feed:
                del self._feeds[run_id]
                feed.stop()

    async def close(self) -> None:
        feeds, self._feeds = list(self._feeds.values()), {}
        tasks = [task for task in (feed.stop() for feed in feeds) if task is not None]
        await asyncio.gather(*tasks, return_exceptions=True)


def _epoch_event(epoch: int, record_json: str) -> ServerSentEvent:
    return ServerSentEvent(event="epoch", id=str(epoch), raw_data=record_json)


async def run_events(feeds: RunFeeds, run_id: str, after: int) -> AsyncIterator[ServerSentEvent]:
    async with feeds.subscribe(run_id) as feed:
        await feed.loaded.wait()
        cursor = after
        shown: tuple[str, bool] | None = None
        while True:
            version, run = feed.version, feed.run
            if run is None:
                return  # deleted while streaming
            if run.is_terminal:
                # The worker appends the last record before it flips the status: drain the stream itself.
                while entries := await feed.store.epochs_after(run_id, cursor, count=BATCH):
                    for epoch, record_json in entries:
                        yield _epoch_event(epoch, record_json)
                    cursor = entries[-1][0]
                yield feed.status_event(first=shown is None)
                return
            if (run.status, feed.cancel_requested) != shown:
                yield feed.status_event(first=shown is None)
                shown = (run.status, feed.cancel_requested)
            while entries := await feed.epochs_after(cursor):
                for epoch, record_json in entries:
                    yield _epoch_event(epoch, record_json)
                cursor = entries[-1][0]
            feed.ensure_running()  # restarts the reader if it ever died
            await feed.wait_for_change(version, timeout_s=max(feed.block_ms / 1000, 1.0))
