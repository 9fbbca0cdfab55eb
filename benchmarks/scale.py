"""Scale benchmark (issue 7, target 3): 1000 classes end to end through worker → stream → API → dashboard.

On a real stack (redis-server, one Celery worker process, the uvicorn API; ``benchmarks/_harness.py``):

1. generates the ImageNet-LT-sized synthetic dataset (``synthetic_lt.py``: 1000 classes, 1280 … 5 train
   images per class, 20 val + 50 test per class like ImageNet-LT) and registers it through the API
   (every image is opened by the manifest validation);
2. trains a scaled-down profile of it (same 1000 classes, counts × ``--scale``) with Difficulty-Net through
   the API and a real worker, following the run's Server-Sent Events live;
3. measures the finished run: epoch-record size, Redis memory (``MEMORY USAGE`` of the stream, the run
   hash and the weights key; ``INFO used_memory`` delta), stream reads (XRANGE, ``GET …/epochs?after=0``,
   an SSE replay) and the dashboard's live-update callback (``dashboard.pages.run.live.poll``) with its JSON
   payload as Dash serialises it;
4. synthesises a ``--synthetic-epochs`` (200) epoch run with the same 1000 classes through the worker's
   own reporter (``worker.reporter.RedisReporter``, the export read back from ``weights.json`` as the worker
   does) and the engine's per-epoch files (``metrics.jsonl``, ``weights.json``), and measures it the same way.

Results: ``benchmarks/results/scale.md`` (table) and ``scale.json`` (every figure). ``--quick`` runs a
small variant (1000 classes at scale 0.05, 1 epoch, 20 synthetic epochs, no full-size upload) and writes
its results under ``var/bench/`` so the committed table is never overwritten by a smoke run.

    nohup .venv/bin/python benchmarks/scale.py > var/bench/scale.log 2>&1 &
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import _harness as h
import httpx
import numpy as np
import redis
from dash import no_update
from plotly.io.json import to_json_plotly
from synthetic_lt import SyntheticDataset, SyntheticSpec, describe, write_synthetic_lt

from dashboard.analysis.columns import Metric
from dashboard.api_client import ApiClient
from dashboard.figures.datasets import class_frequency_figure
from dashboard.pages.run.baseline import gains_update
from dashboard.pages.run.epoch_views import epoch_views_update
from dashboard.pages.run.live import poll
from dashboard.run_view.state import RunViewState
from difficultynet.contracts.config import TrainConfig
from difficultynet.contracts.records import EpochRecord, clean_float
from difficultynet.export import build_weights_export
from difficultynet.synthetic import record_from_columns
from difficultynet.train import RunDirectory
from service_contracts import protocol
from worker.lease import RunLease, owner_token
from worker.reporter import RedisReporter

logger = logging.getLogger("scale")

RESULTS_DIR = h.REPO_ROOT / "benchmarks" / "results"
DEFAULT_WORK_DIR = h.REPO_ROOT / "var" / "bench" / "scale"
FULL_VAL, FULL_TEST = 20, 50  # ImageNet-LT's balanced val and test sizes per class
RUN_TIMEOUT_S = 3600.0
NOTES = "benchmarks/results/scale-notes.md"  # hand-written findings and how to read the table


# -- measurements -----------------------------------------------------------------------------------


@dataclass
class Figures:
    """Every measured figure of one run, by row label (value, unit-bearing text for the table)."""

    values: dict[str, Any] = field(default_factory=dict)
    text: dict[str, str] = field(default_factory=dict)

    def put(self, label: str, value: Any, text: str) -> None:
        self.values[label] = value
        self.text[label] = text


def kib(n: float) -> str:
    return f"{n / 1024:,.1f} KiB" if n < 1024**2 else f"{n / 1024**2:,.2f} MiB"


def payload(outputs: dict[str, Any]) -> tuple[int, float]:
    """Bytes of the callback outputs as Dash serialises them (``no_update`` outputs are dropped)."""
    sent = {key: value for key, value in outputs.items() if value is not no_update}
    started = time.perf_counter()
    body = to_json_plotly(sent)  # what Dash itself calls to serialise callback outputs
    return len(body.encode()), (time.perf_counter() - started) * 1000


def stream_records(client: redis.Redis, run_id: str) -> list[str]:
    """Every epoch record JSON of the run's stream, oldest first (the client decodes responses)."""
    entries = cast(list[tuple[str, dict[str, str]]], client.xrange(protocol.epochs_key(run_id)))
    return [fields["record"] for _, fields in entries]


