"""Real Chromium against a live stack: the 'Fine-tune pretrained' preset fills the images-and-backbone
fields, the run starts from a resnet18 state dict in the worker's TORCH_HOME cache (written by the test,
never downloaded), and the run page shows the data preparation (images decoded / total, cache miss) on its
progress bar before the first epoch."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
import torchvision
from playwright.sync_api import Page
from support.photo_dataset import TOTAL, write_photos
from test_e2e_browser import (  # the shared harness: the dashboard process and its browser tab
    ARTIFACTS,
    TOKEN,
    dashboard_url,
    page,
)

from stack.testing.live_stack import LiveStack

pytestmark = [pytest.mark.integration, pytest.mark.browser]
__all__ = ["dashboard_url", "page"]  # fixtures used through their names (browser: the package conftest)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    """A stack whose worker finds ImageNet-style resnet18 weights in its TORCH_HOME cache."""
    torch_home = tmp_path_factory.mktemp("torch-home")
    weights = torch_home / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    weights.parent.mkdir(parents=True)
    torch.save(torchvision.models.resnet18().state_dict(), weights)
    root = tmp_path_factory.mktemp("e2e-finetune")
    with LiveStack(root, api_token=TOKEN, extra_env={"TORCH_HOME": str(torch_home)}) as live:
        yield live


def test_fine_tune_preset_and_visible_preparation(
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
    p.wait_for_function(
        "(id) => !!document.querySelector('#new-run-dataset')?.textContent?.includes(id.slice(0, 8))",
        arg=dataset_id,
    )
    p.get_by_role("button", name="Fine-tune pretrained").click()
    p.wait_for_function("() => document.querySelector('#new-run-image-size')?.value === '112'")
    assert p.input_value("#new-run-backbone-lr-scale") == "0.1" and p.input_value("#new-run-lr") == "0.01"
    assert p.is_checked("#new-run-pretrained input[value=yes]")
    for field, value in (("new-run-epochs", "1"), ("new-run-batch-size", "32"), ("new-run-device", "cpu")):
        p.fill(f"#{field}", value)
    ARTIFACTS.mkdir(exist_ok=True)
    p.screenshot(path=str(ARTIFACTS / "new-run-finetune.png"), full_page=True)
    p.get_by_role("button", name="Start run").click()
    p.wait_for_url(lambda url: "/runs/new" not in url)
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
        config = api.get(f"/api/runs/{run_id}").json()["config"]
        assert config["pretrained"] is True and config["model"] == "resnet18" and config["image_size"] == 112
        assert config["backbone_lr_scale"] == 0.1 and config["dnet"]["meta_mode"] == "head"
        assert api.post(f"/api/runs/{run_id}/cancel").status_code == 202
    p.wait_for_selector("#run-status .status-cancelled", timeout=60_000)
    assert console_errors == []
