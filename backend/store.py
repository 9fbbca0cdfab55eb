"""The API's only access to Redis keys (layout: ``docs/architecture.md``; key names: ``service_contracts``).

Datasets are JSON documents; runs are hashes whose values are strings. :class:`RunHash` parses a run
hash into typed fields so the rest of the API never handles raw Redis strings.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal, cast

import redis.asyncio as aioredis
from pydantic import BaseModel, ValidationError

from difficultynet.contracts.api import RUN_STATUSES, TERMINAL_STATUSES
from difficultynet.manifest import FolderReport, ManifestReport
from difficultynet.memory_estimate import WorkerCapacity
from service_contracts import protocol

logger = logging.getLogger(__name__)

REQUEST_POOL_SIZE = 64  # Redis connections shared by all requests of one API process
POOL_WAIT_S = 10.0
ACTIVE_STATUSES: frozenset[str] = frozenset(set(RUN_STATUSES) - TERMINAL_STATUSES)

# Compare-and-set on the status field: the API and a worker may race on a queued run.
_TRANSITION_LUA = """
if redis.call('HGET', KEYS[1], 'status') == ARGV[1] then
    redis.call('HSET', KEYS[1], unpack(ARGV, 2))
    return 1
end
return 0
"""

# Cancel a running run whose lease owner is gone, and drop its lease so a zombie owner is fenced out.
# ARGV[1]: the owner seen by the caller ('' = no lease); the run must still be running with that owner.
_CANCEL_ORPHAN_LUA = """
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then
    return 0
end
local owner = redis.call('GET', KEYS[2])
if (ARGV[1] == '' and owner) or (ARGV[1] ~= '' and owner ~= ARGV[1]) then
    return 0
