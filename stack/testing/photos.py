"""A synthetic long-tailed folder of photo-sized JPEGs (``<class>/*.jpg``), for tests and benchmarks.

Each class is learnable from its look, not from file names: its own hue and shape family (discs, boxes,
triangles or stripes) drawn at random places, sizes and angles over a smooth random background, then
JPEG-encoded like a camera photo (landscape 500×375 or portrait 375×500 by default). Counts follow the
usual long tail ``n_c = ⌊n_max · IF^(−c/(C−1))⌋``. Deterministic for a seed; written under a folder the
caller chooses (``var/`` for benchmarks, a tmp dir for tests), never into the repository.
"""

from __future__ import annotations

import colorsys
import io
import math
import random
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SHAPES = ("disc", "box", "triangle", "stripes")
PHOTO_SIZES: tuple[tuple[int, int], ...] = ((500, 375), (375, 500))


@dataclass(frozen=True)
class PhotoFolder:
    root: Path
    counts: dict[str, int]  # images per class, head first
    bytes_written: int

    @property
    def images(self) -> int:
        return sum(self.counts.values())


def long_tail_counts(num_classes: int, n_max: int, imbalance: float) -> list[int]:
    if num_classes == 1:
        return [n_max]
    return [max(1, math.floor(n_max * imbalance ** (-c / (num_classes - 1)))) for c in range(num_classes)]


def class_names(num_classes: int) -> list[str]:
    return [f"class-{c:02d}-{SHAPES[c % len(SHAPES)]}" for c in range(num_classes)]


def _background(rng: np.random.Generator, size: tuple[int, int], hue: float) -> Image.Image:
    """Smooth colour noise: a tiny random image upsampled (cheap, photo-like gradients)."""
    coarse = rng.uniform(0.15, 0.55, size=(4, 5, 3))
    tint = np.array(colorsys.hsv_to_rgb((hue + 0.5) % 1.0, 0.25, 1.0))
    array = (coarse * tint * 255).astype(np.uint8)
    return Image.fromarray(array).resize(size, Image.Resampling.BICUBIC)


def _draw_shape(
    draw: ImageDraw.ImageDraw, shape: str, rng: random.Random, size: tuple[int, int], fill: tuple[int, ...]
) -> None:
    width, height = size
    radius = rng.uniform(0.12, 0.3) * min(width, height)
    cx, cy = rng.uniform(radius, width - radius), rng.uniform(radius, height - radius)
    angle = rng.uniform(0, 2 * math.pi)
    if shape == "disc":
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=fill)
    elif shape == "stripes":
        step = radius / 2
        for k in range(-3, 4):
            dx, dy = math.cos(angle) * k * step, math.sin(angle) * k * step
            ex, ey = -math.sin(angle) * radius * 2, math.cos(angle) * radius * 2
            draw.line(
                (cx + dx - ex, cy + dy - ey, cx + dx + ex, cy + dy + ey), fill=fill, width=int(step / 2)
            )
    else:
        corners = 4 if shape == "box" else 3
        points = [
            (cx + radius * math.cos(angle + 2 * math.pi * i / corners),
             cy + radius * math.sin(angle + 2 * math.pi * i / corners))
            for i in range(corners)
        ]  # fmt: skip
        draw.polygon(points, fill=fill)


def photo(class_index: int, num_classes: int, rng: random.Random, size: tuple[int, int]) -> Image.Image:
    """One synthetic photo of class ``class_index``: its hue and shape family, random everything else."""
    hue = (class_index / num_classes + rng.uniform(-0.02, 0.02)) % 1.0
    image = _background(np.random.default_rng(rng.getrandbits(32)), size, hue)
    draw = ImageDraw.Draw(image)
    shape = SHAPES[class_index % len(SHAPES)]
    for _ in range(1 + (class_index // len(SHAPES)) % 3):
        value = rng.uniform(0.7, 1.0)
        fill = tuple(int(255 * v) for v in colorsys.hsv_to_rgb(hue, rng.uniform(0.6, 1.0), value))
        _draw_shape(draw, shape, rng, size, fill)
    return image.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.5)))


def write_photo_folder(
    root: Path,
    *,
    num_classes: int = 30,
    n_max: int = 300,
    imbalance: float = 30.0,
    sizes: tuple[tuple[int, int], ...] = PHOTO_SIZES,
    quality: int = 90,
    seed: int = 0,
) -> PhotoFolder:
    """Write ``root/<class>/<i>.jpg`` (sizes alternate at random between ``sizes``); returns the counts."""
    rng = random.Random(seed)
    counts = dict(zip(class_names(num_classes), long_tail_counts(num_classes, n_max, imbalance), strict=True))
    written = 0
    for index, (name, count) in enumerate(counts.items()):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            buffer = io.BytesIO()
            photo(index, num_classes, rng, rng.choice(sizes)).save(buffer, format="JPEG", quality=quality)
            (folder / f"{i:05d}.jpg").write_bytes(buffer.getvalue())
            written += buffer.tell()
    return PhotoFolder(root=root, counts=counts, bytes_written=written)


def zip_folder(folder: Path, prefix: str = "") -> bytes:
    """The files under ``folder`` as a zip (stored: JPEGs do not compress), paths under ``prefix``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            archive.write(path, prefix + path.relative_to(folder).as_posix())
    return buffer.getvalue()
