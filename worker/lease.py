"""Run leases: exactly one live worker trains a run, and a dead worker's run becomes recoverable.

The lease is ``dnet:runs:{id}:lease`` = owner token with a TTL. The owner refreshes it from a heartbeat
thread; if the process dies (SIGKILL, OOM, power loss) the key expires and the recovery loop
(``worker/recovery.py``) re-queues the run. Run-hash writes are *fenced*: they only apply while the
caller still owns the lease, so a worker that lost it (e.g. it was cut off from Redis for longer than the
TTL and the run was re-queued elsewhere) can never overwrite the new owner's state.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Mapping

import redis

from service_contracts import protocol

logger = logging.getLogger(__name__)

_REFRESH_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""
_FENCED_HSET_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    redis.call('HSET', KEYS[2], unpack(ARGV, 2))
    return 1
end
return 0
"""

FieldValue = str | int | float


def owner_token(hostname: str | None = None) -> str:
    """Unique per task execution; readable so operators can tell which worker holds a run.

    ``<worker name>:<pid>:<nonce>``: the API reads the worker name to ping the owner (see
    :func:`service_contracts.protocol.lease_owner_worker`), and a task child of the same worker reads the
    pid to see the owner is gone.
    """
    return f"{hostname or socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _owner_pid(token: str) -> int | None:
    parts = token.rsplit(":", 2)
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None


def process_gone(pid: int) -> bool:
    """True when no live process has ``pid`` (a zombie counts as gone: it will never heartbeat again)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            state = stat.read().rsplit(")", 1)[-1].split()[0]
        return state in ("Z", "X")
    except FileNotFoundError:
        return True
    except (OSError, IndexError):
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class RunLease:
    def __init__(self, client: redis.Redis, run_id: str, *, ttl_s: float, owner: str) -> None:
        self.client = client
        self.run_id = run_id
        self.ttl_ms = max(1, int(ttl_s * 1000))
        self.owner = owner
        self.key = protocol.lease_key(run_id)
        self.run_key = protocol.run_key(run_id)
        self.lost = threading.Event()
        self._refresh = client.register_script(_REFRESH_LUA)
        self._release = client.register_script(_RELEASE_LUA)
        self._fenced_hset = client.register_script(_FENCED_HSET_LUA)

    def try_acquire(self) -> bool:
        return bool(self.client.set(self.key, self.owner, nx=True, px=self.ttl_ms))

    def acquire(self, wait_s: float, poll_s: float = 0.25) -> bool:
        """Take the lease, waiting up to ``wait_s`` for a dead owner's lease to expire.

        An owner that was a task child of this same worker (the same Celery node, hence the same pid
        namespace) and whose process is gone is taken over at once instead of waited out: that is the
        common crash (the child was OOM-killed and the parent redelivered the run to a fresh child).
        """
        deadline = time.monotonic() + wait_s
        while True:
            if self.try_acquire():
                return True
            self._release_dead_sibling()
            if self.try_acquire():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(poll_s)

    def _release_dead_sibling(self) -> None:
        current = self.client.get(self.key)
        if not isinstance(current, str):
            return
        if protocol.lease_owner_worker(current) != protocol.lease_owner_worker(self.owner):
            return  # another worker's process: its pid means nothing in this pid namespace
        pid = _owner_pid(current)
        dead = pid is not None and pid != os.getpid() and process_gone(pid)
        if dead and self._release(keys=[self.key], args=[current]):
            logger.warning("run %s: took over the lease of dead task process %d", self.run_id, pid)

    def refresh(self) -> bool:
        """Extend the TTL; False (and ``lost`` set) when another owner took over or the key expired."""
        if not self._refresh(keys=[self.key], args=[self.owner, self.ttl_ms]):
            self.lost.set()
            return False
        return True

    def release(self) -> None:
        with contextlib.suppress(redis.RedisError):
            self._release(keys=[self.key], args=[self.owner])

    def update(self, fields: Mapping[str, FieldValue]) -> bool:
        """HSET on the run hash, only while this lease is held. False when it was lost."""
        args: list[FieldValue] = [self.owner]
        for name, value in fields.items():
            args += [name, value]
        if not self._fenced_hset(keys=[self.key, self.run_key], args=args):
            self.lost.set()
            return False
        return True

    @contextlib.contextmanager
    def heartbeat(self, interval_s: float) -> Iterator[None]:
        """Refresh the lease every ``interval_s`` from a daemon thread while the block runs.

        A thread, not the training loop: long evaluations or data loading must not let the lease lapse.
        Redis errors are logged and retried at the next beat; if the outage outlasts the TTL, the next
        successful refresh reports the loss.
        """
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(interval_s):
                try:
                    if not self.refresh():
                        logger.error("run %s: lease lost; another worker owns it now", self.run_id)
                        return
                except redis.RedisError as exc:
                    logger.warning("run %s: lease heartbeat failed (%r); retrying", self.run_id, exc)

        thread = threading.Thread(target=beat, name=f"lease-{self.run_id[:8]}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=interval_s + 5)
