"""A first start that shows something: on an empty runs list, ``dnet up`` queues a CE baseline and a
Difficulty-Net run (the default DNet recipe) on the demo dataset, so a new user sees curves grow and
per-class gains within minutes.

Through the API like any client (same validation, same queue). Never when any run exists, so a restart
(or a user who has started runs already) gets nothing new. ``dnet up --no-demo-runs`` turns it off.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from difficultynet.contracts.config import RECOMMENDED_DNET_METHOD
from stack.probes import PROBE_TIMEOUT_S, auth_headers

# Short runs: 16 px is lossless for the 8×8 digits, and 12 epochs get the few-shot classes off zero.
DEMO_RUN_COMMON: dict[str, Any] = {"epochs": 12, "batch_size": 64, "image_size": 16, "seed": 0}
DEMO_BASELINE: dict[str, Any] = {"method": "ce"}
DEMO_DNET: dict[str, Any] = {"method": RECOMMENDED_DNET_METHOD, "dnet_recipe": "default"}


@dataclass(frozen=True)
class DemoRuns:
    """What :func:`queue_demo_runs` did: the runs it queued (baseline first), or why it queued none."""

    run_ids: list[str] = field(default_factory=list)
    skipped: str | None = None  # runs exist already: nothing to do (not a problem)
    problem: str | None = None


def _error(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = None
    return f"HTTP {response.status_code}: {detail or response.text[:300]}"


def queue_demo_runs(api_url: str, dataset_id: str, token: str | None = None) -> DemoRuns:
    """Queue the CE baseline, then the DNet run compared against it, if the API has no run at all."""
    headers = auth_headers(token)
    try:
        listed = httpx.get(
            f"{api_url}/api/runs", params={"limit": 1}, headers=headers, timeout=PROBE_TIMEOUT_S
        )
        if listed.status_code != 200:
            return DemoRuns(problem=_error(listed))
        existing = int(listed.json()["total"])
        if existing:
            return DemoRuns(skipped=f"{existing} run(s) exist already")
        run_ids: list[str] = []
        for body in (DEMO_BASELINE, DEMO_DNET):
            request = {"dataset_id": dataset_id, **DEMO_RUN_COMMON, **body}
            if run_ids:
                request["baseline_run_id"] = run_ids[0]
            created = httpx.post(
                f"{api_url}/api/runs", json=request, headers=headers, timeout=PROBE_TIMEOUT_S
            )
            if created.status_code != 202:
                return DemoRuns(run_ids, problem=_error(created))
            run_ids.append(str(created.json()["id"]))
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        return DemoRuns(problem=str(exc) or type(exc).__name__)
    return DemoRuns(run_ids)
