"""Real-photo data path: a long-tailed folder of 500×375 / 375×500 JPEGs from folder to first epoch.

Measured on the dataset of ``benchmarks/make_photo_dataset.py`` (generated under ``var/`` if missing):

1. folder → manifest: listing the class folders, carving the seeded splits and checking every image
   (``plan_folder`` + ``check_folder``, what an upload or ``dnet manifest`` does);
2. decode throughput: ``decode_images`` into the uint8 array at each size, with 1 and 2 threads;
3. training: ``python -m difficultynet train`` (the ``fit()`` a worker runs) for 1 epoch in a child
   process, first with an empty cache folder (decode + write the ``.npy`` cache), then again (cache hit,
   memory-mapped): wall time to the data being ready and to the end of epoch 1, peak RSS of that process
   (``wait4``), cache size on disk. A baseline run of the same training on one batch of train images, for
   as many steps as the real run's epoch, gives the memory that is not the data's.

    .venv/bin/python benchmarks/real_photos.py          # sizes 32, 64, 112 → benchmarks/results/
    .venv/bin/python benchmarks/real_photos.py --quick  # small dataset, sizes 32, 64 → var/bench/
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

import _harness as h  # noqa: E402
from make_photo_dataset import FULL, QUICK, ensure_dataset  # noqa: E402

from difficultynet.data.cache import decode_images  # noqa: E402
from difficultynet.files import atomic_write_bytes  # noqa: E402
from difficultynet.manifest import FolderPlan, FolderSplitOptions, check_folder, plan_folder  # noqa: E402
from difficultynet.manifest.folder_manifest import manifest_csv  # noqa: E402

RESULTS = h.REPO_ROOT / "benchmarks" / "results" / "real-photos.md"
QUICK_DIR = h.REPO_ROOT / "var" / "bench" / "real-photos-quick"
FULL_DIR = h.REPO_ROOT / "var" / "bench" / "real-photos"
MIB = 2**20
BATCH_SIZE = 128
TRAIN = ["--method", "dnet", "--model", "resnet8", "--epochs", "1", "--batch-size", str(BATCH_SIZE),
         "--seed", "0", "--device", "cpu", "--channels", "3", "-q"]  # fmt: skip
DATA_READY = "difficultynet.data.splits: data:"
BASELINE_TRAIN_IMAGES = BATCH_SIZE  # one batch: the baseline run has every per-step cost and almost no data


@dataclass(frozen=True)
class ChildRun:
    seconds: float
    peak_rss_bytes: int
    data_ready_s: float | None  # process start → train/meta/eval tensors built (the "data:" log line)


def run_child(argv: list[str], log: Path) -> ChildRun:
    """Run a child to the end; its wall time and peak RSS (``ru_maxrss`` of that child alone, KiB)."""
    started_wall, started = time.time(), time.perf_counter()
    with log.open("w") as handle:
        process = subprocess.Popen(argv, cwd=h.REPO_ROOT, stdout=handle, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    output = log.read_text()
    if process.returncode != 0:
        raise RuntimeError(f"{argv[:4]} failed ({process.returncode}):\n{output[-3000:]}")
    ready = next((line for line in output.splitlines() if DATA_READY in line), None)
    data_ready_s = None
    if ready:  # logging's asctime: local time with milliseconds
        stamp = datetime.strptime(ready[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
        data_ready_s = stamp - started_wall
    return ChildRun(seconds, usage.ru_maxrss * 1024, data_ready_s)


@dataclass(frozen=True)
class SizeResult:
    size: int
    decode_per_s: dict[int, float]  # threads → images/s
    cold: ChildRun
    warm: ChildRun
    baseline: ChildRun
    cache_bytes: int


def baseline_manifest(plan: FolderPlan) -> bytes:
    """The same classes, meta (val) set and model, but one batch of train images and one test image per
    class: a run with every per-step cost of the real one (DNet meta step over the whole meta set,
    evaluation, export) and almost no data."""
    train = [row for row in plan.rows if row.split == "train"]
    by_class: dict[str, list[int]] = {}
    for i, row in enumerate(train):
        by_class.setdefault(row.label, []).append(i)
    order = sorted(range(len(train)), key=lambda i: (by_class[train[i].label].index(i), train[i].label))
    kept = {train[i].rel_path for i in order[:BASELINE_TRAIN_IMAGES]}
    first_test: dict[str, str] = {}
    for row in plan.rows:
        if row.split == "test":
            first_test.setdefault(row.label, row.rel_path)
    keep = kept | {row.rel_path for row in plan.rows if row.split == "val"} | set(first_test.values())
    return manifest_csv([row for row in plan.rows if row.rel_path in keep])


def decode_rate(paths: list[Path], size: int, threads: int) -> float:
    started = time.perf_counter()
    _, failures = decode_images(paths, size, 3, num_workers=threads)
    assert not failures, failures
    return len(paths) / (time.perf_counter() - started)


def measure_size(size: int, paths: list[Path], data_root: Path, work: Path, steps: int) -> SizeResult:
    """``steps``: training steps of the real run's epoch, which the baseline matches with one-batch epochs
    (the allocator's high-water mark grows over the first steps, e.g. at the second DNet feature refresh)."""
    rates = {threads: decode_rate(paths, size, threads) for threads in (1, 2)}
    cache = work / f"cache-{size}"
    for stale in cache.glob("*.npy"):
        stale.unlink()

    def train(manifest: str, name: str, *cache_args: str) -> ChildRun:
        shutil.rmtree(work / f"run-{size}-{name}", ignore_errors=True)  # a fresh run, never a resume
        argv = [sys.executable, "-m", "difficultynet", "-v", "train", "--manifest", str(work / manifest),
                "--data-root", str(data_root), *TRAIN, "--image-size", str(size), "--num-threads", "2",
                *cache_args, "--out", str(work / f"run-{size}-{name}")]  # fmt: skip
        return run_child(argv, work / f"train-{size}-{name}.log")

    cold = train("manifest.csv", "cold", "--cache-dir", str(cache))
    warm = train("manifest.csv", "warm", "--cache-dir", str(cache))
    baseline = train("baseline.csv", "baseline", "--epochs", str(steps))  # later flags win over TRAIN's
    cache_bytes = sum(p.stat().st_size for p in cache.glob("*.npy"))
    print(f"size {size}: decode {rates}, epoch 1 cold {cold.seconds:.1f} s / warm {warm.seconds:.1f} s")
    return SizeResult(size, rates, cold, warm, baseline, cache_bytes)


def render(
    results: list[SizeResult], dataset: str, manifest_s: float, images: int, load: tuple[str, str]
) -> str:
    lines = [
        "# Real-photo data path: folder → manifest → decode → first epoch",
        "",
        "A long-tailed folder of photo-sized JPEGs (no manifest) through the same code an upload and a "
        "worker run. Generated by `benchmarks/make_photo_dataset.py` under `var/` (never in the repository).",
        "",
        f"- machine: {h.machine()}",
        f"- load average (1/5/15 min) at start: {load[0]}; at end: {load[1]} (a shared machine: other "
        "processes ran during the measurement)",
        f"- commit {h.CODE_VERSION}, {h.now_utc()}",
        f"- command: `{h.command_line()}`",
        f"- dataset: {dataset}",
        "- resize path measured: `decode_image` with the `h-models` work merged: EXIF orientation applied, "
        "shorter side resized to size (JPEG draft decode, then bilinear) and centre-cropped, decoded "
        "straight into the memory-mapped `.npy` cache; above 32 px training adds the on-device "
        "random-resized-crop + flip",
        "- training: `python -m difficultynet train` (the `fit()` a Celery worker runs), "
        + " ".join(TRAIN)
        + " --num-threads 2 --cache-dir …; time = process start to the end of epoch 1 (imports, manifest "
        "check, decode or cache load, the epoch, its evaluation and the export)",
        "",
        "## Folder → manifest",
        "",
        "| images | list, carve splits, open every image | images/s |",
        "|---:|---:|---:|",
        f"| {images} | {manifest_s:.1f} s | {images / manifest_s:.0f} |",
        "",
        "## Decode throughput (into the uint8 array)",
        "",
        "| size | 1 thread, images/s | 2 threads, images/s |",
        "|---:|---:|---:|",
        *(f"| {r.size} | {r.decode_per_s[1]:.0f} | {r.decode_per_s[2]:.0f} |" for r in results),
        "",
        "## Time to the first epoch, cache and memory",
        "",
        "Times run from the process start (imports included) to the train/meta/eval tensors being ready "
        "(*data*) and to the process end after epoch 1 (*epoch 1*). Memory: the baseline is the same "
        f"training (same classes, meta set, model, batch) on {BASELINE_TRAIN_IMAGES} train images and one "
        "test image per class, run for as many one-batch epochs as the real run has steps in its epoch "
        "(so it meets every step the real run does, e.g. the second DNet feature refresh at step 11), i.e. "
        "everything but the data; the acceptance bound is peak RSS ≤ baseline + 2 × the uint8 cache.",
        "",
        "| size | data / epoch 1, empty cache | data / epoch 1, cache hit | uint8 cache on disk "
        "| peak RSS, empty cache / hit | baseline peak RSS | bound: baseline + 2 × cache | within |",
        "|---:|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for r in results:
        bound = r.baseline.peak_rss_bytes + 2 * r.cache_bytes
        peak = max(r.cold.peak_rss_bytes, r.warm.peak_rss_bytes)
        lines.append(
            f"| {r.size} | {_ready(r.cold)} / {r.cold.seconds:.1f} s "
            f"| {_ready(r.warm)} / {r.warm.seconds:.1f} s | {r.cache_bytes / MIB:.1f} MiB "
            f"| {r.cold.peak_rss_bytes / MIB:.0f} / {r.warm.peak_rss_bytes / MIB:.0f} MiB "
            f"| {r.baseline.peak_rss_bytes / MIB:.0f} MiB | {bound / MIB:.0f} MiB "
            f"| {'yes' if peak <= bound else 'no'} |"
        )
    return "\n".join(lines) + "\n"


def _ready(run: ChildRun) -> str:
    return "–" if run.data_ready_s is None else f"{run.data_ready_s:.1f} s"


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="small dataset, sizes 32 and 64, under var/bench/"
    )
    parser.add_argument("--sizes", type=int, nargs="+", help="image sizes (default 32 64 112; quick 32 64)")
    parser.add_argument("--out", type=Path, help="markdown to write")
    args = parser.parse_args()
    work = QUICK_DIR if args.quick else FULL_DIR
    work.mkdir(parents=True, exist_ok=True)
    out = args.out or (work / "real-photos.md" if args.quick else RESULTS)
    sizes = args.sizes or ([32, 64] if args.quick else [32, 64, 112])
    load_start = load_average()

    images_dir, counts = ensure_dataset(args.quick)
    started = time.perf_counter()
    plan = plan_folder(images_dir, FolderSplitOptions())
    report = check_folder(plan)
    manifest_s = time.perf_counter() - started
    assert report.ok, report.errors
    manifest = work / "manifest.csv"
    atomic_write_bytes(manifest, plan.csv)  # paths relative to the image folder: train with --data-root
    atomic_write_bytes(work / "baseline.csv", baseline_manifest(plan))
    paths = [images_dir / row.rel_path for row in plan.rows]
    print(f"manifest of {len(paths)} images in {manifest_s:.1f} s")

    train_images = sum(row.split == "train" for row in plan.rows)
    steps = -(-train_images // BATCH_SIZE)  # the real run's steps per epoch
    results = [measure_size(size, paths, images_dir, work, steps) for size in sizes]
    on_disk = sum(p.stat().st_size for p in paths)
    params = QUICK if args.quick else FULL
    dataset = (
        f"{len(paths)} JPEGs (500×375 and 375×500, quality 90, {on_disk / MIB:.0f} MiB) in "
        f"{len(counts)} classes, {params['n_max']} → {min(counts.values())} images per class "
        f"(imbalance {params['imbalance']:g}), plain `<class>/*` layout; splits generated with the "
        "defaults (val 25 per class, at most half a class; test 20 % per class; seed 0)"
    )
    out.write_text(render(results, dataset, manifest_s, len(paths), (load_start, load_average())))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
