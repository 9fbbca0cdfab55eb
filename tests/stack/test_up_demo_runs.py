"""`dnet up` queues the demo runs on a first start only, never again once runs exist (a restart): two real
starts of the whole stack on one var dir, one after the other. ``--no-demo-runs`` is what
``test_up_integration.py`` starts its stack with (checked there)."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from stack.redis_server import free_port
from tests.stack.test_up_integration import (
    STARTUP_TIMEOUT_S,
    dnet_up_command,
    follow,
    stack_env,
    stop_with_ctrl_c,
)

pytestmark = pytest.mark.integration

BANNER_END = "Press Ctrl-C to stop."
DEMO_LINE = "Demo runs: a CE baseline and a Difficulty-Net run on the demo dataset are queued"


def up_list_runs_and_stop(var_dir: Path, *flags: str) -> tuple[list[dict[str, object]], str]:
    """Start `dnet up`, wait for its banner, list the runs through the API, then stop it with Ctrl-C."""
    api_port = free_port()
    process = subprocess.Popen(
        dnet_up_command("--api-port", str(api_port), "--dashboard-port", str(free_port()), *flags),
        env=stack_env(var_dir),
        cwd=var_dir.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    threading.Thread(target=follow, args=(process, lines), daemon=True).start()
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not any(BANNER_END in line for line in lines):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"dnet up did not come up (exit {process.poll()}):\n" + "\n".join(lines))
            time.sleep(0.2)
        runs = httpx.get(f"http://127.0.0.1:{api_port}/api/runs", timeout=10).json()["runs"]
        return runs, "\n".join(lines)
    finally:
        stop_with_ctrl_c(process)


def test_demo_runs_on_a_first_start_only(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    runs, output = up_list_runs_and_stop(var_dir)
    assert DEMO_LINE in output and "--no-demo-runs" in output
    assert len(runs) == 2
    dnet, baseline = runs  # newest first
    assert (baseline["config"]["method"], dnet["config"]["method"]) == ("ce", "dnet-bsce")  # type: ignore[index]
    assert dnet["baseline_run_id"] == baseline["id"]
    assert dnet["dataset_id"] == baseline["dataset_id"]

    runs, output = up_list_runs_and_stop(var_dir)  # a restart: the runs exist, nothing is queued
    assert {run["id"] for run in runs} == {dnet["id"], baseline["id"]}
    assert DEMO_LINE not in output and "Traceback" not in output
