"""Run hashes as the API writes them, for worker tests that need a run without going through the API."""

from __future__ import annotations

import time
from typing import Any, cast

import redis

from difficultynet.contracts.config import TrainConfig
from service_contracts import protocol


def add_run(
    db: redis.Redis, run_id: str, config: TrainConfig, *, status: str = "queued", **extra: str
) -> None:
    """A run hash as the API writes it."""
    fields: dict[str, str | float | int] = {
        "status": status,
        "config": config.model_dump_json(),
        "dataset_id": "0" * 16,
        "created_at": time.time(),
        "epochs_total": config.epochs,
        "epoch": 0,
        "task_id": run_id,
        "attempt": 0,
        **extra,
    }
    db.hset(protocol.run_key(run_id), mapping=cast(Any, fields))
    db.zadd(protocol.RUNS_INDEX_KEY, {run_id: time.time()})


def stream_entries(db: redis.Redis, run_id: str) -> list[tuple[str, dict[str, str]]]:
    """The epoch stream of a run as (entry id, fields) pairs (``db`` must decode responses)."""
    return cast(list[tuple[str, dict[str, str]]], db.xrange(protocol.epochs_key(run_id)))


def stream_epochs(db: redis.Redis, run_id: str) -> list[int]:
    return [protocol.epoch_from_stream_id(entry_id) for entry_id, _ in stream_entries(db, run_id)]


def run_fields(db: redis.Redis, run_id: str) -> dict[str, str]:
    return cast(dict[str, str], db.hgetall(protocol.run_key(run_id)))
