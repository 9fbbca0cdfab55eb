"""Expected, recovered Celery failures are logged in one line; everything else keeps its traceback."""

from __future__ import annotations

import logging

import pytest
from billiard.exceptions import WorkerLostError

from worker import log_filters


@pytest.fixture(autouse=True)
def installed() -> None:
    log_filters.install()


def _log(
    logger_name: str, message: str, exc: BaseException, caplog: pytest.LogCaptureFixture
) -> logging.LogRecord:
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=logger_name):
        try:
            raise exc
        except BaseException:
            logging.getLogger(logger_name).error(message, exc, exc_info=True)
    [record] = [r for r in caplog.records if r.name == logger_name]
    return record


def test_a_lost_pool_child_is_one_line(caplog: pytest.LogCaptureFixture) -> None:
    record = _log(
        "celery.worker.request", "Task handler raised error: %r", WorkerLostError("signal 9"), caplog
    )
    assert record.exc_info is None
    assert "WorkerLostError: signal 9; recovered" in record.getMessage()
    assert "Traceback" not in caplog.text


def test_other_errors_keep_their_traceback(caplog: pytest.LogCaptureFixture) -> None:
    record = _log("celery.worker.request", "Task handler raised error: %r", ValueError("bug"), caplog)
    assert record.exc_info is not None and "Traceback" in caplog.text
    record = _log("celery.worker.request", "Something else: %r", WorkerLostError("x"), caplog)
    assert record.exc_info is not None


def test_a_wrapped_exception_from_the_pool_is_recognised_by_its_type(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """billiard's ExceptionInfo hands logging (type, ExceptionWithTraceback(value), tb)."""
    from billiard.einfo import ExceptionInfo

    lost = WorkerLostError("Worker exited prematurely: signal 9 (SIGKILL) Job: 0.")
    try:
        raise lost
    except WorkerLostError:
        einfo = ExceptionInfo()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="celery.worker.request"):
        logging.getLogger("celery.worker.request").error(
            "Task handler raised error: %r", lost, exc_info=einfo.exc_info
        )
    assert "Traceback" not in caplog.text
    assert "(WorkerLostError: Worker exited prematurely: signal 9 (SIGKILL) Job: 0.; recovered" in caplog.text
