"""A long-tailed set of large smooth PNG "photos" that is quick to write but takes real time to decode, so
tests can watch (and cancel) a run's data preparation."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

WIDTH, HEIGHT = 960, 720
TRAIN_COUNTS = {"c0": 160, "c1": 80, "c2": 40, "c3": 20}
PER_SPLIT = 4  # val and test images per class
VARIANTS = 6  # distinct images per class (the files repeat them)
TOTAL = sum(TRAIN_COUNTS.values()) + 2 * PER_SPLIT * len(TRAIN_COUNTS)


def photo_png(label: int, variant: int) -> bytes:
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    red = (x * 255 // WIDTH + 40 * label) % 256
    green = (y * 255 // HEIGHT + 17 * variant) % 256
    blue = ((x + y) // 5 + 60 * label) % 256
    image = Image.fromarray(np.stack([red, green, blue], axis=-1).astype(np.uint8))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def write_photos(folder: Path) -> bytes:
    """Write the images under ``folder``; returns the manifest CSV (paths relative to ``folder``)."""
    lines = ["path,label,split"]
    for label_index, (label, train) in enumerate(TRAIN_COUNTS.items()):
        variants = [photo_png(label_index, v) for v in range(VARIANTS)]
        (folder / label).mkdir(parents=True, exist_ok=True)
        for split, count in (("train", train), ("val", PER_SPLIT), ("test", PER_SPLIT)):
            for i in range(count):
                rel = f"{label}/{split}{i}.png"
                (folder / rel).write_bytes(variants[i % VARIANTS])
                lines.append(f"{rel},{label},{split}")
    return ("\n".join(lines) + "\n").encode()
