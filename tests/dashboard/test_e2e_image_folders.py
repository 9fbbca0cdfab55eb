"""A new user's own photos, in a real headless Chromium against the real local stack (issue H's acceptance).

1. The new-user path: a zip of long-tailed JPEG class folders (no manifest) is dropped on the Datasets page
   with custom split settings; the page shows the class-frequency chart, how the splits were generated and
   the classes too small for them; the generated manifest downloads. The *Fine-tune pretrained* preset
   starts a 2-epoch Difficulty-Net run on resnet18 ``pretrained`` from a state dict in the worker's
   TORCH_HOME cache (written here, never downloaded); the run page shows the data preparation reach 100 %,
   then the epochs; the weights export downloads and matches ``difficulty-weights/v1``.
2. Live preparation: on a set of large PNGs that takes seconds to decode, the run page's bar counts images
   while they are decoded, and Cancel stops the run there.

Screenshots go to ``test-artifacts/``; ``new-user-run.png`` is the README's.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import torchvision
from playwright.sync_api import Page
from support.photo_dataset import TOTAL, write_photos
from test_e2e_browser import (  # the shared harness: the dashboard process and its browser tab
    ARTIFACTS,
    TOKEN,
    TRAIN_TIMEOUT_MS,
    dashboard_url,
    page,
    screenshot,
    trace_points,
)

from difficultynet.export import validate_weights_export
from stack.testing.live_stack import LiveStack
from stack.testing.photos import write_photo_folder, zip_folder

pytestmark = [pytest.mark.integration, pytest.mark.browser]
__all__ = ["dashboard_url", "page"]  # fixtures used through their names (browser: the package conftest)

# torchvision's own file name for ResNet18_Weights.IMAGENET1K_V1, where `--pretrained` looks for it offline
RESNET18_CHECKPOINT = Path(torchvision.models.ResNet18_Weights.IMAGENET1K_V1.url).name

# Records every text the run page's progress line shows (and the bar with it), from page load on.
RECORD_PROGRESS = """
window.__progress = [];
new MutationObserver(() => {
  const line = document.querySelector('#run-progress-text'), bar = document.querySelector('#run-progress');
  if (!line || !bar) return;
  const state = `${line.textContent} | ${bar.value}/${bar.max}`;
  if (window.__progress[window.__progress.length - 1] !== state) window.__progress.push(state);
}).observe(document, {subtree: true, childList: true, characterData: true, attributes: true});
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    """A stack whose worker finds ImageNet-style resnet18 weights in its TORCH_HOME cache."""
    torch_home = tmp_path_factory.mktemp("torch-home")
    weights = torch_home / "hub" / "checkpoints" / RESNET18_CHECKPOINT
    weights.parent.mkdir(parents=True)
    torch.save(torchvision.models.resnet18().state_dict(), weights)
    root = tmp_path_factory.mktemp("e2e-image-folders")
    with LiveStack(root, api_token=TOKEN, extra_env={"TORCH_HOME": str(torch_home)}) as live:
        yield live


def wait_for_form_dataset(p: Page, dataset_id: str) -> None:
    """The new-run form's dataset options arrived and ``dataset_id`` is selected."""
    p.wait_for_function(
        "(id) => !!document.querySelector('#new-run-dataset')?.textContent?.includes(id.slice(0, 8))",
        arg=dataset_id,
    )


