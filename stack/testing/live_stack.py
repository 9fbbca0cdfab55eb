"""A real local stack for integration tests: redis-server, Celery worker process(es) and the API (uvicorn).

Usage::

    from stack.testing.live_stack import LiveStack       # tests/ is on sys.path under pytest

    with LiveStack(tmp_path) as stack:             # redis + API + one CPU worker
        client = stack.client()                    # httpx.Client on the API, token header included
        client.post("/api/datasets", files=...)
        stack.kill_worker(stack.workers[0])        # SIGKILL, for crash tests
        stack.start_worker()                       # another worker process

Everything lives under ``root`` (redis data, data root, runs, image cache, one log file per process).
Processes run in their own sessions and are stopped by pid on exit (workers warm-shutdown first, then
SIGKILL). Short lease/heartbeat/recovery intervals make crash recovery observable within seconds.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx

from stack.redis_server import RedisServer, free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKER_READY_MARK = "ready."


class StackError(RuntimeError):
    pass


@dataclass
class ManagedProcess:
    """A child process with its log file; ``stop`` is idempotent."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def signal(self, signum: int) -> None:
        if self.alive():
            os.kill(self.pid, signum)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (Celery: warm shutdown; uvicorn: graceful), SIGKILL after ``timeout``."""
        if not self.alive():
            return
        self.signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        if self.alive():
            self.popen.kill()
            self.popen.wait()


@dataclass
class StackTimings:
    """Intervals for the workers' crash recovery (production defaults are 30 s / 5 s / 15 s)."""

    lease_ttl_s: float = 3.0
    heartbeat_s: float = 1.0
    recovery_interval_s: float = 1.0


