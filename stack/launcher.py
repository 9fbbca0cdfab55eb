"""``dnet up``: the whole stack on one machine, no Docker.

Starts an embedded redis-server (unless ``DNET_REDIS_URL`` points elsewhere), one Celery worker per
visible GPU (or CPU workers), the API and the dashboard; writes and registers the demo dataset and, when
no run exists yet, queues two short demo runs on it (``stack.demo_runs``); prints the URLs and supervises
until Ctrl-C / SIGTERM. A worker that dies is restarted (at most 3 times in 5 min); any other child dying
stops the stack with its log tail, since the stack is useless without it.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from difficultynet.errors import UsageError
from stack import demo_runs, probes, services
from stack.instance import InstanceLock
from stack.redis_server import RedisServer, free_port
from stack.settings import StackPaths, StackSettings, is_loopback
from stack.supervisor import Child, ChildSpec, Supervisor

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
REDIS_START_TIMEOUT_S = 15.0
POLL_INTERVAL_S = 0.5
DEMO_DATASET_NAME = "demo-digits.csv"  # how the dashboard lists it


class StartupError(Exception):
    """The stack could not start (busy port, a child died, timeout): exit code 1."""

    def __init__(self, message: str, child: Child | None = None) -> None:
        super().__init__(message)
        self.child = child


class StopRequested(Exception):
    pass


def add_up_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="interface for the API and dashboard (default 127.0.0.1, DNET_HOST)")
    parser.add_argument("--api-port", type=int, help="API port (default 8000, DNET_API_PORT)")
    parser.add_argument(
        "--dashboard-port", type=int, help="dashboard port (default 8050, DNET_DASHBOARD_PORT)"
    )
    parser.add_argument(
        "--workers", type=int, help="worker processes (default: one per visible GPU, else 1 CPU worker)"
    )
    parser.add_argument("--var-dir", type=Path, help="local state directory (default ./var, DNET_VAR_DIR)")
    parser.add_argument("--no-demo", action="store_true", help="do not write and register the demo dataset")
    parser.add_argument(
        "--no-demo-runs",
        action="store_true",
        help="on a first start (no runs yet), do not queue the demo CE baseline and DNet runs",
    )


def load_settings(args: argparse.Namespace) -> StackSettings:
    """Environment / .env first, command-line flags on top; refuses an exposed, unauthenticated bind."""
    flags = {
        "host": args.host,
        "api_port": args.api_port,
        "dashboard_port": args.dashboard_port,
        "workers": args.workers,
        "var_dir": args.var_dir,
    }
    try:
        settings = StackSettings(**{k: v for k, v in flags.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}" for err in exc.errors()
        )
        raise UsageError(f"invalid settings: {problems}") from None
    if not is_loopback(settings.host) and settings.api_token is None and not settings.allow_insecure_bind:
        raise UsageError(
            f"refusing to serve on non-loopback host {settings.host!r} without an API token: "
            "set DNET_API_TOKEN (or DNET_ALLOW_INSECURE_BIND=1 to accept the risk)"
        )
    if settings.api_port == settings.dashboard_port:
        raise UsageError(f"the API and the dashboard cannot share port {settings.api_port}")
    return settings


def port_free(host: str, port: int) -> bool:
    """Whether a server could bind ``host:port`` now (SO_REUSEADDR, like uvicorn and Flask)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def ensure_demo_dataset(demo_dir: Path) -> Path:
    """Write the built-in demo dataset (idempotent: only missing or changed files are rewritten)."""
    from difficultynet.demo import write_demo_dataset

    return write_demo_dataset(demo_dir)


