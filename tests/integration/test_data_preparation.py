"""Data preparation on a live stack (redis-server, a real Celery worker, the API): a run on 960×720
photos (``support.photo_dataset``: ~330 files, seconds of decoding on one core) reports its ``preparing``
phase with progress, a second run on the same dataset and size hits the image cache, and a cancel during
preparation ends the run ``cancelled`` with nothing cached."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.photo_dataset import TOTAL, write_photos
from support.waiting import run_state, wait_for, wait_until_finished

from stack.testing.live_stack import LiveStack

pytestmark = pytest.mark.integration

TRAINING: dict[str, Any] = {
    "method": "ce", "model": "resnet8", "epochs": 1, "batch_size": 64, "num_threads": 1, "device": "cpu",
}  # fmt: skip


@pytest.fixture(scope="module")
def photos_id(client: httpx.Client, stack: LiveStack) -> str:
    manifest = write_photos(stack.data_root / "photos")
    response = client.post("/api/datasets", files={"file": ("photos.csv", manifest)}, data={"base": "photos"})
    assert response.status_code in (200, 201), response.text
    return str(response.json()["id"])


def start(client: httpx.Client, dataset_id: str, image_size: int) -> str:
    response = client.post("/api/runs", json={"dataset_id": dataset_id, "image_size": image_size, **TRAINING})
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def follow(client: httpx.Client, run_id: str, timeout: float = 180) -> list[dict[str, Any]]:
    """Every state the API showed while polling fast, up to the terminal one."""
    states: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states.append(run_state(client, run_id))
        if states[-1]["status"] in ("succeeded", "failed", "cancelled"):
            return states
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish: {states[-1]}")


def cache_files(stack: LiveStack) -> list[Path]:
    return sorted((stack.root / "cache").glob("*.npy"))


def test_preparing_progress_then_a_cache_hit(client: httpx.Client, stack: LiveStack, photos_id: str) -> None:
    first = follow(client, start(client, photos_id, image_size=48))
    assert first[-1]["status"] == "succeeded", (first[-1], stack.logs())
    preparing = [s["preparing"] for s in first if s["phase"] == "preparing" and s["preparing"]]
    assert preparing, [s["phase"] for s in first]
    assert {p["total"] for p in preparing} == {TOTAL} and {p["cache"] for p in preparing} == {"miss"}
    partial = [p for p in preparing if 0 < p["done"] < TOTAL]
    assert partial and partial[-1]["rate"] > 0 and partial[-1]["eta_s"] is not None  # progress, not a jump
    dones = [p["done"] for p in preparing]
    assert dones == sorted(dones)
    assert first[-1]["preparing"]["done"] == TOTAL and first[-1]["phase"] == "finished"
    assert len(cache_files(stack)) == 1

    second = follow(client, start(client, photos_id, image_size=48))
    assert second[-1]["status"] == "succeeded", second[-1]
    assert second[-1]["preparing"] == {
        "done": TOTAL,
        "total": TOTAL,
        "rate": None,
        "eta_s": None,
        "cache": "hit",
    }
    assert not any(s["preparing"] and s["preparing"]["cache"] == "miss" for s in second)
    assert len(cache_files(stack)) == 1


def test_cancel_during_preparation(client: httpx.Client, stack: LiveStack, photos_id: str) -> None:
    before = cache_files(stack)
    run_id = start(client, photos_id, image_size=40)  # another size: a cache miss, decoded afresh

    def decoding() -> dict[str, Any] | None:
        state = run_state(client, run_id)
        assert state["status"] in ("queued", "running"), state
        prep = state["preparing"]
        return state if state["phase"] == "preparing" and prep and prep["done"] > 0 else None

    wait_for(decoding, 120, f"run {run_id} to decode its first images", interval=0.05)
    assert client.post(f"/api/runs/{run_id}/cancel").status_code == 202
    final = wait_until_finished(client, run_id, timeout=30)
    assert final["status"] == "cancelled" and final["epoch"] == 0, final
    assert final["preparing"]["done"] < final["preparing"]["total"]  # it stopped mid-way
    assert cache_files(stack) == before  # no half-written cache left behind
    assert not list((stack.root / "cache").glob(".*.tmp"))
