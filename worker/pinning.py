"""The GPU-worker command line and the CUDA-in-parent guard.

Which workers to start (one per GPU, pinned with ``CUDA_VISIBLE_DEVICES``, or CPU workers) is planned by
the launcher, ``stack.services.plan_workers``; this module holds what every worker process shares.

CUDA state does not survive ``fork``: a prefork parent that touched CUDA breaks every child it forks
("Cannot re-initialize CUDA in forked subprocess"). So GPUs are counted with ``nvidia-smi`` (no CUDA
init), the parent never initialises CUDA, and :func:`assert_cuda_untouched` guards that at startup. Each
task child initialises CUDA itself and, with ``--max-tasks-per-child 1``, returns all GPU memory on exit.
"""

from __future__ import annotations

import sys

CUDA_ENV = "CUDA_VISIBLE_DEVICES"


def worker_argv(name: str, *, loglevel: str = "info", python: str | None = None) -> list[str]:
    """The recommended GPU-worker command line (prefork, one task at a time, fresh child per task)."""
    return [
        python or sys.executable, "-m", "celery", "-A", "worker.celery_app", "worker",
        "-Q", "gpu", "-P", "prefork", "-c", "1", "--max-tasks-per-child", "1", "-O", "fair",
        "-n", f"{name}@%h", "--loglevel", loglevel,
    ]  # fmt: skip


def assert_cuda_untouched() -> None:
    """Raise if this (parent) process initialised CUDA, which would break every forked task child."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        raise RuntimeError("CUDA was initialised in the Celery parent process; children cannot use the GPU")
