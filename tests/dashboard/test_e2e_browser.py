"""The dashboard in a real headless Chromium against the real local stack.

redis-server + a Celery worker process + the API (``stack.testing.live_stack``) + ``python -m dashboard``, all
as child processes; the browser uploads an invalid manifest (row errors shown), then the mini CIFAR-10-LT
bundle, starts a CE baseline and a 2-epoch Difficulty-Net run through the form, watches the difficulty
curves gain a point per epoch, sees the gains chart, and downloads the weights export, which must match
the ``difficulty-weights/v1`` schema. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from difficultynet.export import validate_weights_export
from stack.redis_server import free_port
from stack.testing.live_stack import REPO_ROOT, LiveStack

pytestmark = [pytest.mark.integration, pytest.mark.browser]

CHROMIUM = Path(os.environ.get("DNET_CHROMIUM", "/usr/bin/chromium"))  # Debian's chromium
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync",
]  # fmt: skip
ARTIFACTS = REPO_ROOT / "test-artifacts"
TOKEN = "e2e-secret-token"
TRAIN_TIMEOUT_MS = 240_000
UI_TIMEOUT_MS = 30_000

if not CHROMIUM.exists():
    missing = f"{CHROMIUM} not installed (apt-get install chromium chromium-driver)"
    if os.environ.get("DNET_REQUIRE_BROWSER"):  # CI (.ci/run): a skipped browser test is a failure there
        pytest.fail(f"DNET_REQUIRE_BROWSER is set but {missing}", pytrace=False)
    pytest.skip(missing, allow_module_level=True)


def bundle_from_manifest(manifest: Path) -> bytes:
    """A zip bundle (manifest.csv + its images) of a manifest whose paths are relative to its folder."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:  # JPEGs do not compress further
        archive.write(manifest, "manifest.csv")
        with manifest.open(newline="") as handle:
            for row in csv.DictReader(handle):
                archive.write(manifest.parent / row["path"], row["path"])
    return buffer.getvalue()


def invalid_manifest() -> bytes:
    return (
        b"path,label,split\n"
        b"train/a.png,cat,train\n"
        b"train/b.png,,train\n"
        b"/etc/passwd,dog,train\n"
        b"train/c.png,dog,holdout\n"
    )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    with LiveStack(tmp_path_factory.mktemp("e2e-stack"), api_token=TOKEN) as live:
        yield live


