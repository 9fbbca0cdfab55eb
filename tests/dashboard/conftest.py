"""Fixtures of the dashboard tests: an in-memory backend behind httpx.MockTransport and its client; for the
browser tests, one headless Chromium per module and a list that collects a tab's console errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from browser_helpers import CHROMIUM, CHROMIUM_ARGS
from fake_backend import FakeBackend
from playwright.sync_api import Browser, sync_playwright

from dashboard.api_client import ApiClient


@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def api(backend: FakeBackend) -> Iterator[ApiClient]:
    client = backend.client()
    yield client
    client.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def console_errors() -> list[str]:
    return []
