"""An ImageNet-LT-sized synthetic long-tailed dataset: 1000 classes, 5–1280 train images per class.

The train profile reproduces ImageNet-LT's statistics (Liu et al. 2019): 1000 classes, 1280 … 5 images per
class, ~115.8k train images, 385 many-shot (> 100) / 479 medium-shot / 136 few-shot (< 20) classes. It is
piecewise exponential: log(count) is linear in the frequency rank between the anchors below. ``--scale``
multiplies every count (floor ``--min-count``), e.g. ``--scale 0.2`` gives a 1000-class profile 256 … 2.
Val and test are balanced (``--val`` / ``--test`` images per class).

Images are small PNGs with a class-dependent pattern a CNN can learn: a background hue, a sinusoidal
grating of a second hue with a class-specific orientation and spatial frequency, then per-image random
phase, orientation jitter, brightness jitter and pixel noise. The class → (hue, orientation, frequency)
map and the class → count map are seeded permutations, so frequency rank is unrelated to class index and
to the pattern. Output is deterministic for a given set of options; a folder already holding the same
dataset (``synthetic-lt.json`` matches) is reused as is.

    .venv/bin/python benchmarks/synthetic_lt.py var/bench/imagenet-lt-synth               # full size
    .venv/bin/python benchmarks/synthetic_lt.py var/bench/lt-0.2 --scale 0.2 --val 5 --test 5
"""

from __future__ import annotations

import argparse
import colorsys
import json
import logging
import math
import shutil
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[1]
MANIFEST_NAME = "manifest.csv"
STAMP_NAME = "synthetic-lt.json"
STAMP_VERSION = 1
# (frequency rank, train images) for 1000 classes; ranks are stretched for other class counts.
IMAGENET_LT_ANCHORS: tuple[tuple[float, float], ...] = (
    (0, 1280),
    (25, 350),
    (384.5, 100.5),
    (863.5, 19.5),
    (999, 5),
)
PATTERN_LEVELS = 10  # hues × orientations × frequencies = 1000 distinct patterns
NOISE_SIGMA = 10.0  # pixel noise, in 0…255 units
PNG_COMPRESS_LEVEL = 1  # tiny images: speed matters more than a few bytes

logger = logging.getLogger("synthetic_lt")


@dataclass(frozen=True)
class SyntheticSpec:
    """Everything that determines the generated files."""

    num_classes: int = 1000
    scale: float = 1.0
    min_count: int = 2
    val_per_class: int = 10
    test_per_class: int = 10
    image_size: int = 16
    seed: int = 0

    def __post_init__(self) -> None:
        if self.num_classes < 2:
            raise ValueError("num_classes must be at least 2")
        if not 0 < self.scale <= 1:
            raise ValueError("scale must be in (0, 1]")
        if self.min_count < 1 or self.val_per_class < 0 or self.test_per_class < 0:
            raise ValueError("min_count must be ≥ 1 and val/test per class ≥ 0")
        if not 8 <= self.image_size <= 256:
            raise ValueError("image_size must be in [8, 256]")


@dataclass(frozen=True)
class SyntheticDataset:
    spec: SyntheticSpec
    manifest: Path
    train_counts: tuple[int, ...]  # by class index
    seconds: float
    reused: bool

    @property
    def train_total(self) -> int:
        return sum(self.train_counts)

    @property
    def rows(self) -> int:
        per_class = self.spec.val_per_class + self.spec.test_per_class
        return self.train_total + per_class * self.spec.num_classes

    def group_counts(self) -> dict[str, int]:
        counts = np.asarray(self.train_counts)
        return {
            "many": int((counts > 100).sum()),
            "medium": int(((counts >= 20) & (counts <= 100)).sum()),
            "few": int((counts < 20).sum()),
        }


def class_name(index: int) -> str:
    return f"c{index:04d}"


