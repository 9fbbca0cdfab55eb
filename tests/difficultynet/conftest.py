"""Fixtures for engine tests: tiny image folders written into tmp_path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

WritePng = Callable[..., Path]


@pytest.fixture
def write_png() -> WritePng:
    """``write_png(path, size=8, mode="RGB", value=0)``: a small image with a pixel-unique pattern."""

    def write(path: Path, size: int = 8, mode: str = "RGB", value: int = 0) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        pattern = (np.arange(size * size * 4, dtype=np.int64).reshape(size, size, 4) * 7 + value) % 256
        array = pattern.astype(np.uint8)
        if mode == "L":
            image = Image.fromarray(array[..., 0])
        elif mode == "P":
            image = Image.fromarray(array[..., 0]).convert("P")
        else:
            image = Image.fromarray(array[..., : len(mode)])
        image.save(path)
        return path

    return write


@pytest.fixture
def image_root(tmp_path: Path, write_png: WritePng) -> Path:
    """``root/{a,b}/{0..3}.png`` (distinct content) under ``tmp_path/root``."""
    root = tmp_path / "root"
    for label, offset in (("a", 0), ("b", 100)):
        for i in range(4):
            write_png(root / label / f"{i}.png", value=offset + i)
    return root
