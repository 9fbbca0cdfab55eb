"""The data-root quota (``DNET_MAX_DATA_GB``): an upload is refused when storing it would exceed it.

Usage is measured by walking the data root (symlinks not followed), so files placed there by hand count
too. Bytes promised to uploads still being written are reserved, so concurrent uploads cannot each see
the same free space.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from backend.errors import PayloadTooLarge

GIB = 1024**3


def tree_bytes(root: Path) -> int:
    """Apparent size of the regular files under ``root``; unreadable or vanishing entries count as 0."""
    total = 0
    stack = [str(root)]
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
                        elif entry.is_file(follow_symlinks=False):
                            total += entry.stat(follow_symlinks=False).st_size
                    except OSError:
                        continue
        except OSError:
            continue
    return total


def _human(nbytes: float) -> str:
    for unit, size in (("GiB", GIB), ("MiB", 1024**2), ("KiB", 1024)):
        if nbytes >= size:
            return f"{nbytes / size:.1f} {unit}"
    return f"{int(nbytes)} bytes"


class DataQuota:
    def __init__(self, root: Path, limit_bytes: int) -> None:
        self.root = root
        self.limit_bytes = limit_bytes
        self._reserved = 0
        self._lock = threading.Lock()  # uploads are prepared in worker threads

    @contextmanager
    def reserve(self, nbytes: int) -> Iterator[None]:
        """Hold ``nbytes`` of the quota while an upload is written; 413 when they do not fit."""
        with self._lock:
            free = self.limit_bytes - tree_bytes(self.root) - self._reserved
            if nbytes > free:
                raise PayloadTooLarge(
                    f"storing this upload needs {_human(nbytes)}, but the data root has "
                    f"{_human(max(free, 0))} left of its {_human(self.limit_bytes)} quota (DNET_MAX_DATA_GB)"
                )
            self._reserved += nbytes
        try:
            yield
        finally:
            with self._lock:
                self._reserved -= nbytes