def ranked_counts(num_classes: int, scale: float = 1.0, min_count: int = 2) -> list[int]:
    """Train images per frequency rank (largest first): the ImageNet-LT profile, optionally scaled."""
    ranks, counts = zip(*IMAGENET_LT_ANCHORS, strict=True)
    stretch = (num_classes - 1) / ranks[-1]
    log_counts = np.interp(np.arange(num_classes), np.asarray(ranks) * stretch, np.log(counts))
    full = np.rint(np.exp(log_counts))
    if scale == 1:
        return [int(n) for n in full]
    return [max(min_count, round(float(n) * scale)) for n in full]


def train_counts(spec: SyntheticSpec) -> list[int]:
    """Train images per class index: the ranked profile dealt to classes by a seeded permutation."""
    ranked = ranked_counts(spec.num_classes, spec.scale, spec.min_count)
    order = np.random.default_rng([spec.seed, 1]).permutation(spec.num_classes)
    counts = [0] * spec.num_classes
    for rank, index in enumerate(order):
        counts[int(index)] = ranked[rank]
    return counts


@dataclass(frozen=True)
class ClassPattern:
    background: tuple[float, float, float]  # RGB in 0…1
    foreground: tuple[float, float, float]
    angle: float  # radians
    cycles: float  # grating periods across the image