@pytest.fixture(scope="module")
def dashboard_url(stack: LiveStack) -> Iterator[str]:
    """``python -m dashboard`` as a child process, talking to the stack's API with the token."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DNET_")}
    env.update(
        DNET_API_URL=stack.url,
        DNET_API_TOKEN=TOKEN,
        DNET_DASHBOARD_PORT=str(port),
        DNET_POLL_INTERVAL_MS="500",
    )
    log_path = stack.logs_dir / "dashboard.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "dashboard"], cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"dashboard exited:\n{log_path.read_text()[-3000:]}"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, f"dashboard not up:\n{log_path.read_text()[-3000:]}"
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def console_errors() -> list[str]:
    return []


@pytest.fixture
def page(browser: Browser, console_errors: list[str]) -> Iterator[Page]:
    """A fresh tab; console messages of level ``error`` and uncaught exceptions land in ``console_errors``."""
    context = browser.new_context(viewport={"width": 1360, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            console_errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: console_errors.append(str(exc)))
    yield page
    context.close()


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_selector(".js-plotly-plot .xtick")
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def trace_points(page: Page, graph_id: str) -> list[int]:
    """Number of x values of each trace of a dcc.Graph, read from the plotly div in the page."""
    return page.evaluate(
        "(id) => { const el = document.querySelector(`#${id} .js-plotly-plot`);"
        " return el && el.data ? el.data.map(t => (t.x || []).length) : []; }",
        graph_id,
    )


def choose(page: Page, dropdown_id: str, option_text: str) -> None:
    page.click(f"#{dropdown_id}")
    page.get_by_role("option", name=option_text).first.click()


def start_run(page: Page, url: str, dataset_id: str, preset: str, baseline: str | None = None) -> str:
    page.goto(f"{url}/runs/new?dataset={dataset_id}")
    page.wait_for_function(  # the dataset options arrived and the requested one is selected
        "(id) => !!document.querySelector('#new-run-dataset')?.textContent?.includes(id.slice(0, 8))",
        arg=dataset_id,
    )
    page.get_by_role("button", name=preset).click()
    for field, value in (("new-run-epochs", "2"), ("new-run-batch-size", "64"), ("new-run-device", "cpu")):
        page.fill(f"#{field}", value)
    if baseline:
        choose(page, "new-run-baseline", baseline[:8])
    page.get_by_role("button", name="Start run").click()
    page.wait_for_url(re.compile(r"/runs/[0-9a-f]{32}$"))
    return str(page.url).rsplit("/", 1)[-1]


def test_upload_train_watch_compare_and_export(
    stack: LiveStack,
    dashboard_url: str,
    page: Page,
    console_errors: list[str],
    mini_manifest: Path,
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    p = page

    # 1. an invalid manifest: the row errors are listed
    p.goto(f"{dashboard_url}/datasets")
    p.wait_for_selector("text=Backend online")
    bad = tmp_path / "bad.csv"
    bad.write_bytes(invalid_manifest())
    p.set_input_files("#datasets-upload input[type=file]", str(bad))
    errors = p.locator(".errors-table tbody tr")
    errors.first.wait_for()
    assert errors.count() >= 3
    table = p.inner_text(".errors-block")
    assert "bad.csv was rejected" in table and "split" in table and "label" in table
    ARTIFACTS.mkdir(exist_ok=True)
    p.screenshot(path=str(ARTIFACTS / "datasets-errors.png"), full_page=True)

    # 2. the mini CIFAR-10-LT bundle: histogram, imbalance factor, splits
    bundle = tmp_path / "cifar10-lt-mini.zip"
    bundle.write_bytes(bundle_from_manifest(mini_manifest))
    p.set_input_files("#datasets-upload input[type=file]", str(bundle))
    p.wait_for_selector("text=Uploaded cifar10-lt-mini.zip", timeout=120_000)
    summary = p.inner_text(".dataset-summary")
    assert "10.0" in summary and "train 812" in summary and "test 1000" in summary
    p.wait_for_selector("#datasets-class-frequency .js-plotly-plot .xtick")
    assert sum(trace_points(p, "datasets-class-frequency")) == 10  # one bar per class, in group traces
    screenshot(p, "datasets-uploaded")
    with stack.client() as api:
        datasets = api.get("/api/datasets").json()["datasets"]
    dataset_id = next(d["id"] for d in datasets if d["name"] == "cifar10-lt-mini.zip")

    # 3a. an invalid learning rate is refused next to its field, and no run is created
    with stack.client() as api:
        runs_before = api.get("/api/runs").json()["total"]
    p.goto(f"{dashboard_url}/runs/new?dataset={dataset_id}")
    p.wait_for_function(
        "(id) => !!document.querySelector('#new-run-dataset')?.textContent?.includes(id.slice(0, 8))",
        arg=dataset_id,
    )
    p.fill("#new-run-lr", "-1")
    p.fill("#new-run-batch-size", "2.5")
    p.get_by_role("button", name="Start run").click()
    p.wait_for_selector("#new-run-error-lr >> text=greater than 0")
    assert "whole number" in p.inner_text("#new-run-error-batch-size")
    assert "no run was started" in p.inner_text("#new-run-alert")
    p.screenshot(path=str(ARTIFACTS / "new-run-errors.png"), full_page=True)
    assert p.url.endswith(f"/runs/new?dataset={dataset_id}")
    with stack.client() as api:
        assert api.get("/api/runs").json()["total"] == runs_before

    # 3b. a CE baseline and a Difficulty-Net run with that baseline, both through the form
    ce_id = start_run(p, dashboard_url, dataset_id, "CE baseline")
    dnet_id = start_run(p, dashboard_url, dataset_id, "Paper DNet", baseline=ce_id)
    assert dnet_id != ce_id
    with stack.client() as api:
        run = api.get(f"/api/runs/{dnet_id}").json()
    assert run["config"]["method"] == "dnet" and run["config"]["dnet"]["meta_mode"] == "full"
    assert run["baseline_run_id"] == ce_id and run["config"]["epochs"] == 2

    # 4. live: the difficulty curves gain a point per epoch (10 classes: one line each + the colorbar)
    for epoch in (1, 2):
        p.wait_for_function(
            "([id, n]) => { const el = document.querySelector(`#${id} .js-plotly-plot`);"
            " return el && el.data && el.data.length === 11 && el.data[0].x.length >= n; }",
            arg=["run-curves", epoch],
            timeout=TRAIN_TIMEOUT_MS,
        )
        assert trace_points(p, "run-curves")[:10] == [epoch] * 10 or epoch == 1
    p.wait_for_selector("#run-status .status-succeeded", timeout=TRAIN_TIMEOUT_MS)
    assert trace_points(p, "run-curves")[:10] == [2] * 10
    assert trace_points(p, "run-heatmap") == [10]  # x = the 10 classes; one row per epoch
    heat_rows = p.evaluate("document.querySelector('#run-heatmap .js-plotly-plot').data[0].z.length")
    assert heat_rows == 2
    assert "Epoch 2 / 2" in p.inner_text("#run-progress-text")
    assert p.is_disabled("#run-cancel-button")
    health = p.inner_text("#run-dnet-health")
    assert "Epoch 2:" in health and "ρ(w, train count)" in health and "Meta-gradient norm" in health

    # 5. gains over the CE baseline (selected in the form): bars per group plus three mean lines
    p.wait_for_function(
        "() => { const el = document.querySelector('#run-gains .js-plotly-plot');"
        " return el && el.data && el.data.length === 6; }",
        timeout=TRAIN_TIMEOUT_MS,
    )
    assert sum(trace_points(p, "run-gains")[:3]) == 10
    assert "vs baseline" in p.inner_text("#run-headlines")
    assert "Mean gain" in p.inner_text("#run-gains-note")
    # the difficulty-vs-frequency scatter follows the last epoch
    p.wait_for_function(
        "() => { const el = document.querySelector('#run-scatter .js-plotly-plot');"
        " return el && el.layout && el.layout.title.text.endsWith('epoch 2'); }"
    )
    shot = screenshot(p, "run-page")
    assert shot.stat().st_size > 10_000

    # 6. export: the downloaded weights JSON matches the difficulty-weights/v1 schema
    with p.expect_download() as download_info:
        p.get_by_role("button", name="Download weights JSON").click()
    download = download_info.value
    saved = tmp_path / "weights.json"
    download.save_as(str(saved))
    doc = json.loads(saved.read_text())
    validate_weights_export(doc)
    assert download.suggested_filename == f"{dnet_id}-weights.json"
    with p.expect_download() as csv_info:
        p.get_by_role("button", name="Download metrics (CSV)").click()
    csv_path = tmp_path / "metrics.csv"
    csv_info.value.save_as(str(csv_path))
    assert len(csv_path.read_text().splitlines()) == 1 + 2 * 10

    # 7. compare both runs
    p.goto(f"{dashboard_url}/compare?dataset={dataset_id}&runs={ce_id},{dnet_id}")
    p.wait_for_function(
        "() => { const el = document.querySelector('#compare-balanced .js-plotly-plot');"
        " return el && el.data && el.data.length === 2; }"
    )
    screenshot(p, "compare")

    # the token stays on the server; the browser saw no error
    assert TOKEN not in p.content()
    assert console_errors == []
    print(f"e2e scenario took {time.monotonic() - started:.1f} s")


def test_unknown_run_404_and_backend_outage_are_messages(
    stack: LiveStack, dashboard_url: str, page: Page
) -> None:
    """Runs last in this module: it stops the API."""
    page.goto(f"{dashboard_url}/runs/{'0' * 32}")
    page.wait_for_selector("#run-alert >> text=was not found")
    page.goto(f"{dashboard_url}/runs/not-a-run")
    page.wait_for_selector("#run-alert >> text=No such run")
    assert "Retrying" not in page.inner_text("#run-alert")
    page.goto(f"{dashboard_url}/nowhere")
    page.wait_for_selector("text=Page not found")
    assert stack.api is not None
    stack.api.stop()
    page.goto(f"{dashboard_url}/datasets")
    page.wait_for_selector("#datasets-list-alert >> text=cannot reach the backend")
    page.wait_for_selector("text=Backend unreachable")
    assert "Traceback" not in page.content()
