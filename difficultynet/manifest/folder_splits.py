"""Seeded, per-class splits for image folders, and the report that says what was carved.

Missing splits are carved from each class's images (its ``train/`` images in the split-folders layout):

- **test**: a stratified fraction, ``round(F · n_c)`` images of class c, at most ``n_c − 1``;
- **val** (the balanced meta set Difficulty-Net learns from): ``k`` images per class, at most half of what
  the test carve left, so a small class keeps at least as many training images as it lends to val.

The split options and the report are wire shapes (:mod:`difficultynet.contracts.datasets`).
Every class keeps at least one training image. A class too small for what was asked keeps its images
and is listed in :attr:`FolderReport.short_classes`; nothing is dropped. Each class draws from its own
seeded generator over its sorted file list, so adding a class never reshuffles another.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from difficultynet.contracts.datasets import (
    ClassShortfall,
    FolderSplitOptions,
    Layout,
    Split,
)
from difficultynet.manifest.folders import FolderEntry


@dataclass(frozen=True)
class SplitRow:
    rel_path: str
    label: str
    split: Split


def _carve_counts(n: int, options: FolderSplitOptions, carve_val: bool, carve_test: bool) -> tuple[int, int]:
    test = min(int(options.test_fraction * n + 0.5), max(n - 1, 0)) if carve_test else 0
    val = min(options.val_per_class, (n - test) // 2) if carve_val else 0
    return val, test


def _shortfall_reason(
    val: int, test: int, options: FolderSplitOptions, carve_val: bool, carve_test: bool
) -> str:
    parts = []
    if carve_val and val < options.val_per_class:
        parts.append(f"{val} val image(s) instead of {options.val_per_class}")
    if carve_test and options.test_fraction > 0 and test == 0:
        parts.append("no test image (too few images for the test fraction)")
    return "; ".join(parts)


def assign_splits(
    entries: Sequence[FolderEntry],
    given_splits: Sequence[Split],
    layout: Layout,
    options: FolderSplitOptions,
) -> tuple[list[SplitRow], list[ClassShortfall], list[Split]]:
    """Rows ordered by class name, split (train, val, test) and path; the short classes; the carved splits.

    ``given_splits``: the split folders present (split-folders layout); entries with ``split=None`` are the
    class-folders layout's pool. Missing val/test are carved from the pool (or from ``train/``).
    """
    carve_val, carve_test = "val" not in given_splits, "test" not in given_splits
    carved: list[Split] = []
    if carve_val:
        carved.append("val")
    if carve_test:
        carved.append("test")
    by_class: dict[str, dict[str, list[str]]] = {}
    for entry in entries:
        bucket = by_class.setdefault(entry.label, {"pool": [], "train": [], "val": [], "test": []})
        bucket["pool" if entry.split in (None, "train") else entry.split].append(entry.rel_path)
    rows: list[SplitRow] = []
    short: list[ClassShortfall] = []
    for label in sorted(by_class):
        bucket = by_class[label]
        pool = sorted(bucket["pool"])
        random.Random(f"{options.seed}:{label}").shuffle(pool)  # str seeds are stable across processes
        val_n, test_n = _carve_counts(len(pool), options, carve_val, carve_test)
        splits: dict[Split, list[str]] = {
            "test": pool[:test_n] + bucket["test"],
            "val": pool[test_n : test_n + val_n] + bucket["val"],
            "train": pool[test_n + val_n :],
        }
        for split in ("train", "val", "test"):
            rows += [SplitRow(path, label, split) for path in sorted(splits[split])]
        reason = _shortfall_reason(val_n, test_n, options, carve_val, carve_test)
        reason = "; ".join(
            [part for part in (reason, *_given_gaps(label, splits, given_splits, layout)) if part]
        )
        if reason:
            counts = {split: len(paths) for split, paths in splits.items()}
            short.append(ClassShortfall(name=label, images=len(pool), reason=reason, **counts))
    return rows, short, carved


def _given_gaps(
    label: str, splits: dict[Split, list[str]], given_splits: Sequence[Split], layout: Layout
) -> list[str]:
    """Classes missing from a split folder that exists."""
    if layout != "split-folders":
        return []
    return [
        f"no images in {split}/{label}/" for split in given_splits if not splits[split] and split != "train"
    ]