def last_record(client: redis.Redis, run_id: str) -> EpochRecord:
    entries = cast(list[tuple[str, dict[str, str]]], client.xrevrange(protocol.epochs_key(run_id), count=1))
    return EpochRecord.model_validate_json(entries[0][1]["record"])


def api_get(api: httpx.Client, path: str, **params: int) -> httpx.Response:
    return api.get(path, params=params).raise_for_status()


def measure_storage(client: redis.Redis, run_id: str, runs_dir: Path, out: Figures) -> None:
    records = stream_records(client, run_id)
    sizes = [len(r.encode()) for r in records]
    classes = EpochRecord.model_validate_json(records[-1]).num_classes
    out.put("epochs", len(sizes), str(len(sizes)))
    out.put(
        "record JSON (mean / max)",
        [statistics_mean(sizes), max(sizes)],
        f"{kib(statistics_mean(sizes))} / {kib(max(sizes))} ({statistics_mean(sizes) / classes:.0f} B/class)",
    )
    for label, key in (
        ("Redis: epoch stream", protocol.epochs_key(run_id)),
        ("Redis: run hash", protocol.run_key(run_id)),
        ("Redis: weights key", protocol.weights_key(run_id)),
    ):
        used = int(client.memory_usage(key, samples=0) or 0)
        out.put(label, used, kib(used))
    weights_len = int(client.strlen(protocol.weights_key(run_id)))
    out.put("weights export JSON (final)", weights_len, kib(weights_len))
    on_disk = (runs_dir / run_id / "weights.json").stat().st_size
    out.put("weights.json on disk (= the key while training)", on_disk, kib(on_disk))


def statistics_mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if values else 0.0


