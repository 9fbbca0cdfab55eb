"""Which manifest rows train the classifier, which form the balanced meta set, which are evaluated.

Torch-free (the API describes the split in its upload report), and free of runtime imports from
:mod:`difficultynet.manifest`, which uses it.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from difficultynet.manifest.report import Manifest, Split

DEFAULT_META_PER_CLASS = 10  # images/class carved from train when there are no val rows


@dataclass(frozen=True)
class MetaSplit:
    """Row indices per role, plus the per-class counts and notes the report shows."""

    train_indices: tuple[int, ...]
    meta_indices: tuple[int, ...]
    eval_indices: tuple[int, ...]
    source: Literal["val", "carved"]
    meta_counts: tuple[int, ...]  # meta images per class
    train_counts: tuple[int, ...]  # train images per class after carving
    notes: tuple[str, ...]


def carve_meta(
    train_rows: Sequence[tuple[int, int]],
    class_names: Sequence[str],
    meta_per_class: int | None,
    seed: int,
) -> tuple[list[int], list[int], list[int], list[str]]:
    """Carve a balanced meta set out of ``(row index, label)`` train rows; always keep ≥1 train image/class.

    Returns (train row indices, meta row indices, meta count per class, notes).
    """
    per_class: list[list[int]] = [[] for _ in class_names]
    for index, label in train_rows:
        per_class[label].append(index)
    rng = random.Random(seed)
    meta: set[int] = set()
    counts: list[int] = []
    for members in per_class:
        n = len(members)
        k = min(DEFAULT_META_PER_CLASS, n // 2) if meta_per_class is None else min(meta_per_class, n - 1)
        k = max(k, 0)
        meta.update(rng.sample(members, k))
        counts.append(k)
    notes: list[str] = []
    if counts:
        target = DEFAULT_META_PER_CLASS if meta_per_class is None else meta_per_class
        rule = "min(10, n_c // 2)" if meta_per_class is None else f"min({meta_per_class}, n_c - 1)"
        notes.append(
            f"no val rows: carved k={target} images/class from train (k = {rule}, seed {seed}) "
            f"as the balanced meta set: {sum(counts)} images"
        )
        short = [f"{class_names[c]!r}: {k}" for c, k in enumerate(counts) if k < target]
        if short:
            notes.append("classes with fewer meta images (too few train images): " + ", ".join(short))
        empty = [class_names[c] for c, k in enumerate(counts) if k == 0]
        if empty:
            notes.append(
                f"no meta images for {', '.join(map(repr, empty))} (a single train image is kept for "
                "training); its meta accuracy reads 0"
            )
    ordered = [index for index, _ in train_rows]
    return [i for i in ordered if i not in meta], [i for i in ordered if i in meta], counts, notes


def split_rows(
    labels: Sequence[int],
    splits: Sequence[Split],
    class_names: Sequence[str],
    meta_per_class: int | None,
    seed: int,
) -> MetaSplit:
    """Val rows as the meta set when present, else carved from train (seeded); eval: test, else val/meta."""
    by_split: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    for index, split in enumerate(splits):
        by_split[split].append(index)
    notes: list[str] = []
    if by_split["val"]:
        train, meta = by_split["train"], by_split["val"]
        source: Literal["val", "carved"] = "val"
        if meta_per_class is not None:
            notes.append("meta_per_class is ignored: the manifest's val rows form the meta set")
    else:
        train_rows = [(i, labels[i]) for i in by_split["train"]]
        train, meta, _, notes = carve_meta(train_rows, class_names, meta_per_class, seed)
        source = "carved"
    if by_split["test"]:
        evaluation = by_split["test"]
    elif by_split["val"]:
        evaluation = by_split["val"]
        notes.append("no test rows: evaluation uses the val split (the same images as the meta set)")
    else:
        evaluation = meta
        notes.append("no test or val rows: evaluation uses the carved meta set (optimistic, small)")
    return MetaSplit(
        train_indices=tuple(train),
        meta_indices=tuple(meta),
        eval_indices=tuple(evaluation),
        source=source,
        meta_counts=tuple(_count(labels, meta, len(class_names))),
        train_counts=tuple(_count(labels, train, len(class_names))),
        notes=tuple(notes),
    )


def _count(labels: Sequence[int], indices: Sequence[int], num_classes: int) -> list[int]:
    counts = [0] * num_classes
    for i in indices:
        counts[labels[i]] += 1
    return counts


def resolve_meta_split(manifest: Manifest, meta_per_class: int | None = None, seed: int = 0) -> MetaSplit:
    """Train / balanced meta / evaluation row indices: val rows as meta when present, else carved (seeded)."""
    return split_rows(manifest.labels, manifest.splits, manifest.class_names, meta_per_class, seed)
