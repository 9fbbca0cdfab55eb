"""Reliability table: faults and abuses repeated against a live local stack, one row per scenario.

Each row reports epochs lost, epochs duplicated (a run must record epochs 1..E exactly once, read back from
the Redis stream through ``GET /api/runs/{id}/epochs``), 5xx answers seen by this script's HTTP client
(503 is expected only while Redis is down or stopped), tracebacks that appeared in the API and worker logs
during the scenario, and the recovery time.

The stack is the integration tests' :class:`LiveStack` (real redis-server, uvicorn API, Celery prefork
worker with ``--max-tasks-per-child 1``) with short lease/heartbeat intervals; the fault recipes are those
of ``tests/integration`` and the abuse recipes those of ``tests/backend/test_api_upload_abuse.py`` and
``test_api_error_text.py``. Training runs are tiny (ResNet-8, 8×8 images, CPU) so the whole table takes
a few minutes.

    .venv/bin/python benchmarks/reliability.py           # benchmarks/results/reliability.md and .json
    .venv/bin/python benchmarks/reliability.py --quick   # a subset, under var/bench/
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import re
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import _harness as h
import httpx
from PIL import Image

from stack.testing.datasets import make_zip, tiny_files, write_files
from stack.testing.live_stack import LiveStack, StackTimings
from stack.testing.sse_storm import (
    StormPlan,
    run_storm,
    start_synthetic_run,
    upload_tiny_dataset,
)

TOKEN = "reliability-token"
MAX_ATTEMPTS = 3
TIMINGS = StackTimings(lease_ttl_s=6.0, heartbeat_s=1.5, recovery_interval_s=1.0)
EPOCHS = 8
TRAINING: dict[str, Any] = {
    "method": "ce", "model": "resnet8", "epochs": EPOCHS, "batch_size": 32, "num_threads": 1,
    "device": "cpu", "image_size": 8,
}  # fmt: skip
POISON_TRAINING: dict[str, Any] = {"epochs": 50, "model": "resnet32", "image_size": 64}
RUN_TIMEOUT_S = 600.0
REDIS_PAUSE_S = 10.0
POLL_S = 0.25
CLASS_NAME = re.compile(r"\b[A-Za-z]*(Error|Exception|Warning)\b")
ABSOLUTE_PATH = re.compile(r"(^|[\s'\"(=:])/[^\s'\"]+")
CORRUPT_PNG = b"\x89PNG\r\n\x1a\n" + b"garbage" * 20  # a PNG signature, then nonsense
DEFAULT_OUT = h.REPO_ROOT / "benchmarks" / "results" / "reliability.md"
QUICK_OUT = h.REPO_ROOT / "var" / "bench" / "reliability.md"


@dataclass
class Row:
    scenario: str
    fault: str
    lost: int | None  # None: not a training scenario
    duplicated: int | None
    http_5xx: int  # every answer >= 500 except the 503s allowed while Redis is down
    http_503_redis_down: int
    tracebacks: int
    recovery_s: float | None
    recovery_what: str
    outcome: str
    expected: bool  # the scenario's own expectation (run succeeded, 422, files kept, ...)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return (
            self.expected
            and not self.lost
            and not self.duplicated
            and self.http_5xx == 0
            and self.tracebacks == 0
        )


class StatusCounter:
    """Counts the status codes of every response of a client (an httpx response hook)."""

    def __init__(self) -> None:
        self.codes: list[int] = []
        self.transport_errors = 0

    def __call__(self, response: httpx.Response) -> None:
        self.codes.append(response.status_code)

    def reset(self) -> None:
        self.codes.clear()
        self.transport_errors = 0

    def count(self, predicate: Callable[[int], bool]) -> int:
        return sum(1 for code in self.codes if predicate(code))


# -- logs ----------------------------------------------------------------------------------------------


def log_offsets(stack: LiveStack) -> dict[Path, int]:
    return {path: path.stat().st_size for path in stack.logs_dir.glob("*.log")}


def new_log_text(stack: LiveStack, since: dict[Path, int]) -> dict[str, str]:
    """What each process log gained since ``since`` (logs of processes started meanwhile: all of it)."""
    out: dict[str, str] = {}
    for path in sorted(stack.logs_dir.glob("*.log")):
        with open(path, "rb") as log:
            log.seek(since.get(path, 0))
            out[path.stem] = log.read().decode(errors="replace")
    return out


EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(:|$)")
CHAIN_LINES = ("Traceback (most recent call last)", "During handling of the above", "The above exception",
               '"""')  # fmt: skip


