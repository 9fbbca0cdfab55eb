"""Dashboard live-update and exploration cost (issues 5 and G): server time and payload per update, 10–1000
classes × 200 epochs, against a real redis-server and the real API app.

Epoch records are written by the worker's own reporter (``worker.reporter``: exploration entries, then the
stream entry, exactly as a training task writes them) into a redis-server of the benchmark's own; the API
(``backend.main.create_app``) is served by uvicorn on a loopback port; the run page's callback functions
are called directly (the same code the Dash server runs) with the dashboard's HTTP client. So the times
include Redis, the API routes, HTTP on loopback, parsing, figure building and the JSON encoding of the
response as Dash sends it; no browser. Goals: ≤ 200 ms per live update; ≤ 300 ms to open the class panel
and for the epoch views (the confusion table); the extra data the epoch stream carries per record ≤ 50 %
of the record's core; thumbnails route p95 ≤ 100 ms for 16 images.

    .venv/bin/python benchmarks/dashboard_update.py            # 10, 100, 1000 classes × 200 epochs
    .venv/bin/python benchmarks/dashboard_update.py --quick    # 50 epochs, fewer repeats, nothing written
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx
import plotly.io.json as plotly_json
import redis
import uvicorn
from _harness import CODE_VERSION, REPO_ROOT, command_line, machine, now_utc, store_table, time_calls
from PIL import Image

from backend.main import create_app
from backend.settings import Settings
from backend.store import StoredDataset
from dashboard.api_client import ApiClient
from dashboard.pages.run.class_panel import class_panel
from dashboard.pages.run.epoch_views import confusions_view, epoch_views_update
from dashboard.pages.run.live import RunPollUpdate, poll
from dashboard.run_view.state import RunViewState
from difficultynet.contracts.config import TrainConfig
from difficultynet.contracts.exploration import core_json
from difficultynet.contracts.records import EpochRecord
from difficultynet.manifest import ManifestReport
from difficultynet.synthetic import (
    SYNTHETIC_EVAL_PER_CLASS,
    long_tail_counts,
    synthetic_dataset,
    synthetic_records,
)
from service_contracts import protocol
from stack.redis_server import RedisServer, free_port
from worker.reporter import RedisReporter

RESULTS = REPO_ROOT / "benchmarks" / "results" / "dashboard-update.md"
GOAL_MS = 200.0
PANEL_GOAL_MS = 300.0  # issue G: opening the class panel, and the confusion table (the epoch views)
THUMBNAIL_GOAL_MS = 100.0
EXTRA_GOAL = 0.5  # the stream record's extra data, as a fraction of its core
THUMBNAILS = 16
THUMBNAIL_ROUNDS = 10
BROWSER_CONNECTIONS = 6  # what a browser opens per host
DISTINCT_IMAGES = 256  # manifest row r shows image r % 256: 16 hardest rows are 16 different files


def run_id_for(classes: int, kind: int) -> str:
    return f"{kind:x}{classes:031x}"


# -- the service: redis-server + the API app ------------------------------------------------------------


@dataclass
class Service:
    db: redis.Redis
    settings: Settings
    url: str


@contextmanager
def service(root: Path) -> Iterator[Service]:
    """A redis-server and the API app (uvicorn, loopback) of the benchmark's own; no worker needed."""
    with RedisServer(root / "redis") as server:
        settings = Settings(
            redis_url=server.url,
            data_root=root / "data",
            runs_dir=root / "runs",
            cache_dir=root / "cache",
            api_token=None,
        )
        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=free_port(), log_level="warning", lifespan="on"
        )
        api = uvicorn.Server(config)
        thread = threading.Thread(target=api.run, name="api", daemon=True)
        thread.start()
        while not api.started:
            if not thread.is_alive():
                raise RuntimeError("the API did not start")
            time.sleep(0.05)
        db = redis.Redis.from_url(server.url, decode_responses=True)
        try:
            yield Service(db, settings, f"http://127.0.0.1:{config.port}")
        finally:
            api.should_exit = True
            thread.join(timeout=10)
            db.close()


