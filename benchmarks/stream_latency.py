"""Latency from XADD to client receipt for N concurrent SSE clients and N pollers on loopback.

A real stack without workers (redis-server + the API under uvicorn, ``stack.testing.live_stack``): a synthetic
writer publishes epoch records through the worker's own ``RedisReporter`` (the code path a training task
uses), with realistic 10-class and 1000-class records. For each N, N clients follow the run over
``GET /api/runs/{id}/events`` (SSE) and N clients poll ``GET /api/runs/{id}/epochs?after=<last>`` every
``--poll-interval`` seconds, like the dashboard. Latency = receipt time − time just before the XADD.
Errors = HTTP/transport failures plus missing or duplicated epochs at any client.

    .venv/bin/python benchmarks/stream_latency.py                   # N = 1, 10, 100; 10 and 1000 classes
    .venv/bin/python benchmarks/stream_latency.py --quick           # N = 1, 10; fewer epochs
    .venv/bin/python benchmarks/stream_latency.py --write benchmarks/results/stream-latency.md

``--storm`` measures the disconnect storm instead (``stack.testing.sse_storm``): 150 clients follow a run, 140
of them drop at the same instant as an epoch is appended, a new client joins later; per class count it
reports the survivors' latency, the epochs missed or duplicated by the survivors and the late joiner, and
the error lines in the API log. With ``--write`` each mode replaces only its own part of the file.

    .venv/bin/python benchmarks/stream_latency.py --storm --write benchmarks/results/stream-latency.md
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import _harness as h
import httpx
import redis

from difficultynet.synthetic import synthetic_record
from service_contracts import protocol
from stack.testing.datasets import tiny_files, write_files
from stack.testing.sse import aiter_sse
from stack.testing.sse_storm import (
    StormPlan,
    StormResult,
    log_defects,
    run_storm,
    start_synthetic_run,
    upload_tiny_dataset,
)
from worker.reporter import RedisReporter

TERMINAL = ("succeeded", "failed", "cancelled")
GOAL_P95_S = 1.0
GOAL_CLIENTS = 100


@dataclass
class Received:
    """Arrival times per epoch at one client, plus what went wrong there."""

    kind: str
    times: dict[int, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def record(self, epoch: int, at: float) -> None:
        if epoch in self.times:
            self.errors.append(f"epoch {epoch} received twice")
        else:
            self.times[epoch] = at


@dataclass(frozen=True)
class Scenario:
    classes: int
    clients: int
    epochs: int
    epoch_interval_s: float
    poll_interval_s: float


@dataclass(frozen=True)
class Result:
    scenario: Scenario
    sse_ms: list[float]
    poll_ms: list[float]
    errors: list[str]


async def follow_sse(client: httpx.AsyncClient, run_id: str, out: Received, connected: asyncio.Event) -> None:
    try:
        async with client.stream("GET", f"/api/runs/{run_id}/events") as response:
            response.raise_for_status()
            async for event in aiter_sse(response.aiter_lines()):
                now = time.time()
                if event.event == "epoch" and event.id is not None:
                    out.record(int(event.id), now)
                elif event.event == "status":
                    connected.set()
                    if any(f'"status":"{status}"' in event.data for status in TERMINAL):
                        return
    except httpx.HTTPError as exc:
        out.errors.append(f"sse: {type(exc).__name__}: {exc}")
    finally:
        connected.set()


async def poll(client: httpx.AsyncClient, run_id: str, out: Received, interval_s: float) -> None:
    last = 0
    await asyncio.sleep(random.uniform(0, interval_s))  # clients do not tick in lockstep
    while True:
        try:
            response = await client.get(f"/api/runs/{run_id}/epochs", params={"after": last})
            response.raise_for_status()
            page = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            out.errors.append(f"poll: {type(exc).__name__}: {exc}")
            await asyncio.sleep(interval_s)
            continue
        now = time.time()
        for record in page["records"]:
            out.record(record["epoch"], now)
        last = page["last_epoch"]
        if page["status"] in TERMINAL and not page["records"]:
            return
        await asyncio.sleep(interval_s)


def write_epochs(db: redis.Redis, run_id: str, scenario: Scenario, xadd_at: dict[int, float]) -> None:
    """The synthetic training task: one record per interval through the worker's reporter, then done."""
    reporter = RedisReporter(db, run_id)
    records = [
        synthetic_record(run_id, epoch, epochs_total=scenario.epochs, num_classes=scenario.classes)
        for epoch in range(1, scenario.epochs + 1)
    ]
    for record in records:
        time.sleep(scenario.epoch_interval_s)
        xadd_at[record.epoch] = time.time()
        reporter(record)
    time.sleep(scenario.epoch_interval_s)
    db.hset(protocol.run_key(run_id), mapping={"status": "succeeded", "finished_at": time.time()})