def tracebacks(texts: dict[str, str]) -> list[str]:
    """One entry per traceback logged (a chained one, or billiard's repeated einfo, counts once): the
    process and the exception that ends it. Asyncio defects without a traceback count too."""
    out: list[str] = []
    for name, text in texts.items():
        chain: list[str] | None = None  # exception lines of the traceback being read
        for line in [*text.splitlines(), "[end]"]:
            if line.startswith("Traceback (most recent call last)") and chain is None:
                chain = []
            elif chain is not None:
                if not line.strip() or line.startswith((" ", "\t", *CHAIN_LINES)):
                    continue
                if EXCEPTION_LINE.match(line):
                    chain.append(line.strip())
                    continue
                out.append(f"{name}: {(chain or ['?'])[-1][:200]}")
                chain = None
            if chain is None and any(mark in line for mark in ("Lock is not acquired", "Task was destroyed")):
                out.append(f"{name}: {line.strip()[:200]}")
    return out


# -- data ----------------------------------------------------------------------------------------------


def noisy_png(rng: random.Random, base: tuple[int, int, int], size: int = 8) -> bytes:
    pixels = bytes(max(0, min(255, c + rng.randrange(-40, 41))) for _ in range(size * size) for c in base)
    buffer = io.BytesIO()
    Image.frombytes("RGB", (size, size), pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def training_files(per_class: int = 60) -> dict[str, bytes]:
    """3 classes of 8×8 noisy colour patches: ``per_class`` train, 4 val, 4 test each, plus the manifest."""
    rng = random.Random(0)
    colors = {"red": (200, 40, 40), "green": (40, 200, 40), "blue": (40, 40, 200)}
    files: dict[str, bytes] = {}
    lines = ["path,label,split"]
    for label, color in colors.items():
        for split, n in (("train", per_class), ("val", 4), ("test", 4)):
            for i in range(n):
                rel = f"img/{label}/{split}{i}.png"
                files[rel] = noisy_png(rng, color)
                lines.append(f"{rel},{label},{split}")
    files["manifest.csv"] = ("\n".join(lines) + "\n").encode()
    return files


def upload_training_set(http: httpx.Client, data_root: Path) -> str:
    write_files(data_root / "train8", training_files())
    manifest = (data_root / "train8" / "manifest.csv").read_bytes()
    response = http.post("/api/datasets", files={"file": ("train8.csv", manifest)}, data={"base": "train8"})
    if response.status_code not in (200, 201):
        raise RuntimeError(f"training set refused: {response.status_code} {response.text[:300]}")
    return str(response.json()["id"])


# -- runs ----------------------------------------------------------------------------------------------


def child_pid(state: dict[str, Any]) -> int | None:
    """The pid of the prefork child training the run (the worker writes "<name> (pid N)")."""
    match = re.search(r"\(pid (\d+)\)", state.get("worker") or "")
    return int(match.group(1)) if match else None


def run_state(http: httpx.Client, counter: StatusCounter, run_id: str) -> dict[str, Any] | None:
    """The run, or None while the API is unreachable or answers 5xx (counted by ``counter``)."""
    try:
        response = http.get(f"/api/runs/{run_id}")
    except httpx.TransportError:
        counter.transport_errors += 1
        time.sleep(POLL_S)
        return None
    if response.status_code >= 500:
        return None
    response.raise_for_status()
    state: dict[str, Any] = response.json()
    return state


def poll_run(
    http: httpx.Client,
    counter: StatusCounter,
    run_id: str,
    done: Callable[[dict[str, Any]], bool],
    timeout_s: float = RUN_TIMEOUT_S,
    on_state: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = run_state(http, counter, run_id)
        if state is not None:
            if on_state is not None:
                on_state(state)
            if done(state):
                return state
        time.sleep(POLL_S)
    raise TimeoutError(f"run {run_id}: condition not met within {timeout_s:.0f} s")


def recorded_epochs(http: httpx.Client, run_id: str) -> list[int]:
    page = http.get(f"/api/runs/{run_id}/epochs").raise_for_status().json()
    return [int(record["epoch"]) for record in page["records"]]


def start_run(http: httpx.Client, dataset_id: str, **overrides: Any) -> str:
    response = http.post("/api/runs", json={"dataset_id": dataset_id, **TRAINING, **overrides})
    if response.status_code != 202:
        raise RuntimeError(f"run not created: {response.status_code} {response.text[:300]}")
    return str(response.json()["id"])


TERMINAL = ("succeeded", "failed", "cancelled")


def fault_row(
    stack: LiveStack,
    http: httpx.Client,
    counter: StatusCounter,
    dataset_id: str,
    scenario: str,
    fault: str,
    inject: Callable[[dict[str, Any]], float | None],
    redis_down: bool = False,
) -> Row:
    """Start a run, wait for epoch 1, ``inject`` the fault, wait for the run to finish and check its epochs.

    Recovery is timed from the injection, or from the time ``inject`` returns (the pause: its end)."""
    since = log_offsets(stack)
    counter.reset()
    run_id = start_run(http, dataset_id)
    state = poll_run(http, counter, run_id, lambda s: s["epoch"] >= 1 or s["status"] in TERMINAL)
    fault_epoch = int(state["epoch"])
    injected = time.monotonic()
    fault_over = inject(state)
    progressed: list[float] = []

    def note(s: dict[str, Any]) -> None:
        if not progressed and (s["epoch"] > fault_epoch or s["status"] in TERMINAL):
            progressed.append(time.monotonic())

    final = poll_run(http, counter, run_id, lambda s: s["status"] in TERMINAL, on_state=note)
    epochs = recorded_epochs(http, run_id)
    texts = new_log_text(stack, since)
    logged = tracebacks(texts)
    lost = len(set(range(1, EPOCHS + 1)) - set(epochs))
    duplicated = len(epochs) - len(set(epochs))
    n503 = counter.count(lambda c: c == 503) if redis_down else 0
    recovery = progressed[0] - (fault_over or injected) if progressed else None
    return Row(
        scenario=scenario,
        fault=fault,
        lost=lost,
        duplicated=duplicated,
        http_5xx=counter.count(lambda c: c >= 500) - n503,
        http_503_redis_down=n503,
        tracebacks=len(logged),
        recovery_s=recovery,
        recovery_what=("fault" if fault_over is None else "end of the fault") + " → next epoch via the API",
        outcome=f"{final['status']} at epoch {final['epoch']}/{EPOCHS}, attempt {final['attempt']}, "
        f"{final.get('crashes')} crash(es) counted"
        + (
            f", {counter.transport_errors} refused connections while the API was down"
            if counter.transport_errors
            else ""
        ),
        expected=final["status"] == "succeeded",
        details={
            "run_id": run_id,
            "fault_at_epoch": fault_epoch,
            "epochs_recorded": epochs,
            "attempt": final["attempt"],
            "crashes": final.get("crashes"),
            "status_codes": sorted(set(counter.codes)),
            "transport_errors": counter.transport_errors,
            "tracebacks": logged[:10],
        },
    )


def kill_child(state: dict[str, Any]) -> None:
    pid = child_pid(state)
    if pid is None:
        raise RuntimeError(f"no task child pid in {state}")
    os.kill(pid, signal.SIGKILL)  # the parent survives and requeues the message


def kill_parent(stack: LiveStack) -> Callable[[dict[str, Any]], None]:
    def inject(state: dict[str, Any]) -> None:
        [worker] = [w for w in stack.workers if w.alive()]
        stack.kill_worker(worker, child_pid=child_pid(state))  # nobody left to requeue: the lease must
        stack.start_worker(timeout=180)  # the "launcher" brings a fresh worker up

    return inject


def restart_redis(stack: LiveStack) -> Callable[[dict[str, Any]], None]:
    def inject(state: dict[str, Any]) -> None:
        stack.restart_redis(kill=True, down_s=1.0)  # SIGKILL: only what the AOF fsynced survives

    return inject


def restart_api(stack: LiveStack) -> Callable[[dict[str, Any]], None]:
    def inject(state: dict[str, Any]) -> None:
        stack.restart_api(kill=True, down_s=0.5)

    return inject


def pause_redis(stack: LiveStack) -> Callable[[dict[str, Any]], float]:
    def inject(state: dict[str, Any]) -> float:
        assert stack.redis.process is not None
        pid = stack.redis.process.pid
        resumed: list[float] = []

        def resume() -> None:
            os.kill(pid, signal.SIGCONT)
            resumed.append(time.monotonic())

        os.kill(pid, signal.SIGSTOP)
        timer = threading.Timer(REDIS_PAUSE_S, resume)
        timer.start()
        timer.join()
        return resumed[0]

    return inject


def poison_row(stack: LiveStack, http: httpx.Client, counter: StatusCounter, dataset_id: str) -> Row:
    """A run whose task child is SIGKILLed on every attempt must end ``failed`` after MAX_ATTEMPTS."""
    since = log_offsets(stack)
    counter.reset()
    # The budget counts deaths in a row on the same epoch (``worker/attempts.py``): a poison run dies before
    # it finishes an epoch. Epochs of ResNet-32 at 64 px take seconds, so every kill lands inside epoch 1.
    run_id = start_run(http, dataset_id, **POISON_TRAINING)
    killed: list[int] = []
    killed_at_epoch: list[int] = []
    first_kill = 0.0

    def next_attempt_running(state: dict[str, Any]) -> bool:
        fresh_child = child_pid(state) not in (None, *killed)
        return state["status"] in TERMINAL or (state["status"] == "running" and fresh_child)

    for _ in range(MAX_ATTEMPTS):
        state = poll_run(http, counter, run_id, next_attempt_running)
        if state["status"] in TERMINAL:
            break
        pid = child_pid(state)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)  # like the OOM killer
        killed.append(pid)
        killed_at_epoch.append(int(state["epoch"]))
        first_kill = first_kill or time.monotonic()
    final = poll_run(http, counter, run_id, lambda s: s["status"] in TERMINAL)
    took = time.monotonic() - first_kill
    epochs = recorded_epochs(http, run_id)
    texts = new_log_text(stack, since)
    logged = tracebacks(texts)
    error = str(final.get("error") or "")
    plain = not CLASS_NAME.search(error) and str(stack.root) not in error
    return Row(
        scenario="poison run",
        fault=f"task child SIGKILLed on every attempt before it finishes an epoch "
        f"(DNET_MAX_ATTEMPTS={MAX_ATTEMPTS}; last finished epoch at each kill: {killed_at_epoch})",
        lost=None,
        duplicated=len(epochs) - len(set(epochs)),
        http_5xx=counter.count(lambda c: c >= 500),
        http_503_redis_down=0,
        tracebacks=len(logged),
        recovery_s=took,
        recovery_what="first kill → run `failed`",
        outcome=f"{final['status']} after {final['attempt']} attempts, {final.get('crashes')} crashes; "
        f"reason: “{error[:90]}…”",
        expected=final["status"] == "failed"
        and final["attempt"] == MAX_ATTEMPTS
        and final.get("crashes") == MAX_ATTEMPTS
        and bool(error)
        and plain,
        details={
            "run_id": run_id,
            "killed_pids": killed,
            "epoch_at_each_kill": killed_at_epoch,
            "attempt": final["attempt"],
            "crashes": final.get("crashes"),
            "error": error,
            "status_codes": sorted(set(counter.codes)),
            "tracebacks": logged[:10],
        },
    )


# -- uploads -------------------------------------------------------------------------------------------


def upload_row(
    stack: LiveStack,
    http: httpx.Client,
    counter: StatusCounter,
    scenario: str,
    fault: str,
    post: Callable[[], httpx.Response],
    judge: Callable[[httpx.Response], tuple[bool, str, dict[str, Any]]],
) -> Row:
    since = log_offsets(stack)
    counter.reset()
    started = time.monotonic()
    response = post()
    took = time.monotonic() - started
    expected, outcome, details = judge(response)
    texts = new_log_text(stack, since)
    logged = tracebacks(texts)
    return Row(
        scenario=scenario,
        fault=fault,
        lost=None,
        duplicated=None,
        http_5xx=counter.count(lambda c: c >= 500),
        http_503_redis_down=0,
        tracebacks=len(logged),
        recovery_s=took,
        recovery_what="request → answer",
        outcome=f"HTTP {response.status_code}: {outcome}",
        expected=expected,
        details={**details, "status": response.status_code, "tracebacks": logged[:10]},
    )


def error_texts(body: dict[str, Any]) -> list[str]:
    errors = body.get("errors") or []
    return [str(body.get("detail", "")), *(str(e.get(k) or "") for e in errors for k in ("column", "reason"))]


def upload_rows(stack: LiveStack, http: httpx.Client, counter: StatusCounter, duplicates: int) -> list[Row]:
    write_files(stack.data_root / "tiny", tiny_files())
    manifest = tiny_files()["manifest.csv"]
    rows = []

    dupes = manifest + b"img/ant/train0.png,ant,train\n" * duplicates

    def judge_dupes(response: httpx.Response) -> tuple[bool, str, dict[str, Any]]:
        detail = str(response.json().get("detail", "")) if response.status_code < 500 else response.text
        ok = response.status_code == 422 and "duplicate of line 2" in detail
        return ok, f"“{detail[:80]}…”", {"detail": detail[:300], "bytes": len(dupes)}

    rows.append(upload_row(
        stack, http, counter, f"{duplicates:,}-row duplicate upload",
        f"a {len(dupes) / 2**20:.0f} MiB CSV: {duplicates:,} rows naming one image",
        lambda: http.post("/api/datasets", files={"file": ("dupes.csv", dupes)}, data={"base": "tiny"},
                          timeout=900),
        judge_dupes,
    ))  # fmt: skip

    files = tiny_files()
    junk = {f"padding/junk{i}.bin": os.urandom(4096) for i in range(500)}
    junk["img/ant/unlisted.png"] = files["img/ant/train0.png"]
    padded = make_zip({**files, **junk})

    def judge_zip(response: httpx.Response) -> tuple[bool, str, dict[str, Any]]:
        if response.status_code != 201:
            return False, response.text[:120], {}
        folder = stack.data_root / "uploads" / str(response.json()["id"])
        stored = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
        kept_junk = sorted(stored & set(junk))
        ok = stored == set(files)
        return (
            ok,
            f"{len(stored)} files kept = the {len(files)} the manifest names (+ itself); "
            f"{len(kept_junk)} of {len(junk)} junk files kept",
            {"stored": len(stored), "named": len(files), "junk": len(junk), "junk_kept": len(kept_junk),
             "notes": response.json().get("notes")},
        )  # fmt: skip

    rows.append(upload_row(
        stack, http, counter, "junk-padded zip",
        f"a zip with {len(files) - 1} named images + manifest and {len(junk)} unreferenced files",
        lambda: http.post("/api/datasets", files={"file": ("padded.zip", padded)}, timeout=300),
        judge_zip,
    ))  # fmt: skip

    corrupt = {**tiny_files(), "img/ant/corrupt.png": CORRUPT_PNG}
    corrupt["manifest.csv"] += b"img/ant/corrupt.png,ant,train\n"
    bundle = make_zip(corrupt)

    def judge_corrupt(response: httpx.Response) -> tuple[bool, str, dict[str, Any]]:
        if response.status_code != 422:
            return False, response.text[:120], {}
        body = response.json()
        texts = error_texts(body)
        leaks = [t for t in texts if CLASS_NAME.search(t) or ABSOLUTE_PATH.search(t) or ".incoming-" in t
                 or str(stack.root) in t]  # fmt: skip
        reasons = [f"row {e.get('row')}: {e.get('reason')}" for e in body.get("errors") or []]
        named = any("corrupt.png" in t for t in texts)
        ok = not leaks and named and len(reasons) == 1
        return (
            ok,
            f"“{reasons[0][:90] if reasons else body.get('detail')}”; {len(leaks)} leaky texts",
            {"errors": reasons, "leaks": leaks},
        )

    rows.append(upload_row(
        stack, http, counter, "corrupt image",
        "a zip whose manifest names a corrupt PNG",
        lambda: http.post("/api/datasets", files={"file": ("corrupt.zip", bundle)}, timeout=300),
        judge_corrupt,
    ))  # fmt: skip
    return rows


# -- the disconnect storm ------------------------------------------------------------------------------


def storm_row(clients: int, drop: int) -> Row:
    """``stack.testing.sse_storm`` on a fresh stack without workers (the script plays the worker)."""
    plan = StormPlan(clients=clients, drop=drop, epochs=12, storm_after=3, join_after=6, interval_s=0.5)
    root = Path(tempfile.mkdtemp(prefix="dnet-reliability-storm-"))
    with LiveStack(root, api_token=TOKEN, workers_at_start=0) as stack:
        import redis

        db = redis.Redis.from_url(stack.redis.url, decode_responses=True)
        with stack.client() as http:
            run_id = start_synthetic_run(http, db, upload_tiny_dataset(http, stack.data_root), plan.epochs)
        since = log_offsets(stack)
        result = asyncio.run(run_storm(stack.url, stack.headers(), db, run_id, plan))
    texts = new_log_text(stack, since)
    logged = tracebacks(texts)
    followers = [*result.survivors, result.joiner]
    missed = sum(len(result.missed(f)) for f in followers)
    duplicated = sum(len(result.duplicated(f)) for f in followers)
    server_errors = sum(1 for f in followers for e in f.errors if "Server error" in e)
    worst_ms = max(result.survivor_latencies_ms(), default=float("nan"))
    problems = result.problems()
    return Row(
        scenario="SSE disconnect storm",
        fault=f"{clients} SSE clients follow a run, {drop} drop at once after epoch {plan.storm_after}; "
        f"one joins after epoch {plan.join_after}",
        lost=missed,
        duplicated=duplicated,
        http_5xx=server_errors,
        http_503_redis_down=0,
        tracebacks=len(logged),
        recovery_s=worst_ms / 1000,
        recovery_what="worst survivor epoch latency (XADD → receipt)",
        outcome=f"{len(result.survivors)} survivors + 1 joiner saw {plan.epochs} epochs each; "
        f"{len(problems)} problems",
        expected=not problems,
        details={"problems": problems[:10], "tracebacks": logged[:10], "worst_ms": worst_ms},
    )


# -- report --------------------------------------------------------------------------------------------


def seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


def cell(value: int | None) -> str:
    return "—" if value is None else str(value)


def table(rows: list[Row]) -> str:
    lines = [
        "| scenario | fault / abuse | epochs lost | epochs duplicated | 5xx | tracebacks in logs | recovery "
        "| outcome | clean |",
        "|---|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in rows:
        five = str(r.http_5xx) + (f" (+{r.http_503_redis_down} × 503 while Redis down)"
                                  if r.http_503_redis_down else "")  # fmt: skip
        recovery = "—" if r.recovery_s is None else f"{seconds(r.recovery_s)} ({r.recovery_what})"
        kinds = sorted({line.split(": ", 1)[1].split(":", 1)[0].rsplit(".", 1)[-1]
                        for line in r.details.get("tracebacks", [])})  # fmt: skip
        logged = f"{r.tracebacks}" + (f" ({', '.join(kinds)})" if kinds else "")
        lines.append(
            f"| {r.scenario} | {r.fault} | {cell(r.lost)} | {cell(r.duplicated)} | {five} | {logged} "
            f"| {recovery} | {r.outcome.replace('|', '/')} | {'yes' if r.clean else '**NO**'} |"
        )
    return "\n".join(lines)


def report(rows: list[Row], args: argparse.Namespace, started: str, took_s: float) -> str:
    bad = [r for r in rows if not r.clean]
    notes = [
        f"- {r.scenario}: {line}"
        for r in rows
        for line in [*r.details.get("tracebacks", [])[:3], *r.details.get("problems", [])[:3]]
    ]
    logged = " ".join(line for r in rows for line in r.details.get("tracebacks", []))
    if "WorkerLostError" in logged:
        notes.append(
            "- `WorkerLostError` tracebacks are Celery's own report (billiard's pool parent, at ERROR level "
            "with the traceback) of a SIGKILLed task child; the run itself resumes or fails as intended."
        )
    if "ConnectionError" in logged:
        notes.append(
            "- `ConnectionError` tracebacks are the Celery consumer's report of the lost broker connection "
            "while redis-server is down; it reconnects on its own."
        )
    redis_crashes = [r.scenario for r in rows if "Redis" in r.scenario or "redis" in r.scenario
                     if r.details.get("crashes")]  # fmt: skip
    if redis_crashes:
        notes.append(
            f"- {' and '.join(redis_crashes)}: no task process was killed, yet the run restarted from its "
            "checkpoint and a crash was counted against DNET_MAX_ATTEMPTS (Celery terminates a late-ack task "
            "whose broker connection drops; a pause longer than the lease hands the run to a new attempt)."
        )
    verdict = (
        "every row is clean"
        if not bad
        else f"**{len(bad)} row(s) not clean**: " + ", ".join(r.scenario for r in bad)
    )
    return "\n".join(
        [
            "# Reliability under faults and abuse",
            "",
            f"- Command: `{h.command_line()}`",
            f"- Machine: {h.machine()}",
            f"- Date: {started} (the scenarios took {took_s / 60:.1f} min), code {h.CODE_VERSION} "
            "(`git describe --dirty --always` at start)",
            "- Stack: `stack.testing.LiveStack` — real redis-server (AOF), uvicorn API, one Celery prefork "
            f"worker (`-c 1 --max-tasks-per-child 1`); lease {TIMINGS.lease_ttl_s:g} s, heartbeat "
            f"{TIMINGS.heartbeat_s:g} s, recovery scan {TIMINGS.recovery_interval_s:g} s, "
            f"DNET_MAX_ATTEMPTS={MAX_ATTEMPTS}. Training rows: ResNet-8, {EPOCHS} epochs, 8×8 images "
            "(3 classes × 60 train), CPU, fault injected once epoch 1 is recorded.",
            "- Columns: *epochs lost / duplicated* — epochs 1..E read back from the run's Redis stream "
            "(`GET /api/runs/{id}/epochs`); for the storm, epochs each surviving or late-joining SSE client "
            "missed / saw twice. *5xx* — answers ≥ 500 to this script's requests during the scenario (503 "
            "counted apart while Redis is killed or stopped). *Tracebacks* — tracebacks the API and worker "
            "processes logged during the scenario (a chained one counts once), plus `Lock is not acquired` "
            "/ `Task was destroyed` lines. *Recovery* — as named in the cell. *attempt* / *crashes* — the "
            "run's attempt number and the crashes counted against its DNET_MAX_ATTEMPTS budget.",
            f"- Verdict: {verdict}.",
            "",
            table(rows),
            "",
            *(
                ["Tracebacks behind non-zero counts (process: final exception):", "", *notes, ""]
                if notes
                else []
            ),
            f"Raw numbers: `{args.out.with_suffix('.json').name}` beside this file.",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="child kill, Redis kill, poison, uploads, small storm"
    )
    parser.add_argument("--out", type=Path, default=None, help=f"markdown file (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    args.out = args.out or (QUICK_OUT if args.quick else DEFAULT_OUT)
    started, t0 = h.now_utc(), time.monotonic()

    rows: list[Row] = []

    def emit(row: Row) -> None:
        rows.append(row)
        print(table([row]).splitlines()[-1], flush=True)

    root = Path(tempfile.mkdtemp(prefix="dnet-reliability-"))
    counter = StatusCounter()
    env = {"DNET_MAX_ATTEMPTS": str(MAX_ATTEMPTS)}
    stack = LiveStack(root, api_token=TOKEN, timings=TIMINGS, extra_env=env).start(timeout=180)
    try:
        with httpx.Client(
            base_url=stack.url, headers=stack.headers(), timeout=60, event_hooks={"response": [counter]}
        ) as http:
            dataset_id = upload_training_set(http, stack.data_root)

            def row(scenario: str, fault: str, inject: Callable[[dict[str, Any]], float | None],
                    redis_down: bool = False) -> None:  # fmt: skip
                emit(fault_row(stack, http, counter, dataset_id, scenario, fault, inject, redis_down))

            row(
                "worker child kill", "SIGKILL the Celery pool child mid-run (the parent requeues)", kill_child
            )
            if not args.quick:
                row("worker parent kill", "SIGKILL the worker parent and its child; a fresh worker starts",
                    kill_parent(stack))  # fmt: skip
            row("redis-server kill", "SIGKILL redis-server, restart it 1 s later (same port, same AOF)",
                restart_redis(stack), redis_down=True)  # fmt: skip
            if not args.quick:
                row("API kill", "SIGKILL the API (uvicorn), restart it 0.5 s later on the same port",
                    restart_api(stack))  # fmt: skip
                row("Redis pause", f"SIGSTOP redis-server for {REDIS_PAUSE_S:g} s, then SIGCONT",
                    pause_redis(stack), redis_down=True)  # fmt: skip
            emit(poison_row(stack, http, counter, dataset_id))
            for upload in upload_rows(stack, http, counter, 100_000 if args.quick else 1_000_000):
                emit(upload)
    finally:
        stack.stop()
    emit(storm_row(30, 25) if args.quick else storm_row(150, 140))

    took = time.monotonic() - t0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report(rows, args, started, took))
    raw = {
        "command": h.command_line(),
        "machine": h.machine(),
        "date": started,
        "code_version": h.CODE_VERSION,
        "took_s": took,
        "rows": [{**asdict(r), "clean": r.clean} for r in rows],
    }
    args.out.with_suffix(".json").write_text(json.dumps(raw, indent=2, default=str) + "\n")
    print(f"wrote {args.out} and {args.out.with_suffix('.json')}")
    return 0 if all(r.clean for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