def measure_reads(
    api: httpx.Client, client: redis.Redis, run_id: str, epochs: int, repeat: int, out: Figures
) -> None:
    timing, _ = h.time_calls(lambda: client.xrange(protocol.epochs_key(run_id)), repeat)
    out.put("XRANGE all epochs (redis-py)", timing.median_ms, str(timing))
    for label, after in (("GET epochs?after=0", 0), ("GET last epoch (live tick)", epochs - 1)):
        path = f"/api/runs/{run_id}/epochs"
        timing, response = h.time_calls(functools.partial(api_get, api, path, after=after), repeat)
        size = len(response.content)
        out.put(label, [timing.median_ms, size], f"{timing} · {kib(size)}")
    timing, response = h.time_calls(
        functools.partial(api_get, api, f"/api/runs/{run_id}/weights.json"), repeat
    )
    out.put(
        "GET weights.json",
        [timing.median_ms, len(response.content)],
        f"{timing} · {kib(len(response.content))}",
    )
    timing, replay = h.time_calls(lambda: sse_replay(api, run_id), max(1, repeat // 2))
    received, size = replay
    out.put(
        "SSE replay of all epochs",
        [timing.median_ms, size],
        f"{timing} · {received} epoch events, {kib(size)}",
    )


def sse_replay(api: httpx.Client, run_id: str) -> tuple[int, int]:
    epochs, size = 0, 0
    for _, event in h.iter_run_events(api, run_id):
        if event.event == "epoch":
            epochs += 1
            size += len(event.data.encode())
    return epochs, size


def measure_dashboard(
    api_url: str, run_id: str, baseline_id: str | None, epochs: int, repeat: int, out: Figures
) -> None:
    api = ApiClient(api_url, timeout_s=120.0)
    try:
        metric: Metric = "difficulty"
        first_state = RunViewState()
        timing, update = h.time_calls(lambda: poll(api, run_id, first_state, metric, None, None), repeat)
        loaded = RunViewState.load(update.view_state)
        _dash_row(out, "dashboard: first load", timing, update.as_outputs())
        behind = loaded.model_copy(update={"drawn": epochs - 1, "latest": epochs - 1})
        timing, update = h.time_calls(
            lambda: poll(api, run_id, behind, metric, loaded.picks, epochs - 1), repeat
        )
        _dash_row(out, "dashboard: new epoch (Patch)", timing, update.as_outputs())
        timing, update = h.time_calls(lambda: poll(api, run_id, loaded, metric, loaded.picks, epochs), repeat)
        _dash_row(out, "dashboard: idle tick", timing, update.as_outputs())
        timing, views = h.time_calls(lambda: epoch_views_update(api, run_id, epochs, True, None), repeat)
        key = views.scatter_state
        _dash_row(out, "dashboard: scatter figure", timing, {"figure": views.scatter})
        timing, views = h.time_calls(lambda: epoch_views_update(api, run_id, epochs, True, key), repeat)
        _dash_row(out, "dashboard: scatter Patch", timing, {"figure": views.scatter})
        if baseline_id is not None:
            timing, gains = h.time_calls(lambda: gains_update(api, run_id, epochs, baseline_id, None), repeat)
            _dash_row(out, "dashboard: gains figure", timing, {"figure": gains.figure, "note": gains.note})
            timing, gains = h.time_calls(
                lambda: gains_update(api, run_id, epochs, baseline_id, gains.state), repeat
            )
            _dash_row(out, "dashboard: gains Patch", timing, {"figure": gains.figure, "note": gains.note})
    finally:
        api.close()


def _dash_row(out: Figures, label: str, timing: h.Timing, outputs: dict[str, Any]) -> None:
    size, json_ms = payload(outputs)
    out.put(label, [timing.median_ms, json_ms, size], f"{timing} + JSON {json_ms:.1f} ms · {kib(size)}")


# -- the synthetic long run -------------------------------------------------------------------------


def synthetic_record(
    template: EpochRecord,
    run_id: str,
    epoch: int,
    epochs: int,
    rng: np.random.Generator,
    val_n: int,
    test_n: int,
) -> EpochRecord:
    """A plausible record for ``epoch``: the template's classes, fresh per-class values of the same format."""
    c = template.num_classes
    progress = epoch / epochs
    skill = np.clip(rng.beta(2, 5, c) + 0.6 * progress, 0, 1)
    val_acc = rng.binomial(max(val_n, 1), skill) / max(val_n, 1)
    test_acc = rng.binomial(max(test_n, 1), skill) / max(test_n, 1)
    difficulty = np.clip(1 - skill + rng.normal(0, 0.05, c), 0, 1)
    return record_from_columns(
        epoch,
        counts=template.classes.train_count,
        names=template.classes.name,
        val_acc=val_acc.tolist(),
        test_acc=test_acc.tolist(),
        difficulty=difficulty.tolist(),
        run_id=run_id,
        method=template.method,
        epochs_total=epochs,
        epoch_time_s=template.epoch_time_s,
        train_loss=clean_float(template.train_loss * (1 - 0.5 * progress)),
        lr=template.lr,
        many_acc=template.many_acc,
        medium_acc=template.medium_acc,
        few_acc=template.few_acc,
        eval_split=template.eval_split,
        driver_loss=template.driver_loss,
        meta_loss=template.meta_loss,
    )


def synthesize_run(
    client: redis.Redis, template_run_id: str, epochs: int, runs_dir: Path, spec: SyntheticSpec, out: Figures
) -> str:
    """A finished ``epochs``-epoch run written epoch by epoch as the engine and the worker write one.

    Like a worker, it holds the run's lease while the run is ``running``: the workers' crash recovery
    would otherwise take the run for an orphan and start training it.
    """
    raw: dict[str, str] = client.hgetall(protocol.run_key(template_run_id))  # type: ignore[assignment]
    template_export = json.loads(client.get(protocol.weights_key(template_run_id)))  # type: ignore[arg-type]
    config = TrainConfig.model_validate_json(raw["config"]).model_copy(update={"epochs": epochs})
    run_id = uuid.uuid4().hex
    lease = RunLease(client, run_id, ttl_s=h.PRODUCTION_TIMINGS.lease_ttl_s, owner=owner_token("synthetic"))
    if not lease.try_acquire():
        raise RuntimeError(f"lease of the new run {run_id} is taken")
    created = time.time()
    fields = {**raw, "status": "running", "config": config.model_dump_json(), "epochs_total": epochs,
              "epoch": 0, "created_at": created, "started_at": created, "finished_at": "", "task_id": "",
              "attempt": 0, "worker": "synthetic (benchmarks/scale.py)"}  # fmt: skip
    client.hset(protocol.run_key(run_id), mapping=fields)  # type: ignore[arg-type]
    client.zadd(protocol.RUNS_INDEX_KEY, {run_id: created})
    try:
        with lease.heartbeat(h.PRODUCTION_TIMINGS.heartbeat_s):
            final = write_epochs(client, lease, run_id, config, template_export, runs_dir / run_id, spec, out)
        client.set(protocol.weights_key(run_id), json.dumps(final))  # as worker/tasks.py does at the end
        lease.update({"status": "succeeded", "finished_at": time.time()})
    finally:
        lease.release()
    return run_id


def write_epochs(
    client: redis.Redis,
    lease: RunLease,
    run_id: str,
    config: TrainConfig,
    template_export: dict[str, Any],
    out_dir: Path,
    spec: SyntheticSpec,
    out: Figures,
) -> dict[str, Any]:
    """Report every epoch; returns the final weights export."""
    template = last_record(client, template_export["run_id"])
    run_dir = RunDirectory(out_dir)
    sha = template_export["dataset_sha256"]
    # As the worker does while a run trains: ship the weights.json the engine wrote for this epoch.
    reporter = RedisReporter(
        client, run_id, lease=lease, export=lambda _: (out_dir / "weights.json").read_text(encoding="utf-8")
    )
    rng = np.random.default_rng(0)
    records: list[EpochRecord] = []
    records_json: list[str] = []  # serialised once per epoch, as the trainer keeps them
    epochs = config.epochs
    # The engine rewrites both files every epoch (O(epochs) each); writing them at a few sampled epochs
    # keeps the benchmark short while the reporter still ships the current export at those epochs.
    sampled = {1, epochs // 4, epochs // 2, 3 * epochs // 4, epochs} - {0}
    files_ms: dict[int, float] = {}
    report_ms: dict[int, float] = {}
    dnet_state = template_export.get("difficulty_net")
    doc: dict[str, Any] = {}
    for epoch in range(1, epochs + 1):
        records.append(
            synthetic_record(template, run_id, epoch, epochs, rng, spec.val_per_class, spec.test_per_class)
        )
        records_json.append(records[-1].model_dump_json())
        if epoch in sampled:
            started = time.perf_counter()
            run_dir.write_metrics(records_json)
            doc = build_weights_export(
                records, config, dataset_sha256=sha, dnet_state=dnet_state, partial=epoch < epochs
            )
            run_dir.write_json("weights.json", doc, compact=True)  # as fit() writes it
            files_ms[epoch] = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        reporter(records[-1])
        report_ms[epoch] = (time.perf_counter() - started) * 1000
    first, last = min(sampled), max(sampled)
    out.put("engine files per epoch (first / last)", [files_ms[first], files_ms[last]],
            f"{files_ms[first]:.0f} / {files_ms[last]:.0f} ms (metrics.jsonl + weights.json)")  # fmt: skip
    out.put("worker reporter per epoch (first / last)", [report_ms[first], report_ms[last]],
            f"{report_ms[first]:.1f} / {report_ms[last]:.1f} ms (XADD + HSET + SET weights)")  # fmt: skip
    return doc


# -- the end-to-end run -----------------------------------------------------------------------------


@dataclass
class LiveEvents:
    """What a browser-like SSE client saw while the run trained."""

    epoch_sizes: list[int] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    error: str | None = None


def follow_live(api: httpx.Client, run_id: str, seen: LiveEvents) -> threading.Thread:
    def consume() -> None:
        try:
            for _, event in h.iter_run_events(api, run_id):
                if event.event == "epoch":
                    seen.epoch_sizes.append(len(event.data.encode()))
                elif event.event == "status":
                    seen.statuses.append(json.loads(event.data)["status"])
        except (httpx.HTTPError, ValueError) as exc:
            seen.error = f"{type(exc).__name__}: {exc}"

    thread = threading.Thread(target=consume, name="sse-follower", daemon=True)
    thread.start()
    return thread


def run_config(args: argparse.Namespace, dataset_id: str) -> dict[str, Any]:
    return {
        "dataset_id": dataset_id,
        "method": args.method,
        "model": "resnet8",
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "image_size": args.image_size,
        "num_threads": args.threads,
        "device": "cpu",
        "seed": 0,
    }


def used_memory(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])


@dataclass
class Report:
    meta: dict[str, str] = field(default_factory=dict)  # command, machine, date, code (git describe)
    setup: list[tuple[str, str]] = field(default_factory=list)
    columns: dict[str, Figures] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        columns = {name: {"values": c.values, "text": c.text} for name, c in self.columns.items()}
        return {"meta": self.meta, "setup": self.setup, "columns": columns}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Report:
        columns = {name: Figures(c["values"], c["text"]) for name, c in doc["columns"].items()}
        return cls(doc["meta"], [(label, value) for label, value in doc["setup"]], columns)


def timed(label: str, fn: Callable[[], Any]) -> tuple[Any, float]:
    logger.info("%s …", label)
    started = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - started
    logger.info("%s: %.1f s", label, seconds)
    return result, seconds


def benchmark(args: argparse.Namespace) -> Report:
    report = Report(
        meta={
            "command": h.command_line(),
            "machine": h.machine(),
            "date": h.now_utc(),
            "code": h.CODE_VERSION,
        }
    )
    root = h.fresh_stack_root(args.work_dir)
    data_dir = root / "data"
    train_spec = SyntheticSpec(scale=args.scale, val_per_class=args.val, test_per_class=args.test,
                               image_size=args.image_size)  # fmt: skip
    trained: SyntheticDataset = write_synthetic_lt(
        data_dir / f"lt-s{args.scale:g}", train_spec, workers=args.gen_workers
    )
    logger.info("%s", describe(trained))
    full: SyntheticDataset | None = None
    if args.full_size:
        full_spec = SyntheticSpec(
            val_per_class=FULL_VAL, test_per_class=FULL_TEST, image_size=args.image_size
        )
        full = write_synthetic_lt(data_dir / "imagenet-lt-size", full_spec, workers=args.gen_workers)
        logger.info("%s", describe(full))
    with h.LiveStack(
        root, timings=h.PRODUCTION_TIMINGS, extra_env={"OMP_NUM_THREADS": str(args.threads)}
    ) as stack:
        client = redis.Redis.from_url(stack.redis.url, decode_responses=True)
        api = stack.client(timeout=120.0)
        if full is not None:
            doc, seconds = timed(
                "upload full-size", lambda: h.upload_csv(api, full.manifest, stack.data_root)
            )
            stored = int(client.strlen(protocol.dataset_key(doc["id"])))
            timing, response = h.time_calls(
                lambda: api.get(f"/api/datasets/{doc['id']}").raise_for_status(), args.repeat
            )
            report.setup += [
                ("ImageNet-LT-sized dataset", describe(full)),
                ("… registered via POST /api/datasets (validation opens every image)",
                 f"{seconds:.1f} s for {full.rows:,} rows; dataset document in Redis {kib(stored)}; "
                 f"GET /api/datasets/{{id}} {timing} · {kib(len(response.content))}"),
            ]  # fmt: skip
            api_url = stack.url
            dash_api = ApiClient(api_url, timeout_s=120.0)
            try:
                dataset = dash_api.get_dataset(doc["id"])
                timing, fig = h.time_calls(lambda: class_frequency_figure(dataset), args.repeat)
                size, json_ms = payload({"figure": fig})
                report.setup.append(
                    (
                        "dashboard: class histogram (1000 bars)",
                        f"{timing} + JSON {json_ms:.1f} ms · {kib(size)}",
                    )
                )
            finally:
                dash_api.close()
        doc, seconds = timed("upload trained", lambda: h.upload_csv(api, trained.manifest, stack.data_root))
        report.setup.append(("Trained dataset (scaled profile)", describe(trained)))
        before = used_memory(client)
        body = run_config(args, doc["id"])
        run = h.create_run(api, body)
        seen = LiveEvents()
        follower = follow_live(stack.client(timeout=120.0), run["id"], seen)
        finished, wall = timed("training", lambda: h.wait_for_run(api, run["id"], RUN_TIMEOUT_S, stack=stack))
        follower.join(timeout=60)
        if finished["status"] != "succeeded":
            raise RuntimeError(f"run ended {finished['status']}: {finished.get('error')}\n{stack.logs()}")
        after = used_memory(client)
        last = last_record(client, run["id"])
        request = json.dumps({k: v for k, v in body.items() if k != "dataset_id"})
        report.setup += [
            ("Run request (POST /api/runs)", f"`{request}`"),
            ("Run wall time (POST → succeeded)",
             f"{wall:.0f} s for {args.epochs} epoch(s): epoch time {last.epoch_time_s:.0f} s (last), worker "
             f"`{finished['worker']}`, device {finished['device']}"),
            ("Accuracy after the last epoch (1000 classes, chance 0.1 %)",
             f"top-1 {100 * last.top1:.1f} %, balanced {100 * last.balanced_acc:.1f} %"),
            ("SSE followed live while training",
             f"{len(seen.epoch_sizes)} epoch events ({kib(statistics_mean(seen.epoch_sizes))} each), status "
             f"events {' → '.join(seen.statuses)}" + (f"; error {seen.error}" if seen.error else "")),
        ]  # fmt: skip
        real = Figures()
        measure_storage(client, run["id"], stack.runs_dir, real)
        real.put("used_memory Δ (whole run)", after - before, kib(after - before))
        measure_reads(api, client, run["id"], last.epoch, args.repeat, real)
        measure_dashboard(stack.url, run["id"], None, last.epoch, args.repeat, real)
        report.columns[f"real run ({last.epoch} epoch{'s' if last.epoch > 1 else ''})"] = real

        long = Figures()
        before = used_memory(client)
        long_id, seconds = timed(
            "synthetic long run",
            lambda: synthesize_run(
                client, run["id"], args.synthetic_epochs, stack.runs_dir, train_spec, long
            ),
        )
        after = used_memory(client)
        trained_by = client.hget(protocol.run_key(long_id), "worker")
        if trained_by != "synthetic (benchmarks/scale.py)":
            raise RuntimeError(f"the synthetic run was taken over by {trained_by!r}")
        measure_storage(client, long_id, stack.runs_dir, long)
        long.put("used_memory Δ (whole run)", after - before, kib(after - before))
        measure_reads(api, client, long_id, args.synthetic_epochs, args.repeat, long)
        measure_dashboard(stack.url, long_id, run["id"], args.synthetic_epochs, args.repeat, long)
        report.columns[f"synthetic ({args.synthetic_epochs} epochs)"] = long
        api.close()
    return report


# -- output -----------------------------------------------------------------------------------------


def code_version(meta: dict[str, str]) -> str:
    if "code" in meta:
        return f"code {meta['code']} (`git describe --dirty --always` at start)"
    return f"commit {meta['commit']} (HEAD when these results were written; older runs kept no describe)"


def render(report: Report) -> str:
    lines = [
        "# Scale: 1000 classes end to end (issue 7, target 3)",
        "",
        f"Generated by `benchmarks/scale.py`; do not edit by hand. Command: `{report.meta['command']}`  ",
        f"Machine: {report.meta['machine']}  ",
        f"Date: {report.meta['date']} · {code_version(report.meta)}",
        "",
        "| setup | |",
        "|---|---|",
        *[f"| {label} | {value} |" for label, value in report.setup],
        "",
    ]
    names = list(report.columns)
    rows: list[str] = []
    for column in report.columns.values():
        rows += [label for label in column.text if label not in rows]
    lines += ["| per run, 1000 classes | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for label in rows:
        lines.append(
            f"| {label} | " + " | ".join(report.columns[n].text.get(label, "–") for n in names) + " |"
        )
    lines += ["", f"Findings and how to read this table (written by hand): `{NOTES}`."]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR)
    parser.add_argument("--scale", type=float, default=0.2, help="train-count scale of the trained dataset")
    parser.add_argument("--val", type=int, default=5, help="val images per class of the trained dataset")
    parser.add_argument("--test", type=int, default=5, help="test images per class of the trained dataset")
    parser.add_argument("--image-size", type=int, default=16)
    parser.add_argument("--method", default="dnet")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the worker")
    parser.add_argument("--synthetic-epochs", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5, help="repetitions of every timed read")
    parser.add_argument("--gen-workers", type=int, default=1, help="processes writing the synthetic images")
    parser.add_argument("--no-full-size", dest="full_size", action="store_false",
                        help="skip generating and registering the ImageNet-LT-sized dataset")  # fmt: skip
    parser.add_argument("--out", type=Path, help="results markdown (default benchmarks/results/scale.md)")
    parser.add_argument("--quick", action="store_true", help="small smoke variant (results under var/bench)")
    parser.add_argument(
        "--render-only", action="store_true", help="rewrite the markdown from the JSON results"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.scale, args.val, args.test, args.epochs = 0.05, 2, 2, 1
        args.synthetic_epochs, args.repeat, args.full_size = 20, 2, False
        args.work_dir = args.work_dir.with_name(args.work_dir.name + "-quick")
    if args.out is None:
        args.out = args.work_dir / "scale.md" if args.quick else RESULTS_DIR / "scale.md"
    return args


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request would bury the results
    args = parse_args(argv)
    results = args.out.with_suffix(".json")
    if args.render_only:
        report = Report.from_json(json.loads(results.read_text(encoding="utf-8")))
    else:
        try:
            report = benchmark(args)
        except (RuntimeError, TimeoutError, ValueError) as exc:
            logger.error("%s", exc)
            return 1
        args.out.parent.mkdir(parents=True, exist_ok=True)
        results.write_text(json.dumps(report.to_json(), indent=1) + "\n", encoding="utf-8")
    args.out.write_text(render(report) + "\n", encoding="utf-8")
    print(args.out.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