class Launcher:
    def __init__(
        self, settings: StackSettings, paths: StackPaths, lock: InstanceLock, console: Console
    ) -> None:
        self.settings = settings
        self.paths = paths
        self.lock = lock
        self.console = console
        self.supervisor = Supervisor()
        self.stop_event = threading.Event()
        self.force_event = threading.Event()
        self.redis_child: Child | None = None
        self.api_url = services.http_url(settings.host, settings.api_port)
        self.dashboard_url = services.http_url(settings.host, settings.dashboard_port)
        self.redis_url = settings.redis_url or ""

    # -- signals -----------------------------------------------------------------------------------------
    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.stop_event.is_set():
            self.force_event.set()  # a second Ctrl-C skips the grace period
            return
        self.stop_event.set()

    def _check_stop(self) -> None:
        if self.stop_event.is_set():
            raise StopRequested

    # -- lifecycle ---------------------------------------------------------------------------------------
    def run(self, with_demo: bool, with_demo_runs: bool = True) -> int:
        handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        previous = {sig: signal.signal(sig, self._on_signal) for sig in handled}
        try:
            self._check_ports()
            if self.settings.redis_url:
                self._check_external_redis(self.settings.redis_url)
            manifest = ensure_demo_dataset(self.paths.demo_dir) if with_demo else None
            self._start_all()
            with self.console.status("Waiting for the API, the dashboard and the workers…"):
                self._wait_until_ready()
            if manifest is not None:
                dataset_id = self._register_demo(manifest)
                if dataset_id is not None and with_demo_runs:
                    self._queue_demo_runs(dataset_id)
            self._write_state()
            self._print_banner()
            return self._monitor()
        except StopRequested:
            self.console.print("Stopping (interrupted during startup)…")
            return EXIT_OK
        except StartupError as exc:
            self._report_failure(str(exc), exc.child)
            return EXIT_FAILED
        finally:
            self._shutdown()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _check_ports(self) -> None:
        host = self.settings.host
        for label, port, flag in (
            ("API", self.settings.api_port, "--api-port"),
            ("dashboard", self.settings.dashboard_port, "--dashboard-port"),
        ):
            if not port_free(host, port):
                env = f"DNET_{flag[2:].replace('-', '_').upper()}"
                raise StartupError(
                    f"port {port} on {host} (the {label} port) is already in use. "
                    f"Pick another with `dnet up {flag} PORT` (or {env}=PORT; with make: "
                    f'`make run UP_ARGS="{flag} PORT"`).'
                )

    def _start_all(self) -> None:
        for directory in (self.paths.logs_dir, self.paths.data_root, self.paths.runs_dir):
            directory.mkdir(parents=True, exist_ok=True)
        if not self.settings.redis_url:
            self.redis_url = self._start_redis()
        env = services.common_env(self.settings, self.paths, self.redis_url)
        gpus = services.visible_gpus(os.environ)
        for slot in services.plan_workers(gpus, self.settings.workers, os.cpu_count() or 1):
            self._start(
                f"worker-{slot.node}",
                services.worker_command(slot),
                services.worker_env(slot, env),
                restart=True,
            )
        # Every child restarts after a crash (with backoff): one crash no longer stops the whole stack.
        self._start(
            "api", services.api_command(self.settings.host, self.settings.api_port), env, restart=True
        )
        dashboard_env = services.dashboard_env(
            env, self.settings.host, self.settings.dashboard_port, self.api_url
        )
        self._start("dashboard", services.dashboard_command(), dashboard_env, restart=True)

    def _start(self, name: str, argv: list[str], env: dict[str, str], restart: bool = False) -> Child:
        spec = ChildSpec(name, argv, env, services.log_file(self.paths, name), restart=restart)
        return self.supervisor.start(spec)

    def _check_external_redis(self, url: str) -> None:
        """Fail fast: an unreachable DNET_REDIS_URL (often a copied .env) would otherwise time out later."""
        problem = probes.redis_problem(url)
        if problem:
            raise StartupError(
                f"DNET_REDIS_URL={probes.redact_url(url)} is not reachable ({problem}). Start that Redis, "
                "or unset DNET_REDIS_URL (environment or .env) to use an embedded redis-server."
            )

    def _start_redis(self) -> str:
        server = RedisServer(
            self.paths.redis_dir, port=free_port(), log_file=services.log_file(self.paths, "redis")
        )
        self.paths.redis_dir.mkdir(parents=True, exist_ok=True)
        # Same argv on restart: same port, same AOF directory, so no acknowledged write is lost.
        self.redis_child = self._start("redis", server.command(), dict(os.environ), restart=True)
        deadline = time.monotonic() + REDIS_START_TIMEOUT_S
        while not server.ping():
            self._check_stop()
            code = self.redis_child.exit_code()
            if code is not None:
                raise StartupError(f"redis-server exited with code {code}", self.redis_child)
            if time.monotonic() > deadline:
                raise StartupError(f"redis-server did not answer within {REDIS_START_TIMEOUT_S:.0f}s")
            time.sleep(0.05)
        return server.url

    def _check_children(self) -> None:
        for child in self.supervisor.exited():
            raise StartupError(f"{child.name} exited with code {child.exit_code()} during startup", child)

    def _wait_until_ready(self) -> None:
        workers_expected = len(self._workers())
        deadline = time.monotonic() + self.settings.startup_timeout_s
        token = self._token()
        api_ready = dashboard_ready = False
        health: probes.ApiHealth | None = None
        while True:
            self._check_stop()
            self._check_children()
            if not api_ready or health is None or health.workers_online < workers_expected:
                health = probes.api_health(self.api_url, token)
                api_ready = health is not None and health.redis_ok
            if not dashboard_ready:
                dashboard_ready = probes.http_ok(self.dashboard_url)
            workers_ready = health is not None and health.workers_online >= workers_expected
            if api_ready and dashboard_ready and workers_ready:
                return
            if time.monotonic() > deadline:
                waiting = [
                    name
                    for name, ready in (
                        ("API (with Redis)", api_ready),
                        ("dashboard", dashboard_ready),
                        (f"{workers_expected} worker(s)", workers_ready),
                    )
                    if not ready
                ]
                raise StartupError(
                    f"timed out after {self.settings.startup_timeout_s:.0f}s waiting for {', '.join(waiting)}"
                )
            time.sleep(POLL_INTERVAL_S)

    def _token(self) -> str | None:
        return self.settings.api_token.get_secret_value() if self.settings.api_token else None

    def _register_demo(self, manifest: Path) -> str | None:
        registered = probes.register_dataset(
            self.api_url, manifest, self.paths.data_root, name=DEMO_DATASET_NAME, token=self._token()
        )
        if registered.problem:
            self.console.print(
                f"[yellow]warning:[/] the demo dataset was not registered: {escape(registered.problem)}"
            )
        return registered.dataset_id

    def _queue_demo_runs(self, dataset_id: str) -> None:
        queued = demo_runs.queue_demo_runs(self.api_url, dataset_id, token=self._token())
        if queued.problem:
            self.console.print(f"[yellow]warning:[/] the demo runs were not queued: {escape(queued.problem)}")
        elif queued.run_ids:
            self.console.print(
                "Demo runs: a CE baseline and a Difficulty-Net run on the demo dataset are queued "
                "(first start only; `dnet up --no-demo-runs` skips them)."
            )

    def _state(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "started_at": time.time(),
            "dashboard_url": self.dashboard_url,
            "api_url": self.api_url,
            "redis_url": probes.redact_url(self.redis_url),
            "var_dir": str(self.paths.var_dir),
            "children": {c.name: c.pid for c in self.supervisor.children},
        }

    def _write_state(self) -> None:
        self.lock.write_state(self._state())

    def _print_banner(self) -> None:
        workers = [c.name.removeprefix("worker-") for c in self._workers()]
        self.console.print(f"[bold green]Dashboard: {self.dashboard_url}[/]")
        self.console.print(f"API:       {self.api_url}  (docs: {self.api_url}/docs)")
        self.console.print(f"Redis:     {probes.redact_url(self.redis_url)}")
        self.console.print(f"Workers:   {', '.join(workers)}")
        self.console.print(f"Logs:      {self.paths.logs_dir}")
        self.console.print("Press Ctrl-C to stop.")

    def _workers(self) -> list[Child]:
        return [c for c in self.supervisor.children if c.name.startswith("worker-")]

    def _monitor(self) -> int:
        while not self.stop_event.wait(POLL_INTERVAL_S):
            for child in self.supervisor.exited():
                code = child.exit_code()
                if child.restart_at is not None:
                    if self.supervisor.restart_if_due(child):
                        self.console.print(f"[yellow]restarted {child.name}[/] (pid {child.pid})")
                        self._write_state()
                    continue
                delay = self.supervisor.schedule_restart(child)
                if delay is not None:
                    self.console.print(
                        f"[yellow]{child.name} exited with code {code}; restarting it in {delay:.0f}s[/] "
                        f"(log: {child.spec.log_file})"
                    )
                    continue
                self._report_failure(f"{child.name} exited unexpectedly with code {code}", child)
                return EXIT_FAILED
        self.console.print("Stopping…")
        return EXIT_OK

    def _report_failure(self, message: str, child: Child | None) -> None:
        self.console.print(f"[bold red]error:[/] {escape(message)}")
        if child is not None:
            tail = child.log_tail()
            if tail:
                self.console.print(f"last lines of {child.spec.log_file}:")
                self.console.print(escape(tail), highlight=False)
        if self.supervisor.children:
            self.console.print("Stopping the stack.")

    def _shutdown(self) -> None:
        """Everything but Redis first (workers may still write to it), Redis last."""
        others = [c for c in self.supervisor.children if c is not self.redis_child]

        def grace() -> float:
            return 0.5 if self.force_event.is_set() else self.settings.stop_grace_s

        def killed(child: Child) -> None:
            self.console.print(f"[yellow]{child.name} did not stop within the grace period: killed[/]")

        self.supervisor.stop(others, grace(), on_kill=killed)
        if self.redis_child is not None:
            self.supervisor.stop([self.redis_child], grace(), on_kill=killed)


