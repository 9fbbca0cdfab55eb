"""Integration tests: a real redis-server, real Celery worker processes and the API under uvicorn.

Each module shares one :class:`LiveStack`. The dataset is the shared CIFAR-10-LT mini set (812 train
images, 32×32) when ``../shared`` exists, else the built-in digits demo.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from stack.testing.datasets import upload_training_dataset
from stack.testing.live_stack import LiveStack

TOKEN = "integration-token"


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    """One stack per module; a module sets ``WORKERS = n`` to start n worker processes (default 1)."""
    workers = getattr(request.module, "WORKERS", 1)
    root = tmp_path_factory.mktemp("stack")
    with LiveStack(root, api_token=TOKEN, workers_at_start=workers) as live:
        yield live


@pytest.fixture(scope="module")
def client(stack: LiveStack) -> Iterator[httpx.Client]:
    with stack.client(timeout=60) as http:
        yield http


@pytest.fixture(scope="module")
def dataset_id(client: httpx.Client, stack: LiveStack) -> str:
    return upload_training_dataset(client, stack.data_root)
