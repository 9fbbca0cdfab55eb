"""What the local stack runs: GPU discovery, the worker plan and the command line of each service.

Pure functions of the settings and the environment, so they are unit-tested without starting anything.
GPUs are counted without torch: importing it costs seconds, and a CUDA context would hold GPU memory in
the launcher for its whole life. Each worker pins its GPU with ``CUDA_VISIBLE_DEVICES`` before starting.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from stack.settings import StackPaths, StackSettings

API_FACTORY = "backend.main:create_app"
DASHBOARD_MODULE = "dashboard"
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def visible_gpus(environ: Mapping[str, str], nvidia_smi: str | None = None) -> list[str]:
    """Device ids to pin one worker each to, from ``CUDA_VISIBLE_DEVICES`` or else ``nvidia-smi -L``."""
    visible = environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        devices = []
        for device in (part.strip() for part in visible.split(",")):
            if not device or device.startswith("-"):  # CUDA ignores everything from an invalid id on
                break
            devices.append(device)
        return devices
    smi = nvidia_smi or shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        listing = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=15, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    if listing.returncode != 0:
        return []
    gpus = [line for line in listing.stdout.splitlines() if line.startswith("GPU ")]
    return [str(index) for index in range(len(gpus))]


@dataclass(frozen=True)
class WorkerSlot:
    node: str  # Celery node name prefix: gpu0, cpu0, ...
    cuda_visible_devices: str  # "" hides every GPU from a CPU worker
    threads: int | None  # torch/OpenMP threads for CPU workers sharing the cores


def plan_workers(gpus: list[str], requested: int | None, cpu_count: int) -> list[WorkerSlot]:
    """One worker per GPU (more than that share GPUs round-robin), else ``requested`` or 1 CPU worker."""
    if gpus:
        count = requested or len(gpus)
        return [WorkerSlot(f"gpu{i}", gpus[i % len(gpus)], None) for i in range(count)]
    count = requested or 1
    threads = max(1, cpu_count // count) if count > 1 else None
    return [WorkerSlot(f"cpu{i}", "", threads) for i in range(count)]


def connect_host(host: str) -> str:
    """Address to reach a server bound to ``host`` from this machine (wildcards mean loopback)."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)


def http_url(host: str, port: int) -> str:
    address = connect_host(host)
    return f"http://[{address}]:{port}" if ":" in address else f"http://{address}:{port}"


def common_env(
    settings: StackSettings, paths: StackPaths, redis_url: str, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Environment shared by every Python service: the same Redis, data root and runs dir everywhere."""
    env = dict(os.environ if base is None else base)
    env.update(
        DNET_REDIS_URL=redis_url,
        DNET_DATA_ROOT=str(paths.data_root),
        DNET_RUNS_DIR=str(paths.runs_dir),
        DNET_CACHE_DIR=str(paths.cache_dir),
        PYTHONUNBUFFERED="1",
    )
    if settings.api_token is not None:
        env["DNET_API_TOKEN"] = settings.api_token.get_secret_value()
    return env


def worker_command(slot: WorkerSlot) -> list[str]:
    """The worker package's own recommended command line (prefork, -c 1, a fresh child per run)."""
    from worker.pinning import worker_argv

    return worker_argv(slot.node)


def worker_env(slot: WorkerSlot, env: Mapping[str, str]) -> dict[str, str]:
    pinned = dict(env, CUDA_VISIBLE_DEVICES=slot.cuda_visible_devices)
    if slot.threads is not None:
        for name in THREAD_ENV_VARS:
            pinned.setdefault(name, str(slot.threads))
    return pinned


def api_command(host: str, port: int) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", API_FACTORY, "--factory",
        "--host", host, "--port", str(port),
        "--no-access-log",  # the dashboard polls every second; errors still reach the log
    ]  # fmt: skip


def dashboard_command() -> list[str]:
    return [sys.executable, "-m", DASHBOARD_MODULE]


def dashboard_env(env: Mapping[str, str], host: str, port: int, api_url: str) -> dict[str, str]:
    return dict(env, DNET_API_URL=api_url, DNET_DASHBOARD_HOST=host, DNET_DASHBOARD_PORT=str(port))


def log_file(paths: StackPaths, name: str) -> Path:
    return paths.logs_dir / f"{name}.log"
