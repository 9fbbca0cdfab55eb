"""Image folders as datasets through the real API: zips of folders, folders under the data root, the
generated manifest's download, and the row-level rules with their plain-words errors."""

from __future__ import annotations

import csv
import io
import os
from collections import Counter
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from PIL import Image

from backend.settings import Settings
from stack.testing.datasets import make_zip, write_files


def jpeg(shade: int, size: tuple[int, int] = (20, 15)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (shade, 255 - shade, (shade * 3) % 256)).save(buffer, format="JPEG")
    return buffer.getvalue()


def png_rgba(shade: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", (12, 12), (shade, 0, 0, 128)).save(buffer, format="PNG")
    return buffer.getvalue()


def class_folders(counts: dict[str, int], prefix: str = "") -> dict[str, bytes]:
    """``<prefix><class>/<i>.jpg`` entries (PNG with alpha for every third image)."""
    return {
        f"{prefix}{label}/{i:02d}" + (".png" if i % 3 == 2 else ".jpg"): png_rgba(i)
        if i % 3 == 2
        else jpeg(i * 9)
        for label, count in counts.items()
        for i in range(count)
    }


def post_zip(client: TestClient, name: str, entries: dict[str, bytes], **fields: Any) -> Any:
    data = {key: str(value) for key, value in fields.items()}
    return client.post("/api/datasets", files={"file": (name, make_zip(entries))}, data=data)


def manifest_rows(client: TestClient, dataset_id: str) -> list[dict[str, str]]:
    response = client.get(f"/api/datasets/{dataset_id}/manifest.csv")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert f'filename="{dataset_id}-manifest.csv"' in response.headers["content-disposition"]
    return list(csv.DictReader(io.StringIO(response.text)))


def error_text(response: Any) -> str:
    body = response.json()
    return " | ".join([body["detail"], *(e["reason"] for e in body["errors"])])


# ----------------------------------------------------------------------------------- zip of folders


def test_zip_of_class_folders_becomes_a_dataset_with_reported_splits(
    client: TestClient, api_settings: Settings
) -> None:
    entries = class_folders({"heron": 14, "owl": 6, "wren": 2}, prefix="birds/")
    entries["__MACOSX/birds/._heron"] = b"\x00\x05\x16\x07"
    entries["birds/owl/.DS_Store"] = b"junk"
    response = post_zip(client, "birds.zip", entries, val_per_class=3, test_fraction=0.25, seed=1)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["kind"] == "zip" and body["name"] == "birds.zip" and body["num_rows"] == 22
    folder = body["folder"]
    assert (folder["layout"], folder["val_per_class"], folder["test_fraction"], folder["seed"]) == (
        "class-folders", 3, 0.25, 1,
    )  # fmt: skip
    assert folder["carved_splits"] == ["val", "test"] and folder["skipped_clutter"] == 2
    # heron: test 4, val 3, train 7; owl: 2 / 2 / 2 (val short); wren: 0 test (1 image short) / 0 / 2 ...
    classes = {c["name"]: (c["train"], c["val"], c["test"]) for c in body["classes"]}
    assert classes == {"heron": (7, 3, 4), "owl": (2, 2, 2), "wren": (1, 0, 1)}
    short = {c["name"]: c["reason"] for c in folder["short_classes"]}
    assert set(short) == {"owl", "wren"} and "2 val image(s) instead of 3" in short["owl"]
    assert any("too small for the requested splits" in note for note in body["notes"])
    # The generated manifest is downloadable and names files inside the stored copy of the zip.
    rows = manifest_rows(client, body["id"])
    assert Counter(row["split"] for row in rows) == {"train": 10, "val": 5, "test": 7}
    images = api_settings.uploads_dir / body["id"] / "images"
    assert all((images / row["path"]).is_file() and row["path"].startswith("birds/") for row in rows)

    same = post_zip(client, "again.zip", entries, val_per_class=3, test_fraction=0.25, seed=1)
    assert same.status_code == 200 and same.json()["id"] == body["id"]
    reseeded = post_zip(client, "birds.zip", entries, val_per_class=3, test_fraction=0.25, seed=2)
    assert reseeded.status_code == 201 and reseeded.json()["id"] != body["id"]
    assert Counter(r["split"] for r in manifest_rows(client, reseeded.json()["id"])) == Counter(
        r["split"] for r in rows
    )


def test_zip_with_split_folders_keeps_them_and_uses_defaults(client: TestClient) -> None:
    entries = class_folders({"a": 30, "b": 4}, prefix="train/") | class_folders(
        {"a": 2, "b": 2}, prefix="test/"
    )
    body = post_zip(client, "split.zip", entries).json()
    assert body["folder"]["layout"] == "split-folders" and body["folder"]["carved_splits"] == ["val"]
    assert body["folder"]["val_per_class"] == 25 and body["eval_split"] == "test"
    classes = {c["name"]: (c["train"], c["val"], c["test"]) for c in body["classes"]}
    assert classes == {"a": (15, 15, 2), "b": (2, 2, 2)}


def test_zip_with_bad_files_is_refused_naming_each_file(client: TestClient, api_settings: Settings) -> None:
    entries = class_folders({"a": 3, "b": 3})
    entries["a/fake.jpg"] = b"this is text, not a JPEG"
    entries["b/cut.jpg"] = jpeg(5)[:200]
    entries["b/notes.txt"] = b"field notes"
    response = post_zip(client, "bad.zip", entries)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["detail"].startswith(
        "zip has no manifest (.csv), so it was read as image folders; it has 3 problem(s)"
    )
    by_file = {e["reason"].rsplit(" (", 1)[1]: e["reason"] for e in body["errors"]}
    assert set(by_file) == {"'a/fake.jpg')", "'b/cut.jpg')", "'b/notes.txt')"}
    assert "not in a known image format" in by_file["'a/fake.jpg')"]
    assert "corrupt or truncated" in by_file["'b/cut.jpg')"]
    text = error_text(response)
    assert str(api_settings.data_root) not in text and "Error" not in text
    assert client.get("/api/datasets").json()["total"] == 0
    assert [p.name for p in api_settings.uploads_dir.iterdir()] == []  # staging removed


def test_zip_layout_and_option_problems_are_4xx(client: TestClient) -> None:
    flat = {f"{i}.jpg": jpeg(i) for i in range(3)}
    response = post_zip(client, "flat.zip", flat)
    assert response.status_code == 422 and "expected train/<class>/*" in error_text(response)
    response = post_zip(client, "ok.zip", class_folders({"a": 3, "b": 3}), test_fraction=1.5)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["column"] == "test_fraction"
    response = post_zip(client, "ok.zip", class_folders({"a": 3, "b": 3}), val_per_class="many")
    assert response.status_code == 422 and response.json()["errors"][0]["column"] == "val_per_class"
    only_clutter = {"__MACOSX/._a": b"x", ".DS_Store": b"x"}
    assert post_zip(client, "mac.zip", only_clutter).status_code == 422


def test_a_bundle_with_a_manifest_is_still_a_bundle(client: TestClient) -> None:
    entries = class_folders({"a": 3, "b": 3})
    entries["__MACOSX/._manifest.csv"] = b"\x00\x05"  # clutter is never the manifest
    lines = ["path,label,split", *(f"{p},{p.split('/')[0]},train" for p in list(entries)[:6])]
    entries["manifest.csv"] = ("\n".join(lines) + "\n").encode()
    body = post_zip(client, "bundle.zip", entries).json()
    assert body["kind"] == "zip" and body["folder"] is None and body["num_rows"] == 6
    assert [r["path"] for r in manifest_rows(client, body["id"])] == list(entries)[:6]


# ----------------------------------------------------------------------------------- data-root folders


def test_folder_under_the_data_root_is_registered_without_copying(
    client: TestClient, api_settings: Settings
) -> None:
    photos = write_files(api_settings.data_root / "photos", class_folders({"fox": 12, "elk": 5}))
    request = {"folder": "photos", "val_per_class": 2, "test_fraction": 0.2, "seed": 0}
    response = client.post("/api/datasets/folders", json=request)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["kind"] == "folder" and body["name"] == "photos" and body["num_classes"] == 2
    assert [(c["name"], c["train"], c["val"], c["test"]) for c in body["classes"]] == [
        ("elk", 2, 2, 1), ("fox", 8, 2, 2),
    ]  # fmt: skip
    rows = manifest_rows(client, body["id"])
    assert all((photos / row["path"]).is_file() for row in rows) and len(rows) == 17
    again = client.post("/api/datasets/folders", json=request)
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    # Deleting the dataset removes the generated manifest, never the user's images.
    assert client.delete(f"/api/datasets/{body['id']}").status_code == 204
    assert len(list(photos.rglob("*.jpg"))) == 12
    assert client.get(f"/api/datasets/{body['id']}/manifest.csv").status_code == 404


def test_folder_requests_that_leave_the_data_root_or_break_rules_are_refused(
    client: TestClient, api_settings: Settings, tmp_path: Path
) -> None:
    photos = write_files(api_settings.data_root / "photos", class_folders({"a": 4, "b": 4}))
    secret = write_files(tmp_path / "secret", {"x.jpg": jpeg(1)})
    for folder, column, reason in (
        ("../secret", "folder", "inside the data root"),
        ("/etc", "folder", "relative to the data root"),
        ("nowhere", "folder", "does not exist"),
        ("", "folder", "at least 1 character"),
        (".", "folder", "not the data root itself"),
    ):
        response = client.post("/api/datasets/folders", json={"folder": folder})
        assert response.status_code == 422, (folder, response.text)
        assert response.json()["errors"][0]["column"] == column and reason in error_text(response), folder
    assert client.post("/api/datasets/folders", json={"folder": "photos", "extra": 1}).status_code == 422

    os.symlink(secret / "x.jpg", photos / "a" / "leak.jpg")
    response = client.post("/api/datasets/folders", json={"folder": "photos"})
    assert response.status_code == 422
    assert "outside the data root ('a/leak.jpg')" in error_text(response)
    assert str(tmp_path) not in error_text(response)


def test_manifest_download_serves_uploaded_csvs_too(client: TestClient, tiny_dir: Path) -> None:
    manifest = (tiny_dir / "manifest.csv").read_bytes()
    body = client.post("/api/datasets", files={"file": ("t.csv", manifest)}, data={"base": "tiny"}).json()
    assert body["folder"] is None
    assert client.get(f"/api/datasets/{body['id']}/manifest.csv").content == manifest
    assert client.get("/api/datasets/0123456789abcdef/manifest.csv").status_code == 404
    assert client.get("/api/datasets/nothex/manifest.csv").status_code == 422
