"""`dnet up` for real: redis-server, a Celery CPU worker, the API and the dashboard as child processes.

One stack is started for the module (on free ports, with its own var dir) and the tests run against it in
order; the last one stops it with SIGINT and checks that no child process is left behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from stack.instance import InstanceLock
from stack.redis_server import free_port
from stack.settings import StackSettings
from stack.supervisor import _group_members

pytestmark = pytest.mark.integration


STARTUP_TIMEOUT_S = 240.0


def dnet_up_command(*args: str) -> list[str]:
    """The installed console script, as a user runs it."""
    script = Path(sys.executable).parent / "dnet"
    if script.exists():
        return [str(script), "up", *args]
    entry = "import sys; from stack.cli import main; sys.exit(main())"
    return [sys.executable, "-c", entry, "up", *args]


def stack_env(var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DNET_")}
    env.update(
        DNET_VAR_DIR=str(var_dir),
        DNET_STARTUP_TIMEOUT_S=str(STARTUP_TIMEOUT_S - 20),
        CUDA_VISIBLE_DEVICES="",  # one CPU worker, as on CI
        COLUMNS="200",
    )
    return env


@dataclass
class RunningStack:
    process: subprocess.Popen[str]
    var_dir: Path
    api_url: str
    dashboard_url: str
    lines: list[str] = field(default_factory=list)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def state(self) -> dict[str, Any]:
        state = InstanceLock(StackSettings(var_dir=self.var_dir).paths()).read_state()
        assert state is not None, f"no state file; output so far:\n{self.output}"
        return state


def stop_with_ctrl_c(process: subprocess.Popen[str], timeout_s: float = 60) -> None:
    """SIGINT, as a user's Ctrl-C; killed if it has not stopped within ``timeout_s``."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def follow(process: subprocess.Popen[str], lines: list[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line.rstrip("\n"))


def run_to_exit(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 60) -> tuple[int, str]:
    result = subprocess.run(
        args, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout
    )
    return result.returncode, result.stdout


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    home = tmp_path_factory.mktemp("dnet-up")
    api_port, dashboard_port = free_port(), free_port()
    process = subprocess.Popen(
        # No demo runs: the one CPU worker must be free for this module's own runs (test_up_demo_runs.py
        # covers them).
        dnet_up_command(
            "--api-port", str(api_port), "--dashboard-port", str(dashboard_port), "--no-demo-runs"
        ),
        env=stack_env(home / "var"),
        cwd=home,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    running = RunningStack(
        process, home / "var", f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{dashboard_port}"
    )
    threading.Thread(target=follow, args=(process, running.lines), daemon=True).start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    banner_end = "Press Ctrl-C to stop."  # the banner's last line: every line before it has been read
    try:
        while not any(banner_end in line for line in running.lines):
            if process.poll() is not None or time.monotonic() > deadline:
                logs = "\n".join(
                    f"--- {log.name}\n{log.read_text(errors='replace')[-2000:]}"
                    for log in sorted((running.var_dir / "logs").glob("*.log"))
                )
                pytest.fail(f"dnet up did not come up (exit {process.poll()}):\n{running.output}\n{logs}")
            time.sleep(0.2)
        yield running
    finally:
        if process.poll() is None:
            stop_with_ctrl_c(process)


def test_banner_names_every_service(stack: RunningStack) -> None:
    output = stack.output
    assert f"API:       {stack.api_url}" in output
    assert "Redis:     redis://127.0.0.1:" in output
    assert "Workers:   cpu0" in output
    assert "Press Ctrl-C to stop." in output


def test_api_health_sees_redis_and_the_worker(stack: RunningStack) -> None:
    health = httpx.get(f"{stack.api_url}/api/health", timeout=10).json()
    assert health["redis"] is True
    assert len(health["workers"]) >= 1
    assert any(worker.startswith("cpu0@") for worker in health["workers"])


def test_dashboard_answers(stack: RunningStack) -> None:
    response = httpx.get(stack.dashboard_url, timeout=10)
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]


def test_no_demo_runs_with_the_flag(stack: RunningStack) -> None:
    """Runs before this module's own tests create any: ``--no-demo-runs`` queued nothing."""
    assert httpx.get(f"{stack.api_url}/api/runs", timeout=10).json()["total"] == 0
    assert "Demo runs:" not in stack.output


def test_demo_dataset_is_written_and_registered(stack: RunningStack) -> None:
    manifest = stack.var_dir / "data" / "demo" / "manifest.csv"
    assert manifest.exists()
    datasets = httpx.get(f"{stack.api_url}/api/datasets", timeout=10).json()["datasets"]
    assert len(datasets) == 1
    [demo] = datasets
    assert demo["name"] == "demo-digits.csv"
    assert demo["num_classes"] == 10
    assert demo["imbalance_factor"] == pytest.approx(10.0)


def test_embedded_redis_keeps_an_append_only_file(stack: RunningStack) -> None:
    import redis

    client = redis.Redis.from_url(stack.state()["redis_url"])
    try:
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("dir")["dir"] == str(stack.var_dir / "redis")
    finally:
        client.close()


def test_state_file_lists_the_live_children(stack: RunningStack) -> None:
    state = stack.state()
    assert state["pid"] == stack.process.pid
    assert state["dashboard_url"] == stack.dashboard_url
    assert set(state["children"]) == {"redis", "worker-cpu0", "api", "dashboard"}
    for pid in state["children"].values():
        assert _group_members(pid), f"child {pid} is not running"


