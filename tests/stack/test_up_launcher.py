"""Launcher behaviour with stand-in children: crash reporting, worker restarts, shutdown order, busy ports."""

from __future__ import annotations

import argparse
import io
import os
import socket
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from stack.instance import InstanceLock
from stack.launcher import EXIT_FAILED, Launcher, add_up_arguments, run_up
from stack.redis_server import free_port
from stack.settings import StackSettings
from stack.supervisor import ChildSpec

# Writes the time SIGTERM arrived, lingers a little (like a worker finishing up), then exits.
RECORDS_SIGTERM = (
    "import signal, sys, time\n"
    "def stop(*_):\n"
    "    print('term', time.time(), flush=True); time.sleep(float(sys.argv[1])); sys.exit(0)\n"
    "signal.signal(signal.SIGTERM, stop)\n"
    "print('ready', flush=True)\n"
    "while True: time.sleep(1)\n"
)


@pytest.fixture
def launcher(tmp_path: Path) -> Launcher:
    settings = StackSettings(
        var_dir=tmp_path / "var", stop_grace_s=5, api_port=free_port(), dashboard_port=free_port()
    )
    paths = settings.paths()
    paths.logs_dir.mkdir(parents=True)
    console = Console(file=io.StringIO(), soft_wrap=True, width=200)
    return Launcher(settings, paths, InstanceLock(paths), console)


def output(launcher: Launcher) -> str:
    return launcher.console.file.getvalue()  # type: ignore[attr-defined]


def start(launcher: Launcher, name: str, code: str, *args: str, restart: bool = False) -> None:
    argv = [sys.executable, "-c", code, *args]
    launcher.supervisor.start(
        ChildSpec(name, argv, dict(os.environ), launcher.paths.logs_dir / f"{name}.log", restart)
    )


def wait_for(path: Path, text: str) -> None:
    deadline = time.monotonic() + 20
    while text not in (path.read_text() if path.exists() else ""):
        assert time.monotonic() < deadline, f"{text!r} never appeared in {path}"
        time.sleep(0.05)


def test_a_dead_service_stops_the_stack_with_its_log_tail(launcher: Launcher) -> None:
    start(launcher, "dashboard", "import sys; print('OSError: address already in use'); sys.exit(3)")
    assert launcher._monitor() == EXIT_FAILED
    text = output(launcher)
    assert "dashboard exited unexpectedly with code 3" in text
    assert "OSError: address already in use" in text
    assert "Stopping the stack." in text


def test_a_dead_worker_is_restarted_until_the_budget_is_spent(launcher: Launcher) -> None:
    launcher.supervisor.backoff_s = 0.01
    start(launcher, "worker-cpu0", "import sys; print('worker crashed'); sys.exit(1)", restart=True)
    assert launcher._monitor() == EXIT_FAILED
    text = output(launcher)
    assert text.count("worker-cpu0 exited with code 1; restarting it in") == launcher.supervisor.restart_limit
    assert text.count("restarted worker-cpu0") == launcher.supervisor.restart_limit
    assert "worker-cpu0 exited unexpectedly with code 1" in text


def test_shutdown_stops_redis_last(launcher: Launcher) -> None:
    start(launcher, "redis", RECORDS_SIGTERM, "0")
    launcher.redis_child = launcher.supervisor.children[0]
    start(launcher, "worker-cpu0", RECORDS_SIGTERM, "1.0", restart=True)
    start(launcher, "api", RECORDS_SIGTERM, "0.2")
    for child in launcher.supervisor.children:
        wait_for(child.spec.log_file, "ready")
    launcher._shutdown()
    assert all(not c.running() for c in launcher.supervisor.children)

    def term_time(name: str) -> float:
        return float((launcher.paths.logs_dir / f"{name}.log").read_text().split("term ")[1].split()[0])

    # the worker lingers 1 s after SIGTERM; redis is only signalled once it has gone
    assert term_time("redis") >= term_time("worker-cpu0") + 1.0
    assert term_time("api") < term_time("worker-cpu0") + 0.5  # the others stop together


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_up_arguments(parser)
    return parser.parse_args(list(argv))


def test_busy_port_is_named_with_the_flag_to_change_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        ports = ("--api-port", str(free_port()), "--dashboard-port", str(port))
        code = run_up(parse(*ports, "--var-dir", str(tmp_path / "v"), "--no-demo"))
    out = capsys.readouterr().out
    assert code == EXIT_FAILED
    assert f"port {port} on 127.0.0.1 (the dashboard port) is already in use" in out
    assert "--dashboard-port PORT" in out and "DNET_DASHBOARD_PORT" in out
    assert "Traceback" not in out
    assert not (tmp_path / "v" / "logs").exists()  # nothing was started
    lock = InstanceLock(StackSettings(var_dir=tmp_path / "v").paths())
    assert lock.acquire()  # and the lock was released
    lock.release()


def test_unreachable_external_redis_fails_fast_without_leaking_the_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    port = free_port()
    monkeypatch.setenv("DNET_REDIS_URL", f"redis://:hunter2@127.0.0.1:{port}/0")
    started = time.monotonic()
    ports = ("--api-port", str(free_port()), "--dashboard-port", str(free_port()))
    code = run_up(parse("--var-dir", str(tmp_path / "v"), *ports))
    out = capsys.readouterr().out
    assert code == EXIT_FAILED
    assert f"DNET_REDIS_URL=redis://:***@127.0.0.1:{port}/0 is not reachable" in out
    assert "unset DNET_REDIS_URL" in out
    assert "hunter2" not in out
    assert not (tmp_path / "v" / "data" / "demo").exists()  # failed before doing any work
    assert time.monotonic() - started < 15