end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
return 1
"""


class StoredDataset(BaseModel):
    """``dnet:datasets:{id}``: where the validated manifest copy and its images live."""

    id: str
    name: str
    kind: Literal["csv", "zip", "folder"]
    created_at: float
    manifest_path: str
    data_root: str
    report: ManifestReport
    folder: FolderReport | None = None  # set when the manifest was generated from image folders


class RunHash(BaseModel):
    """Typed view of ``dnet:runs:{id}`` (missing or empty fields are None)."""

    id: str
    status: str
    config: str
    dataset_id: str
    created_at: float
    epochs_total: int
    manifest_path: str = ""
    data_root: str = ""
    baseline_run_id: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    epoch: int = 0
    elapsed_s: float | None = None
    epoch_at: float | None = None
    top1: float | None = None
    balanced_acc: float | None = None
    balanced_acc_history: str | None = None  # JSON list, one value per epoch (worker.reporter)
    error: str | None = None
    worker: str | None = None
    device: str | None = None
    task_id: str | None = None
    attempt: int = 0
    crashes: int = 0
    phase: str | None = None  # preparing | training, written by the worker
    prepare_done: int | None = None
    prepare_total: int | None = None
    prepare_rate: float | None = None
    prepare_eta_s: float | None = None
    prepare_cache: str | None = None
    memory_estimate: str | None = None  # JSON of MemoryEstimateRead, written by the API at creation

    @classmethod
    def parse(cls, run_id: str, raw: Mapping[str, str]) -> RunHash | None:
        """None for a missing or unreadable hash (e.g. half-written by a crashed process)."""
        if not raw:
            return None
        fields = {key: value for key, value in raw.items() if value != "" and key in cls.model_fields}
        try:
            return cls(id=run_id, **fields)
        except ValidationError:
            return None

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class Store:
    def __init__(self, client: aioredis.Redis) -> None:
        self.redis = client
        self._transition = client.register_script(_TRANSITION_LUA)
        self._cancel_orphan = client.register_script(_CANCEL_ORPHAN_LUA)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        max_connections: int = REQUEST_POOL_SIZE,
        wait: bool = True,
        client_name: str | None = None,
    ) -> Store:
        """``wait=True``: a full pool makes requests queue for a connection (up to 10 s) instead of
        failing; ``wait=False`` fails at once instead. ``client_name`` labels the connections in Redis's
        ``CLIENT LIST``."""
        pool_class = aioredis.BlockingConnectionPool if wait else aioredis.ConnectionPool
        options: dict[str, Any] = {"timeout": POOL_WAIT_S} if wait else {}
        pool = pool_class.from_url(
            url,
            max_connections=max_connections,
            decode_responses=True,
            socket_connect_timeout=2,
            health_check_interval=30,
            client_name=client_name,
            **options,
        )
        return cls(aioredis.Redis(connection_pool=pool))

    async def last_epoch(self, run_id: str) -> int:
        """The highest epoch in the run's stream (0 when empty)."""
        last = cast(Any, await self.redis.xrevrange(protocol.epochs_key(run_id), count=1))
        return protocol.epoch_from_stream_id(last[0][0]) if last else 0

    async def close(self) -> None:
        await self.redis.aclose(close_connection_pool=True)

    async def ping(self) -> bool:
        return bool(await self.redis.ping())

    # -- datasets -----------------------------------------------------------------------------------

    async def get_dataset(self, dataset_id: str) -> StoredDataset | None:
        raw = await self.redis.get(protocol.dataset_key(dataset_id))
        return StoredDataset.model_validate_json(raw) if raw else None

    async def add_dataset(self, dataset: StoredDataset) -> bool:
        """Store unless the id exists (content-addressed: same content, same id). True when created."""
        created = await self.redis.set(protocol.dataset_key(dataset.id), dataset.model_dump_json(), nx=True)
        if created:
            await self.redis.zadd(protocol.DATASETS_INDEX_KEY, {dataset.id: dataset.created_at})
        return bool(created)

    async def list_datasets(self) -> list[StoredDataset]:
        ids = cast(list[str], await self.redis.zrevrange(protocol.DATASETS_INDEX_KEY, 0, -1))
        if not ids:
            return []
        raws = await self.redis.mget([protocol.dataset_key(i) for i in ids])
        return [StoredDataset.model_validate_json(raw) for raw in raws if raw]

    async def delete_dataset(self, dataset_id: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(protocol.dataset_key(dataset_id))
            pipe.zrem(protocol.DATASETS_INDEX_KEY, dataset_id)
            await pipe.execute()

    # -- runs ---------------------------------------------------------------------------------------

    async def create_run(self, run_id: str, fields: Mapping[str, str | int | float]) -> None:
        created_at = float(fields["created_at"])
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(protocol.run_key(run_id), mapping=cast(Any, dict(fields)))
            pipe.zadd(protocol.RUNS_INDEX_KEY, {run_id: created_at})
            await pipe.execute()

    async def get_run(self, run_id: str) -> RunHash | None:
        raw = cast(dict[str, str], await self.redis.hgetall(protocol.run_key(run_id)))
        return RunHash.parse(run_id, raw)

    async def run_ids(self) -> list[str]:
        """Every run id, newest first."""
        return cast(list[str], await self.redis.zrevrange(protocol.RUNS_INDEX_KEY, 0, -1))

    async def get_runs(self, run_ids: Sequence[str]) -> list[RunHash]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for run_id in run_ids:
                pipe.hgetall(protocol.run_key(run_id))
            raws = await pipe.execute()
        runs = (RunHash.parse(run_id, raw) for run_id, raw in zip(run_ids, raws, strict=True))
        return [run for run in runs if run is not None]

    async def active_runs(self) -> list[RunHash]:
        runs = await self.get_runs(await self.run_ids())
        return [run for run in runs if run.status in ACTIVE_STATUSES]

    async def transition(self, run_id: str, expected: str, fields: Mapping[str, str | int | float]) -> bool:
        """Set ``fields`` only while the run's status is still ``expected`` (atomic)."""
        args: list[str | int | float] = [expected]
        for key, value in fields.items():
            args += [key, value]
        return bool(await self._transition(keys=[protocol.run_key(run_id)], args=args))

    async def worker_capacities(self) -> list[WorkerCapacity]:
        """Memory reports of the workers alive now (each refreshes its own; see ``worker/capacity.py``)."""
        index = protocol.WORKER_CAPACITY_INDEX_KEY
        names = cast(list[str], await self.redis.zrangebyscore(index, time.time(), "+inf"))
        if not names:
            return []
        raws = cast(list[str | None], await self.redis.mget([protocol.worker_capacity_key(n) for n in names]))
        capacities = []
        for raw in raws:
            if raw is None:  # expired between the two reads
                continue
            try:
                capacities.append(WorkerCapacity.model_validate_json(raw))
            except ValidationError:
                logger.warning("ignoring an unreadable worker capacity report")
        return capacities

    async def lease_owner(self, run_id: str) -> str | None:
        """The owner token of the worker training the run (``worker.lease``), None when nobody holds it."""
        return cast(str | None, await self.redis.get(protocol.lease_key(run_id)))

    async def cancel_orphan(
        self, run_id: str, owner: str | None, fields: Mapping[str, str | int | float]
    ) -> bool:
        """Set ``fields`` (atomic) while the run is running and its lease is still ``owner``'s (None: no
        lease); the lease is deleted, so the old owner, if it ever comes back, can write nothing more."""
        args: list[str | int | float] = [owner or ""]
        for key, value in fields.items():
            args += [key, value]
        keys = [protocol.run_key(run_id), protocol.lease_key(run_id)]
        return bool(await self._cancel_orphan(keys=keys, args=args))

    async def request_cancel(self, run_id: str) -> None:
        await self.redis.set(protocol.cancel_key(run_id), str(time.time()))

    async def cancel_requested(self, run_id: str) -> bool:
        return bool(await self.redis.exists(protocol.cancel_key(run_id)))

    async def delete_run(self, run_id: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            # UNLINK: the keys go at once, their memory is freed in the background (the exploration hash
            # of a 1000-class run holds 200k fields; DEL would block Redis while freeing them).
            pipe.unlink(
                protocol.run_key(run_id),
                protocol.epochs_key(run_id),
                protocol.cancel_key(run_id),
                protocol.weights_key(run_id),
                protocol.lease_key(run_id),
                protocol.log_key(run_id),
                protocol.epoch_confusions_key(run_id),
                protocol.class_exploration_key(run_id),
            )
            pipe.zrem(protocol.RUNS_INDEX_KEY, run_id)
            await pipe.execute()

    # -- epoch stream and weights -------------------------------------------------------------------

    async def epochs_after(self, run_id: str, after: int, count: int | None = None) -> list[tuple[int, str]]:
        """(epoch, record JSON) for every epoch > ``after``, ascending."""
        entries = await self.redis.xrange(protocol.epochs_key(run_id), min=f"({after}-0", count=count)
        return _records(cast(Any, entries))

    async def wait_for_epochs(
        self, run_id: str, after: int, block_ms: int, count: int | None = None
    ) -> list[tuple[int, str]]:
        """Like :meth:`epochs_after`, but blocks up to ``block_ms`` until an entry arrives."""
        reply = await self.redis.xread(
            {protocol.epochs_key(run_id): f"{after}-0"}, count=count, block=block_ms
        )
        return _records(cast(Any, reply)[0][1]) if reply else []

    async def epoch_record(self, run_id: str, epoch: int) -> str | None:
        """The record JSON of one epoch as stored in the stream, None when it is not there."""
        entry_id = protocol.epoch_stream_id(epoch)
        entries = await self.redis.xrange(protocol.epochs_key(run_id), min=entry_id, max=entry_id)
        records = _records(cast(Any, entries))
        return records[0][1] if records else None

    # -- exploration (worker.reporter writes one field per epoch, and one per class and epoch) ---------

    async def epoch_confusions(self, run_id: str, epoch: int) -> str | None:
        """Every class's confusions at ``epoch`` (JSON), None when not stored."""
        return cast(str | None, await self.redis.hget(protocol.epoch_confusions_key(run_id), str(epoch)))

    async def class_exploration(
        self, run_id: str, class_index: int, epochs: Sequence[int]
    ) -> list[str | None]:
        """The ``ClassEpochExploration`` JSON of the class at each of ``epochs`` (None where not stored)."""
        if not epochs:
            return []
        fields = [protocol.class_exploration_field(class_index, epoch) for epoch in epochs]
        return cast(list[str | None], await self.redis.hmget(protocol.class_exploration_key(run_id), fields))

    async def weights(self, run_id: str) -> str | None:
        return cast(str | None, await self.redis.get(protocol.weights_key(run_id)))


def _records(entries: Sequence[tuple[str, Mapping[str, str]]]) -> list[tuple[int, str]]:
    return [(protocol.epoch_from_stream_id(entry_id), fields["record"]) for entry_id, fields in entries]
