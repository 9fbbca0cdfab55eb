"""Tiny image datasets and zip bundles built in memory, for upload tests."""

from __future__ import annotations

import io
import os
import shutil
import zipfile
from pathlib import Path

import httpx
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


REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_CIFAR = Path(os.environ.get("DNET_SHARED_DIR", REPO_ROOT.parent / "shared")) / "data" / "cifar10-lt"
MINI_MANIFEST = "cifar10_lt_mini.csv"


def install_training_dataset(data_root: Path) -> tuple[bytes, str]:
    """A real training set under ``data_root``: the shared CIFAR-10-LT mini set (812 train images, 32×32)
    when ``../shared`` exists, else the built-in digits demo. Returns (manifest bytes, base folder)."""
    manifest = SHARED_CIFAR / MINI_MANIFEST
    if manifest.exists():
        target = data_root / "cifar10-lt"
        for line in manifest.read_text().splitlines()[1:]:
            rel = line.split(",", 1)[0]
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(SHARED_CIFAR / rel, target / rel)
        return manifest.read_bytes(), "cifar10-lt"
    from difficultynet.demo import write_demo_dataset

    return write_demo_dataset(data_root / "demo").read_bytes(), "demo"


def upload_training_dataset(client: httpx.Client, data_root: Path) -> str:
    """Install the training set under the API's data root, upload its manifest, return the dataset id."""
    manifest, base = install_training_dataset(data_root)
    response = client.post("/api/datasets", files={"file": ("dataset.csv", manifest)}, data={"base": base})
    assert response.status_code in (200, 201), response.text
    return str(response.json()["id"])
