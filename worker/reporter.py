"""Publishes each finished epoch: exploration entries, stream entry, run-hash progress, weights export.

The stream carries the record's core only (``difficultynet.contracts.exploration``): its exploration
columns (each class's top confusions and hardest examples, 5× the core at 1000 classes) go to two hashes
of their own, one field per epoch (all classes' confusions) and one per class and epoch (the class
panel), so curve readers and SSE clients never pay for them.

Exactly-once by construction: the stream entry id is ``<epoch>-0`` (``service_contracts.protocol``), so
Redis itself rejects a second copy of an epoch (a resumed run re-reports its checkpointed epochs; a
retried XADD whose reply was lost comes back as a duplicate); exploration fields are keyed by epoch (and
class), so writing them again overwrites them with the same values. Self-healing: before every write the
reporter re-writes the exploration of every epoch it has seen whose entries are missing (one MULTI per
epoch, so an epoch's entries appear together), then compares the stream's last epoch with the epochs it
has seen and re-adds the missing tail, e.g. after Redis restarted and lost its last second of AOF. An
epoch's exploration is written before its stream entry: a reader that sees the epoch finds its entries.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import cast

import redis

from difficultynet.contracts.exploration import (
    class_exploration_json,
    core_json,
    epoch_confusions_json,
    has_exploration,
)
from difficultynet.contracts.records import EpochRecord
from difficultynet.progress import PrepareProgress
from service_contracts import protocol
from worker.lease import RunLease

logger = logging.getLogger(__name__)

ExportBuilder = Callable[[Sequence[EpochRecord]], str]


def _is_duplicate_id(exc: redis.ResponseError) -> bool:
    return "equal or smaller than the target stream top item" in str(exc)


class RedisReporter:
    """The ``reporter`` callback handed to :func:`difficultynet.train.fit`."""

    def __init__(
        self,
        client: redis.Redis,
        run_id: str,
        *,
        lease: RunLease | None = None,
        export: ExportBuilder | None = None,
    ) -> None:
        self.client = client
        self.run_id = run_id
        self.lease = lease
        self.export = export
        self.stream = protocol.epochs_key(run_id)
        self.confusions = protocol.epoch_confusions_key(run_id)
        self.class_exploration = protocol.class_exploration_key(run_id)
        self._records: dict[int, EpochRecord] = {}
        self._json: dict[int, str] = {}

    @property
    def records(self) -> list[EpochRecord]:
        return [self._records[epoch] for epoch in sorted(self._records)]

    def __call__(self, record: EpochRecord) -> None:
        if record.run_id != self.run_id:
            raise ValueError(f"record of run {record.run_id!r} sent to the reporter of {self.run_id!r}")
        self._records[record.epoch] = record
        self._json[record.epoch] = core_json(record)
        self.sync()
        latest = self._records[max(self._records)]
        progress: dict[str, str | int | float] = {
            "epoch": latest.epoch,
            "epochs_total": latest.epochs_total,
            "elapsed_s": latest.elapsed_s,
            "epoch_at": time.time(),
            "top1": latest.top1,
            "balanced_acc": latest.balanced_acc,
            # every epoch's value, for the runs overview's sparklines (the API thins it out)
            "balanced_acc_history": json.dumps([r.balanced_acc for r in self.records], separators=(",", ":")),
        }
        if self.lease is not None:
            self.lease.update(progress)
        else:
            self.client.hset(protocol.run_key(self.run_id), mapping=progress)  # type: ignore[arg-type]
        if self.export is not None:
            self.client.set(protocol.weights_key(self.run_id), self.export(self.records))

    def sync(self) -> None:
        """Write what Redis lacks of the epochs seen so far: exploration first, then the stream tail."""
        latest = max(self._records, default=0)
        healed = [epoch for epoch in self.sync_exploration() if epoch != latest]
        if healed:
            logger.warning("run %s: re-wrote the exploration of epochs %s", self.run_id, healed)
        healed = [epoch for epoch in self.sync_stream() if epoch != latest]
        if healed:
            logger.warning("run %s: re-added epochs %s that the stream had lost", self.run_id, healed)

    def sync_exploration(self) -> list[int]:
        """Write the exploration entries of every known epoch that has none in Redis; returns the epochs
        written. The per-epoch confusions field marks an epoch as written (set in the same MULTI)."""
        present = {int(field) for field in cast(list[str], self.client.hkeys(self.confusions))}
        written = []
        for epoch in sorted(self._records):
            record = self._records[epoch]
            if epoch in present or not has_exploration(record):
                continue
            per_class = {
                protocol.class_exploration_field(index, epoch): value
                for index, value in class_exploration_json(record).items()
            }
            with self.client.pipeline(transaction=True) as pipe:
                pipe.hset(self.class_exploration, mapping=per_class)  # type: ignore[arg-type]
                pipe.hset(self.confusions, str(epoch), epoch_confusions_json(record))
                pipe.execute()
            written.append(epoch)
        return written

    def stream_top(self) -> int:
        """The highest epoch in the stream (0 when empty)."""
        last = cast(list[tuple[str, dict[str, str]]], self.client.xrevrange(self.stream, count=1))
        return protocol.epoch_from_stream_id(last[0][0]) if last else 0

    def sync_stream(self) -> list[int]:
        """XADD every known epoch above the stream's top, in order; returns the epochs written."""
        top = self.stream_top()
        written = []
        for epoch in sorted(e for e in self._json if e > top):
            try:
                self.client.xadd(
                    self.stream, {"record": self._json[epoch]}, id=protocol.epoch_stream_id(epoch)
                )
            except redis.ResponseError as exc:
                if not _is_duplicate_id(exc):
                    raise
                continue  # written by an earlier attempt whose reply was lost
            written.append(epoch)
        return written


class PrepareStatusWriter:
    """The ``on_prepare`` callback of :func:`difficultynet.train.fit`: puts the decoding progress in the run
    hash (``phase``, ``prepare_*``), at most every ``min_interval_s`` except the first and last report.

    ``phase`` is ``preparing`` while images are decoded, then ``training`` (a cache hit goes straight
    there, with ``prepare_cache=hit``). Writes are fenced by the lease like every other run-hash write.
    """

    def __init__(
        self, client: redis.Redis, run_id: str, *, lease: RunLease | None = None, min_interval_s: float = 0.5
    ) -> None:
        self.client = client
        self.run_id = run_id
        self.lease = lease
        self.min_interval_s = min_interval_s
        self._last_write = float("-inf")

    def __call__(self, progress: PrepareProgress) -> None:
        now = time.monotonic()
        first = self._last_write == float("-inf")
        if not (first or progress.finished or now - self._last_write >= self.min_interval_s):
            return
        self._last_write = now
        rate, eta = progress.rate, progress.eta_s
        fields: dict[str, str | int | float] = {
            "phase": "training" if progress.finished else "preparing",
            "prepare_done": progress.done,
            "prepare_total": progress.total,
            "prepare_rate": "" if rate is None else round(rate, 1),
            "prepare_eta_s": "" if eta is None else round(eta, 1),
            "prepare_cache": progress.cache,
        }
        if self.lease is not None:
            self.lease.update(fields)
        else:
            self.client.hset(protocol.run_key(self.run_id), mapping=fields)  # type: ignore[arg-type]