def add_dataset(svc: Service, classes: int, image: str) -> StoredDataset:
    """A dataset of ``classes`` long-tailed classes laid out as the synthetic records' rows (train rows, then
    the evaluation rows of each class), every row showing one of a few real image files."""
    counts = {f"class_{i:04d}": n for i, n in enumerate(long_tail_counts(classes))}
    read = synthetic_dataset(counts, dataset_id=f"{classes:08x}{len(image):08x}", name=f"bench-{classes}")
    folder = svc.settings.data_root / f"bench-{classes}-{Path(image).suffix[1:]}"
    images = folder / "img"
    images.mkdir(parents=True, exist_ok=True)
    for k in range(DISTINCT_IMAGES):
        path = images / f"{k}{Path(image).suffix}"
        if not path.exists():
            write_image(path, k, image)
    rows = sum(counts.values()) + SYNTHETIC_EVAL_PER_CLASS * classes
    lines = ["path,label"] + [
        f"img/{r % DISTINCT_IMAGES}{Path(image).suffix},c{r % classes}" for r in range(rows)
    ]
    manifest = folder / "manifest.csv"
    manifest.write_text("\n".join(lines) + "\n")
    fields = {f: getattr(read, f) for f in ("num_rows", "classes", "split_counts", "imbalance_factor",
              "group_counts", "meta_source", "eval_split", "notes", "manifest_sha256")}  # fmt: skip
    dataset = StoredDataset(
        id=read.id, name=read.name, kind="csv", created_at=time.time(), manifest_path=str(manifest),
        data_root=str(folder), report=ManifestReport(ok=True, **fields),
    )  # fmt: skip
    svc.db.set(protocol.dataset_key(dataset.id), dataset.model_dump_json())
    svc.db.zadd(protocol.DATASETS_INDEX_KEY, {dataset.id: dataset.created_at})
    return dataset


def write_image(path: Path, k: int, kind: str) -> None:
    """``32px.png``: a CIFAR-sized image; ``500x375.jpg``: a photo-sized one (with detail to decode)."""
    width, height = (32, 32) if kind == "32px.png" else (500, 375)
    image = Image.effect_noise((width, height), 40 + k % 60).convert("RGB")
    image.save(path, quality=90) if path.suffix == ".jpg" else image.save(path)


def add_run(svc: Service, run_id: str, dataset: StoredDataset, epochs: int, status: str = "running") -> None:
    """The run hash as the API writes it at creation (no Celery message: no worker is needed)."""
    fields = {
        "status": status, "config": TrainConfig(epochs=epochs).model_dump_json(), "dataset_id": dataset.id,
        "created_at": time.time(), "started_at": time.time(), "epoch": 0, "epochs_total": epochs,
        "task_id": run_id, "manifest_path": dataset.manifest_path, "data_root": dataset.data_root,
    }  # fmt: skip
    svc.db.hset(protocol.run_key(run_id), mapping=cast(Any, fields))
    svc.db.zadd(protocol.RUNS_INDEX_KEY, {run_id: time.time()})


def for_run(records: list[EpochRecord], run_id: str) -> list[EpochRecord]:
    return [r.model_copy(update={"run_id": run_id}) for r in records]


def plant_old_records(svc: Service, records: list[EpochRecord]) -> None:
    """A run recorded before exploration left the stream: whole records in the stream, no hashes."""
    for record in records:
        key = protocol.epochs_key(record.run_id)
        svc.db.xadd(key, {"record": record.model_dump_json()}, id=protocol.epoch_stream_id(record.epoch))
    svc.db.hset(protocol.run_key(records[-1].run_id), mapping={"epoch": records[-1].epoch})


# -- timing helpers ---------------------------------------------------------------------------------------


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
    goal: float | None,
) -> None:
    """Time ``fn`` plus the JSON encoding of its outputs (both happen on the server for every update)."""

    def update_and_encode() -> int:
        return payload_bytes(outputs_of(fn()))

    fn()  # warm: connections, caches of the API process (a user's page has made these calls already)
    timing, size = time_calls(update_and_encode, repeat)
    record_row(rows, classes, label, timing.samples_ms, size, goal)