async def run_scenario(stack: h.LiveStack, db: redis.Redis, dataset_id: str, scenario: Scenario) -> Result:
    with stack.client() as http:
        run_id = h.create_run(http, {"dataset_id": dataset_id, "epochs": scenario.epochs})["id"]
    db.hset(protocol.run_key(run_id), "status", "running")  # the writer plays the worker
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    clients = [
        httpx.AsyncClient(base_url=stack.url, headers=stack.headers(), timeout=60, limits=limits)
        for _ in range(2 * scenario.clients)
    ]
    sse = [Received("sse") for _ in range(scenario.clients)]
    polled = [Received("poll") for _ in range(scenario.clients)]
    connected = [asyncio.Event() for _ in sse]
    tasks = [
        *(
            asyncio.create_task(follow_sse(c, run_id, r, e))
            for c, r, e in zip(clients, sse, connected, strict=False)
        ),
        *(
            asyncio.create_task(poll(c, run_id, r, scenario.poll_interval_s))
            for c, r in zip(clients[scenario.clients :], polled, strict=True)
        ),
    ]
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in connected)), timeout=60)
    xadd_at: dict[int, float] = {}
    writer = threading.Thread(target=write_epochs, args=(db, run_id, scenario, xadd_at))
    writer.start()
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=scenario.epochs * scenario.epoch_interval_s + 120)
    writer.join()
    for client in clients:
        await client.aclose()

    errors = [error for r in (*sse, *polled) for error in r.errors]
    latencies: dict[str, list[float]] = {"sse": [], "poll": []}
    for received in (*sse, *polled):
        missing = sorted(set(xadd_at) - set(received.times))
        if missing:
            errors.append(f"{received.kind}: epochs {missing} never arrived")
        latencies[received.kind] += [
            (received.times[e] - xadd_at[e]) * 1000 for e in received.times if e in xadd_at
        ]
    return Result(scenario, latencies["sse"], latencies["poll"], errors)


def percentile(samples: list[float], q: float) -> float:
    if not samples:
        return float("nan")
    if len(samples) == 1:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[int(q) - 1]


