"""Exploration data leaves the stream: each class's confusions and hardest examples go to their own hashes,
exactly once, and come back after Redis lost them (real redis-server, no Celery worker)."""

from __future__ import annotations

import json
import shutil
import statistics
from pathlib import Path

import pytest
import redis
from support import runs

from difficultynet.contracts.api import ClassEpochExploration
from difficultynet.contracts.records import EpochRecord
from difficultynet.synthetic import synthetic_record
from service_contracts import protocol
from stack.redis_server import RedisServer
from worker.reporter import RedisReporter

RUN = "3" * 32
CLASSES = 12


def record(epoch: int, run_id: str = RUN) -> EpochRecord:
    return synthetic_record(run_id, epoch, num_classes=CLASSES, epochs_total=6)


def exploration_snapshot(db: redis.Redis, run_id: str = RUN) -> tuple[dict[str, str], dict[str, str]]:
    confusions = db.hgetall(protocol.epoch_confusions_key(run_id))
    per_class = db.hgetall(protocol.class_exploration_key(run_id))
    return confusions, per_class  # type: ignore[return-value]


def assert_exploration_of(db: redis.Redis, records: list[EpochRecord], run_id: str = RUN) -> None:
    """Exactly one entry per epoch, and one per class and epoch, each equal to the record's columns."""
    confusions, per_class = exploration_snapshot(db, run_id)
    assert sorted(int(epoch) for epoch in confusions) == [r.epoch for r in records]
    assert len(per_class) == CLASSES * len(records)
    for r in records:
        assert json.loads(confusions[str(r.epoch)]) == [[list(e) for e in row] for row in r.confusions or []]
        for index in (0, CLASSES - 1):
            entry = ClassEpochExploration.model_validate_json(
                per_class[protocol.class_exploration_field(index, r.epoch)]
            )
            assert entry.epoch == r.epoch
            assert entry.confusions == (r.confusions or [])[index]
            assert entry.hardest == (r.hardest or [])[index]
            assert entry.values.test_acc == r.classes.test_acc[index]
            assert entry.median.difficulty == pytest.approx(statistics.median(r.classes.difficulty))


def test_the_stream_carries_the_core_and_the_exploration_its_own_hashes(db: redis.Redis) -> None:
    reporter = RedisReporter(db, RUN)
    records = [record(epoch) for epoch in (1, 2, 3)]
    for r in records:
        reporter(r)
    entries = runs.stream_entries(db, RUN)
    assert [entry_id for entry_id, _ in entries] == ["1-0", "2-0", "3-0"]
    for (_, fields), r in zip(entries, records, strict=True):
        assert '"confusions"' not in fields["record"] and '"hardest"' not in fields["record"]
        streamed = EpochRecord.model_validate_json(fields["record"])
        assert streamed == r.model_copy(update={"confusions": None, "hardest": None})
    assert_exploration_of(db, records)


def test_re_reporting_epochs_leaves_one_entry_each(db: redis.Redis) -> None:
    first = RedisReporter(db, RUN)
    for epoch in (1, 2):
        first(record(epoch))
    before = exploration_snapshot(db)
    first(record(2))  # the same epoch again (a retried report)
    resumed = RedisReporter(db, RUN)  # a new process after a crash re-reports its checkpointed epochs
    for epoch in (1, 2):
        resumed(record(epoch))
    assert exploration_snapshot(db) == before
    resumed(record(3))
    assert_exploration_of(db, [record(e) for e in (1, 2, 3)])
    assert runs.stream_epochs(db, RUN) == [1, 2, 3]


def test_records_without_exploration_write_none(db: redis.Redis) -> None:
    reporter = RedisReporter(db, RUN)
    reporter(record(1).model_copy(update={"confusions": None, "hardest": None}))
    assert exploration_snapshot(db) == ({}, {})
    assert runs.stream_epochs(db, RUN) == [1]


def test_exploration_lost_with_a_redis_restart_is_written_again(tmp_path: Path) -> None:
    """A real redis-server restarted without its data (the worst case of a crash: nothing fsynced)."""
    with RedisServer(tmp_path / "redis") as server:
        db = redis.Redis.from_url(server.url, decode_responses=True)
        reporter = RedisReporter(db, RUN)
        for epoch in (1, 2, 3):
            reporter(record(epoch))
        server.kill()
        shutil.rmtree(server.data_dir)
        server.start()
        assert exploration_snapshot(db) == ({}, {}) and runs.stream_epochs(db, RUN) == []
        reporter(record(4))
        assert_exploration_of(db, [record(e) for e in (1, 2, 3, 4)])
        assert runs.stream_epochs(db, RUN) == [1, 2, 3, 4]
        db.close()


def test_an_epoch_whose_exploration_was_lost_alone_is_healed_before_the_next_one(db: redis.Redis) -> None:
    reporter = RedisReporter(db, RUN)
    for epoch in (1, 2, 3):
        reporter(record(epoch))
    db.hdel(protocol.epoch_confusions_key(RUN), "2")
    db.hdel(protocol.class_exploration_key(RUN), *(protocol.class_exploration_field(c, 2) for c in range(5)))
    reporter.sync()  # what the task does after the last epoch
    assert_exploration_of(db, [record(e) for e in (1, 2, 3)])
