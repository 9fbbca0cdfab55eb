"""The reliability table counts each logged traceback once, by the exception that ends it."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import reliability

CHAINED = """\
[2026-12-01 20:57:30,746: WARNING/MainProcess] consumer: Connection to broker lost.
Traceback (most recent call last):
  File "redis/connection.py", line 1, in read
    raise ConnectionError(SERVER_CLOSED_CONNECTION_ERROR)
redis.exceptions.ConnectionError: Connection closed by server.

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "redis/connection.py", line 2, in connect
ConnectionRefusedError: [Errno 111] Connection refused
[2026-12-01 20:57:31,000: INFO/MainProcess] Connected to redis://127.0.0.1:1/0
"""

BILLIARD = '''\
[2026-12-01 20:58:10,093: ERROR/MainProcess] Task handler raised error: WorkerLostError('...')
Traceback (most recent call last):
  File "billiard/pool.py", line 1367, in mark_as_worker_lost
    raise WorkerLostError(
billiard.einfo.ExceptionWithTraceback:
"""
Traceback (most recent call last):
  File "billiard/pool.py", line 1367, in mark_as_worker_lost
    raise WorkerLostError(
billiard.exceptions.WorkerLostError: Worker exited prematurely: signal 9 (SIGKILL) Job: 6.
"""
[2026-12-01 20:58:10,387: WARNING/ForkPoolWorker-8] run x: took over the lease of dead task process 1
'''


def test_a_chained_traceback_counts_once_by_its_last_exception() -> None:
    assert reliability.tracebacks({"worker1": CHAINED}) == [
        "worker1: ConnectionRefusedError: [Errno 111] Connection refused"
    ]


def test_billiards_repeated_einfo_counts_once() -> None:
    [line] = reliability.tracebacks({"worker1": BILLIARD})
    assert line.startswith("worker1: billiard.exceptions.WorkerLostError: Worker exited prematurely")


def test_asyncio_defects_count_and_clean_logs_give_none() -> None:
    api = "INFO: started\nERROR: RuntimeError: Lock is not acquired\nTask was destroyed but it is pending!\n"
    assert len(reliability.tracebacks({"api": api})) == 2
    assert reliability.tracebacks({"api": "INFO: started\nWARNING: slow request\n", "worker1": ""}) == []
