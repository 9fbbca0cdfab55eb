"""Start, watch and stop child processes.

Each child runs in its own session (so its own process group): a Ctrl-C in the terminal reaches only the
launcher, which then stops the children in order (Redis last), and stopping a child signals its whole
group, so grandchildren such as Celery's pool processes go with it. On Linux each child also gets SIGTERM
if the launcher itself dies without cleaning up (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class ChildSpec:
    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    log_file: Path
    restart: bool = False  # start it again when it dies unexpectedly (within the restart budget)


def _die_with_parent() -> None:
    """Runs in the child between fork and exec: ask the kernel for SIGTERM when the launcher dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group; empty when the group is gone."""
    proc = Path("/proc")
    if not proc.is_dir():  # not Linux: signal 0 says whether any member (zombies included) exists
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return []
        except PermissionError:
            pass
        return [pgid]
    members = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # fields after the parenthesised command: state ppid pgrp ...
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


class Child:
    """One supervised process (and its process group)."""

    def __init__(self, spec: ChildSpec) -> None:
        self.spec = spec
        self.process: subprocess.Popen[bytes] | None = None
        self.restart_times: deque[float] = deque()
        self.restart_at: float | None = None  # monotonic time of a scheduled restart

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self) -> None:
        self.spec.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.spec.log_file.open("ab") as log:
            log.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting {self.name}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                list(self.spec.argv),
                env=dict(self.spec.env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # single-threaded fork
            )
        logger.info("started %s (pid %d): %s", self.name, self.process.pid, " ".join(self.spec.argv))

    def exit_code(self) -> int | None:
        """None while running (or never started)."""
        return self.process.poll() if self.process else None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal_group(self, sig: signal.Signals) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, sig)

    def group_alive(self) -> bool:
        if self.process is None:
            return False
        self.process.poll()  # reap the leader so it does not count as a member
        return bool(_group_members(self.process.pid))

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.spec.log_file.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.rstrip().splitlines()[-lines:])


class Supervisor:
    """The children of one stack, in start order."""

    def __init__(
        self,
        restart_limit: int = 3,
        restart_window_s: float = 300.0,
        backoff_s: float = 1.0,
        max_backoff_s: float = 30.0,
    ) -> None:
        self.children: list[Child] = []
        self.restart_limit = restart_limit
        self.restart_window_s = restart_window_s
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s

    def start(self, spec: ChildSpec) -> Child:
        child = Child(spec)
        self.children.append(child)
        child.start()
        return child

    def exited(self) -> list[Child]:
        return [c for c in self.children if c.process is not None and c.exit_code() is not None]

    def schedule_restart(self, child: Child) -> float | None:
        """Plan a restart of a dead child marked ``restart``: the delay (1 s, 2 s, 4 s … doubling with
        each restart in the recent window), or None when it used its budget and the stack must stop."""
        if not child.spec.restart:
            return None
        now = time.monotonic()
        while child.restart_times and now - child.restart_times[0] > self.restart_window_s:
            child.restart_times.popleft()
        if len(child.restart_times) >= self.restart_limit:
            return None
        delay = min(self.backoff_s * 2 ** len(child.restart_times), self.max_backoff_s)
        child.restart_times.append(now)
        child.restart_at = now + delay
        return delay

    def restart_if_due(self, child: Child) -> bool:
        """Start a child whose scheduled restart time has come (after killing leftovers of its group)."""
        if child.restart_at is None or time.monotonic() < child.restart_at:
            return False
        child.restart_at = None
        child.signal_group(signal.SIGKILL)  # leftovers of the dead leader (e.g. pool processes)
        child.start()
        return True

    def stop(
        self,
        children: Sequence[Child],
        grace_s: float,
        on_kill: Callable[[Child], None] | None = None,
    ) -> None:
        """SIGTERM every group, wait up to ``grace_s`` for all of them to exit, then SIGKILL the rest."""
        pending = [c for c in children if c.group_alive()]
        for child in pending:
            child.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while pending and time.monotonic() < deadline:
            time.sleep(0.1)
            pending = [c for c in pending if c.group_alive()]
        for child in pending:
            if on_kill is not None:
                on_kill(child)
            child.signal_group(signal.SIGKILL)
        for child in pending:
            deadline = time.monotonic() + 5.0
            while child.group_alive() and time.monotonic() < deadline:
                time.sleep(0.05)
        for child in children:
            if child.process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.process.wait(timeout=1.0)