def class_patterns(spec: SyntheticSpec) -> list[ClassPattern]:
    """One distinct (hue, orientation, frequency) triple per class, assigned by a seeded permutation."""
    levels = PATTERN_LEVELS
    codes = np.random.default_rng([spec.seed, 2]).permutation(max(levels**3, spec.num_classes))
    max_cycles = spec.image_size / 4  # stay well under Nyquist (size / 2)
    patterns = []
    for code in codes[: spec.num_classes]:
        hue, orient, freq = (int(code) // levels**k % levels for k in (2, 1, 0))
        background = colorsys.hsv_to_rgb(hue / levels, 0.65, 0.55)
        foreground = colorsys.hsv_to_rgb((hue / levels + 0.5) % 1.0, 0.5, 0.95)
        cycles = 1.0 + (max_cycles - 1.0) * freq / (levels - 1)
        patterns.append(ClassPattern(background, foreground, math.pi * orient / levels, cycles))
    return patterns


def render(pattern: ClassPattern, count: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` images of one class as an ``(count, size, size, 3)`` uint8 array."""
    coords = (np.arange(size) + 0.5) / size
    y, x = np.meshgrid(coords, coords, indexing="ij")
    angle = pattern.angle + rng.normal(0.0, math.radians(3), size=(count, 1, 1))
    phase = rng.uniform(0.0, 2 * math.pi, size=(count, 1, 1))
    wave = np.sin(2 * math.pi * pattern.cycles * (x * np.cos(angle) + y * np.sin(angle)) + phase)
    mix = ((wave + 1.0) / 2.0)[..., None]  # (count, size, size, 1)
    background = np.asarray(pattern.background)
    foreground = np.asarray(pattern.foreground)
    image = background * (1.0 - mix) + foreground * mix
    image *= rng.uniform(0.85, 1.15, size=(count, 1, 1, 1))
    pixels = image * 255.0 + rng.normal(0.0, NOISE_SIGMA, size=image.shape)
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)


def _split_counts(spec: SyntheticSpec, train: int) -> dict[str, int]:
    return {"train": train, "val": spec.val_per_class, "test": spec.test_per_class}


def _write_class(args: tuple[SyntheticSpec, int, int, ClassPattern, Path]) -> list[str]:
    """Write one class's images; returns its manifest lines (``path,label,split``)."""
    spec, index, train, pattern, directory = args
    rng = np.random.default_rng([spec.seed, 3, index])
    name = class_name(index)
    folder = directory / "images" / name
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for split, count in _split_counts(spec, train).items():
        if count == 0:
            continue
        for i, pixels in enumerate(render(pattern, count, spec.image_size, rng)):
            relative = f"images/{name}/{split}-{i:04d}.png"
            image = Image.fromarray(pixels)
            image.save(directory / relative, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
            lines.append(f"{relative},{name},{split}")
    return lines


def _stamp(spec: SyntheticSpec, counts: Sequence[int]) -> dict[str, Any]:
    return {"version": STAMP_VERSION, "spec": asdict(spec), "train_counts": list(counts)}


def write_synthetic_lt(directory: Path, spec: SyntheticSpec, *, workers: int = 1) -> SyntheticDataset:
    """Write ``manifest.csv`` and its PNGs into ``directory`` (replacing a different earlier dataset)."""
    started = time.perf_counter()
    directory = Path(directory)
    counts = train_counts(spec)
    stamp = _stamp(spec, counts)
    stamp_path = directory / STAMP_NAME
    manifest = directory / MANIFEST_NAME
    if stamp_path.is_file() and manifest.is_file() and json.loads(stamp_path.read_text()) == stamp:
        return SyntheticDataset(spec, manifest, tuple(counts), time.perf_counter() - started, reused=True)
    if stamp_path.is_file():  # another spec was generated here: start clean so no stale image survives
        shutil.rmtree(directory / "images", ignore_errors=True)
        stamp_path.unlink()
    directory.mkdir(parents=True, exist_ok=True)
    patterns = class_patterns(spec)
    jobs = [(spec, c, counts[c], patterns[c], directory) for c in range(spec.num_classes)]
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            per_class = list(pool.map(_write_class, jobs, chunksize=16))
    else:
        per_class = [_write_class(job) for job in jobs]
    lines = ["path,label,split"] + [line for class_lines in per_class for line in class_lines]
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    stamp_path.write_text(json.dumps(stamp), encoding="utf-8")  # last: marks the folder complete
    return SyntheticDataset(spec, manifest, tuple(counts), time.perf_counter() - started, reused=False)


def describe(dataset: SyntheticDataset) -> str:
    spec = dataset.spec
    groups = dataset.group_counts()
    manifest = dataset.manifest.resolve()
    shown = manifest.relative_to(REPO_ROOT) if manifest.is_relative_to(REPO_ROOT) else manifest
    return (
        f"{shown}: {spec.num_classes} classes, train {dataset.train_total} images "
        f"({max(dataset.train_counts)} … {min(dataset.train_counts)} per class; many/medium/few "
        f"{groups['many']}/{groups['medium']}/{groups['few']}), val {spec.val_per_class}/class, "
        f"test {spec.test_per_class}/class, {spec.image_size}×{spec.image_size} PNG, "
        f"{dataset.rows} rows, {'reused' if dataset.reused else 'written'} in {dataset.seconds:.1f} s"
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, nargs="?", help="output folder (default under var/bench/)")
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every train count (0, 1]")
    parser.add_argument("--min-count", type=int, default=2, help="floor of a scaled train count")
    parser.add_argument("--val", type=int, default=10, help="val images per class (balanced)")
    parser.add_argument("--test", type=int, default=10, help="test images per class (balanced)")
    parser.add_argument("--image-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1, help="processes writing images")
    parser.add_argument("--quick", action="store_true", help="1000 classes at --scale 0.05, 2 val + 2 test")
    return parser.parse_args(argv)


def spec_from_args(args: argparse.Namespace) -> SyntheticSpec:
    if args.quick:
        return SyntheticSpec(
            num_classes=args.classes,
            scale=0.05,
            val_per_class=2,
            test_per_class=2,
            image_size=args.image_size,
            seed=args.seed,
        )
    return SyntheticSpec(
        num_classes=args.classes,
        scale=args.scale,
        min_count=args.min_count,
        val_per_class=args.val,
        test_per_class=args.test,
        image_size=args.image_size,
        seed=args.seed,
    )


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = parse_args(argv)
    try:
        spec = spec_from_args(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = args.out or REPO_ROOT / "var" / "bench" / f"synthetic-lt-{spec.num_classes}c-s{spec.scale:g}"
    print(describe(write_synthetic_lt(out, spec, workers=max(1, args.workers))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
