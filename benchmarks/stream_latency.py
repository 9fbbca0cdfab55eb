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
"""

from __future__ import annotations

import argparse
import asyncio
import random
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

from difficultynet import protocol
from difficultynet.synthetic import synthetic_record
from stack.testing.datasets import tiny_files, write_files
from stack.testing.sse import aiter_sse
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="N = 1 and 10 only, 4 epochs")
    parser.add_argument("--epochs", type=int, default=10, help="epochs written per scenario")
    parser.add_argument("--epoch-interval", type=float, default=1.0, help="seconds between epochs")
    parser.add_argument("--poll-interval", type=float, default=1.0, help="seconds between polls")
    parser.add_argument("--write", type=Path, help="also write the markdown report to this file")
    args = parser.parse_args(argv)
    results = asyncio.run(main_async(args))
    text = report(results, args)
    print(text)
    if args.write:
        args.write.write_text(text + "\n")
    return 0 if all(not r.errors for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