def test_second_up_with_the_same_var_dir_says_it_is_running(stack: RunningStack) -> None:
    code, output = run_to_exit(
        dnet_up_command("--api-port", str(free_port()), "--dashboard-port", str(free_port())),
        stack_env(stack.var_dir),
        stack.var_dir.parent,
    )
    assert code == 1
    assert f"dnet up is already running for {stack.var_dir} (pid {stack.process.pid})" in output
    assert f"Dashboard: {stack.dashboard_url}" in output
    assert "Traceback" not in output


def test_busy_port_gives_a_clear_message(stack: RunningStack, tmp_path: Path) -> None:
    api_port = stack.api_url.rsplit(":", 1)[1]
    code, output = run_to_exit(
        dnet_up_command("--api-port", api_port, "--dashboard-port", str(free_port())),
        stack_env(tmp_path / "var"),
        tmp_path,
    )
    assert code == 1
    assert f"port {api_port} on 127.0.0.1 (the API port) is already in use" in output
    assert "--api-port PORT" in output
    assert "Traceback" not in output


def test_a_killed_worker_is_restarted(stack: RunningStack) -> None:
    old_pid = stack.state()["children"]["worker-cpu0"]
    os.kill(old_pid, signal.SIGKILL)
    deadline = time.monotonic() + 120
    while stack.state()["children"]["worker-cpu0"] == old_pid:
        assert time.monotonic() < deadline, stack.output
        time.sleep(0.2)
    assert "worker-cpu0 exited with code -9; restarting it in" in stack.output
    assert "restarted worker-cpu0" in stack.output
    log = stack.var_dir / "logs" / "worker-cpu0.log"
    while " ready." not in log.read_text().rsplit("starting worker-cpu0", 1)[1]:  # the new one is up
        assert time.monotonic() < deadline, log.read_text()[-2000:]
        time.sleep(0.2)
    from celery import Celery

    client = Celery(broker=stack.state()["redis_url"])
    try:
        replies = client.control.ping(timeout=3.0)
    finally:
        client.close()
    assert [name for reply in replies for name in reply if name.startswith("cpu0@")], replies


def _wait_for_new_pid(stack: RunningStack, name: str, old_pid: int, deadline: float) -> int:
    while (pid := stack.state()["children"][name]) == old_pid:
        assert time.monotonic() < deadline, stack.output
        time.sleep(0.2)
    return int(pid)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


def _api_healthy(stack: RunningStack) -> bool:
    try:
        response = httpx.get(f"{stack.api_url}/api/health", timeout=3)
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and response.json().get("redis") is True


def test_redis_api_and_dashboard_crashes_heal_without_losing_an_epoch(stack: RunningStack) -> None:
    """Each child is SIGKILLed while a run trains (after its first epoch); the launcher restarts it (same
    Redis port and AOF) and the run still reports every epoch exactly once."""
    [demo] = httpx.get(f"{stack.api_url}/api/datasets", timeout=10).json()["datasets"]
    body = {
        "dataset_id": demo["id"], "method": "dnet", "model": "resnet8", "epochs": 30, "batch_size": 16,
        "image_size": 8, "device": "cpu", "num_threads": 1,
    }  # fmt: skip
    created = httpx.post(f"{stack.api_url}/api/runs", json=body, timeout=10)
    assert created.status_code == 202, created.text
    run_id = created.json()["id"]
    deadline = time.monotonic() + 300
    while httpx.get(f"{stack.api_url}/api/runs/{run_id}", timeout=10).json()["epoch"] < 1:
        assert time.monotonic() < deadline, "the run never started training"
        time.sleep(0.3)
    for name in ("redis", "api", "dashboard"):
        old_pid = stack.state()["children"][name]
        os.kill(old_pid, signal.SIGKILL)
        _wait_for_new_pid(stack, name, old_pid, deadline)
        while f"restarted {name}" not in stack.output:  # the launcher's stdout is read by a thread
            assert time.monotonic() < deadline, stack.output
            time.sleep(0.1)
        assert f"{name} exited with code -9; restarting it in" in stack.output
        while not _api_healthy(stack):
            assert time.monotonic() < deadline, stack.output
            time.sleep(0.3)
    while not _answers(stack.dashboard_url):
        assert time.monotonic() < deadline, stack.output
        time.sleep(0.3)
    assert stack.process.poll() is None, "the launcher stopped instead of healing"
    while (run := httpx.get(f"{stack.api_url}/api/runs/{run_id}", timeout=10).json())["status"] not in (
        "succeeded",
        "failed",
        "cancelled",
    ):
        assert time.monotonic() < deadline, run
        time.sleep(0.5)
    assert run["status"] == "succeeded", run
    page = httpx.get(f"{stack.api_url}/api/runs/{run_id}/epochs", timeout=10).json()
    epochs = [record["epoch"] for record in page["records"]]
    assert epochs == list(range(1, 31)), epochs


def test_sigint_stops_every_child(stack: RunningStack) -> None:
    children = stack.state()["children"]
    stack.process.send_signal(signal.SIGINT)
    assert stack.process.wait(90) == 0, stack.output
    leftovers = {name: _group_members(pid) for name, pid in children.items() if _group_members(pid)}
    assert not leftovers, f"processes left behind: {leftovers}"
    assert "Stopping…" in stack.output
    lock = InstanceLock(StackSettings(var_dir=stack.var_dir).paths())
    assert lock.read_state() is None
    assert lock.acquire()  # the next `dnet up` may start
    lock.release()
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{stack.api_url}/api/health", timeout=2)
