"""The built-in digits demo dataset: valid, IF 10, balanced disjoint val/test, deterministic."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from difficultynet.demo import long_tail_counts, write_demo_dataset
from difficultynet.manifest import validate_manifest


def read_rows(manifest: Path) -> list[dict[str, str]]:
    with manifest.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_demo_dataset_validates_with_imbalance_factor_10(demo_manifest: Path) -> None:
    report = validate_manifest(demo_manifest)
    assert report.ok, report.errors
    assert len(report.classes) == 10
    train = [c.train for c in report.classes]
    assert train == sorted(train, reverse=True) and train[0] == 120
    assert report.imbalance_factor == 10.0
    assert {c.val for c in report.classes} == {10} and {c.test for c in report.classes} == {40}
    assert report.group_counts == {"many": 1, "medium": 7, "few": 2}
    assert (report.meta_source, report.eval_split) == ("val", "test")


def test_demo_splits_are_disjoint_and_images_are_32px(demo_manifest: Path) -> None:
    rows = read_rows(demo_manifest)
    assert len({row["path"] for row in rows}) == len(rows)
    assert Counter(row["split"] for row in rows) == {"train": 486, "val": 100, "test": 400}
    with Image.open(demo_manifest.parent / rows[0]["path"]) as image:
        assert (image.mode, image.size) == ("L", (32, 32))
        pixels = np.asarray(image)
    assert pixels.min() == 0 and pixels.max() > 200  # 0…16 digits scaled to the full 0…255 range


def test_demo_is_deterministic_and_idempotent(tmp_path: Path) -> None:
    first = write_demo_dataset(tmp_path / "one", seed=1)
    second = write_demo_dataset(tmp_path / "two", seed=1)
    assert first.read_bytes() == second.read_bytes()
    rows = read_rows(first)
    assert all(
        (first.parent / r["path"]).read_bytes() == (second.parent / r["path"]).read_bytes() for r in rows
    )

    # re-running over an existing folder with another seed rewrites a consistent, valid dataset
    other = write_demo_dataset(tmp_path / "one", seed=2)
    assert other == first and other.read_bytes() != second.read_bytes()
    assert validate_manifest(other).ok
    assert write_demo_dataset(tmp_path / "one", seed=1).read_bytes() == second.read_bytes()


def test_long_tail_counts() -> None:
    assert long_tail_counts(120, 10, 10) == [120, 92, 71, 55, 43, 33, 25, 20, 15, 12]
    assert long_tail_counts(4975, 100, 10)[-1] == 49  # the CIFAR-10-LT IF100 tail (spec §2.1)
