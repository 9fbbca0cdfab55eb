"""Atomic file writes: a reader sees the old file or the new one, never a torn one, even after a crash.

The data goes to a temporary file beside the target, is flushed and fsynced, then ``os.replace``\\ d over
the target (atomic on POSIX within one filesystem); on any error the temporary file is removed.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


@contextmanager
def atomic_write(path: Path) -> Iterator[BinaryIO]:
    """``with atomic_write(path) as handle: handle.write(...)`` replaces ``path`` only once all is written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    # O_EXCL: a fresh file; mode 0o666 minus the umask, as a plain open() would give (mkstemp's 0o600
    # would lock other readers of the run directory out).
    fd = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_write(path) as handle:
        handle.write(data)
