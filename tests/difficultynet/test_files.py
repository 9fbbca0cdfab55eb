"""``atomic_write``: the target holds the old content or the new one, never a part, and no temp file stays."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from difficultynet.files import atomic_write, atomic_write_bytes


def test_a_write_replaces_the_file_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "data.bin"
    atomic_write_bytes(target, b"old")
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new" and [p.name for p in target.parent.iterdir()] == ["data.bin"]


def test_a_failed_write_keeps_the_old_content(tmp_path: Path) -> None:
    target = tmp_path / "data.bin"
    atomic_write_bytes(target, b"old")
    with pytest.raises(RuntimeError), atomic_write(target) as handle:
        handle.write(b"half of the new")
        raise RuntimeError("disk full")
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["data.bin"]


def test_the_file_gets_the_usual_permissions(tmp_path: Path) -> None:
    """Like a plain open(): 0o666 minus the umask (a temp file's private 0o600 would lock readers out)."""
    umask = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "data.bin", b"x")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "data.bin").stat().st_mode) == 0o644
