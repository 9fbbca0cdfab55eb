"""Workers advertise the memory they can train with; the API reads it to refuse runs that cannot fit."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import redis
from kombu.asynchronous.timer import Timer

from difficultynet.memory_estimate import GIB, WorkerCapacity, host_ram_bytes
from service_contracts import protocol
from worker.capacity import (
    MIB,
    first_visible_gpu,
    measure_capacity,
    publish_capacity,
    visible_gpu_memory,
    withdraw_capacity,
)
from worker.celery_app import create_celery
from worker.settings import WorkerSettings

# `nvidia-smi --query-gpu=index,uuid,memory.total,name --format=csv,noheader,nounits` on a 2-GPU host
LISTING = """0, GPU-1b2c3d4e-aaaa-bbbb-cccc-000000000000, 81559, NVIDIA H100 80GB HBM3
1, GPU-9f8e7d6c-aaaa-bbbb-cccc-111111111111, 24564, NVIDIA GeForce RTX 4090, rev. b
"""


@pytest.mark.parametrize(
    ("visible", "expected"),
    [
        (None, (81559 * MIB, "NVIDIA H100 80GB HBM3")),
        ("1", (24564 * MIB, "NVIDIA GeForce RTX 4090, rev. b")),
        ("1,0", (24564 * MIB, "NVIDIA GeForce RTX 4090, rev. b")),
        ("GPU-9f8e7d6c", (24564 * MIB, "NVIDIA GeForce RTX 4090, rev. b")),
        ("7", (0, "")),
    ],
)
def test_the_worker_trains_on_the_first_visible_gpu(visible: str | None, expected: tuple[int, str]) -> None:
    assert first_visible_gpu(LISTING, visible) == expected


def test_hidden_gpus_mean_a_cpu_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert visible_gpu_memory() == (0, "")
    capacity = measure_capacity("cpu0@test")
    assert capacity.gpu_bytes == 0 and capacity.ram_bytes == host_ram_bytes() > 0


def test_publish_and_withdraw(db: redis.Redis) -> None:
    capacity = WorkerCapacity(worker="gpu0@test", ram_bytes=64 * GIB, gpu_bytes=24 * GIB, gpu_name="RTX")
    publish_capacity(db, capacity, ttl_s=30)
    assert db.zscore(protocol.WORKER_CAPACITY_INDEX_KEY, "gpu0@test") is not None
    assert 0 < db.ttl(protocol.worker_capacity_key("gpu0@test")) <= 30
    stored = db.get(protocol.worker_capacity_key("gpu0@test"))
    assert WorkerCapacity.model_validate_json(stored or "") == capacity
    withdraw_capacity(db, "gpu0@test")
    assert not db.exists(protocol.worker_capacity_key("gpu0@test"))
    assert db.zscore(protocol.WORKER_CAPACITY_INDEX_KEY, "gpu0@test") is None


def test_the_worker_step_advertises_its_capacity_while_it_runs(
    db: redis.Redis, worker_settings: WorkerSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    app = create_celery(worker_settings)
    [step_class] = [step for step in app.steps["worker"] if step.__name__ == "OrphanRecovery"]
    worker = SimpleNamespace(app=app, timer=Timer(), hostname="cpu7@test")
    step = step_class(worker)
    step.start(worker)
    stored = WorkerCapacity.model_validate_json(db.get(protocol.worker_capacity_key("cpu7@test")) or "")
    assert stored.worker == "cpu7@test" and stored.ram_bytes > 0 and stored.gpu_bytes == 0
    step.stop(worker)
    assert not db.exists(protocol.worker_capacity_key("cpu7@test"))