def table(results: list[Result]) -> str:
    lines = [
        "| classes | clients (SSE + pollers) | SSE p50 | SSE p95 | SSE max | poll p50 | poll p95 | errors |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        s = r.scenario
        lines.append(
            f"| {s.classes} | {s.clients} + {s.clients} | {percentile(r.sse_ms, 50):.0f} ms | "
            f"{percentile(r.sse_ms, 95):.0f} ms | {max(r.sse_ms, default=float('nan')):.0f} ms | "
            f"{percentile(r.poll_ms, 50):.0f} ms | {percentile(r.poll_ms, 95):.0f} ms | {len(r.errors)} |"
        )
    return "\n".join(lines)


def report(results: list[Result], args: argparse.Namespace) -> str:
    worst = max((percentile(r.sse_ms, 95) for r in results), default=float("nan"))
    errors = sum(len(r.errors) for r in results)
    if max(r.scenario.clients for r in results) < GOAL_CLIENTS:
        verdict = f"not measured (largest N {max(r.scenario.clients for r in results)})"
    else:
        verdict = "met" if worst <= GOAL_P95_S * 1000 and errors == 0 else "NOT met"
    s = results[0].scenario
    return "\n".join(
        [
            "# Stream latency: XADD → client receipt",
            "",
            f"- Command: `{h.command_line()}`",
            f"- Machine: {h.machine()}",
            f"- Date: {h.now_utc()}, code {h.CODE_VERSION} (`git describe --dirty --always` at start)",
            f"- Setup: redis-server + API (uvicorn, 1 process) on loopback, no worker; a synthetic writer "
            f"publishes {s.epochs} epochs, one every {s.epoch_interval_s:g} s, through `worker.reporter."
            f"RedisReporter`. Pollers call `GET /epochs?after=<last>` every {s.poll_interval_s:g} s "
            "(the dashboard's default), so their latency includes up to one poll interval. All clients "
            "run as asyncio tasks in one benchmark process.",
            f"- Goal: SSE p95 ≤ {GOAL_P95_S * 1000:.0f} ms at {GOAL_CLIENTS} clients with 0 errors → "
            f"**{verdict}** (worst SSE p95 {worst:.0f} ms, {errors} errors).",
            "",
            table(results),
            "",
            *(f"- error: {e}" for r in results for e in r.errors[:5]),
        ]
    )


async def main_async(args: argparse.Namespace) -> list[Result]:
    counts = (1, 10) if args.quick else (1, 10, 100)
    epochs = 4 if args.quick else args.epochs
    results: list[Result] = []
    root = Path(tempfile.mkdtemp(prefix="dnet-stream-latency-"))
    with h.LiveStack(root, api_token="bench-token", workers_at_start=0) as stack:
        db = redis.Redis.from_url(stack.redis.url, decode_responses=True)
        write_files(stack.data_root / "tiny", tiny_files())
        with stack.client() as http:
            dataset_id = h.upload_csv(http, stack.data_root / "tiny" / "manifest.csv", stack.data_root)["id"]
        for classes in (10, 1000):
            for clients in counts:
                scenario = Scenario(classes, clients, epochs, args.epoch_interval, args.poll_interval)
                result = await run_scenario(stack, db, dataset_id, scenario)
                results.append(result)
                print(table([result]).splitlines()[-1], flush=True)
    return results


STORM_HEADING = "## Disconnect storm"


@dataclass(frozen=True)
class StormRow:
    result: StormResult
    log_errors: list[str]


async def storm_row(plan: StormPlan) -> StormRow:
    """One storm on a fresh stack (so the API log holds this storm only, shutdown included)."""
    root = Path(tempfile.mkdtemp(prefix="dnet-sse-storm-"))
    with h.LiveStack(root, api_token="bench-token", workers_at_start=0) as stack:
        db = redis.Redis.from_url(stack.redis.url, decode_responses=True)
        with stack.client() as http:
            run_id = start_synthetic_run(http, db, upload_tiny_dataset(http, stack.data_root), plan.epochs)
        result = await run_storm(stack.url, stack.headers(), db, run_id, plan)
    assert stack.api is not None
    return StormRow(result, log_defects(stack.api.log_path.read_text(errors="replace")))


def storm_table(rows: list[StormRow]) -> str:
    lines = [
        "| classes | clients → survivors | survivor p50 | survivor p95 | survivor max "
        "| late joiner: live max | epochs missed | epochs duplicated | streams not ended | API log errors |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        r, p = row.result, row.result.plan
        followers = [*r.survivors, r.joiner]
        ms = r.survivor_latencies_ms()
        joiner_live = list(r.latencies_ms(r.joiner, live_only=True).values())
        lines.append(
            f"| {p.num_classes} | {p.clients} → {p.clients - p.drop} | {percentile(ms, 50):.0f} ms | "
            f"{percentile(ms, 95):.0f} ms | {max(ms, default=float('nan')):.0f} ms | "
            f"{max(joiner_live, default=float('nan')):.0f} ms | "
            f"{sum(len(r.missed(f)) for f in followers)} | {sum(len(r.duplicated(f)) for f in followers)} | "
            f"{sum(not f.finished for f in followers)} | {len(row.log_errors)} |"
        )
    return "\n".join(lines)


def storm_report(rows: list[StormRow]) -> str:
    p = rows[0].result.plan
    worst = max(max(row.result.survivor_latencies_ms(), default=float("inf")) for row in rows)
    clean = all(not row.result.problems() and not row.log_errors for row in rows)
    verdict = "met" if clean and worst <= GOAL_P95_S * 1000 else "NOT met"
    return "\n".join(
        [
            STORM_HEADING,
            "",
            f"- Command: `{h.command_line()}`",
            f"- Machine: {h.machine()}",
            f"- Date: {h.now_utc()}, code {h.CODE_VERSION} (`git describe --dirty --always` at start)",
            f"- Setup: a fresh stack per row (redis-server + API under uvicorn, no worker). {p.clients} SSE "
            f"clients follow one run; {p.epochs} epochs are appended one every {p.interval_s:g} s through "
            f"`RedisReporter`; {p.drop} clients disconnect at the same instant as epoch {p.storm_after} is "
            f"appended; a new client joins after epoch {p.join_after} (full replay, then live). Latency = "
            "receipt − time just before the XADD, over every epoch at every survivor. API log errors = "
            "lines with a traceback, `Lock is not acquired` or `Task was destroyed` (shutdown included).",
            f"- Goal: every survivor epoch within {GOAL_P95_S * 1000:.0f} ms; 0 missed, 0 duplicated, every "
            f"stream ends with the terminal status, 0 API log errors → **{verdict}** (worst {worst:.0f} ms).",
            "",
            storm_table(rows),
            "",
            *(f"- problem: {problem}" for row in rows for problem in row.result.problems()[:5]),
            *(f"- API log: {line}" for row in rows for line in row.log_errors[:5]),
        ]
    )


async def storm_main(args: argparse.Namespace) -> list[StormRow]:
    rows: list[StormRow] = []
    for classes in (10,) if args.quick else (10, 1000):
        plan = StormPlan(clients=args.storm_clients, drop=args.storm_drop, epochs=20, storm_after=3,
                         join_after=8, interval_s=args.epoch_interval / 2, num_classes=classes)  # fmt: skip
        rows.append(await storm_row(plan))
        print(storm_table(rows[-1:]).splitlines()[-1], flush=True)
    return rows


def replace_section(existing: str, heading: str | None, text: str) -> str:
    """The results file with one part replaced: ``heading``'s section, or (None) the part before any."""
    preamble, *sections = re.split(r"(?m)^(?=## )", existing)
    if heading is None:
        preamble = text
    else:
        titles = [section.splitlines()[0] for section in sections]
        if heading in titles:
            sections[titles.index(heading)] = text
        else:
            sections.append(text)
    return "\n\n".join(part.strip("\n") for part in (preamble, *sections) if part.strip()) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="N = 1 and 10 only, 4 epochs")
    parser.add_argument("--epochs", type=int, default=10, help="epochs written per scenario")
    parser.add_argument("--epoch-interval", type=float, default=1.0, help="seconds between epochs")
    parser.add_argument("--poll-interval", type=float, default=1.0, help="seconds between polls")
    parser.add_argument("--write", type=Path, help="also write the markdown report to this file")
    parser.add_argument("--storm", action="store_true", help="the disconnect storm instead (see above)")
    parser.add_argument("--storm-clients", type=int, default=150, help="clients following the run")
    parser.add_argument("--storm-drop", type=int, default=140, help="clients that disconnect at once")
    args = parser.parse_args(argv)
    if args.storm:
        rows = asyncio.run(storm_main(args))
        text, heading, ok = storm_report(rows), STORM_HEADING, all(not r.result.problems() for r in rows)
    else:
        results = asyncio.run(main_async(args))
        text, heading, ok = report(results, args), None, all(not r.errors for r in results)
    print(text)
    if args.write:
        existing = args.write.read_text() if args.write.exists() else ""
        args.write.write_text(replace_section(existing, heading, text))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
