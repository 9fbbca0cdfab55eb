"""A small built-in long-tailed dataset from scikit-learn's bundled digits (no download, torch-free).

Ten classes (zero … nine), an exponential long tail over train with imbalance factor 10
(n_c = ⌊120 · 10^(−c/9)⌋ = 120 … 12, so many/medium/few groups all occur), and balanced, disjoint
val (10/class) and test (40/class) splits. 8×8 images with values 0…16 are scaled to 0…255 and
upscaled to 32×32 grayscale PNGs.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

import numpy as np
from PIL import Image

from difficultynet.files import atomic_write_bytes

MANIFEST_NAME = "manifest.csv"
CLASS_NAMES: tuple[str, ...] = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
)
IMAGE_SIZE = 32
N_MAX = 120
IMBALANCE_FACTOR = 10
VAL_PER_CLASS = 10
TEST_PER_CLASS = 40


def long_tail_counts(n_max: int, imbalance_factor: float, num_classes: int) -> list[int]:
    """n_c = ⌊n_max · IF^(−c/(C−1))⌋ (Cui et al. 2019); the epsilon guards 12.0000000001-style rounding."""
    return [int(n_max * imbalance_factor ** (-c / (num_classes - 1)) + 1e-9) for c in range(num_classes)]


def _png_bytes(pixels: np.ndarray) -> bytes:
    """8×8 digit with values 0…16 → 32×32 grayscale PNG."""
    scaled = np.rint(pixels * (255.0 / 16.0)).astype(np.uint8)
    image = Image.fromarray(scaled).resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _write_if_changed(path: Path, data: bytes) -> None:
    """Atomic write that skips identical content, so re-running over a folder is cheap and consistent."""
    if path.is_file() and path.read_bytes() == data:
        return
    atomic_write_bytes(path, data)


def write_demo_dataset(directory: Path, *, seed: int = 0) -> Path:
    """Write ``manifest.csv`` and the PNGs it lists into ``directory``; returns the manifest path.

    Deterministic for a given ``seed`` (which picks each class's images); an image file's content depends
    only on its digit index, so re-running with another seed never leaves inconsistent files behind.
    """
    from sklearn.datasets import load_digits  # heavy import, only needed here

    digits = load_digits()
    directory = Path(directory)
    rng = random.Random(seed)
    counts = long_tail_counts(N_MAX, IMBALANCE_FACTOR, len(CLASS_NAMES))
    rows: dict[str, list[tuple[str, str]]] = {"train": [], "val": [], "test": []}
    for label, name in enumerate(CLASS_NAMES):
        members = [int(i) for i in np.flatnonzero(digits.target == label)]
        rng.shuffle(members)
        needed = VAL_PER_CLASS + TEST_PER_CLASS + counts[label]
        if len(members) < needed:
            raise RuntimeError(f"digits has {len(members)} images of {name}, the demo needs {needed}")
        chosen = {
            "val": members[:VAL_PER_CLASS],
            "test": members[VAL_PER_CLASS : VAL_PER_CLASS + TEST_PER_CLASS],
            "train": members[VAL_PER_CLASS + TEST_PER_CLASS : needed],
        }
        for split, indices in chosen.items():
            for index in sorted(indices):
                relative = f"images/{name}/{index:04d}.png"
                _write_if_changed(directory / relative, _png_bytes(digits.images[index]))
                rows[split].append((relative, name))
    lines = ["path,label,split"]
    lines += [f"{path},{label},{split}" for split in ("train", "val", "test") for path, label in rows[split]]
    manifest = directory / MANIFEST_NAME
    _write_if_changed(manifest, ("\n".join(lines) + "\n").encode())
    return manifest
