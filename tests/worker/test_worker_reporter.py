"""The Redis reporter: fixed stream ids (exactly once), progress in the run hash, self-healing stream."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

import pytest
import redis
from support import runs

from difficultynet.contracts.records import EpochRecord
from difficultynet.synthetic import synthetic_record
from service_contracts import protocol
from worker.lease import RunLease
from worker.reporter import RedisReporter

RUN = "2" * 32


def stream_epochs(db: redis.Redis) -> list[int]:
    return runs.stream_epochs(db, RUN)


def export(records: Sequence[EpochRecord]) -> str:
    return json.dumps({"epochs": [r.epoch for r in records]})


def test_each_epoch_becomes_one_stream_entry_with_progress_and_weights(db: redis.Redis) -> None:
    reporter = RedisReporter(db, RUN, export=export)
    records = [synthetic_record(RUN, epoch, epochs_total=3) for epoch in (1, 2, 3)]
    for record in records:
        reporter(record)
    entries = runs.stream_entries(db, RUN)
    assert [entry_id for entry_id, _ in entries] == ["1-0", "2-0", "3-0"]
    core = records[1].model_copy(update={"confusions": None, "hardest": None})  # exploration: own hashes
    assert EpochRecord.model_validate_json(entries[1][1]["record"]) == core
    run = runs.run_fields(db, RUN)
    assert run["epoch"] == "3" and run["epochs_total"] == "3" and float(run["elapsed_s"]) == 7.5
    assert float(run["top1"]) == records[2].top1 and "epoch_at" in run
    assert json.loads(db.get(protocol.weights_key(RUN)) or "") == {"epochs": [1, 2, 3]}


def test_a_resumed_run_replaying_its_epochs_adds_nothing_twice(db: redis.Redis) -> None:
    first = RedisReporter(db, RUN)
    for epoch in (1, 2):
        first(synthetic_record(RUN, epoch))
    resumed = RedisReporter(db, RUN)  # a new process after a crash re-reports 1-2, then goes on
    for epoch in (1, 2, 3):
        resumed(synthetic_record(RUN, epoch))
    assert stream_epochs(db) == [1, 2, 3]


def test_epochs_lost_by_redis_are_re_added_in_order(
    db: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    reporter = RedisReporter(db, RUN)
    for epoch in (1, 2, 3, 4):
        reporter(synthetic_record(RUN, epoch))
    # Redis restarts and its AOF lacks the last second: the stream only has epochs 1-2 again.
    db.delete(protocol.epochs_key(RUN))
    for epoch in (1, 2):
        db.xadd(
            protocol.epochs_key(RUN),
            {"record": synthetic_record(RUN, epoch).model_dump_json()},
            id=f"{epoch}-0",
        )
    with caplog.at_level(logging.WARNING, logger="worker.reporter"):
        reporter(synthetic_record(RUN, 5))
    assert stream_epochs(db) == [1, 2, 3, 4, 5]
    assert "re-added epochs [3, 4]" in caplog.text


def test_records_of_another_run_are_refused(db: redis.Redis) -> None:
    with pytest.raises(ValueError, match="sent to the reporter of"):
        RedisReporter(db, RUN)(synthetic_record("9" * 32, 1))


def test_progress_writes_are_fenced_by_the_lease(db: redis.Redis) -> None:
    lease = RunLease(db, RUN, ttl_s=5, owner="me")
    assert lease.try_acquire()
    reporter = RedisReporter(db, RUN, lease=lease)
    reporter(synthetic_record(RUN, 1))
    assert db.hget(protocol.run_key(RUN), "epoch") == "1"
    db.set(protocol.lease_key(RUN), "someone-else")
    reporter(synthetic_record(RUN, 2))
    assert db.hget(protocol.run_key(RUN), "epoch") == "1" and lease.lost.is_set()
