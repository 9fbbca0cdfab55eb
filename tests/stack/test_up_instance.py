"""One stack per var dir: the flock-based instance lock, its state file, and the busy-port check."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from stack.instance import InstanceLock
from stack.launcher import port_free
from stack.settings import StackSettings


def lock_for(var_dir: Path) -> InstanceLock:
    return InstanceLock(StackSettings(var_dir=var_dir).paths())


def test_second_lock_on_same_var_dir_is_refused_until_released(tmp_path: Path) -> None:
    first, second = lock_for(tmp_path / "var"), lock_for(tmp_path / "var")
    assert first.acquire()
    assert not second.acquire()
    assert second.holder_pid() == os.getpid()
    first.write_state({"pid": os.getpid(), "dashboard_url": "http://127.0.0.1:1"})
    assert second.read_state() == {"pid": os.getpid(), "dashboard_url": "http://127.0.0.1:1"}
    first.release()
    assert second.read_state() is None  # the state file goes with the lock
    assert second.acquire()
    second.release()


def test_other_var_dirs_are_independent(tmp_path: Path) -> None:
    first, other = lock_for(tmp_path / "a"), lock_for(tmp_path / "b")
    assert first.acquire() and other.acquire()
    first.release()
    other.release()


def test_lock_of_a_killed_launcher_is_free_again(tmp_path: Path) -> None:
    """flock dies with its process: no stale pid file can block the next `dnet up`."""
    var_dir = tmp_path / "var"
    code = (
        "import sys, time; from pathlib import Path; from stack.instance import InstanceLock; "
        "from stack.settings import StackSettings; "
        f"lock = InstanceLock(StackSettings(var_dir=Path({str(var_dir)!r})).paths()); "
        "assert lock.acquire(); print('locked', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        assert not lock_for(var_dir).acquire()
    finally:
        holder.kill()
        holder.wait()
    lock = lock_for(var_dir)
    assert lock.acquire()
    lock.release()


def test_unreadable_state_is_none(tmp_path: Path) -> None:
    lock = lock_for(tmp_path)
    lock.paths.state_file.write_text("{not json")
    assert lock.read_state() is None
    lock.paths.state_file.write_text("[1, 2]")
    assert lock.read_state() is None


def test_port_free_sees_a_listening_socket() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert not port_free("127.0.0.1", port)
    assert port_free("127.0.0.1", port)