def test_new_user_zip_upload_to_pretrained_dnet_run_and_weights_export(
    stack: LiveStack, dashboard_url: str, page: Page, console_errors: list[str], tmp_path: Path
) -> None:
    folder = write_photo_folder(
        tmp_path / "photos", num_classes=6, n_max=48, imbalance=16, sizes=((160, 120), (120, 160))
    )
    archive = tmp_path / "birds.zip"
    archive.write_bytes(zip_folder(folder.root, prefix="birds/"))
    p = page
    p.context.add_init_script(RECORD_PROGRESS)

    # 1. drop the zip with custom splits: summary, classes too small for the splits, class-frequency chart
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
    assert short.count() == 1 and "1 val image(s) instead of 2" in short.first.inner_text()
    p.wait_for_selector("#datasets-class-frequency .js-plotly-plot .xtick")
    assert sum(trace_points(p, "datasets-class-frequency")) == 6  # one bar per class
    screenshot(p, "datasets-image-folder")

    # 2. the generated manifest: from the summary and from the datasets table
    with p.expect_download() as download_info:
        p.locator(".dataset-summary").get_by_role("button", name="Download manifest CSV").click()
    saved = tmp_path / "manifest.csv"
    download_info.value.save_as(str(saved))
    rows = list(csv.DictReader(io.StringIO(saved.read_text())))
    assert len(rows) == folder.images and all(row["path"].startswith("birds/") for row in rows)
    assert {row["split"] for row in rows} == {"train", "val", "test"}
    dataset_id = download_info.value.suggested_filename.removesuffix("-manifest.csv")
    assert re.fullmatch(r"[0-9a-f]{16}", dataset_id)
    row = p.locator("#datasets-list tr", has_text=dataset_id)
    with p.expect_download() as table_download:
        row.get_by_role("button", name="Manifest CSV").click()
    assert table_download.value.suggested_filename == f"{dataset_id}-manifest.csv"

    # 3. the Fine-tune preset: resnet18 pretrained, lower backbone lr, DNet head mode; small and short here
    p.get_by_role("link", name="Start a run on this dataset").click()
    wait_for_form_dataset(p, dataset_id)
    p.get_by_role("button", name="Fine-tune pretrained").click()
    p.wait_for_function("() => document.querySelector('#new-run-image-size')?.value === '112'")
    assert p.input_value("#new-run-backbone-lr-scale") == "0.1" and p.input_value("#new-run-lr") == "0.01"
    assert p.is_checked("#new-run-pretrained input[value=yes]")
    for field, value in (
        ("new-run-image-size", "64"), ("new-run-epochs", "2"), ("new-run-batch-size", "16"),
        ("new-run-device", "cpu"),
    ):  # fmt: skip
        p.fill(f"#{field}", value)
    p.screenshot(path=str(ARTIFACTS / "new-run-finetune.png"), full_page=True)
    p.get_by_role("button", name="Start run").click()
    p.wait_for_url(re.compile(r"/runs/[0-9a-f]{32}$"))
    run_id = p.url.rsplit("/", 1)[-1]

    # 4. the run page: data preparation to 100 % (kept on the line), then the epochs, curves per epoch
    images = folder.images
    p.wait_for_selector("#run-status .status-succeeded", timeout=TRAIN_TIMEOUT_MS)
    line = p.inner_text("#run-progress-text")
    assert "Epoch 2 / 2" in line and f"data prepared: {images} / {images} images (100%), cache miss" in line
    assert trace_points(p, "run-curves")[:6] == [2] * 6
    header = p.inner_text("#run-title")  # the memory the run needs, estimated when it was created
    assert re.search(r"Needs about \d+\.\d [MG]iB of RAM: activations ", header), header
    shown: list[str] = p.evaluate("window.__progress")
    preparing = [s for s in shown if s.startswith("Preparing data:")]
    epochs = [s for s in shown if s.startswith("Epoch ")]
    assert epochs and all(shown.index(s) < shown.index(epochs[0]) for s in preparing), shown
    assert all(f"/ {images} images" in s and s.endswith(f"/{images}") for s in preparing), shown
    p.wait_for_selector("#run-scatter .js-plotly-plot .xtick")
    p.evaluate("window.scrollTo(0, 0)")
    p.screenshot(path=str(ARTIFACTS / "new-user-run.png"))  # the first screen of the page: the README's
    with stack.client() as api:
        run = api.get(f"/api/runs/{run_id}").json()
    config = run["config"]
    assert run["dataset_id"] == dataset_id and run["status"] == "succeeded", run
    assert config["pretrained"] is True and config["model"] == "resnet18" and config["image_size"] == 64
    assert config["backbone_lr_scale"] == 0.1 and config["dnet"]["meta_mode"] == "head"
    assert run["preparing"] == {**run["preparing"], "done": images, "total": images, "cache": "miss"}

    # 5. the weights export
    with p.expect_download() as weights_download:
        p.get_by_role("button", name="Download weights JSON").click()
    saved_weights = tmp_path / "weights.json"
    weights_download.value.save_as(str(saved_weights))
    doc = json.loads(saved_weights.read_text())
    validate_weights_export(doc)
    assert weights_download.value.suggested_filename == f"{run_id}-weights.json"
    assert console_errors == []


def test_preparation_counts_images_live_and_cancel_stops_it(
    stack: LiveStack, dashboard_url: str, page: Page, console_errors: list[str]
) -> None:
    manifest = write_photos(stack.data_root / "photos")
    with stack.client() as api:
        files = {"file": ("photos.csv", manifest)}
        response = api.post("/api/datasets", files=files, data={"base": "photos"})
        assert response.status_code in (200, 201), response.text
        dataset_id = response.json()["id"]

    p = page
    p.goto(f"{dashboard_url}/runs/new?dataset={dataset_id}")
    wait_for_form_dataset(p, dataset_id)
    p.get_by_role("button", name="Fine-tune pretrained").click()
    p.wait_for_function("() => document.querySelector('#new-run-image-size')?.value === '112'")
    for field, value in (("new-run-epochs", "1"), ("new-run-batch-size", "32"), ("new-run-device", "cpu")):
        p.fill(f"#{field}", value)
    p.get_by_role("button", name="Start run").click()
    p.wait_for_url(re.compile(r"/runs/[0-9a-f]{32}$"))
    run_id = p.url.rsplit("/", 1)[-1]

    p.wait_for_selector("#run-progress-text >> text=Preparing data:", timeout=120_000)
    p.wait_for_function(  # the bar counts images while preparing
        "(total) => { const bar = document.querySelector('#run-progress');"
        " return bar && Number(bar.max) === total && Number(bar.value) > 0; }",
        arg=TOTAL,
        timeout=120_000,
    )
    text = p.inner_text("#run-progress-text")
    assert f"/ {TOTAL} images" in text and "cache miss" in text, text
    p.screenshot(path=str(ARTIFACTS / "run-preparing.png"), full_page=True)

    with stack.client() as api:
        assert api.post(f"/api/runs/{run_id}/cancel").status_code == 202
    p.wait_for_selector("#run-status .status-cancelled", timeout=60_000)
    assert console_errors == []
