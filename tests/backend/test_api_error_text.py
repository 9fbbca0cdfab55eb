"""Error text never leaks the host: no absolute path, no staging folder, no exception class name.

Each bad file is named by its path as written in the manifest, and the reason is in plain words.
"""

from __future__ import annotations

import io
import random
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from backend.settings import Settings
from stack.testing.datasets import make_zip, tiny_files

CLASS_NAME = re.compile(r"\b[A-Za-z]*(Error|Exception|Warning)\b")
ABSOLUTE_PATH = re.compile(r"(^|[\s'\"(=:])/[^\s'\"]+")


def noisy_png(size: int = 64) -> bytes:
    rng = random.Random(0)
    image = Image.frombytes("RGB", (size, size), bytes(rng.randrange(256) for _ in range(size * size * 3)))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


BAD_FILES = {
    "img/ant/corrupt.png": b"\x89PNG\r\n\x1a\n" + b"garbage" * 20,  # PNG signature, then nonsense
    "img/bee/notes.jpg": b"just some text, not a JPEG at all\n" * 4,  # not an image, image-like name
    "img/cat/truncated.png": noisy_png()[:3000],  # a real PNG cut short
}


def bundle_files() -> dict[str, bytes]:
    files = {**tiny_files(), **BAD_FILES}
    rows = "".join(f"{rel},{rel.split('/')[1]},train\n" for rel in BAD_FILES)
    files["manifest.csv"] += rows.encode()
    return files


def texts(body: dict[str, Any]) -> list[str]:
    return [body["detail"], *(str(e.get(key) or "") for e in body["errors"] for key in ("column", "reason"))]


def assert_plain(body: dict[str, Any], *secrets: str) -> None:
    for text in texts(body):
        assert not CLASS_NAME.search(text), text
        assert not ABSOLUTE_PATH.search(text), text
        assert ".incoming-" not in text, text
        for secret in secrets:
            assert secret not in text, text


@pytest.mark.parametrize("kind", ["csv", "zip"])
def test_bad_images_are_named_by_relative_path_in_plain_words(
    client: TestClient, api_settings: Settings, tmp_path: Path, kind: str
) -> None:
    files = bundle_files()
    if kind == "csv":
        folder = api_settings.data_root / "tiny"
        for rel, data in files.items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_bytes(data)
        response = client.post(
            "/api/datasets", files={"file": ("m.csv", files["manifest.csv"])}, data={"base": "tiny"}
        )
    else:
        response = client.post("/api/datasets", files={"file": ("b.zip", make_zip(files))})

    assert response.status_code == 422, response.text
    body = response.json()
    assert_plain(body, str(tmp_path), str(api_settings.data_root.resolve()), "uploads/")
    by_row = {e["row"]: e["reason"] for e in body["errors"]}
    assert len(body["errors"]) == len(BAD_FILES)
    first_bad_line = len(tiny_files()["manifest.csv"].splitlines()) + 1
    for line, rel in enumerate(BAD_FILES, start=first_bad_line):
        assert rel in by_row[line] and "not a readable image" in by_row[line], by_row
    assert "not in a known image format" in by_row[first_bad_line + 1]
    assert "corrupt or truncated" in by_row[first_bad_line + 2]


def test_other_file_problems_are_plain_too(
    client: TestClient, api_settings: Settings, tmp_path: Path
) -> None:
    folder = api_settings.data_root / "tiny"
    files = tiny_files()
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    outside = tmp_path / "secret.png"
    outside.write_bytes(files["img/ant/train0.png"])
    (folder / "img" / "ant" / "escape.png").symlink_to(outside)
    (folder / "img" / "ant" / "loop.png").symlink_to(folder / "img" / "ant" / "loop.png")
    rows = ["img/ant/escape.png", "img/ant/loop.png", "img/ant/missing.png", "img/ant"]
    manifest = files["manifest.csv"] + "".join(f"{rel},ant,train\n" for rel in rows).encode()

    response = client.post("/api/datasets", files={"file": ("m.csv", manifest)}, data={"base": "tiny"})

    assert response.status_code == 422, response.text
    body = response.json()
    assert_plain(body, str(tmp_path), str(api_settings.data_root.resolve()))
    assert len(body["errors"]) == len(rows)
    for error, rel in zip(body["errors"], rows, strict=True):
        assert rel in error["reason"], error
