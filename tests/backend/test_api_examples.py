"""Thumbnails of a run's dataset rows: real files under the data root, a real redis-server, no worker."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from backend.settings import Settings
from stack.testing.datasets import TINY_COLORS, png_bytes, write_files

TOKEN = "thumbnail-test-token"
Upload = Callable[[], dict[str, Any]]


def start_run(client: TestClient, dataset_id: str, **headers: str) -> str:
    response = client.post("/api/runs", json={"dataset_id": dataset_id, "epochs": 1}, headers=headers)
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def url(run_id: str, row: int) -> str:
    return f"/api/runs/{run_id}/examples/{row}"


def decoded(body: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(body))
    assert image.format == "JPEG"
    return image.convert("RGB")


def assert_plain_404(response: Any, words: str, settings: Settings) -> None:
    assert response.status_code == 404, response.text
    detail = response.json()["detail"]
    assert words in detail, detail
    assert str(settings.data_root) not in response.text and "Error" not in detail


@pytest.fixture
def tiny_run(client: TestClient, upload_tiny: Upload) -> str:
    return start_run(client, str(upload_tiny()["id"]))


def manifest_rows(settings: Settings, folder: str) -> list[list[str]]:
    lines = (settings.data_root / folder / "manifest.csv").read_text().splitlines()[1:]
    return [line.split(",") for line in lines]


def test_a_row_comes_back_as_a_small_jpeg_with_cache_headers(
    client: TestClient, tiny_run: str, api_settings: Settings
) -> None:
    rows = manifest_rows(api_settings, "tiny")
    for row in (0, len(rows) - 1):
        response = client.get(url(tiny_run, row))
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "image/jpeg"
        assert "immutable" in response.headers["cache-control"]
        assert "max-age=" in response.headers["cache-control"]
        image = decoded(response.content)
        assert image.size == (96, 96)  # the 8-px image, scaled up with visible pixels
        expected = TINY_COLORS[rows[row][1]]
        assert all(abs(a - b) <= 8 for a, b in zip(image.getpixel((40, 40)), expected, strict=True))
    small = client.get(url(tiny_run, 0), params={"size": 32})
    assert decoded(small.content).size == (32, 32)
    assert small.headers["etag"] != response.headers["etag"]


def test_etag_answers_304_and_changes_when_the_file_changes(
    client: TestClient, tiny_run: str, tiny_dir: Path
) -> None:
    first = client.get(url(tiny_run, 0))
    etag = first.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    assert client.get(url(tiny_run, 0)).headers["etag"] == etag  # stable
    again = client.get(url(tiny_run, 0), headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag and "immutable" in again.headers["cache-control"]
    assert client.get(url(tiny_run, 0), headers={"If-None-Match": f'"other", W/{etag}'}).status_code == 304
    assert client.get(url(tiny_run, 0), headers={"If-None-Match": '"other"'}).status_code == 200

    image = tiny_dir / "img/ant/train0.png"
    image.write_bytes(png_bytes((1, 2, 3), size=12))
    info = image.stat()
    os.utime(image, ns=(info.st_atime_ns, info.st_mtime_ns + 10**9))
    changed = client.get(url(tiny_run, 0), headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag


@pytest.mark.parametrize("size", [0, 15, 257, 5000])
def test_size_out_of_bounds_is_a_plain_422(client: TestClient, tiny_run: str, size: int) -> None:
    response = client.get(url(tiny_run, 0), params={"size": size})
    assert response.status_code == 422
    assert response.json()["detail"].startswith("size:")


def test_rows_out_of_range_and_unknown_runs_are_plain_404s(
    client: TestClient, tiny_run: str, api_settings: Settings
) -> None:
    n = len(manifest_rows(api_settings, "tiny"))
    assert_plain_404(client.get(url(tiny_run, n)), f"row {n} is not in this run's dataset", api_settings)
    assert_plain_404(client.get(url(tiny_run, 99_999_999)), "is not in this run's dataset", api_settings)
    assert client.get(url(tiny_run, -1)).status_code == 422
    assert client.get(f"/api/runs/{tiny_run}/examples/abc").status_code == 422
    assert_plain_404(client.get(url("f" * 32, 0)), "not found", api_settings)
    assert client.get(url("not-a-run", 0)).status_code == 422


def test_a_row_is_read_from_the_runs_own_dataset_only(
    client: TestClient, tiny_run: str, api_settings: Settings
) -> None:
    """Another dataset with more rows: its rows are served to its own runs, never through the tiny run."""
    lines = ["path,label,split"]
    files: dict[str, bytes] = {}
    for i in range(30):
        label = "dark" if i % 2 else "light"
        split = "test" if i >= 26 else "train"
        files[f"{label}/{i}.png"] = png_bytes((5, 5, 5) if label == "dark" else (250, 250, 250), size=40)
        lines.append(f"{label}/{i}.png,{label},{split}")
    files["manifest.csv"] = ("\n".join(lines) + "\n").encode()
    write_files(api_settings.data_root / "other", files)
    upload = client.post(
        "/api/datasets", files={"file": ("other.csv", files["manifest.csv"])}, data={"base": "other"}
    )
    assert upload.status_code == 201, upload.text
    other_run = start_run(client, upload.json()["id"])

    assert len(manifest_rows(api_settings, "tiny")) <= 25
    assert client.get(url(other_run, 25)).status_code == 200
    assert_plain_404(client.get(url(tiny_run, 25)), "is not in this run's dataset", api_settings)
    # The same row number shows each run's own image.
    assert decoded(client.get(url(other_run, 1)).content).getpixel((10, 10))[0] < 20
    assert decoded(client.get(url(tiny_run, 1)).content).getpixel((10, 10)) != (5, 5, 5)
    assert client.get(url(other_run, 0), params={"size": 20}).status_code == 200
    assert decoded(client.get(url(other_run, 0), params={"size": 20}).content).size == (20, 20)


def test_files_that_moved_out_of_the_data_root_are_never_read(
    client: TestClient, tiny_run: str, tiny_dir: Path, api_settings: Settings, tmp_path: Path
) -> None:
    outside = tmp_path / "secret.png"
    outside.write_bytes(png_bytes((9, 9, 9)))
    image = tiny_dir / "img/ant/train0.png"  # row 0
    image.unlink()
    assert_plain_404(client.get(url(tiny_run, 0)), "the image of row 0 is unavailable", api_settings)
    image.symlink_to(outside)
    response = client.get(url(tiny_run, 0))
    assert_plain_404(response, "outside the data root", api_settings)
    assert "secret" not in response.text

    (tiny_dir / "img/ant/train1.png").write_bytes(b"not an image at all")  # row 1
    assert_plain_404(client.get(url(tiny_run, 1)), "row 1 cannot be read", api_settings)


def test_deleted_dataset_gives_a_plain_404(
    client: TestClient, upload_tiny: Upload, api_settings: Settings
) -> None:
    dataset_id = str(upload_tiny()["id"])
    run_id = start_run(client, dataset_id)
    assert client.post(f"/api/runs/{run_id}/cancel").status_code == 202
    assert client.delete(f"/api/datasets/{dataset_id}").status_code == 204
    assert_plain_404(client.get(url(run_id, 0)), "dataset of this run was deleted", api_settings)


def test_token_rules_are_those_of_the_other_browser_routes(
    make_client: Callable[..., TestClient], client: TestClient, tiny_run: str
) -> None:
    secured = make_client(api_token=TOKEN)
    path = url(tiny_run, 0)
    assert secured.get(path).status_code == 401
    assert secured.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert secured.get(path, params={"token": "wrong"}).status_code == 401
    assert secured.get(path, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert secured.get(path, params={"token": TOKEN}).status_code == 200  # an <img> cannot send headers
    assert secured.post("/api/session", json={"token": TOKEN}).status_code == 204
    assert secured.get(path).status_code == 200  # the session cookie
    secured.delete("/api/session")
    secured.cookies.clear()
    assert secured.get(path).status_code == 401
    assert client.get(path).status_code == 200  # a server without a token needs none
