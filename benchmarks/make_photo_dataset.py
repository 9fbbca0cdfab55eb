"""Write the real-photo benchmark dataset: long-tailed class folders of 500×375 / 375×500 JPEGs, under var/.

Synthetic but photo-sized: each class has its own hue and shape family over a smooth random background
(``stack.testing.photos``), so a classifier can learn it. The layout is plain ``<class>/*.jpg`` with no
manifest: exactly what a user would zip or register as an image folder.

    .venv/bin/python benchmarks/make_photo_dataset.py          # var/photos/images: 30 classes, 400 → 10
    .venv/bin/python benchmarks/make_photo_dataset.py --quick  # var/bench/photos-quick/images: 20, 60 → 6
    .venv/bin/python benchmarks/make_photo_dataset.py --zip    # also var/photos/photos.zip, to upload

An existing dataset with the same parameters (``params.json`` beside ``images/``) is reused.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from stack.testing.photos import write_photo_folder, zip_folder  # noqa: E402

FULL: dict[str, Any] = {"num_classes": 30, "n_max": 400, "imbalance": 40.0, "seed": 0}
QUICK: dict[str, Any] = {"num_classes": 20, "n_max": 60, "imbalance": 10.0, "seed": 0}
FULL_DIR = REPO_ROOT / "var" / "photos"
QUICK_DIR = REPO_ROOT / "var" / "bench" / "photos-quick"


def ensure_dataset(quick: bool, out: Path | None = None) -> tuple[Path, dict[str, int]]:
    """The dataset's image folder and its class counts (generated unless the same one is there)."""
    params = QUICK if quick else FULL
    out = out or (QUICK_DIR if quick else FULL_DIR)
    marker, images = out / "params.json", out / "images"
    if marker.exists():
        saved = json.loads(marker.read_text())
        if saved.get("params") == params and images.is_dir():
            return images, saved["counts"]
    shutil.rmtree(images, ignore_errors=True)
    started = time.perf_counter()
    folder = write_photo_folder(images, **params)
    marker.write_text(json.dumps({"params": params, "counts": folder.counts}, indent=1) + "\n")
    print(
        f"wrote {folder.images} JPEGs ({folder.bytes_written / 2**20:.1f} MiB) in {len(folder.counts)} "
        f"classes to {images} in {time.perf_counter() - started:.0f} s"
    )
    return images, folder.counts


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="the small variant, under var/bench/")
    parser.add_argument(
        "--out", type=Path, help="folder to write (default var/photos or var/bench/photos-quick)"
    )
    parser.add_argument("--zip", action="store_true", help="also write <out>/photos.zip for uploading")
    args = parser.parse_args()
    images, counts = ensure_dataset(args.quick, args.out)
    print(f"{sum(counts.values())} images in {len(counts)} classes: {images}")
    if args.zip:
        archive = images.parent / "photos.zip"
        archive.write_bytes(zip_folder(images, prefix="photos/"))
        print(f"zip: {archive} ({archive.stat().st_size / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
