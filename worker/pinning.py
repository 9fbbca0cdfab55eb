"""One Celery worker per GPU, pinned with ``CUDA_VISIBLE_DEVICES``; one CPU worker when there is no GPU.

CUDA state does not survive ``fork``: a prefork parent that touched CUDA breaks every child it forks
("Cannot re-initialize CUDA in forked subprocess"). So GPUs are counted with ``nvidia-smi`` (no CUDA
init), the parent never imports torch, and :func:`assert_cuda_untouched` guards that at startup. Each
task child initialises CUDA itself and, with ``--max-tasks-per-child 1``, returns all GPU memory on exit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass

CUDA_ENV = "CUDA_VISIBLE_DEVICES"


@dataclass(frozen=True)
class WorkerSpec:
    """How to start one worker process: its name, pinned GPU (None = CPU) and command line."""

    name: str
    gpu: int | None
    argv: list[str]
    env: dict[str, str]


def detect_gpus(env: Mapping[str, str] | None = None) -> list[int]:
    """Indices of the GPUs this host may use, without initialising CUDA.

    An explicit ``CUDA_VISIBLE_DEVICES`` wins (empty = none); otherwise ``nvidia-smi`` is asked.
    """
    env = os.environ if env is None else env
    visible = env.get(CUDA_ENV)
    if visible is not None:
        return [int(part) for part in visible.split(",") if part.strip().isdigit()]
    binary = shutil.which("nvidia-smi")
    if binary is None:
        return []
    try:
        out = subprocess.run(
            [binary, "--query-gpu=index", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [int(line) for line in out.split() if line.strip().isdigit()]


def worker_argv(name: str, *, loglevel: str = "info", python: str | None = None) -> list[str]:
    """The recommended GPU-worker command line (prefork, one task at a time, fresh child per task)."""
    return [
        python or sys.executable, "-m", "celery", "-A", "worker.celery_app", "worker",
        "-Q", "gpu", "-P", "prefork", "-c", "1", "--max-tasks-per-child", "1", "-O", "fair",
        "-n", f"{name}@%h", "--loglevel", loglevel,
    ]  # fmt: skip


def plan_workers(
    env: Mapping[str, str] | None = None, *, loglevel: str = "info", python: str | None = None
) -> list[WorkerSpec]:
    """One spec per detected GPU (``gpu<i>``), or a single ``cpu`` worker with CUDA hidden."""
    base = dict(os.environ if env is None else env)
    gpus = detect_gpus(base)
    if not gpus:
        cpu_env = {**base, CUDA_ENV: ""}
        return [WorkerSpec("cpu", None, worker_argv("cpu", loglevel=loglevel, python=python), cpu_env)]
    return [
        WorkerSpec(
            f"gpu{gpu}",
            gpu,
            worker_argv(f"gpu{gpu}", loglevel=loglevel, python=python),
            {**base, CUDA_ENV: str(gpu)},
        )
        for gpu in gpus
    ]


def assert_cuda_untouched() -> None:
    """Raise if this (parent) process initialised CUDA, which would break every forked task child."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        raise RuntimeError("CUDA was initialised in the Celery parent process; children cannot use the GPU")
