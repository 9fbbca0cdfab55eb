"""What this worker can hold: host RAM and the memory of the GPU it trains on, published in Redis.

The API refuses runs that fit no live worker (``difficultynet.memory_estimate.shortfall``). GPUs are
read with ``nvidia-smi``, never through CUDA: the Celery parent must not initialise CUDA (see
``worker/pinning.py``). A worker trains on the first GPU it sees (``CUDA_VISIBLE_DEVICES``).
"""

from __future__ import annotations

import logging
import math
import os
import subprocess
import time

import redis

from difficultynet.memory_estimate import WorkerCapacity, host_ram_bytes
from service_contracts import protocol
from worker.pinning import CUDA_ENV

logger = logging.getLogger(__name__)

MIB = 1024 * 1024
_QUERY = ["nvidia-smi", "--query-gpu=index,uuid,memory.total,name", "--format=csv,noheader,nounits"]


def visible_gpu_memory() -> tuple[int, str]:
    """(bytes, name) of the first GPU visible to this process; (0, "") without one."""
    visible = os.environ.get(CUDA_ENV)
    if visible is not None and not visible.strip():
        return 0, ""
    try:
        listing = subprocess.run(_QUERY, capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return 0, ""
    return first_visible_gpu(listing, visible)


def first_visible_gpu(listing: str, visible: str | None) -> tuple[int, str]:
    """Pick the GPU a worker trains on from ``nvidia-smi`` CSV rows (index, uuid, MiB, name).

    ``visible`` is ``CUDA_VISIBLE_DEVICES`` (indexes or ``GPU-…`` UUID prefixes; None: all GPUs).
    """
    first = visible.split(",")[0].strip() if visible else None
    for line in listing.splitlines():
        parts = [part.strip() for part in line.split(",", 3)]
        if len(parts) != 4 or not parts[2].isdigit():
            continue
        index, uuid, mib, name = parts
        if first is None or first == index or (first.startswith("GPU-") and uuid.startswith(first)):
            return int(mib) * MIB, name
    return 0, ""


def measure_capacity(worker: str) -> WorkerCapacity:
    gpu_bytes, gpu_name = visible_gpu_memory()
    return WorkerCapacity(worker=worker, ram_bytes=host_ram_bytes(), gpu_bytes=gpu_bytes, gpu_name=gpu_name)


def publish_capacity(client: redis.Redis, capacity: WorkerCapacity, ttl_s: float) -> None:
    """Advertise ``capacity`` for ``ttl_s`` seconds (call again before it runs out)."""
    now = time.time()
    with client.pipeline(transaction=True) as pipe:
        pipe.set(
            protocol.worker_capacity_key(capacity.worker), capacity.model_dump_json(), ex=math.ceil(ttl_s)
        )
        pipe.zadd(protocol.WORKER_CAPACITY_INDEX_KEY, {capacity.worker: now + ttl_s})
        pipe.zremrangebyscore(protocol.WORKER_CAPACITY_INDEX_KEY, "-inf", now)
        pipe.execute()


def withdraw_capacity(client: redis.Redis, worker: str) -> None:
    with client.pipeline(transaction=True) as pipe:
        pipe.delete(protocol.worker_capacity_key(worker))
        pipe.zrem(protocol.WORKER_CAPACITY_INDEX_KEY, worker)
        pipe.execute()
