"""The exploration views in a real headless Chromium: class drill-down, confusions, "is the difficulty
right?", the epoch box and the runs overview.

The dashboard runs in this process (its real Flask server on a free port, in a thread) against the
in-memory fake backend, seeded with synthetic records that carry confusions and hardest examples, so a
1000-class run is there in a second instead of hours of training. ``test_e2e_browser.py`` drives the
same pages against the real stack. Screenshots (1280 and 390 px wide) go to ``test-artifacts/``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_helpers import click_point, open_tab, pick_from_search, require_chromium, wait_for_plot
from fake_backend import FakeBackend
from playwright.sync_api import Browser, Page
from werkzeug.serving import make_server

from dashboard.app import create_app
from dashboard.settings import DashboardSettings
from difficultynet.synthetic import long_tail_counts, synthetic_records
from stack.redis_server import free_port

pytestmark = [pytest.mark.browser]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
EPOCHS = 6

require_chromium()


class Seeded:
    """The fake backend's runs: a 10-class DNet run and its CE baseline, a 1000-class run, a finished
    CE run that may be deleted, and a running one that may not."""

    def __init__(self) -> None:
        self.backend = FakeBackend()
        small = {f"class_{i:04d}": n for i, n in enumerate(long_tail_counts(10))}
        self.small_dataset = self.backend.add_dataset(1, small, name="digits-lt.zip")
        self.baseline = self.backend.add_run(
            1, self.small_dataset, synthetic_records(10, EPOCHS, method="ce", skill=0.8, seed=2), method="ce"
        )
        self.dnet = self.backend.add_run(
            2, self.small_dataset, synthetic_records(10, EPOCHS, seed=1), baseline_run_id=self.baseline
        )
        large = {f"class_{i:04d}": n for i, n in enumerate(long_tail_counts(1000))}
        self.large_dataset = self.backend.add_dataset(2, large, name="imagenet-lt-like.csv")
        self.large = self.backend.add_run(3, self.large_dataset, synthetic_records(1000, 3, seed=3))
        self.doomed = self.backend.add_run(
            4, self.small_dataset, synthetic_records(10, 2, method="ce"), method="ce"
        )
        self.running = self.backend.add_run(
            5, self.small_dataset, synthetic_records(10, 1), status="running", epochs_total=EPOCHS
        )


@pytest.fixture(scope="module")
def seeded() -> Seeded:
    return Seeded()


@pytest.fixture(scope="module")
def dashboard_url(seeded: Seeded) -> Iterator[str]:
    settings = DashboardSettings(api_url="http://backend.test", poll_interval_ms=500)
    app = create_app(settings, api=seeded.backend.client())
    port = free_port()
    server = make_server("127.0.0.1", port, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        thread.join(10)


def open_page(browser: Browser, console_errors: list[str], width: int = 1280) -> Page:
    return open_tab(browser, console_errors, width=width, height=900)


@pytest.fixture
def page(browser: Browser, console_errors: list[str]) -> Iterator[Page]:
    p = open_page(browser, console_errors)
    yield p
    p.context.close()


def shot(page: Page, selector: str, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.locator(selector).screenshot(path=str(path))
    return path


def test_click_a_class_on_the_scatter_opens_its_panel_with_confusions_and_thumbnails(
    seeded: Seeded, dashboard_url: str, page: Page, console_errors: list[str]
) -> None:
    page.goto(f"{dashboard_url}/runs/{seeded.dnet}")
    wait_for_plot(page, "run-scatter", f"epoch {EPOCHS}")
    name = page.evaluate(
        "() => document.querySelector('#run-scatter .js-plotly-plot')._fullData[2].customdata[0][0]"
    )  # the first few-shot class
    click_point(page, "run-scatter", 2, 0)
    page.wait_for_selector(f"#run-class-panel h3 >> text={name}")  # its name, in the panel's title
    panel = page.inner_text("#run-class-panel")
    assert (
        "Train images" in panel
        and "Test images" in panel
        and "Few-shot" in panel.replace("few-shot", "Few-shot")
    )
    assert "Top confusions at epoch 6" in panel and "Hardest test images at epoch 6" in panel
    assert "in ce run" in panel  # the baseline's same class is drawn
    thumbs = page.locator("#run-class-panel img.thumb")
    assert thumbs.count() == 8
    page.wait_for_function(  # the thumbnails came through the dashboard's relay
        "() => [...document.querySelectorAll('#run-class-panel img.thumb')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    # the confusions and the difficulty check follow the slider; a class link in the pairs table opens it
    wait_for_plot(page, "run-confusions", "epoch 6")
    wait_for_plot(page, "run-difficulty-check", "epoch 6")
    wait_for_plot(page, "run-difficulty-count", "Spearman")
    other = page.locator("#run-confusion-pairs button.class-link").first
    other_name = other.inner_text()
    other.click()
    page.wait_for_selector(f"#run-class-panel h3 >> text={other_name}")
    page.set_viewport_size({"width": 1280, "height": 900})
    shot(page, "#run-class-section", "class-panel-1280")
    shot(page, "#run-confusions-section", "confusions-1280")
    shot(page, "#run-difficulty-check-section", "difficulty-check-1280")
    assert console_errors == []


def test_the_epoch_box_applies_on_enter_and_clamps(seeded: Seeded, dashboard_url: str, page: Page) -> None:
    page.goto(f"{dashboard_url}/runs/{seeded.dnet}")
    wait_for_plot(page, "run-scatter", f"epoch {EPOCHS}")
    box = page.locator("#run-epoch-input")
    box.fill("2")
    box.press("Enter")
    wait_for_plot(page, "run-scatter", "epoch 2")
    wait_for_plot(page, "run-confusions", "epoch 2")
    box.fill("99")
    box.press("Enter")
    wait_for_plot(page, "run-scatter", f"epoch {EPOCHS}")
    page.wait_for_function(f"() => document.querySelector('#run-epoch-input').value === '{EPOCHS}'")


def test_class_search_finds_a_class_among_1000(
    seeded: Seeded, dashboard_url: str, page: Page, console_errors: list[str]
) -> None:
    page.goto(f"{dashboard_url}/runs/{seeded.large}")
    wait_for_plot(page, "run-scatter", "epoch 3")
    pick_from_search(page, "run-class-search", "class_0987")
    page.wait_for_selector("#run-class-panel h3 >> text=class_0987")
    assert "1000 classes: the heatmap is drawn up to 100" in page.evaluate(
        "() => document.querySelector('#run-confusions .js-plotly-plot').layout.annotations[0].text"
    )
    assert page.locator("#run-confusion-pairs tbody tr").count() == 20
    assert console_errors == []


def test_phone_width_screenshots(seeded: Seeded, dashboard_url: str, browser: Browser) -> None:
    errors: list[str] = []
    page = open_page(browser, errors, width=390)
    try:
        page.goto(f"{dashboard_url}/runs/{seeded.dnet}")
        wait_for_plot(page, "run-scatter", f"epoch {EPOCHS}")
        pick_from_search(page, "run-class-search", "class_0007")
        page.wait_for_selector("#run-class-panel h3 >> text=class_0007")
        wait_for_plot(page, "run-confusions", "epoch 6")
        shot(page, "#run-class-section", "class-panel-390")
        shot(page, "#run-confusions-section", "confusions-390")
        shot(page, "#run-difficulty-check-section", "difficulty-check-390")
        assert errors == []
    finally:
        page.context.close()


def test_runs_page_lists_every_run_and_deletes_one_after_confirming(
    seeded: Seeded, dashboard_url: str, page: Page, browser: Browser, console_errors: list[str]
) -> None:
    page.goto(dashboard_url)  # the landing page
    page.wait_for_selector("#runs-table tbody tr")
    rows = page.locator("#runs-table tbody tr")
    assert rows.count() == len(seeded.backend.runs)
    table = page.inner_text("#runs-table")
    assert "digits-lt.zip" in table and "imagenet-lt-like.csv" in table and "running" in table.lower()
    with_history = [r for r in seeded.backend.records.values() if len(r) >= 2]  # a line needs two epochs
    assert page.locator("#runs-table img.sparkline").count() == len(with_history)
    # a running run cannot be deleted from here (cancel first)
    assert page.is_disabled(f"#runs-table button[id*='{seeded.running}']")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "runs-page-1280.png"), full_page=True)
    phone = open_page(browser, console_errors, width=390)
    phone.goto(dashboard_url)
    phone.wait_for_selector("#runs-table img.sparkline")
    phone.screenshot(path=str(ARTIFACTS / "runs-page-390.png"), full_page=True)
    phone.context.close()

    dialogs: list[str] = []

    def accept(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    page.click(f"#runs-table button[id*='{seeded.doomed}']")
    page.wait_for_selector("#runs-alert >> text=was deleted")
    assert dialogs and "Delete run" in dialogs[0]
    assert seeded.doomed not in seeded.backend.runs
    page.wait_for_selector(f"#runs-table a[href='/runs/{seeded.doomed}']", state="detached")
    assert page.locator("#runs-table tbody tr").count() == len(seeded.backend.runs)
    assert console_errors == []


def test_datasets_page_shows_the_class_frequencies_of_any_dataset(
    seeded: Seeded, dashboard_url: str, page: Page
) -> None:
    page.goto(f"{dashboard_url}/datasets")
    page.wait_for_function(
        "() => { const el = document.querySelector('#datasets-frequency-graph .js-plotly-plot');"
        " return el && el.data && el.data.length > 0; }"
    )
    bars = page.evaluate(
        "() => document.querySelector('#datasets-frequency-graph .js-plotly-plot').data"
        ".reduce((n, t) => n + t.x.length, 0)"
    )
    assert bars in (10, 1000)  # one bar per class of the picked dataset
