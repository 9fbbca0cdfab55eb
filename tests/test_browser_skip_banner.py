"""Without Chromium the browser end-to-end tests skip, and ``make test`` ends with a banner saying so;
with ``DNET_REQUIRE_BROWSER`` set (CI) the same situation is a failure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BROWSER_TESTS = "tests/dashboard/test_e2e_browser.py"


def run_browser_tests(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k != "DNET_REQUIRE_BROWSER"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", BROWSER_TESTS],
        cwd=REPO, env=clean | {"DNET_CHROMIUM": str(tmp_path / "no-chromium"), **env},
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_a_missing_chromium_ends_the_run_with_a_banner(tmp_path: Path) -> None:
    proc = run_browser_tests(tmp_path)
    assert proc.returncode in (0, 5), proc.stdout[-3000:]  # 5: the skipped module was all there was
    assert "THE BROWSER END-TO-END TESTS DID NOT RUN" in proc.stdout
    assert f"{tmp_path / 'no-chromium'} not installed" in proc.stdout
    # The banner comes last, after pytest's own short summary line.
    assert proc.stdout.rstrip().splitlines()[-1].startswith("!!!!")


def test_ci_turns_the_skip_into_a_failure(tmp_path: Path) -> None:
    proc = run_browser_tests(tmp_path, DNET_REQUIRE_BROWSER="1")
    assert proc.returncode != 0
    assert "DNET_REQUIRE_BROWSER is set" in proc.stdout
