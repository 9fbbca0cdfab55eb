"""Child processes: own process group, logs to a file, stopped with their grandchildren, restart budget."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stack.supervisor import Child, ChildSpec, Supervisor, _group_members

# A child that starts a grandchild in its own group, reports both pids, then waits.
PARENT_WITH_GRANDCHILD = (
    "import subprocess, sys, time; "
    "g = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']); "
    "print('pids', g.pid, flush=True); time.sleep(120)"
)
IGNORES_SIGTERM = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('ready', flush=True); time.sleep(120)"
)


def spec(tmp_path: Path, name: str, code: str, restart: bool = False) -> ChildSpec:
    return ChildSpec(name, [sys.executable, "-c", code], dict(os.environ), tmp_path / f"{name}.log", restart)


def wait_for_log(path: Path, text: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = path.read_text() if path.exists() else ""
        if text in content:
            return content
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not in {path}")


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_stop_terminates_the_whole_group_and_logs_output(tmp_path: Path) -> None:
    supervisor = Supervisor()
    child = supervisor.start(spec(tmp_path, "parent", PARENT_WITH_GRANDCHILD))
    assert child.pid is not None and os.getpgid(child.pid) == child.pid  # its own group
    log = wait_for_log(child.spec.log_file, "pids ")
    grandchild = int(log.split("pids ")[1].split()[0])
    assert os.getpgid(grandchild) == child.pid
    supervisor.stop([child], grace_s=5)
    assert child.exit_code() == -signal.SIGTERM
    assert not _group_members(child.pid)
    assert "starting parent" in child.spec.log_file.read_text()


def test_stubborn_child_is_killed_after_grace(tmp_path: Path) -> None:
    supervisor = Supervisor()
    child = supervisor.start(spec(tmp_path, "stubborn", IGNORES_SIGTERM))
    wait_for_log(child.spec.log_file, "ready")
    killed: list[str] = []
    started = time.monotonic()
    supervisor.stop([child], grace_s=0.5, on_kill=lambda c: killed.append(c.name))
    assert killed == ["stubborn"]
    assert child.exit_code() == -signal.SIGKILL
    assert time.monotonic() - started < 5


def test_exited_children_and_log_tail(tmp_path: Path) -> None:
    supervisor = Supervisor()
    child = supervisor.start(spec(tmp_path, "crash", "import sys; print('boom: bad config'); sys.exit(3)"))
    child.process.wait(10)  # type: ignore[union-attr]
    assert supervisor.exited() == [child]
    assert child.exit_code() == 3
    assert child.log_tail().endswith("boom: bad config")


def _restart_now(supervisor: Supervisor, child: Child) -> bool:
    if supervisor.schedule_restart(child) is None:
        return False
    child.restart_at = 0.0  # skip the backoff wait
    return supervisor.restart_if_due(child)


def test_restart_budget(tmp_path: Path) -> None:
    supervisor = Supervisor(restart_limit=2, restart_window_s=60)
    worker = supervisor.start(spec(tmp_path, "worker", "import sys; sys.exit(1)", restart=True))
    other = supervisor.start(spec(tmp_path, "api", "import sys; sys.exit(1)"))
    pids = {worker.pid}
    for _ in range(2):
        worker.process.wait(10)  # type: ignore[union-attr]
        assert _restart_now(supervisor, worker)
        pids.add(worker.pid)
    worker.process.wait(10)  # type: ignore[union-attr]
    assert not _restart_now(supervisor, worker)  # budget spent
    assert len(pids) == 3
    other.process.wait(10)  # type: ignore[union-attr]
    assert not _restart_now(supervisor, other)  # not restartable at all
    assert worker.spec.log_file.read_text().count("starting worker") == 3


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux-only")
def test_children_get_sigterm_when_the_launcher_is_killed(tmp_path: Path) -> None:
    code = (
        "import os, sys, time; from pathlib import Path; from stack.supervisor import ChildSpec, Supervisor; "
        f"c = Supervisor().start(ChildSpec('s', [sys.executable, '-c', 'import time; time.sleep(120)'], "
        f"dict(os.environ), Path({str(tmp_path / 's.log')!r}))); print(c.pid, flush=True); time.sleep(120)"
    )
    launcher = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert launcher.stdout is not None
    orphan = int(launcher.stdout.readline())
    assert _exists(orphan)
    launcher.kill()
    launcher.wait()
    deadline = time.monotonic() + 10
    while _group_members(orphan) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _group_members(orphan)


def test_restarts_back_off_exponentially_and_wait_for_their_time(tmp_path: Path) -> None:
    supervisor = Supervisor(restart_limit=4, restart_window_s=60, backoff_s=0.2, max_backoff_s=0.5)
    child = supervisor.start(spec(tmp_path, "api", "import sys; sys.exit(1)", restart=True))
    delays = []
    for _ in range(3):
        child.process.wait(10)  # type: ignore[union-attr]
        delay = supervisor.schedule_restart(child)
        assert delay is not None
        delays.append(delay)
        assert not supervisor.restart_if_due(child)  # not yet: the backoff runs first
        time.sleep(delay)
        assert supervisor.restart_if_due(child)
    assert delays == [0.2, 0.4, 0.5]  # doubling, capped
