"""Multi-worker benchmark (issue 7, target 4): two pinned workers on one Redis take two runs at once.

On a real stack (redis-server, the uvicorn API, Celery worker processes; ``benchmarks/_harness.py``):

1. *concurrent*: two workers, pinned with ``CUDA_VISIBLE_DEVICES`` = ``--devices`` (default ``""`` and
   ``"1"``: distinct values, harmless on a CPU-only machine), take two runs submitted back to back;
2. *one worker*: the second worker is stopped and the same two runs are submitted again, so they queue.

For every run the table shows the worker that trained it, the pinning of that worker, the device it
reported, and queue/start/finish times relative to submission; the summary gives the overlap of the
concurrent runs and both makespans. Results: ``benchmarks/results/multi-worker.md`` (``--quick``: a
smaller dataset, results under ``var/bench/``).

    nohup .venv/bin/python benchmarks/multi_worker.py > var/bench/multi-worker.log 2>&1 &
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import _harness as h
import httpx
from synthetic_lt import SyntheticSpec, describe, write_synthetic_lt

logger = logging.getLogger("multi_worker")

RESULTS_PATH = h.REPO_ROOT / "benchmarks" / "results" / "multi-worker.md"
DEFAULT_WORK_DIR = h.REPO_ROOT / "var" / "bench" / "multi-worker"
RUN_TIMEOUT_S = 1800.0


@dataclass(frozen=True)
class RunTimes:
    phase: str
    run_id: str
    seed: int
    worker: str
    pinning: str
    device: str
    status: str
    submitted: float  # epoch seconds
    started: float
    finished: float
    balanced_acc: float | None

    def row(self) -> str:
        start, end = self.started - self.submitted, self.finished - self.submitted
        acc = "–" if self.balanced_acc is None else f"{100 * self.balanced_acc:.1f} %"
        return (
            f"| {self.phase} | `{self.run_id[:8]}` | {self.seed} | `{self.worker}` "
            f"| `CUDA_VISIBLE_DEVICES={self.pinning!r}` | {self.device} | {self.status} "
            f"| {start:.1f} s | {end:.1f} s | {end - start:.1f} s | {acc} |"
        )


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def run_pair(
    client: httpx.Client, stack: h.LiveStack, phase: str, body: dict[str, Any], pinning: dict[str, str]
) -> list[RunTimes]:
    """Submit two runs back to back and wait for both; ``pinning`` maps worker node → CUDA_VISIBLE_DEVICES."""
    submitted = []
    for seed in (0, 1):
        submitted.append((seed, time.time(), h.create_run(client, {**body, "seed": seed})["id"]))
    times = []
    for seed, at, run_id in submitted:
        run = h.wait_for_run(client, run_id, RUN_TIMEOUT_S, stack=stack)
        node = (run.get("worker") or "?").split(" ")[0]
        times.append(
            RunTimes(
                phase=phase,
                run_id=run_id,
                seed=seed,
                worker=run.get("worker") or "?",
                pinning=pinning.get(node.split("@")[0], "?"),
                device=run.get("device") or "?",
                status=run["status"],
                submitted=at,
                started=_seconds(run["started_at"]),
                finished=_seconds(run["finished_at"]),
                balanced_acc=run.get("balanced_acc"),
            )
        )
        if run["status"] != "succeeded":
            raise RuntimeError(f"run {run_id} ended {run['status']}: {run.get('error')}\n{stack.logs()}")
    return times


def overlap_s(runs: Sequence[RunTimes]) -> float:
    return min(r.finished for r in runs) - max(r.started for r in runs)


def reproducible(first: Sequence[RunTimes], second: Sequence[RunTimes]) -> bool:
    accuracy = {r.seed: r.balanced_acc for r in first}
    return all(accuracy.get(r.seed) == r.balanced_acc for r in second)


def makespan_s(runs: Sequence[RunTimes]) -> float:
    return max(r.finished for r in runs) - min(r.submitted for r in runs)


def benchmark(args: argparse.Namespace) -> tuple[str, list[RunTimes], list[RunTimes]]:
    root = h.fresh_stack_root(args.work_dir)
    spec = SyntheticSpec(
        num_classes=args.classes,
        scale=args.scale,
        val_per_class=args.val,
        test_per_class=args.test,
        image_size=args.image_size,
    )
    dataset = write_synthetic_lt(root / "data" / f"lt-{args.classes}c-s{args.scale:g}", spec)
    logger.info("%s", describe(dataset))
    body = {
        "method": args.method,
        "model": "resnet8",
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "image_size": args.image_size,
        "num_threads": args.threads,
        "device": "cpu" if args.cpu else "auto",
    }
    with h.LiveStack(root, workers_at_start=0, timings=h.PRODUCTION_TIMINGS) as stack:
        pinning = {}
        for devices in args.devices:
            worker = stack.start_worker(env={"CUDA_VISIBLE_DEVICES": devices})
            pinning[worker.name] = devices
        with stack.client(timeout=120.0) as client:
            body["dataset_id"] = h.upload_csv(client, dataset.manifest, stack.data_root)["id"]
            concurrent = run_pair(client, stack, "concurrent", body, pinning)
            logger.info(
                "concurrent: overlap %.1f s, makespan %.1f s", overlap_s(concurrent), makespan_s(concurrent)
            )
            for worker in stack.workers[1:]:
                worker.stop(timeout=30)
            serial = run_pair(client, stack, "one worker", body, pinning)
            logger.info("one worker: makespan %.1f s", makespan_s(serial))
    return describe(dataset), concurrent, serial


def render(dataset: str, concurrent: list[RunTimes], serial: list[RunTimes], body: str) -> str:
    workers = {r.worker.split(" ")[0] for r in concurrent}
    speedup = makespan_s(serial) / makespan_s(concurrent)
    return "\n".join(
        [
            "# Multi-worker: two workers with distinct CUDA_VISIBLE_DEVICES on one Redis (issue 7, target 4)",
            "",
            "Generated by `benchmarks/multi_worker.py`; do not edit by hand.  ",
            f"Command: `{h.command_line()}`  ",
            f"Machine: {h.machine()}  ",
            f"Date: {h.now_utc()} · code {h.CODE_VERSION} (`git describe --dirty --always` at start)",
            "",
            f"Dataset: {dataset}  ",
            f"Each run: {body}",
            "",
            "| phase | run | seed | worker (node, task process) | worker pinning | device | status | started "
            "| finished | train time | balanced acc |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
            *[r.row() for r in concurrent + serial],
            "",
            "Times are seconds after the run was submitted (`POST /api/runs`); *started* / *finished* are "
            "the run's `started_at` / `finished_at` as the worker recorded them.",
            "",
            "| summary | |",
            "|---|---|",
            f"| concurrent runs trained on distinct workers | {'yes' if len(workers) == 2 else 'NO'} "
            f"({', '.join(sorted(workers))}) |",
            f"| overlap of the two concurrent runs | {overlap_s(concurrent):.1f} s |",
            f"| makespan, two workers | {makespan_s(concurrent):.1f} s |",
            f"| makespan, one worker (the runs queue) | {makespan_s(serial):.1f} s |",
            f"| speed-up | {speedup:.2f}× |",
            "| same seed, same balanced accuracy on either worker "
            f"| {'yes' if reproducible(concurrent, serial) else 'NO'} |",
            "",
            "On CPU the two workers share the machine's cores (here with one torch thread each), so the "
            "speed-up is bounded by the idle cores, not by the design; on a multi-GPU host each worker owns "
            "a GPU. See `docs/scaling.md` for adding workers on more GPUs and machines.",
        ]
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR)
    parser.add_argument("--devices", nargs=2, default=["", "1"], metavar="IDS",
                        help="CUDA_VISIBLE_DEVICES of the two workers")  # fmt: skip
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--scale", type=float, default=0.5)
    parser.add_argument("--val", type=int, default=5)
    parser.add_argument("--test", type=int, default=10)
    parser.add_argument("--image-size", type=int, default=16)
    parser.add_argument("--method", default="dnet")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    parser.add_argument("--gpu", dest="cpu", action="store_false", help="let runs use their worker's GPU")
    parser.add_argument(
        "--out", type=Path, help="results markdown (default benchmarks/results/multi-worker.md)"
    )
    parser.add_argument("--quick", action="store_true", help="small smoke variant (results under var/bench)")
    args = parser.parse_args(argv)
    if args.quick:
        args.scale, args.epochs, args.method = 0.1, 1, "ce"
        args.work_dir = args.work_dir.with_name(args.work_dir.name + "-quick")
    if args.out is None:
        args.out = args.work_dir / "multi-worker.md" if args.quick else RESULTS_PATH
    return args


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    args = parse_args(argv)
    try:
        dataset, concurrent, serial = benchmark(args)
    except (RuntimeError, TimeoutError, ValueError) as exc:
        logger.error("%s", exc)
        return 1
    device = "cpu" if args.cpu else "auto"
    body = (
        f"{args.method}, resnet8, {args.epochs} epoch(s), batch {args.batch_size}, "
        f"{args.image_size}×{args.image_size}, {args.threads} torch thread(s), device {device}"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(dataset, concurrent, serial, body) + "\n", encoding="utf-8")
    print(args.out.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
