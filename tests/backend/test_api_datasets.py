"""Dataset uploads: happy paths, idempotency, and every adversarial upload gets its own 4xx."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backend.settings import Settings
from stack.testing.datasets import make_zip, png_bytes, tiny_files, write_files


def post_file(client: TestClient, name: str, data: bytes, base: str = "tiny") -> Any:
    return client.post("/api/datasets", files={"file": (name, data)}, data={"base": base})


def manifest(*rows: str, header: str = "path,label,split") -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def tiny_manifest() -> bytes:
    return tiny_files()["manifest.csv"]


def assert_error(response: Any, status: int, *, reason: str = "", row: int | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["errors"], list)
    if reason:
        reasons = " | ".join([body["detail"], *(e["reason"] for e in body["errors"])])
        assert reason.lower() in reasons.lower(), reasons
    if row is not None:
        assert row in [e["row"] for e in body["errors"]], body["errors"]
    return body


# -- accepted uploads ---------------------------------------------------------------------------------


def test_csv_upload_is_validated_summarised_and_content_addressed(
    client: TestClient, tiny_dir: Path, api_settings: Settings
) -> None:
    first = post_file(client, "tiny.csv", tiny_manifest())
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["kind"] == "csv" and body["name"] == "tiny.csv"
    assert body["num_classes"] == 3 and body["num_rows"] == 17
    assert body["split_counts"] == {"train": 11, "val": 3, "test": 3}
    assert [(c["name"], c["train"]) for c in body["classes"]] == [("ant", 6), ("bee", 3), ("cat", 2)]
    assert body["imbalance_factor"] == pytest.approx(3.0)
    assert sum(body["group_counts"].values()) == 3
    # the stored copy of the manifest lives in the dataset's own folder under the data root
    assert (api_settings.uploads_dir / body["id"] / "manifest.csv").read_bytes() == tiny_manifest()

    again = post_file(client, "renamed.csv", tiny_manifest())
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    assert client.get(f"/api/datasets/{body['id']}").json()["id"] == body["id"]
    listed = client.get("/api/datasets").json()
    assert listed["total"] == 1 and listed["datasets"][0]["id"] == body["id"]


def test_same_manifest_under_another_base_folder_is_another_dataset(
    client: TestClient, tiny_dir: Path, api_settings: Settings
) -> None:
    copy = api_settings.data_root / "tiny-copy"
    copy.symlink_to(tiny_dir)  # inside the data root after resolution, so allowed
    a = post_file(client, "a.csv", tiny_manifest(), base="tiny").json()["id"]
    b = post_file(client, "b.csv", tiny_manifest(), base="tiny-copy/").json()["id"]
    assert a == b  # both resolve to the same folder
    write_files(api_settings.data_root / "elsewhere", tiny_files())
    assert post_file(client, "c.csv", tiny_manifest(), base="elsewhere").json()["id"] != a


def test_bom_and_crlf_manifest_is_accepted(client: TestClient, tiny_dir: Path) -> None:
    crlf = b"\xef\xbb\xbf" + tiny_manifest().replace(b"\n", b"\r\n")
    response = post_file(client, "windows.csv", crlf)
    assert response.status_code == 201, response.text
    assert response.json()["num_rows"] == 17


def test_zip_bundle_is_unpacked_into_a_fresh_folder(client: TestClient, api_settings: Settings) -> None:
    bundle = make_zip({f"bundle/{rel}": data for rel, data in tiny_files().items()})
    response = post_file(client, "bundle.zip", bundle, base="")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["kind"] == "zip" and body["num_classes"] == 3
    folder = api_settings.uploads_dir / body["id"]
    assert (folder / "bundle" / "manifest.csv").is_file()
    assert (folder / "bundle" / "img" / "ant" / "train0.png").is_file()
    assert not [p for p in api_settings.uploads_dir.iterdir() if p.name.startswith(".incoming")]
    assert post_file(client, "again.zip", bundle).status_code == 200


def test_delete_dataset_removes_record_and_files(client: TestClient, api_settings: Settings) -> None:
    bundle = make_zip(tiny_files())
    dataset_id = post_file(client, "b.zip", bundle).json()["id"]
    assert client.delete(f"/api/datasets/{dataset_id}").status_code == 204
    assert client.get(f"/api/datasets/{dataset_id}").status_code == 404
    assert not (api_settings.uploads_dir / dataset_id).exists()
    assert client.delete(f"/api/datasets/{dataset_id}").status_code == 404


def test_delete_dataset_in_use_by_a_queued_run_is_refused(
    client: TestClient, upload_tiny: Callable[[], dict[str, Any]]
) -> None:
    dataset_id = upload_tiny()["id"]
    run = client.post("/api/runs", json={"dataset_id": dataset_id, "epochs": 1})
    assert run.status_code == 202, run.text
    assert_error(client.delete(f"/api/datasets/{dataset_id}"), 409, reason="queued or running")
    client.post(f"/api/runs/{run.json()['id']}/cancel")
    assert client.delete(f"/api/datasets/{dataset_id}").status_code == 204


# -- adversarial CSV uploads ----------------------------------------------------------------------------


@pytest.fixture
def outside_file(tmp_path: Path) -> Path:
    """A real image outside the data root (what traversal and symlink attacks try to reach)."""
    secret = tmp_path / "outside" / "secret.png"
    secret.parent.mkdir(parents=True)
    secret.write_bytes(png_bytes((1, 2, 3)))
    return secret


VALID_ROWS = ("img/ant/train0.png,ant,train", "img/bee/train0.png,bee,train", "img/cat/train0.png,cat,train")
VAL_ROWS = ("img/ant/val0.png,ant,val", "img/bee/val0.png,bee,val", "img/cat/val0.png,cat,val")


@pytest.mark.parametrize(
    ("rows", "reason", "row"),
    [
        (("../../outside/secret.png,ant,train",), "..", 2),
        (("/etc/passwd,ant,train",), "absolute", 2),
        (("img/ant/missing.png,ant,train",), "file not found", 2),
        (("img/ant/train0.png,ant,bogus",), "split", 2),
        (("img/ant/train0.png,,train",), "empty label", 2),
    ],
    ids=["traversal", "absolute-path", "missing-file", "bad-split", "empty-label"],
)
def test_bad_rows_are_reported_by_line(
    client: TestClient, tiny_dir: Path, rows: tuple[str, ...], reason: str, row: int
) -> None:
    response = post_file(client, "bad.csv", manifest(*rows, *VALID_ROWS, *VAL_ROWS))
    assert_error(response, 422, reason=reason, row=row)


def test_symlink_escaping_the_data_root_is_rejected(
    client: TestClient, tiny_dir: Path, outside_file: Path
) -> None:
    (tiny_dir / "img" / "ant" / "escape.png").symlink_to(outside_file)
    response = post_file(client, "link.csv", manifest("img/ant/escape.png,ant,train", *VALID_ROWS, *VAL_ROWS))
    assert_error(response, 422, reason="outside the data root", row=2)


def test_corrupt_image_is_rejected(client: TestClient, tiny_dir: Path) -> None:
    (tiny_dir / "img" / "ant" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    response = post_file(
        client, "corrupt.csv", manifest("img/ant/broken.png,ant,train", *VALID_ROWS, *VAL_ROWS)
    )
    assert_error(response, 422, reason="not a readable image", row=2)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"path,label,split\n", "no data rows"),
        (b"path,label\n\xff\xfe\x00bad,ant\n", "utf-8"),
        (b"file,class\nimg/ant/train0.png,ant\n", "path"),
        (
            manifest(
                "img/ant/train0.png,ant,train", "img/ant/train1.png,ant,train", "img/ant/val0.png,ant,val"
            ),
            "class",
        ),
    ],
    ids=["empty-file", "header-only", "non-utf8", "wrong-header", "single-class"],
)
def test_unusable_manifests_are_422(client: TestClient, tiny_dir: Path, data: bytes, reason: str) -> None:
    assert_error(post_file(client, "m.csv", data), 422, reason=reason)


def test_base_folder_must_stay_inside_the_data_root(
    client: TestClient, tiny_dir: Path, tmp_path: Path
) -> None:
    for base in ("../", "/etc", "tiny/../../"):
        assert_error(post_file(client, "m.csv", tiny_manifest(), base=base), 422, reason="base")
    assert_error(post_file(client, "m.csv", tiny_manifest(), base="nope"), 422, reason="does not exist")


# -- size caps --------------------------------------------------------------------------------------------


def test_oversize_upload_is_refused_from_its_content_length(
    client: TestClient, api_settings: Settings
) -> None:
    big = b"x" * (api_settings.max_upload_bytes + 128 * 1024)
    assert_error(post_file(client, "big.csv", big), 413, reason="exceeds")


def test_oversize_chunked_upload_is_cut_off_while_streaming(
    client: TestClient, api_settings: Settings
) -> None:
    boundary = "dnetboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n\r\n'
    ).encode()

    def body() -> Iterator[bytes]:
        yield head
        for _ in range(64):  # 4 MiB in total, far over the 0.25 MiB cap, and no Content-Length
            yield b"y" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    response = client.post(
        "/api/datasets",
        content=body(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    # (TestClient buffers the request; tests/integration checks that uvicorn stops reading early.)
    assert_error(response, 413, reason="exceeds")


def test_malformed_content_length_is_400(client: TestClient) -> None:
    response = client.post("/api/runs", content=b"{}", headers={"Content-Length": "abc"})
    assert response.status_code == 400


def test_json_bodies_have_their_own_small_cap(client: TestClient, api_settings: Settings) -> None:
    padding = "x" * (api_settings.max_json_body_kb * 1024 + 10)
    response = client.post("/api/runs", json={"dataset_id": "0" * 16, "pad": padding})
    assert_error(response, 413, reason=f"exceeds the {api_settings.max_json_body_kb} KiB limit")


# -- adversarial zip bundles --------------------------------------------------------------------------------


def _bundle_with(extra: dict[str, bytes]) -> dict[str, bytes]:
    return {**tiny_files(), **extra}


@pytest.mark.parametrize(
    ("entries", "status", "reason"),
    [
        (_bundle_with({"../evil.png": b"x"}), 422, ".."),
        (_bundle_with({"img/../../evil.png": b"x"}), 422, ".."),
        (_bundle_with({"/abs/evil.png": b"x"}), 422, "absolute"),
        (_bundle_with({"C:/evil.png": b"x"}), 422, "absolute"),
        (_bundle_with({"img\\..\\evil.png": b"x"}), 422, "backslash"),
        ({"img/a.png": png_bytes((1, 1, 1))}, 422, "no manifest"),
        ({"a/manifest.csv": b"x", "b/manifest.csv": b"y"}, 422, "several"),
        ({f"f{i}.png": b"x" for i in range(41)}, 413, "at most"),
    ],
    ids=["zip-slip", "zip-slip-nested", "absolute", "drive-letter", "backslash", "no-manifest", "ambiguous",
         "too-many-files"],
)  # fmt: skip
def test_unsafe_or_unusable_bundles_are_rejected(
    client: TestClient, api_settings: Settings, entries: dict[str, bytes], status: int, reason: str
) -> None:
    assert_error(post_file(client, "evil.zip", make_zip(entries)), status, reason=reason)
    assert not (api_settings.data_root.parent / "evil.png").exists()
    assert not list(api_settings.uploads_dir.glob(".incoming-*"))


def test_zip_symlink_entry_is_rejected(client: TestClient, api_settings: Settings) -> None:
    bundle = make_zip(tiny_files(), symlinks={"img/ant/link.png": "/etc/passwd"})
    assert_error(post_file(client, "link.zip", bundle), 422, reason="symbolic link")


def test_zip_bomb_is_rejected_by_the_uncompressed_cap(client: TestClient, api_settings: Settings) -> None:
    bomb = make_zip({**tiny_files(), "zeros.bin": b"\0" * (2 * api_settings.max_unzipped_bytes)})
    assert len(bomb) < api_settings.max_upload_bytes  # small on the wire, huge when inflated
    assert_error(post_file(client, "bomb.zip", bomb), 413, reason="unpacks")


def test_zip_that_lies_about_its_sizes_is_stopped_while_inflating(
    client: TestClient, api_settings: Settings
) -> None:
    files = tiny_files()
    files["img/ant/zeros.png"] = b"\0" * 200_000
    files["manifest.csv"] += b"img/ant/zeros.png,ant,train\n"  # named, so it is extracted
    data = bytearray(make_zip(files))
    # The central directory copy of the name comes last; its header starts 46 bytes before it and
    # holds the uncompressed size at offset 24. Claim 10 bytes instead of 200,000.
    header = data.rfind(b"img/ant/zeros.png") - 46
    assert data[header : header + 4] == b"PK\x01\x02"
    data[header + 24 : header + 28] = (10).to_bytes(4, "little")
    response = post_file(client, "liar.zip", bytes(data))
    assert_error(response, 422, reason="img/ant/zeros.png")
    assert list(api_settings.uploads_dir.iterdir()) == []


def test_corrupt_zip_is_422(client: TestClient) -> None:
    assert_error(post_file(client, "broken.zip", b"PK\x03\x04" + b"\0" * 100), 422, reason="zip")


def test_zip_with_an_invalid_manifest_reports_rows_and_leaves_nothing_behind(
    client: TestClient, api_settings: Settings
) -> None:
    files = tiny_files()
    files["manifest.csv"] += b"img/ant/nothere.png,ant,train\n"
    body = assert_error(post_file(client, "bad.zip", make_zip(files)), 422, reason="file not found", row=19)
    assert body["errors"][0]["column"] == "path"
    assert list(api_settings.uploads_dir.iterdir()) == []
