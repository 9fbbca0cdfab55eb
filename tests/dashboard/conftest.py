"""Fixtures of the dashboard tests: an in-memory backend behind httpx.MockTransport, and its client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fake_backend import FakeBackend

from dashboard.api_client import ApiClient


@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def api(backend: FakeBackend) -> Iterator[ApiClient]:
    client = backend.client()
    yield client
    client.close()
