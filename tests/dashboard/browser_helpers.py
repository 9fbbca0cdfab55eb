"""Helpers of the browser tests: the Chromium they drive, a tab that records console errors, waiting for a
plotly figure and clicking one of its points like a user."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page

CHROMIUM = Path(os.environ.get("DNET_CHROMIUM", "/usr/bin/chromium"))  # Debian's chromium
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync",
]  # fmt: skip
UI_TIMEOUT_MS = 30_000


def require_chromium() -> None:
    """Skip the calling test module without Chromium, or fail it where CI requires the browser tests."""
    if CHROMIUM.exists():
        return
    missing = f"{CHROMIUM} not installed (apt-get install chromium chromium-driver)"
    if os.environ.get("DNET_REQUIRE_BROWSER"):  # CI (.ci/run): a skipped browser test is a failure there
        pytest.fail(f"DNET_REQUIRE_BROWSER is set but {missing}", pytrace=False)
    pytest.skip(missing, allow_module_level=True)


def open_tab(browser: Browser, console_errors: list[str], width: int = 1360, height: int = 1000) -> Page:
    """A fresh tab; console messages of level ``error`` and uncaught exceptions land in ``console_errors``."""
    context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            console_errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: console_errors.append(str(exc)))
    return page


def wait_for_plot(page: Page, graph_id: str, title_part: str) -> None:
    page.wait_for_function(
        "([id, part]) => { const el = document.querySelector(`#${id} .js-plotly-plot`);"
        " return el && el.layout && el.layout.title && el.layout.title.text.includes(part); }",
        arg=[graph_id, title_part],
    )


def click_point(page: Page, graph_id: str, trace: int, point: int) -> None:
    """A real mouse click on one point of a plotly trace, at the pixel plotly drew it."""
    x, y = page.evaluate(
        """([id, t, i]) => {
            const el = document.querySelector(`#${id} .js-plotly-plot`);
            el.scrollIntoView({block: 'center'});
            const trace = el._fullData[t], xa = el._fullLayout[trace.xaxis.replace('x', 'xaxis')],
                  ya = el._fullLayout[trace.yaxis.replace('y', 'yaxis')];
            const box = el.getBoundingClientRect();
            return [box.left + xa._offset + xa.c2p(trace.x[i]), box.top + ya._offset + ya.c2p(trace.y[i])];
        }""",
        [graph_id, trace, point],
    )
    page.mouse.move(x, y)
    page.mouse.click(x, y)


def pick_from_search(page: Page, dropdown_id: str, text: str) -> None:
    """Open a searchable ``dcc.Dropdown``, put ``text`` into its search box and click the first option that
    names it. Waiting for the box matters on a loaded machine: keys typed before the popover has opened and
    focused its box are lost, and the unfiltered list of 1000 options never shows the one wanted."""
    page.click(f"#{dropdown_id}")
    search = page.locator("input.dash-dropdown-search")
    search.wait_for(state="visible")
    search.fill(text)
    page.get_by_role("option", name=text, exact=False).first.click()
