"""The last log lines of a run, kept in Redis so a run that keeps killing its worker can say why.

A task child may be SIGKILLed (OOM) at any moment, so each line is pushed as it is logged, not at the
end. Pushes use a short-timeout client without retries and are skipped for a while after a failure:
a Redis outage must never slow training down. Absolute paths are cut to their last component, since
these lines end up in the run's error message that clients see.
"""

from __future__ import annotations

import logging
import re
import time
from typing import cast

import redis

from service_contracts import protocol

LOG_LINES_KEPT = 20
LINES_IN_REASON = 5
_RETRY_AFTER_FAILURE_S = 5.0
_ABSOLUTE_PATH = re.compile(r"(?<![\w.~])/(?:[^\s/:'\"]+/)+([^\s/:'\"]+)")
_OWN_LOGGERS = ("worker", "difficultynet")


def redact_paths(text: str) -> str:
    """``/srv/var/cache/abc.npz`` → ``abc.npz``: no host layout in client-visible text."""
    return _ABSOLUTE_PATH.sub(r"\1", text)


class RunLogHandler(logging.Handler):
    """Appends this process's log lines (ours at INFO, everyone's at WARNING) to the run's Redis list."""

    def __init__(self, client: redis.Redis, run_id: str) -> None:
        super().__init__(level=logging.INFO)
        self.client = client
        self.key = protocol.log_key(run_id)
        self._skip_until = 0.0

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or record.name.startswith(_OWN_LOGGERS)

    def emit(self, record: logging.LogRecord) -> None:
        if time.monotonic() < self._skip_until:
            return
        try:
            stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
            message = (record.getMessage().splitlines() or [""])[0]
            line = redact_paths(f"{stamp} {record.levelname} {message}")[:500]
            with self.client.pipeline(transaction=False) as pipe:
                pipe.rpush(self.key, line)
                pipe.ltrim(self.key, -LOG_LINES_KEPT, -1)
                pipe.execute()
        except Exception:  # never let log shipping break the run (or log about itself)
            self._skip_until = time.monotonic() + _RETRY_AFTER_FAILURE_S


def last_lines(client: redis.Redis, run_id: str, count: int = LINES_IN_REASON) -> list[str]:
    return cast(list[str], client.lrange(protocol.log_key(run_id), -count, -1))
