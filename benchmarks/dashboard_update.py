"""Dashboard live-update cost (issue 5): server-side callback time and payload per update, 10–1000 classes.

Calls the run page's callback functions directly (the same code the Dash server runs), with the API client
talking to an in-process transport that serves pre-serialised epoch records, exactly as the backend splices
stored JSON. So the times include the HTTP client, record parsing, figure/patch building and JSON encoding
of the response as Dash sends it, but no network and no backend. Goal: ≤ 200 ms per live update.

    .venv/bin/python benchmarks/dashboard_update.py            # 10, 100, 1000 classes × 200 epochs
    .venv/bin/python benchmarks/dashboard_update.py --quick    # 50 epochs, fewer repeats
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from typing import Any

import httpx
import plotly.io.json as plotly_json
from _harness import CODE_VERSION, REPO_ROOT, command_line, machine, now_utc, time_calls

from dashboard.api_client import ApiClient
from dashboard.pages.run.class_panel import class_panel
from dashboard.pages.run.epoch_views import epoch_views_update
from dashboard.pages.run.live import RunPollUpdate, poll
from dashboard.run_view.state import RunViewState
from difficultynet.contracts.config import TrainConfig
from difficultynet.synthetic import synthetic_records

RESULTS = REPO_ROOT / "benchmarks" / "results" / "dashboard-update.md"
RUN_ID = "b" * 32
GOAL_MS = 200.0
PANEL_GOAL_MS = 300.0  # issue G: opening the class panel, and the confusion table (the epoch views)


class RecordServer:
    """The two backend routes a live tick uses, over pre-serialised records (like the real backend)."""

    def __init__(self, records_json: list[str], epochs_total: int) -> None:
        self.records_json = records_json
        self.visible = len(records_json)
        self.epochs_total = epochs_total

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == f"/api/runs/{RUN_ID}":
            run = {
                "id": RUN_ID, "status": "running", "dataset_id": "d" * 16, "epochs_total": self.epochs_total,
                "config": TrainConfig(epochs=self.epochs_total).model_dump(mode="json"),
                "epoch": self.visible, "elapsed_s": 12.5 * self.visible, "eta_s": 100.0,
                "created_at": "2026-11-23T12:00:00Z", "progress": self.visible / self.epochs_total,
            }  # fmt: skip
            return httpx.Response(200, json=run)
        match = re.fullmatch(rf"/api/runs/{RUN_ID}/epochs", request.url.path)
        if not match:
            return httpx.Response(404, json={"detail": "not found", "errors": []})
        after = int(request.url.params.get("after", 0))
        limit = int(request.url.params.get("limit", 1000))
        chosen = self.records_json[after : self.visible][:limit]
        body = (
            f'{{"run_id":"{RUN_ID}","status":"running","epochs_total":{self.epochs_total},'
            f'"last_epoch":{after + len(chosen)},"records":[{",".join(chosen)}]}}'
        )
        return httpx.Response(200, content=body.encode(), headers={"content-type": "application/json"})


def payload_bytes(outputs: Any) -> int:
    """Size of the callback response as Dash serialises it (plotly's JSON encoder)."""
    return len(plotly_json.to_json_plotly(outputs).encode())


def measure(
    label: str,
    fn: Callable[[], Any],
    repeat: int,
    rows: list[dict[str, Any]],
    classes: int,
    outputs_of: Callable[[Any], Any],
) -> None:
    """Time ``fn`` plus the JSON encoding of its outputs (both happen on the server for every update)."""

    def update_and_encode() -> int:
        return payload_bytes(outputs_of(fn()))

    timing, size = time_calls(update_and_encode, repeat)
    rows.append({"classes": classes, "what": label, "median_ms": timing.median_ms, "max_ms": timing.max_ms,
                 "repeat": repeat, "payload_kb": size / 1024})  # fmt: skip
    print(f"{classes:>5} classes  {label:<52} {timing}  payload {size / 1024:8.1f} KiB", flush=True)


def bench_classes(classes: int, epochs: int, repeat: int, rows: list[dict[str, Any]]) -> None:
    records = synthetic_records(classes, epochs, epochs_total=epochs, run_id=RUN_ID)
    server = RecordServer([r.model_dump_json() for r in records], epochs)
    api = ApiClient("http://bench", transport=httpx.MockTransport(server.handle))

    # the state a page has after drawing every epoch but the last: the next tick appends one epoch
    server.visible = epochs - 1
    drawn = poll(api, RUN_ID, RunViewState(), "difficulty", None, None)
    state = RunViewState.load(drawn.view_state)
    picks = state.picks or None
    server.visible = epochs

    def live_tick() -> RunPollUpdate:
        return poll(api, RUN_ID, state, "difficulty", picks, epochs - 1)

    def idle_tick() -> RunPollUpdate:
        done = state.model_copy(update={"drawn": epochs, "latest": epochs})
        return poll(api, RUN_ID, done, "difficulty", picks, epochs)

    def metric_toggle() -> RunPollUpdate:
        return poll(api, RUN_ID, state, "test_acc", picks, epochs - 1)

    as_outputs: Callable[[Any], Any] = lambda update: update.as_outputs()  # noqa: E731
    measure(
        f"live tick: +1 epoch (patch), after {epochs - 1} epochs",
        live_tick,
        repeat,
        rows,
        classes,
        as_outputs,
    )
    measure("idle tick: no new epoch", idle_tick, repeat, rows, classes, as_outputs)
    key = f"{RUN_ID}:{classes}"
    measure(
        "scatter: follow slider to the new epoch (patch; with confusions and the difficulty check)",
        lambda: epoch_views_update(api, RUN_ID, epochs, True, key),
        repeat,
        rows,
        classes,
        lambda update: update.as_outputs(),
    )
    tail = classes - 1  # synthetic classes run head → tail by index
    measure(
        f"class panel: open the tail class ({epochs} epochs)",
        lambda: class_panel(api, RUN_ID, tail, epochs, None),
        max(2, repeat // 4),
        rows,
        classes,
        lambda panel: panel,
    )
    toggle_label = f"metric toggle: rebuild curves from {epochs} epochs"
    measure(toggle_label, metric_toggle, max(2, repeat // 4), rows, classes, as_outputs)


def write_table(rows: list[dict[str, Any]], epochs: int, argv: list[str]) -> None:
    lines = [
        "# Dashboard live-update cost",
        "",
        f"Server-side time of the run page's callbacks and the size of their JSON response, per update, with "
        f"synthetic long-tailed records ({epochs} epochs, with confusions and hardest examples). Goal: "
        f"≤ {GOAL_MS:.0f} ms per live update, ≤ {PANEL_GOAL_MS:.0f} ms for the class panel and the epoch "
        "views (scatter, confusions, difficulty check).",
        "",
        f"- machine: {machine()}",
        f"- code {CODE_VERSION} (`git describe --dirty --always` at start), {now_utc()}",
        f"- command: `{command_line(argv)}`",
        "- what is timed: API client (in-process transport, records pre-serialised like the backend stores "
        "them) → record parsing → figure/patch building → JSON encoding as Dash sends it; no network",
        "",
        "| classes | update | median ms | max ms | n | payload KiB | ≤ goal |",
        "|---:|---|---:|---:|---:|---:|:---:|",
    ]
    for row in rows:
        live = row["what"].startswith(("live", "idle"))
        goal = PANEL_GOAL_MS if row["what"].startswith(("class panel", "scatter")) else GOAL_MS
        judged = live or goal == PANEL_GOAL_MS
        ok = ("yes" if row["median_ms"] <= goal else "**no**") if judged else "n/a"
        lines.append(
            f"| {row['classes']} | {row['what']} | {row['median_ms']:.1f} | {row['max_ms']:.1f} "
            f"| {row['repeat']} | {row['payload_kb']:.1f} | {ok} |"
        )
    lines += [
        "",
        "Live ticks send `dash.Patch` deltas: one appended point per class line (≤ 50 classes) or per group "
        "mean / picked class (> 50 classes), and one appended heatmap row; their size grows with the class "
        "count, not with the number of epochs already drawn. A metric toggle is a user action that redraws "
        "the curves from every epoch; it is not part of the per-epoch cost.",
        "",
    ]
    RESULTS.write_text("\n".join(lines))
    print(f"wrote {RESULTS.relative_to(REPO_ROOT)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="50 epochs, 5 repeats")
    parser.add_argument("--no-write", action="store_true", help="print only; leave the results table alone")
    args = parser.parse_args(argv)
    epochs, repeat = (50, 5) if args.quick else (args.epochs, args.repeat)
    rows: list[dict[str, Any]] = []
    for classes in args.classes:
        bench_classes(classes, epochs, repeat, rows)
    if not args.no_write and not args.quick:
        write_table(rows, epochs, sys.argv[1:] if argv is None else argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
