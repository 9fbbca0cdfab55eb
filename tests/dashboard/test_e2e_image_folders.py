"""Bring your own image folder, in a real headless Chromium against the real local stack.

A zip of long-tailed photo-size JPEG class folders (no manifest) is dropped on the Datasets page with
custom split settings: the page shows the class-frequency chart, how the manifest was generated and the
classes too small for the splits; the generated manifest downloads (summary and datasets table); a
one-epoch Difficulty-Net run started from the new-run form succeeds. The stack, dashboard and browser
fixtures are the main browser test's.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page
from support.waiting import wait_until_finished
from test_e2e_browser import (  # noqa: F401  (pytest fixtures, used by name)
    ARTIFACTS,
    TRAIN_TIMEOUT_MS,
    dashboard_url,
    page,
    screenshot,
    stack,
)

from stack.testing.live_stack import LiveStack
from stack.testing.photos import write_photo_folder, zip_folder

pytestmark = [pytest.mark.integration, pytest.mark.browser]


def test_zip_of_image_folders_upload_splits_manifest_and_one_epoch(
    stack: LiveStack,  # noqa: F811
    dashboard_url: str,  # noqa: F811
    page: Page,  # noqa: F811
    console_errors: list[str],
    tmp_path: Path,
) -> None:
    folder = write_photo_folder(tmp_path / "photos", num_classes=6, n_max=12, imbalance=6)
    archive = tmp_path / "birds.zip"
    archive.write_bytes(zip_folder(folder.root, prefix="birds/"))

    p = page
    p.goto(f"{dashboard_url}/datasets")
    p.wait_for_selector("text=Backend online")
    p.fill("#datasets-val-per-class", "2")
    p.fill("#datasets-test-fraction", "0.25")
    p.fill("#datasets-split-seed", "3")
    p.set_input_files("#datasets-upload input[type=file]", str(archive))
    p.wait_for_selector("text=Uploaded birds.zip", timeout=120_000)
    summary = p.inner_text(".dataset-summary")
    assert "generated from image folders (one folder per class)" in summary
    assert "val 2/class · test 25% per class · seed 3" in summary
    short = p.locator(".short-classes-table tbody tr")
    assert short.count() == 3  # 4 images: 1 val; 2 images (twice): no val image
    assert "1 val image(s) instead of 2" in short.first.inner_text()
    p.wait_for_selector("#datasets-class-frequency .js-plotly-plot .xtick")
    screenshot(p, "datasets-image-folder")

    with p.expect_download() as download_info:
        p.locator(".dataset-summary").get_by_role("button", name="Download manifest CSV").click()
    saved = tmp_path / "manifest.csv"
    download_info.value.save_as(str(saved))
    rows = list(csv.DictReader(io.StringIO(saved.read_text())))
    assert len(rows) == folder.images == 33 and all(row["path"].startswith("birds/") for row in rows)
    dataset_id = download_info.value.suggested_filename.removesuffix("-manifest.csv")
    assert re.fullmatch(r"[0-9a-f]{16}", dataset_id)

    # the datasets table offers the same download
    row = p.locator("#datasets-list tr", has_text=dataset_id)
    with p.expect_download() as table_download:
        row.get_by_role("button", name="Manifest CSV").click()
    assert table_download.value.suggested_filename == f"{dataset_id}-manifest.csv"

    p.get_by_role("link", name="Start a run on this dataset").click()
    p.wait_for_function(
        "(id) => !!document.querySelector('#new-run-dataset')?.textContent?.includes(id.slice(0, 8))",
        arg=dataset_id,
    )
    p.get_by_role("button", name="Recommended DNet").click()
    for field, value in (("new-run-epochs", "1"), ("new-run-batch-size", "16"), ("new-run-device", "cpu")):
        p.fill(f"#{field}", value)
    p.get_by_role("button", name="Start run").click()
    p.wait_for_url(re.compile(r"/runs/[0-9a-f]{32}$"))
    assert console_errors == []  # the datasets and new-run pages; the run page has its own browser test
    run_id = p.url.rsplit("/", 1)[-1]
    with stack.client() as api:
        state = wait_until_finished(api, run_id, TRAIN_TIMEOUT_MS / 1000)
    assert state["dataset_id"] == dataset_id and state["status"] == "succeeded", state
    assert state["config"]["epochs"] == 1 and state["config"]["method"].startswith("dnet")
    assert (ARTIFACTS / "datasets-image-folder.png").stat().st_size > 10_000
