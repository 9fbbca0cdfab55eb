"""Image folders end to end on a live stack (redis-server, a Celery worker process, uvicorn API, token):
a zip of photo-sized JPEG class folders is uploaded with no manifest, its generated manifest downloaded,
and a Difficulty-Net run trains one epoch on it; the dashboard's own client and page functions drive
the same API for folders under the data root and for manifest downloads."""

from __future__ import annotations

import base64
import csv
import io
import json
from collections import Counter
from pathlib import Path

import httpx
import pytest
from support.waiting import wait_until_finished

from dashboard.api_client import ApiClient
from dashboard.pages import datasets as datasets_page
from difficultynet.export import validate_weights_export
from stack.testing.live_stack import LiveStack
from stack.testing.photos import write_photo_folder, zip_folder

pytestmark = pytest.mark.integration

RUN_TIMEOUT_S = 240
SPLIT = {"val_per_class": "2", "test_fraction": "0.25", "seed": "5"}


@pytest.fixture(scope="module")
def photo_zip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """6 classes of 500×375 / 375×500 JPEGs, 12 → 2 images (long tail), wrapped in a ``photos/`` folder."""
    folder = write_photo_folder(tmp_path_factory.mktemp("photos"), num_classes=6, n_max=12, imbalance=6)
    assert folder.counts == dict(zip(list(folder.counts), [12, 8, 5, 4, 2, 2], strict=True))
    return zip_folder(folder.root, prefix="photos/")


def text_of(component: object) -> str:
    return json.dumps(component, default=lambda c: c.to_plotly_json())


def test_zip_of_photo_folders_uploads_and_trains_one_dnet_epoch(
    stack: LiveStack, client: httpx.Client, photo_zip: bytes
) -> None:
    response = client.post("/api/datasets", files={"file": ("photos.zip", photo_zip)}, data=SPLIT)
    assert response.status_code == 201, response.text
    dataset = response.json()
    assert dataset["kind"] == "zip" and dataset["num_classes"] == 6 and dataset["num_rows"] == 33
    assert dataset["folder"]["layout"] == "class-folders" and dataset["folder"]["seed"] == 5
    # 4 images: 1 test, 1 val (half of the 3 left); 2 images: 1 test, 0 val -> all three reported
    short = dataset["folder"]["short_classes"]
    assert [(c["images"], c["train"], c["val"], c["test"]) for c in short] == [
        (4, 2, 1, 1),
        (2, 1, 0, 1),
        (2, 1, 0, 1),
    ]
    manifest = client.get(f"/api/datasets/{dataset['id']}/manifest.csv")
    assert manifest.status_code == 200
    rows = list(csv.DictReader(io.StringIO(manifest.text)))
    assert len(rows) == 33 and all(row["path"].startswith("photos/class-") for row in rows)
    assert Counter(row["split"] for row in rows) == dataset["split_counts"]

    training = {"method": "dnet", "epochs": 1, "batch_size": 16, "model": "resnet8", "device": "cpu",
                "num_threads": 1, "image_size": 32, "seed": 0}  # fmt: skip
    run = client.post("/api/runs", json={"dataset_id": dataset["id"], **training})
    assert run.status_code == 202, run.text
    state = wait_until_finished(client, run.json()["id"], RUN_TIMEOUT_S)
    assert state["status"] == "succeeded", (state, stack.logs())
    weights = client.get(f"/api/runs/{state['id']}/weights.json").json()
    validate_weights_export(weights)
    assert weights["dataset_sha256"] == dataset["manifest_sha256"]
    assert [c["name"] for c in weights["classes"]] == [c["name"] for c in dataset["classes"]]
    assert [c["train_count"] for c in weights["classes"]] == [c["train"] for c in dataset["classes"]]


def test_dashboard_uploads_registers_and_downloads_through_the_real_api(
    stack: LiveStack, photo_zip: bytes, tmp_path: Path
) -> None:
    api = ApiClient(stack.url, token=stack.api_token)
    try:
        data_url = "data:application/zip;base64," + base64.b64encode(photo_zip).decode()
        split = {"val_per_class": 3, "test_fraction": 0.2, "seed": 1}
        shown, created = datasets_page.handle_upload(api, data_url, "photos.zip", split=split)
        text = text_of(shown)
        assert created and "Uploaded photos.zip" in text
        assert "generated from image folders (one folder per class)" in text and "val 3/class" in text
        assert "too small for the requested splits (kept, not dropped)" in text
        dataset_id = next(d.id for d in api.list_datasets() if d.folder and d.folder.seed == 1)
        download, message = datasets_page.download_manifest(api, dataset_id)
        assert message is None and download["filename"] == f"{dataset_id}-manifest.csv"
        assert download["content"].startswith("path,label,split\nphotos/class-00-disc/")

        folder = write_photo_folder(stack.data_root / "shelf" / "photos", num_classes=3, n_max=6, imbalance=3)
        shown, created = datasets_page.handle_register_folder(api, " shelf/photos ", split)
        assert created and "Registered folder shelf/photos" in text_of(shown)
        again, created = datasets_page.handle_register_folder(api, "shelf/photos", split)
        assert not created and "stored before" in text_of(again)
        (folder.root / "class-00-disc" / "broken.jpg").write_bytes(b"\xff\xd8\xff not really")
        refused, created = datasets_page.handle_register_folder(api, "shelf/photos", split)
        assert not created and "'photos/class-00-disc/broken.jpg'" not in text_of(refused)
        assert "'class-00-disc/broken.jpg'" in text_of(refused) and "was rejected" in text_of(refused)
        refused, _ = datasets_page.handle_upload(api, data_url, "photos.zip", split={"test_fraction": 3})
        assert "test_fraction" in text_of(refused)
    finally:
        api.close()
