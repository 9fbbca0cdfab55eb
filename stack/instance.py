"""One stack per var dir: an advisory lock plus a state file with the live pid and URLs.

The lock is an ``flock`` on ``<var>/stack.lock``: the kernel drops it when the launcher dies, however it
dies, so a stale pid file can never block the next ``dnet up``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from typing import IO, Any

from stack.settings import StackPaths


class InstanceLock:
    def __init__(self, paths: StackPaths) -> None:
        self.paths = paths
        self._handle: IO[str] | None = None

    def acquire(self) -> bool:
        """Take the lock and record our pid in it; False when another launcher holds it."""
        self.paths.var_dir.mkdir(parents=True, exist_ok=True)
        handle = self.paths.lock_file.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._handle = handle
        return True

    def holder_pid(self) -> int | None:
        try:
            return int(self.paths.lock_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def write_state(self, state: dict[str, Any]) -> None:
        """Atomically replace the state file other launchers read."""
        tmp = self.paths.state_file.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(state, indent=2) + "\n")
        tmp.replace(self.paths.state_file)

    def read_state(self) -> dict[str, Any] | None:
        try:
            state = json.loads(self.paths.state_file.read_text())
        except (OSError, ValueError):
            return None
        return state if isinstance(state, dict) else None

    def release(self) -> None:
        if self._handle is None:
            return
        with contextlib.suppress(OSError):
            self.paths.state_file.unlink(missing_ok=True)
        fcntl.flock(self._handle, fcntl.LOCK_UN)
        self._handle.close()
        self._handle = None
