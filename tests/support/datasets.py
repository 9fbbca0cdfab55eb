"""Tiny image datasets and zip bundles built in memory, for upload tests."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from PIL import Image

# A small valid dataset: 3 classes (train 6/3/2), one val and one test image per class.
TINY_COUNTS = {"ant": 6, "bee": 3, "cat": 2}
TINY_COLORS = {"ant": (200, 30, 30), "bee": (30, 200, 30), "cat": (30, 30, 200)}


def png_bytes(color: tuple[int, int, int], size: int = 8) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buffer, format="PNG")
    return buffer.getvalue()


def tiny_files() -> dict[str, bytes]:
    """Relative path → bytes of every image of the tiny dataset, plus ``manifest.csv``."""
    files: dict[str, bytes] = {}
    lines = ["path,label,split"]
    for label, count in TINY_COUNTS.items():
        for split, n in (("train", count), ("val", 1), ("test", 1)):
            for i in range(n):
                rel = f"img/{label}/{split}{i}.png"
                files[rel] = png_bytes(TINY_COLORS[label])
                lines.append(f"{rel},{label},{split}")
    files["manifest.csv"] = ("\n".join(lines) + "\n").encode()
    return files


def make_zip(entries: dict[str, bytes], *, symlinks: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = (0o120777 << 16) & 0xFFFF0000
            archive.writestr(info, target)
    return buffer.getvalue()


def write_files(folder: Path, files: dict[str, bytes]) -> Path:
    """Write ``files`` (relative path → bytes) under ``folder``; returns ``folder``."""
    for rel, data in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return folder
