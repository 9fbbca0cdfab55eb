"""Publishes each finished epoch: stream entry, run-hash progress, latest weights export.

Exactly-once by construction: the stream entry id is ``<epoch>-0`` (``service_contracts.protocol``), so
Redis itself rejects a second copy of an epoch (a resumed run re-reports its checkpointed epochs; a
retried XADD whose reply was lost comes back as a duplicate). Self-healing: before every write the
reporter compares the stream's last epoch with the epochs it has seen and re-adds the missing tail, e.g.
after Redis restarted and lost its last second of AOF.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import cast

import redis

from difficultynet.records import EpochRecord
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
        self._records: dict[int, EpochRecord] = {}
        self._json: dict[int, str] = {}

    @property
    def records(self) -> list[EpochRecord]:
        return [self._records[epoch] for epoch in sorted(self._records)]

    def __call__(self, record: EpochRecord) -> None:
        if record.run_id != self.run_id:
            raise ValueError(f"record of run {record.run_id!r} sent to the reporter of {self.run_id!r}")
        self._records[record.epoch] = record
        self._json[record.epoch] = record.model_dump_json()
        healed = [epoch for epoch in self.sync_stream() if epoch != record.epoch]
        if healed:
            logger.warning("run %s: re-added epochs %s that the stream had lost", self.run_id, healed)
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
