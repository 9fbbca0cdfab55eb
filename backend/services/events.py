"""Server-Sent Events for runs: every epoch record after a cursor, then live ones, plus status changes.

Wire format (``text/event-stream``):

* ``event: status`` - data is a :class:`~backend.schemas.RunRead` JSON; sent first, whenever the status
  (or the cancel request) changes, and as the last event once the run is terminal (the server then
  closes the stream).
* ``event: epoch`` / ``id: <epoch>`` - data is the EpochRecord JSON exactly as stored in the stream.

Because the SSE id *is* the epoch, a reconnecting EventSource sends ``Last-Event-ID: <epoch>`` and
receives exactly the epochs it missed. Clients must close on a terminal status event, or the browser
will reconnect and receive that final status again.

Fan-out: however many clients follow a run, this API process runs **one** reader task per followed run
(:class:`RunFeed`), a blocking ``XREAD`` loop on a Redis connection of its own that is closed when the
last follower leaves. The reader pushes each batch of new records into every subscriber's own bounded
queue and never waits for a subscriber: one that falls a whole queue behind is told to catch up, and
reads the records after its own cursor from Redis (``XRANGE``), as a new subscriber does for its replay.
A subscriber only ever touches its own queue, so a client that goes away, however abruptly, cannot
disturb the others. Replays share a small pool, so Redis connections scale with followed runs, not
with clients, and come back down after a burst.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass

import redis.exceptions
from fastapi.sse import ServerSentEvent

from backend.services.runs import to_read
from backend.store import RunHash, Store

logger = logging.getLogger(__name__)

RETRY_MS = 2000
KEEPALIVE_S = 15.0  # a comment line after this long without events, so proxies keep the stream open
BATCH = 100
PUMP_BACKOFF_S = 1.0
SUBSCRIBER_QUEUE = 64  # batches a subscriber may have pending before it must catch up from Redis
REPLAY_CONNECTIONS = 4  # Redis connections shared by every subscriber's replay / catch-up reads
READER_CLIENT_NAME = "dnet-api-sse-reader"
REPLAY_CLIENT_NAME = "dnet-api-sse-replay"

# What a subscriber's queue carries: a batch of new (epoch, record JSON), possibly empty when only the
# status changed; or None ("catch up") when the subscriber fell too far behind and its backlog was dropped.
Update = tuple[tuple[int, str], ...] | None


class RunFeed:
    """The live view of one run shared by all its subscribers in this process, kept by one reader task."""

    def __init__(self, run_id: str, block_ms: int) -> None:
        self.run_id = run_id
        self.block_ms = block_ms
        self.run: RunHash | None = None
        self.cancel_requested = False
        self.top = 0  # highest epoch the reader has seen
        self.loaded = asyncio.Event()
        self.catch_ups = 0  # times a subscriber fell a whole queue behind
        # Set with the reader's cancellation: redis-py can swallow a cancellation that lands mid-command,
        # and the reader must stop (and close its connection) all the same.
        self.stopping = False
        self._queues: set[asyncio.Queue[Update]] = set()

    @property
    def subscribers(self) -> int:
        return len(self._queues)

    def add_subscriber(self) -> asyncio.Queue[Update]:
        queue: asyncio.Queue[Update] = asyncio.Queue(maxsize=SUBSCRIBER_QUEUE)
        self._queues.add(queue)
        return queue

    def remove_subscriber(self, queue: asyncio.Queue[Update]) -> None:
        self._queues.discard(queue)

    # -- the single reader ----------------------------------------------------------------------------

    async def read(self, reader: Store) -> None:
        """The reader task: owns ``reader`` (one connection) and closes it however the task ends."""
        try:
            await self._pump(reader)
        finally:
            await reader.close()

    async def _pump(self, reader: Store) -> None:
        while not self.stopping:
            try:
                if not self.loaded.is_set():
                    self.top = await reader.last_epoch(self.run_id)
                    await self._refresh_status(reader)
                    self.loaded.set()
                if self.run is None or self.run.is_terminal:
                    return  # subscribers drain the stream themselves and close
                entries = await reader.wait_for_epochs(self.run_id, self.top, self.block_ms, count=BATCH)
                if entries:
                    self.top = max(self.top, entries[-1][0])
                if await self._refresh_status(reader) or entries:
                    self._publish(tuple(entries))
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
                logger.warning("run %s feed: Redis unavailable (%r); retrying", self.run_id, exc)
                await asyncio.sleep(PUMP_BACKOFF_S)
            except Exception:
                logger.exception("run %s feed: unexpected error; retrying", self.run_id)
                await asyncio.sleep(PUMP_BACKOFF_S)

    async def _refresh_status(self, reader: Store) -> bool:
        """Reload the run hash; True when what subscribers show (status, cancel, preparation) changed."""
        before = self.shown()
        self.run = await reader.get_run(self.run_id)
        self.cancel_requested = await reader.cancel_requested(self.run_id)
        return self.shown() != before

    def shown(self) -> tuple[object, ...]:
        """What a status event shows that changes between epochs: status, cancel, preparation progress."""
        run = self.run
        if run is None:
            return (None, self.cancel_requested)
        return (run.status, self.cancel_requested, run.phase, run.prepare_done, run.prepare_cache)

    def _publish(self, update: Update) -> None:
        """Hand ``update`` to every subscriber without ever waiting for one."""
        for queue in self._queues:
            try:
                queue.put_nowait(update)
            except asyncio.QueueFull:
                # Too slow to keep up: drop its backlog; it re-reads Redis after its own cursor instead.
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(None)
                self.catch_ups += 1

    def status_event(self, *, first: bool) -> ServerSentEvent:
        assert self.run is not None
        read = to_read(self.run, cancel_requested=self.cancel_requested)
        return ServerSentEvent(
            event="status", raw_data=read.model_dump_json(), retry=RETRY_MS if first else None
        )


@dataclass(frozen=True)
class Subscription:
    feed: RunFeed
    updates: asyncio.Queue[Update]
    feeds: RunFeeds

    async def page(self, cursor: int) -> list[tuple[int, str]]:
        """Up to :data:`BATCH` stored records after ``cursor`` (replay, catch-up, final drain)."""
        return await self.feeds.read_page(self.feed.run_id, cursor)


class RunFeeds:
    """One :class:`RunFeed` (and reader task) per run that has subscribers; dropped with the last one."""

    def __init__(self, open_reader: Callable[[], Store], replay: Store, block_ms: int) -> None:
        self.open_reader = open_reader
        self.replay = replay
        self.block_ms = block_ms
        self._feeds: dict[str, RunFeed] = {}
        self._readers: dict[RunFeed, asyncio.Task[None]] = {}
        self._page_reads: set[asyncio.Task[list[tuple[int, str]]]] = set()

    @classmethod
    def from_url(cls, redis_url: str, block_ms: int) -> RunFeeds:
        def open_reader() -> Store:
            return Store.from_url(redis_url, max_connections=1, wait=False, client_name=READER_CLIENT_NAME)

        replay = Store.from_url(redis_url, max_connections=REPLAY_CONNECTIONS, client_name=REPLAY_CLIENT_NAME)
        return cls(open_reader, replay, block_ms)

    @property
    def readers(self) -> int:
        """Reader tasks alive (a cancelled one counts until it has closed its connection)."""
        return len(self._readers)

    @contextlib.asynccontextmanager
    async def subscribe(self, run_id: str) -> AsyncIterator[Subscription]:
        feed = self._feeds.get(run_id)
        if feed is None:
            feed = self._feeds[run_id] = RunFeed(run_id, self.block_ms)
            self._start_reader(feed)
        queue = feed.add_subscriber()
        try:
            yield Subscription(feed, queue, self)
        finally:
            # No await here: this runs while the request is being cancelled.
            feed.remove_subscriber(queue)
            if feed.subscribers == 0 and self._feeds.get(run_id) is feed:
                del self._feeds[run_id]
                self._stop_reader(feed)

    def _start_reader(self, feed: RunFeed) -> None:
        task = asyncio.create_task(feed.read(self.open_reader()), name=f"feed-{feed.run_id[:8]}")
        self._readers[feed] = task  # a strong reference until the task is done

        def reader_done(done: asyncio.Task[None]) -> None:
            self._readers.pop(feed, None)
            if not done.cancelled() and (exc := done.exception()) is not None:
                logger.warning("run %s feed: reader ended with %r", feed.run_id, exc)

        task.add_done_callback(reader_done)

    def _stop_reader(self, feed: RunFeed) -> None:
        feed.stopping = True
        if task := self._readers.get(feed):
            task.cancel()

    async def read_page(self, run_id: str, cursor: int) -> list[tuple[int, str]]:
        """One ``XRANGE`` page, read in a task of its own that the caller's cancellation does not reach.

        redis-py can swallow a cancellation that lands mid-command (the subscriber would then carry on as
        if its client were still there) or drop the connection. Shielded, the subscriber is cancelled at
        once, and the read completes and hands its connection back to the pool.
        """
        task = asyncio.create_task(self.replay.epochs_after(run_id, cursor, count=BATCH))
        self._page_reads.add(task)  # a strong reference until the task is done
        task.add_done_callback(self._page_read_done)
        return await asyncio.shield(task)

    def _page_read_done(self, task: asyncio.Task[list[tuple[int, str]]]) -> None:
        self._page_reads.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            logger.debug("replay read failed: %r", exc)  # the subscriber, if still there, got it too

    async def close(self) -> None:
        self._feeds = {}
        tasks = [*self._readers.values(), *self._page_reads]
        for feed in list(self._readers):
            self._stop_reader(feed)
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.replay.close()


def _epoch_event(epoch: int, record_json: str) -> ServerSentEvent:
    return ServerSentEvent(event="epoch", id=str(epoch), raw_data=record_json)


async def run_events(feeds: RunFeeds, run_id: str, after: int) -> AsyncGenerator[ServerSentEvent]:
    async with feeds.subscribe(run_id) as subscription:
        feed = subscription.feed
        await feed.loaded.wait()
        cursor = after
        shown: tuple[object, ...] | None = None
        behind = True  # records up to feed.top may be missing here: read them from Redis
        while True:
            run = feed.run
            if run is None:
                return  # deleted while streaming
            if not run.is_terminal and feed.shown() != shown:
                yield feed.status_event(first=shown is None)
                shown = feed.shown()
            if run.is_terminal or behind:
                # Replay or catch up to what the reader has seen; once the run is terminal, drain the whole
                # stream (the worker appends the last record before it flips the status).
                until = None if run.is_terminal else feed.top
                while (until is None or cursor < until) and (entries := await subscription.page(cursor)):
                    for epoch, record_json in entries:
                        yield _epoch_event(epoch, record_json)
                    cursor = entries[-1][0]
                if run.is_terminal:
                    yield feed.status_event(first=shown is None)
                    return
                behind = False
                continue  # the status may have changed meanwhile
            try:
                async with asyncio.timeout(KEEPALIVE_S):  # cancels only this wait (safe for a queue)
                    update = await subscription.updates.get()
            except TimeoutError:
                yield ServerSentEvent(comment="keep-alive")
                continue
            if update is None:  # fell behind: catch up from Redis
                behind = True
                continue
            for epoch, record_json in update:
                if epoch > cursor:  # else already read from Redis during a replay or catch-up
                    yield _epoch_event(epoch, record_json)
                    cursor = epoch