def measure_get(
    label: str, http: httpx.Client, url: str, repeat: int, rows: list[dict[str, Any]], classes: int
) -> None:
    """One API route alone, as the dashboard's client calls it (payload = response body)."""

    def get() -> int:
        return len(http.get(url).raise_for_status().content)

    get()
    timing, size = time_calls(get, repeat)
    record_row(rows, classes, label, timing.samples_ms, size, None)


def record_row(
    rows: list[dict[str, Any]],
    classes: int,
    label: str,
    samples: tuple[float, ...],
    size: int,
    goal: float | None,
) -> None:
    median, worst = statistics.median(samples), max(samples)
    rows.append({"classes": classes, "what": label, "median_ms": median, "max_ms": worst,
                 "repeat": len(samples), "payload_kb": size / 1024, "goal": goal})  # fmt: skip
    print(
        f"{classes:>5} classes  {label:<64} {median:7.1f} ms (max {worst:.1f})  {size / 1024:8.1f} KiB",
        flush=True,
    )


# -- the benchmark -----------------------------------------------------------------------------------------


@dataclass
class Sizes:
    classes: int
    epochs: int
    full_record: float  # mean bytes: the record with its exploration columns (what the stream carried before)
    core_record: float  # mean bytes: the record without them
    stream_record: float  # mean bytes: what the stream carries now
    epoch_confusions: float  # mean bytes: one epoch's confusions field
    class_entry: float  # mean bytes: one class's entry at one epoch
    class_entries_per_epoch: float  # bytes: every class's entry of one epoch
    memory: dict[str, int]  # Redis MEMORY USAGE of the run's keys
    write_ms: list[float]  # the reporter's time per epoch (exploration + stream + progress)