@dataclass
class LiveStack:
    root: Path
    api_token: str | None = None
    workers_at_start: int = 1
    timings: StackTimings = field(default_factory=StackTimings)
    extra_env: Mapping[str, str] = field(default_factory=dict)

    redis: RedisServer = field(init=False)
    api: ManagedProcess | None = field(init=False, default=None)
    workers: list[ManagedProcess] = field(init=False, default_factory=list)
    api_port: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self.redis = RedisServer(self.root / "redis")
        self._worker_count = 0

    # -- paths and environment ----------------------------------------------------------------------

    @property
    def data_root(self) -> Path:
        return self.root / "data"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def env(self) -> dict[str, str]:
        """Environment shared by the API and the workers."""
        env = {
            **os.environ,
            "DNET_REDIS_URL": self.redis.url,
            "DNET_DATA_ROOT": str(self.data_root),
            "DNET_RUNS_DIR": str(self.runs_dir),
            "DNET_CACHE_DIR": str(self.root / "cache"),
            "DNET_LEASE_TTL_S": str(self.timings.lease_ttl_s),
            "DNET_HEARTBEAT_S": str(self.timings.heartbeat_s),
            "DNET_RECOVERY_INTERVAL_S": str(self.timings.recovery_interval_s),
            "DNET_REDIS_RETRY_S": "20",
            "DNET_HEALTH_TIMEOUT_S": "0.5",
            "CUDA_VISIBLE_DEVICES": "",  # CPU-only test workers
            "OMP_NUM_THREADS": "1",
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }
        env.pop("DNET_API_TOKEN", None)
        if self.api_token:
            env["DNET_API_TOKEN"] = self.api_token
        return env

    # -- lifecycle ----------------------------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> LiveStack:
        for folder in (self.data_root, self.runs_dir, self.logs_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.redis.start()
        try:
            # Spawn everything first, then wait: the workers import torch while the API starts.
            workers = [self._spawn_worker() for _ in range(self.workers_at_start)]
            self._start_api(timeout)
            for worker in workers:
                self._wait_ready(worker, timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Warm-shutdown every worker at once (SIGTERM, SIGKILL after 15 s), then the API, then Redis."""
        for process in self.workers:
            process.signal(signal.SIGTERM)
        for process in self.workers:
            process.stop(timeout=15)
        if self.api is not None:
            self.api.stop()
        self.redis.stop()

    def __enter__(self) -> LiveStack:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _spawn(self, name: str, argv: list[str], env: Mapping[str, str] | None = None) -> ManagedProcess:
        log_path = self.logs_dir / f"{name}.log"
        with open(log_path, "ab") as log:
            popen = subprocess.Popen(
                argv,
                cwd=REPO_ROOT,
                env={**self.env(), **(env or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C in the terminal reaches pytest only
            )
        return ManagedProcess(name, popen, log_path)

    def _start_api(self, timeout: float, port: int | None = None) -> None:
        self.api_port = port or free_port()
        argv = [
            sys.executable, "-m", "uvicorn", "backend.main:create_app", "--factory",
            "--host", "127.0.0.1", "--port", str(self.api_port), "--log-level", "warning",
        ]  # fmt: skip
        self.api = self._spawn("api", argv)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.api.alive():
                raise StackError(f"API exited with {self.api.popen.returncode}:\n{self.api.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/api/health", timeout=2).status_code in (200, 503):
                    return
            time.sleep(0.1)
        raise StackError(f"API did not answer within {timeout}s:\n{self.api.log_tail()}")

    def start_worker(self, timeout: float = 60.0, env: Mapping[str, str] | None = None) -> ManagedProcess:
        """Start ``celery -A worker.celery_app worker -Q gpu -P prefork -c 1 --max-tasks-per-child 1``
        and wait until it consumes.

        ``env`` overrides variables for this worker only, e.g. its own ``CUDA_VISIBLE_DEVICES``.
        """
        return self._wait_ready(self._spawn_worker(env), timeout)

    def _spawn_worker(self, env: Mapping[str, str] | None = None) -> ManagedProcess:
        self._worker_count += 1
        name = f"worker{self._worker_count}"
        argv = [
            sys.executable, "-m", "celery", "-A", "worker.celery_app", "worker",
            "-Q", "gpu", "-P", "prefork", "-c", "1", "--max-tasks-per-child", "1", "-O", "fair",
            "-n", f"{name}@%h", "--loglevel", "info", "--without-gossip", "--without-mingle",
        ]  # fmt: skip
        worker = self._spawn(name, argv, env)
        self.workers.append(worker)
        return worker

    def _wait_ready(self, worker: ManagedProcess, timeout: float) -> ManagedProcess:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not worker.alive():
                raise StackError(f"{worker.name} exited with {worker.popen.returncode}:\n{worker.log_tail()}")
            if WORKER_READY_MARK in worker.log_tail(200_000):
                return worker
            time.sleep(0.2)
        raise StackError(f"{worker.name} not ready within {timeout}s:\n{worker.log_tail()}")

    def kill_worker(self, worker: ManagedProcess, child_pid: int | None = None) -> None:
        """SIGKILL a worker with no chance to requeue or clean up: parent first, then its task child."""
        worker.kill()
        if child_pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child_pid, signal.SIGKILL)

    def restart_api(self, *, kill: bool = True, down_s: float = 0.5, timeout: float = 60.0) -> None:
        """Crash (SIGKILL) or stop (SIGTERM) the API, then start it again on the same port and log file."""
        assert self.api is not None
        if kill:
            self.api.kill()
        else:
            self.api.stop()
        time.sleep(down_s)
        self._start_api(timeout, port=self.api_port)

    def restart_redis(self, *, kill: bool = True, down_s: float = 0.5) -> None:
        """Crash (SIGKILL) or stop (SIGTERM) redis-server, then start it again on the same port and dir."""
        if kill:
            self.redis.kill()
        else:
            self.redis.stop()
        time.sleep(down_s)
        self.redis.start()

    # -- clients ------------------------------------------------------------------------------------

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_token}"} if self.api_token else {}

    def client(self, timeout: float = 30.0) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers(), timeout=timeout)

    def async_client(self, timeout: float = 30.0) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, headers=self.headers(), timeout=timeout)

    def logs(self, chars: int = 3000) -> str:
        """Tails of every process log, for assertion messages."""
        processes = [p for p in (self.api, *self.workers) if p is not None]
        return "\n".join(f"--- {p.name} ---\n{p.log_tail(chars)}" for p in processes)
