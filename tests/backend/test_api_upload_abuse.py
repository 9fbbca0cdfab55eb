"""Uploads that try to exhaust the host: CPU (huge duplicate manifests, parallel uploads) and disk
(junk-padded zips, a full data root). Each is refused cheaply with a clear 4xx, or kept small."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from backend.services import datasets as datasets_service
from backend.settings import Settings
from difficultynet.manifest import paths as manifest_paths
from stack.testing.datasets import make_zip, tiny_files

MakeClient = Callable[..., TestClient]
GIB = 1024**3


def post_file(client: TestClient, name: str, data: bytes, base: str = "tiny") -> Any:
    return client.post("/api/datasets", files={"file": (name, data)}, data={"base": base})


@pytest.fixture
def image_opens(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Every image file the manifest checks open, by path (PIL's ``Image.open``, spied on)."""
    opened: Counter[str] = Counter()
    real_open = Image.open

    def counting_open(fp: Any, *args: Any, **kwargs: Any) -> Image.Image:
        opened[str(fp)] += 1
        return real_open(fp, *args, **kwargs)

    monkeypatch.setattr(manifest_paths.Image, "open", counting_open)
    return opened


# -- CPU -------------------------------------------------------------------------------------------------


def test_a_million_rows_naming_one_image_are_refused_opening_each_file_once(
    make_client: MakeClient, tiny_dir: Path, image_opens: Counter[str]
) -> None:
    manifest = tiny_files()["manifest.csv"]
    duplicates = 1_000_000
    body = manifest + b"img/ant/train0.png,ant,train\n" * duplicates
    assert len(body) > 16 * 1024 * 1024
    client = make_client(max_upload_mb=32, max_manifest_rows=2 * duplicates)

    response = post_file(client, "dupes.csv", body)

    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert f"{duplicates} error(s)" in detail and "duplicate of line 2" in detail
    distinct = len(manifest.splitlines()) - 1
    assert len(image_opens) == distinct, "every distinct file is checked"
    assert set(image_opens.values()) == {1}, "no file is opened twice"


def test_a_manifest_over_the_row_cap_opens_no_file(
    make_client: MakeClient, tiny_dir: Path, image_opens: Counter[str]
) -> None:
    body = tiny_files()["manifest.csv"] + b"img/ant/train0.png,ant,train\n" * 50
    response = post_file(make_client(max_manifest_rows=20), "long.csv", body)
    assert response.status_code == 422 and "more than 20 data rows" in response.json()["detail"]
    assert not image_opens


@pytest.fixture
def held_validation(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[threading.Event, threading.Event]]:
    """Validation that waits for ``release`` after setting ``entered`` (the real one runs afterwards)."""
    entered, release = threading.Event(), threading.Event()
    real_validate = datasets_service.validate_manifest

    def held(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        assert release.wait(30), "the test never released the held validation"
        return real_validate(*args, **kwargs)

    monkeypatch.setattr(datasets_service, "validate_manifest", held)
    yield entered, release
    release.set()


def test_uploads_beyond_the_concurrency_limit_get_429_with_retry_after(
    make_client: MakeClient, tiny_dir: Path, held_validation: tuple[threading.Event, threading.Event]
) -> None:
    entered, release = held_validation
    client = make_client(max_concurrent_uploads=1)
    manifest = tiny_files()["manifest.csv"]
    first: list[Any] = []
    worker = threading.Thread(target=lambda: first.append(post_file(client, "first.csv", manifest)))
    worker.start()
    assert entered.wait(30), "the first upload never reached validation"

    refused = post_file(client, "second.csv", manifest)
    assert refused.status_code == 429, refused.text
    assert int(refused.headers["Retry-After"]) > 0
    assert "try again" in refused.json()["detail"]
    refused_zip = post_file(client, "bundle.zip", make_zip(tiny_files()), base="")
    assert refused_zip.status_code == 429

    release.set()
    worker.join(30)
    assert first and first[0].status_code == 201, first
    assert post_file(client, "again.csv", manifest).status_code == 200  # the slot is free again


# -- disk ------------------------------------------------------------------------------------------------


def test_a_zip_keeps_only_the_files_its_manifest_names(
    make_client: MakeClient, api_settings: Settings
) -> None:
    files = tiny_files()
    padding = {"padding/junk.bin": b"\0" * 900_000, "img/ant/unlisted.png": files["img/ant/train0.png"]}
    kept_bytes = sum(len(data) for data in files.values())
    # The quota leaves room for the named files, not for the padding.
    client = make_client(max_data_gb=(kept_bytes + 100_000) / GIB)

    response = post_file(client, "padded.zip", make_zip({**files, **padding}), base="")

    assert response.status_code == 201, response.text
    folder = api_settings.uploads_dir / response.json()["id"]
    stored = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert stored == set(files)
    assert any("2 file(s)" in note and "not kept" in note for note in response.json()["notes"])


def test_uploads_over_the_data_root_quota_get_413_and_leave_nothing(
    make_client: MakeClient, api_settings: Settings, tiny_dir: Path
) -> None:
    client = make_client(max_data_gb=1024 / GIB)  # 1 KiB: less than the tiny dataset already there

    for response in (
        post_file(client, "bundle.zip", make_zip(tiny_files()), base=""),
        post_file(client, "tiny.csv", tiny_files()["manifest.csv"]),
    ):
        assert response.status_code == 413, response.text
        detail = response.json()["detail"]
        assert "quota" in detail and "DNET_MAX_DATA_GB" in detail
        assert str(api_settings.data_root) not in detail
    assert list(api_settings.uploads_dir.iterdir()) == []
    assert client.get("/api/datasets").json()["total"] == 0