def _already_running(lock: InstanceLock, console: Console) -> None:
    state = lock.read_state()
    pid = (state or {}).get("pid") or lock.holder_pid()
    console.print(f"[bold red]error:[/] dnet up is already running for {lock.paths.var_dir} (pid {pid}).")
    if state:
        console.print(f"Dashboard: {state.get('dashboard_url')}")
        console.print(f"API:       {state.get('api_url')}")
    else:
        console.print("It is still starting.")
    console.print(
        f"Stop it with Ctrl-C in its terminal (or `kill {pid}`), or start a second stack with another "
        "--var-dir and other ports."
    )


def run_up(args: argparse.Namespace) -> int:
    console = Console(soft_wrap=True, highlight=False)
    try:
        settings = load_settings(args)
    except UsageError as exc:
        console.print(f"[bold red]error:[/] {escape(str(exc))}")
        return EXIT_USAGE
    paths = settings.paths()
    lock = InstanceLock(paths)
    if not lock.acquire():
        _already_running(lock, console)
        return EXIT_FAILED
    try:
        return Launcher(settings, paths, lock, console).run(
            with_demo=not args.no_demo, with_demo_runs=not args.no_demo_runs
        )
    finally:
        lock.release()


def main(argv: list[str] | None = None) -> int:
    """Standalone entry (``python -m stack.launcher``); ``dnet up`` (``stack.cli``) is the usual way in."""
    parser = argparse.ArgumentParser(prog="dnet up", description="Run the whole stack locally.")
    add_up_arguments(parser)
    return run_up(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
