"""Shared pieces of the service benchmarks (``scale.py``, ``multi_worker.py``): the live stack, API calls,
timing statistics and the machine description that goes into every results table.

The stack is the integration tests' :class:`LiveStack` (``stack.testing``: real redis-server, Celery worker
processes and a uvicorn API), so the benchmarks measure exactly what the tests exercise.

Results are stamped with ``CODE_VERSION``: ``git describe --dirty --always`` taken when the benchmark
process starts (importing this module), i.e. of the code that ran, not of the checkout when the results
are written hours later.
"""

from __future__ import annotations

import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # the project's packages, also without `pip install -e .`
    sys.path.insert(0, str(REPO_ROOT))

from difficultynet.contracts.api import TERMINAL_STATUSES  # noqa: E402
from stack.testing.live_stack import LiveStack, StackTimings  # noqa: E402
from stack.testing.sse import SseEvent, iter_sse  # noqa: E402

# Production recovery intervals: a busy 2-core machine must not mistake a slow heartbeat for a dead worker.
PRODUCTION_TIMINGS = StackTimings(lease_ttl_s=30.0, heartbeat_s=5.0, recovery_interval_s=15.0)
STATE_DIRS = ("redis", "runs", "logs", "cache", "data/uploads")

__all__ = [
    "CODE_VERSION",
    "PRODUCTION_TIMINGS",
    "REPO_ROOT",
    "LiveStack",
    "SseEvent",
    "Timing",
    "command_line",
    "create_run",
    "fresh_stack_root",
    "iter_run_events",
    "machine",
    "now_utc",
    "time_calls",
    "upload_csv",
    "wait_for_run",
]


@dataclass(frozen=True)
class Timing:
    """Wall times of repeated calls, in milliseconds."""

    samples_ms: tuple[float, ...]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def max_ms(self) -> float:
        return max(self.samples_ms)

    def __str__(self) -> str:
        return f"{self.median_ms:.1f} ms (max {self.max_ms:.1f}, n={len(self.samples_ms)})"


def time_calls(fn: Callable[[], Any], repeat: int) -> tuple[Timing, Any]:
    """Call ``fn`` ``repeat`` times; returns the timings and the last result."""
    samples, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - started) * 1000)
    return Timing(tuple(samples)), result


def machine() -> str:
    """One line: CPU model, cores, memory, OS, Python, torch (no GPU on the service benchmarks)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    redis_version = _redis_version()
    return (
        f"{cpu}, {os.cpu_count()} cores{memory}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}{redis_version}"
    )


def _redis_version() -> str:
    from stack.redis_server import redis_server_binary

    try:
        out = subprocess.run(
            [str(redis_server_binary()), "--version"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    version = next((part[2:] for part in out.split() if part.startswith("v=")), "")
    return f", redis-server {version}" if version else ""


def now_utc() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def git_describe() -> str:
    """``git describe --dirty --always`` of the working tree now ("unknown" outside a git checkout)."""
    try:
        out = subprocess.run(
            ["git", "describe", "--dirty", "--always"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


CODE_VERSION = git_describe()  # at process start: the code this benchmark runs, whatever HEAD is later


def store_table(path: Path, text: str, *, write: bool) -> int:
    """With ``write``, store the rendered table as the committed results file; returns the exit status."""
    if write:
        path.write_text(text)
        print(f"wrote {path}")
    return 0


def command_line(argv: Sequence[str] | None = None) -> str:
    args = sys.argv[1:] if argv is None else list(argv)
    script = Path(sys.argv[0]).resolve()
    shown = script.relative_to(REPO_ROOT) if script.is_relative_to(REPO_ROOT) else script
    return shlex.join([".venv/bin/python", str(shown), *args])


def fresh_stack_root(root: Path) -> Path:
    """Remove the previous benchmark's Redis data, runs, logs and uploads; keep generated datasets."""
    for name in STATE_DIRS:
        shutil.rmtree(root / name, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    return root


def upload_csv(
    client: httpx.Client, manifest: Path, data_root: Path, timeout_s: float = 900.0
) -> dict[str, Any]:
    """Register a manifest whose images already lie under the API's data root (POST /api/datasets)."""
    base = manifest.parent.resolve().relative_to(data_root.resolve())
    response = client.post(
        "/api/datasets",
        files={"file": (manifest.name, manifest.read_bytes(), "text/csv")},
        data={"base": str(base)},
        timeout=timeout_s,
    )
    if response.status_code not in (200, 201):
        raise RuntimeError(f"upload of {manifest} failed: HTTP {response.status_code} {response.text[:500]}")
    body: dict[str, Any] = response.json()
    return body


def create_run(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/runs", json=body)
    if response.status_code != 202:
        raise RuntimeError(f"run not created: HTTP {response.status_code} {response.text[:500]}")
    run: dict[str, Any] = response.json()
    return run


def wait_for_run(
    client: httpx.Client, run_id: str, timeout_s: float, poll_s: float = 1.0, stack: LiveStack | None = None
) -> dict[str, Any]:
    """Poll GET /api/runs/{id} until the run is terminal; raises with the process logs on timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        run: dict[str, Any] = client.get(f"/api/runs/{run_id}").raise_for_status().json()
        if run["status"] in TERMINAL_STATUSES:
            return run
        if time.monotonic() > deadline:
            logs = stack.logs() if stack is not None else ""
            raise TimeoutError(f"run {run_id} still {run['status']} after {timeout_s:.0f} s\n{logs}")
        time.sleep(poll_s)


def iter_run_events(client: httpx.Client, run_id: str, after: int = 0) -> Iterator[tuple[float, SseEvent]]:
    """(arrival time, event) of GET /api/runs/{id}/events until the server closes the stream."""
    with client.stream(
        "GET", f"/api/runs/{run_id}/events", params={"after": after}, timeout=None
    ) as response:
        response.raise_for_status()
        for event in iter_sse(response.iter_lines()):
            yield time.perf_counter(), event
