"""Two Celery workers with distinct ``CUDA_VISIBLE_DEVICES`` on one Redis train two runs at the same time.

Real redis-server, real API and two real worker processes (``stack.testing.live_stack``). Each worker runs one
task at a time (``-c 1``, prefetch 1, late acks), so two runs submitted back to back must land on
different workers and overlap in time. CPU training ignores the pinned device ids, which is why distinct
values such as ``""`` and ``"1"`` work on a machine without a GPU.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from difficultynet.demo import write_demo_dataset
from stack.testing.live_stack import LiveStack

pytestmark = pytest.mark.integration

WORKER_DEVICES = ("", "1")
RUN_REQUEST: dict[str, Any] = {
    "method": "ce",
    "model": "resnet8",
    "epochs": 3,
    "batch_size": 32,
    "image_size": 16,
    "num_threads": 1,
    "device": "cpu",
}
TIMEOUT_S = 60.0


def upload_demo(client: httpx.Client, data_root: Path) -> str:
    manifest = write_demo_dataset(data_root / "demo")
    response = client.post(
        "/api/datasets",
        files={"file": ("manifest.csv", manifest.read_bytes(), "text/csv")},
        data={"base": "demo"},
    )
    assert response.status_code == 201, response.text
    dataset_id: str = response.json()["id"]
    return dataset_id


def wait_until_finished(
    client: httpx.Client, run_ids: list[str], stack: LiveStack
) -> tuple[list[dict[str, Any]], bool]:
    """Poll both runs until terminal; also report whether both were ever seen running at the same time."""
    deadline = time.monotonic() + TIMEOUT_S
    seen_together = False
    while True:
        runs = [client.get(f"/api/runs/{run_id}").raise_for_status().json() for run_id in run_ids]
        statuses = [run["status"] for run in runs]
        seen_together = seen_together or statuses == ["running", "running"]
        if all(s in ("succeeded", "failed", "cancelled") for s in statuses):
            return runs, seen_together
        assert time.monotonic() < deadline, f"runs still {statuses} after {TIMEOUT_S:.0f} s\n{stack.logs()}"
        time.sleep(0.2)


def test_two_workers_take_two_runs_concurrently(tmp_path: Path) -> None:
    with LiveStack(tmp_path, workers_at_start=0) as stack:
        for devices in WORKER_DEVICES:
            stack.start_worker(env={"CUDA_VISIBLE_DEVICES": devices})
        with stack.client() as client:
            dataset_id = upload_demo(client, stack.data_root)
            run_ids = []
            for seed in (0, 1):
                response = client.post(
                    "/api/runs", json={**RUN_REQUEST, "dataset_id": dataset_id, "seed": seed}
                )
                assert response.status_code == 202, response.text
                run_ids.append(response.json()["id"])
            runs, seen_together = wait_until_finished(client, run_ids, stack)
        logs = stack.logs()

    assert [run["status"] for run in runs] == ["succeeded", "succeeded"], logs
    nodes = [run["worker"].split(" ")[0] for run in runs]  # "worker1@host (pid 123)" -> "worker1@host"
    assert len(set(nodes)) == 2 and all(n.startswith(("worker1@", "worker2@")) for n in nodes), nodes
    assert [run["device"] for run in runs] == ["cpu", "cpu"]
    spans = [
        (datetime.fromisoformat(r["started_at"]), datetime.fromisoformat(r["finished_at"])) for r in runs
    ]
    overlap_s = (min(end for _, end in spans) - max(start for start, _ in spans)).total_seconds()
    assert overlap_s > 0, f"runs did not overlap in time: {spans} (seen running together: {seen_together})"