def bench_classes(
    svc: Service, classes: int, epochs: int, repeat: int, rows: list[dict[str, Any]], legacy: bool
) -> Sizes:
    started = time.perf_counter()
    records = synthetic_records(classes, epochs, epochs_total=epochs, run_id=run_id_for(classes, 1))
    print(
        f"{classes:>5} classes  {epochs} synthetic records in {time.perf_counter() - started:.0f} s",
        flush=True,
    )
    dataset = add_dataset(svc, classes, "32px.png")
    run_id, baseline_id = run_id_for(classes, 1), run_id_for(classes, 2)
    add_run(svc, run_id, dataset, epochs)
    add_run(svc, baseline_id, dataset, epochs, status="succeeded")
    baseline = RedisReporter(svc.db, baseline_id)
    for record in for_run(records, baseline_id):
        baseline(record)
    reporter = RedisReporter(svc.db, run_id)
    write_ms = []
    for record in records[:-1]:  # the state a page has drawn: every epoch but the last
        began = time.perf_counter()
        reporter(record)
        write_ms.append((time.perf_counter() - began) * 1000)
    api = ApiClient(svc.url, timeout_s=60)
    drawn = poll(api, run_id, RunViewState(), "difficulty", None, None)
    state = RunViewState.load(drawn.view_state)
    picks = state.picks or None
    began = time.perf_counter()
    reporter(records[-1])  # the next tick appends one epoch
    write_ms.append((time.perf_counter() - began) * 1000)

    def live_tick() -> RunPollUpdate:
        return poll(api, run_id, state, "difficulty", picks, epochs - 1)

    def idle_tick() -> RunPollUpdate:
        done = state.model_copy(update={"drawn": epochs, "latest": epochs})
        return poll(api, run_id, done, "difficulty", picks, epochs)

    def metric_toggle() -> RunPollUpdate:
        return poll(api, run_id, state, "test_acc", picks, epochs - 1)

    as_outputs: Callable[[Any], Any] = lambda update: update.as_outputs()  # noqa: E731
    as_panel: Callable[[Any], Any] = lambda panel: panel  # noqa: E731
    as_outputs_pair: Callable[[Any], Any] = lambda pair: list(pair)  # noqa: E731
    key = f"{run_id}:{classes}"
    tail = classes - 1  # synthetic classes run head → tail by index
    few = max(2, repeat // 2)
    measure(f"live tick: +1 epoch (patch), after {epochs - 1} epochs", live_tick, repeat, rows, classes,
            as_outputs, GOAL_MS)  # fmt: skip
    measure("idle tick: no new epoch", idle_tick, repeat, rows, classes, as_outputs, GOAL_MS)
    measure("epoch views: slider to the new epoch (scatter patch, confusions, check)",
            lambda: epoch_views_update(api, run_id, epochs, True, key), repeat, rows, classes, as_outputs,
            PANEL_GOAL_MS)  # fmt: skip

    def confusion_table() -> tuple[Any, Any]:
        record = api.epoch(run_id, epochs)
        assert record is not None
        return confusions_view(record, api.epoch_confusions(run_id, epochs).confusions)

    measure("confusion table alone: the epoch's record + its confusions → heatmap/table", confusion_table,
            repeat, rows, classes, as_outputs_pair, PANEL_GOAL_MS)  # fmt: skip
    measure(f"class panel: open the tail class ({epochs} epochs)",
            lambda: class_panel(api, run_id, tail, epochs, None), few, rows, classes, as_panel,
            PANEL_GOAL_MS)  # fmt: skip
    measure("class panel: the tail class, with a baseline run",
            lambda: class_panel(api, run_id, tail, epochs, baseline_id), few, rows, classes, as_panel,
            PANEL_GOAL_MS)  # fmt: skip
    with httpx.Client(base_url=svc.url, timeout=60) as http:
        measure_get(f"API alone: GET classes/{{tail}}/exploration ({epochs} epochs)", http,
                    f"/api/runs/{run_id}/classes/{tail}/exploration", repeat, rows, classes)  # fmt: skip
        measure_get("API alone: GET epochs/{last}/confusions", http,
                    f"/api/runs/{run_id}/epochs/{epochs}/confusions", repeat, rows, classes)  # fmt: skip
    measure(f"metric toggle: rebuild curves from {epochs} epochs", metric_toggle, few, rows, classes,
            as_outputs, None)  # fmt: skip
    if legacy:
        old_id = run_id_for(classes, 3)
        add_run(svc, old_id, dataset, epochs, status="succeeded")
        plant_old_records(svc, for_run(records, old_id))
        measure("old run (columns in its records): epoch views",
                lambda: epoch_views_update(api, old_id, epochs, True, f"{old_id}:{classes}"), few, rows,
                classes, as_outputs, None)  # fmt: skip
        measure("old run (columns in its records): class panel", lambda: class_panel(api, old_id, tail,
                epochs, None), max(2, repeat // 4), rows, classes, as_panel, None)  # fmt: skip
    api.close()
    return sizes_of(svc, run_id, records, write_ms)


def sizes_of(svc: Service, run_id: str, records: list[EpochRecord], write_ms: list[float]) -> Sizes:
    stream = [fields["record"] for _, fields in cast(Any, svc.db.xrange(protocol.epochs_key(run_id)))]
    confusions = cast(dict[str, str], svc.db.hgetall(protocol.epoch_confusions_key(run_id)))
    entries = cast(dict[str, str], svc.db.hgetall(protocol.class_exploration_key(run_id)))
    keys = {
        "stream": protocol.epochs_key(run_id),
        "confusions hash": protocol.epoch_confusions_key(run_id),
        "class-exploration hash": protocol.class_exploration_key(run_id),
    }
    memory = {name: int(cast(Any, svc.db.memory_usage(key, samples=0)) or 0) for name, key in keys.items()}

    def mean_len(texts: Any) -> float:
        return statistics.fmean(len(t.encode()) for t in texts)

    return Sizes(
        classes=records[0].num_classes,
        epochs=len(records),
        full_record=mean_len(r.model_dump_json() for r in records),
        core_record=mean_len(core_json(r) for r in records),
        stream_record=mean_len(stream),
        epoch_confusions=mean_len(confusions.values()),
        class_entry=mean_len(entries.values()),
        class_entries_per_epoch=sum(len(t.encode()) for t in entries.values()) / len(records),
        memory=memory,
        write_ms=write_ms,
    )


@dataclass
class ThumbnailTiming:
    image: str
    first_ms: float  # the first request of a run: its manifest is parsed (then kept in an LRU cache)
    sequential_ms: list[float]  # per request, one after the other
    batch_ms: list[float]  # 16 requests over 6 connections, as a browser loads a panel: wall time
    batch_request_ms: list[float]  # per request, within those batches


def bench_thumbnails(svc: Service, classes: int, epochs: int, image: str) -> ThumbnailTiming:
    """The hardest examples of the two tail classes at the last epoch (16 rows), as the panel shows them."""
    dataset = add_dataset(svc, classes, image)
    run_id = run_id_for(classes, 4 + len(image))
    add_run(svc, run_id, dataset, epochs, status="succeeded")
    record = synthetic_records(classes, 1, epochs_total=epochs, run_id=run_id, start_epoch=epochs)[0]
    hardest = record.hardest or []
    rows = [e.row for pos in (classes - 1, classes - 2) for e in hardest[pos]][:THUMBNAILS]
    urls = [f"/api/runs/{run_id}/examples/{row}" for row in rows]
    limits = httpx.Limits(max_connections=BROWSER_CONNECTIONS)
    with httpx.Client(base_url=svc.url, timeout=60, limits=limits) as http:

        def fetch(url: str) -> float:
            began = time.perf_counter()
            response = http.get(url)
            assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg", (
                response.text
            )
            return (time.perf_counter() - began) * 1000

        first = fetch(urls[0])
        sequential = [fetch(url) for _ in range(THUMBNAIL_ROUNDS) for url in urls]
        batches, per_request = [], []
        with ThreadPoolExecutor(BROWSER_CONNECTIONS) as pool:
            for _ in range(THUMBNAIL_ROUNDS):
                began = time.perf_counter()
                per_request += list(pool.map(fetch, urls))
                batches.append((time.perf_counter() - began) * 1000)
    return ThumbnailTiming(image, first, sequential, batches, per_request)


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20, method="inclusive")[18]


# -- the results file ---------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "yes" if ok else "**no**"


def render(
    rows: list[dict[str, Any]], sizes: Sizes, thumbs: list[ThumbnailTiming], epochs: int, argv: list[str]
) -> str:
    lines = [
        "# Dashboard live-update and exploration cost",
        "",
        f"Server time of the run page's callbacks (dashboard + API + Redis) and the size of their JSON "
        f"response, with synthetic long-tailed records ({epochs} epochs, with confusions and hardest "
        f"examples) written by the worker's reporter into a real redis-server and served by the real API "
        f"app. Goals: ≤ {GOAL_MS:.0f} ms per live update, ≤ {PANEL_GOAL_MS:.0f} ms to open the class panel "
        "and for the epoch views (scatter, confusion heatmap/table, difficulty check), extra data per "
        f"stream record ≤ {EXTRA_GOAL:.0%} of its core, thumbnails p95 ≤ {THUMBNAIL_GOAL_MS:.0f} ms for "
        f"{THUMBNAILS} images. Findings: `dashboard-update-notes.md`.",
        "",
        f"- machine: {machine()}",
        f"- code {CODE_VERSION} (`git describe --dirty --always` at start), {now_utc()}",
        f"- command: `{command_line(argv)}`",
        "- what is timed: the dashboard's callback (its HTTP client → uvicorn on loopback → the API route → "
        "redis-server) → parsing → figure building → JSON encoding as Dash sends it; one warm-up call first",
        "",
        "| classes | update | median ms | max ms | n | payload KiB | ≤ goal |",
        "|---:|---|---:|---:|---:|---:|:---:|",
    ]
    for row in rows:
        ok = "n/a" if row["goal"] is None else verdict(row["median_ms"] <= row["goal"])
        lines.append(
            f"| {row['classes']} | {row['what']} | {row['median_ms']:.1f} | {row['max_ms']:.1f} "
            f"| {row['repeat']} | {row['payload_kb']:.1f} | {ok} |"
        )
    extra = (sizes.stream_record - sizes.core_record) / sizes.core_record
    before = (sizes.full_record - sizes.core_record) / sizes.core_record
    kib, write = 1024, sizes.write_ms
    size_rows = [
        ("record core (no exploration columns)", f"{sizes.core_record / kib:.1f} KiB",
         "what every curve reader needs"),
        ("record with its exploration columns", f"{sizes.full_record / kib:.1f} KiB",
         f"what the stream carried before: extra {before:+.0%}"),
        ("stream record now", f"{sizes.stream_record / kib:.1f} KiB",
         f"extra data {extra:+.0%} of the core (goal ≤ {EXTRA_GOAL:.0%}: {verdict(extra <= EXTRA_GOAL)})"),
        ("one epoch's confusions (a field of the confusions hash)", f"{sizes.epoch_confusions / kib:.1f} KiB",
         "read by the epoch views"),
        ("one class's entry at one epoch", f"{sizes.class_entry:.0f} B",
         "read by the class panel, one per epoch"),
        ("every class's entries of one epoch", f"{sizes.class_entries_per_epoch / kib:.1f} KiB",
         "written once per epoch"),
        *((f"Redis memory: {name}, {sizes.epochs} epochs", f"{size / 2**20:.1f} MiB", "MEMORY USAGE")
          for name, size in sizes.memory.items()),
        ("reporter write per epoch (exploration + stream + progress)",
         f"{statistics.median(write):.1f} ms median, {max(write):.1f} max", "the worker's cost"),
    ]  # fmt: skip
    lines += [
        "",
        f"## Epoch record and exploration sizes ({sizes.classes} classes × {sizes.epochs} epochs)",
        "",
        "| what | size | note |",
        "|---|---:|---|",
        *(f"| {what} | {size} | {note} |" for what, size, note in size_rows),
        "",
        f"## Thumbnails route ({THUMBNAILS} images: the hardest examples of two classes)",
        "",
        "| images | first request (manifest parsed) ms | one by one: p50 / p95 / max ms | "
        f"{BROWSER_CONNECTIONS} connections: per image p95 ms, {THUMBNAILS} images median ms | p95 ≤ goal |",
        "|---|---:|---:|---:|:---:|",
    ]
    for t in thumbs:
        seq = t.sequential_ms
        ok = verdict(max(p95(seq), p95(t.batch_request_ms)) <= THUMBNAIL_GOAL_MS)
        one_by_one = f"{statistics.median(seq):.1f} / {p95(seq):.1f} / {max(seq):.1f}"
        batched = f"{p95(t.batch_request_ms):.1f}, {statistics.median(t.batch_ms):.1f}"
        lines.append(f"| {t.image} | {t.first_ms:.1f} | {one_by_one} | {batched} | {ok} |")
    lines += [
        "",
        f"Thumbnails: {THUMBNAIL_ROUNDS} rounds of the same {THUMBNAILS} rows, rendered each time (no "
        "`If-None-Match`; a browser would keep them: `immutable`).",
        "",
    ]
    return "\n".join(lines)


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
    largest = max(args.classes)
    with tempfile.TemporaryDirectory(prefix="dnet-bench-") as tmp, service(Path(tmp)) as svc:
        sizes = None
        for classes in sorted(args.classes):
            measured = bench_classes(svc, classes, epochs, repeat, rows, legacy=classes == largest)
            sizes = measured if classes == largest else sizes
        thumbs = [bench_thumbnails(svc, largest, epochs, image) for image in ("32px.png", "500x375.jpg")]
    assert sizes is not None
    text = render(rows, sizes, thumbs, epochs, sys.argv[1:] if argv is None else argv)
    print(text)
    return store_table(RESULTS, text, write=not args.no_write and not args.quick)


if __name__ == "__main__":
    sys.exit(main())
