"""Keep the worker log free of tracebacks for failures that recovery already handles.

Two Celery log records carry a full traceback for events this project expects and recovers from:
- ``celery.worker.request``: "Task handler raised error: WorkerLostError(...)" when a pool child is
  killed (OOM, SIGKILL). The run is resumed from its checkpoint or failed by the retry budget
  (``worker/attempts.py``), and the death is counted in the run's ``crashes``.
- ``celery.worker.consumer.consumer``: "Failed to cancel active request ... after connection loss" when
  Redis goes away. The lease expires and ``worker/recovery.py`` re-queues the run.
Both stay in the log as one line with the exception's name and message; any other record is untouched.
"""

from __future__ import annotations

import logging

from billiard.exceptions import WorkerLostError

_EXPECTED: dict[str, tuple[str, tuple[type[BaseException], ...]]] = {
    "celery.worker.request": ("Task handler raised error", (WorkerLostError,)),
    "celery.worker.consumer.consumer": ("Failed to cancel active request", (Exception,)),
}


class ExpectedFailureWithoutTraceback(logging.Filter):
    """Drop the traceback (not the record) of an expected, recovered failure."""

    def __init__(self, message_prefix: str, exceptions: tuple[type[BaseException], ...]) -> None:
        super().__init__()
        self.message_prefix = message_prefix
        self.exceptions = exceptions

    def filter(self, record: logging.LogRecord) -> bool:
        # The type, not the value: billiard wraps the value (ExceptionWithTraceback) but keeps the type.
        kind = record.exc_info[0] if record.exc_info else None
        expected = kind is not None and issubclass(kind, self.exceptions)
        if expected and str(record.msg).startswith(self.message_prefix):
            assert kind is not None and record.exc_info is not None
            value = record.exc_info[1]
            lines = str(getattr(value, "exc", value) or "").strip().splitlines()  # unwrap billiard's wrapper
            detail = lines[0] if lines else ""
            note = f"{kind.__name__}: {detail}; recovered, see the run's crash count".replace("%", "%%")
            record.msg = f"{record.msg} ({note})"
            record.exc_info = None
            record.exc_text = None
        return True


def install() -> None:
    """Attach the filters (once per logger, however often it is called)."""
    for logger_name, (prefix, exceptions) in _EXPECTED.items():
        logger = logging.getLogger(logger_name)
        if not any(isinstance(f, ExpectedFailureWithoutTraceback) for f in logger.filters):
            logger.addFilter(ExpectedFailureWithoutTraceback(prefix, exceptions))
