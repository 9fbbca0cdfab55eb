"""Micro benchmark: milliseconds per training step for CE vs Difficulty-Net modes (CPU by default).

Synthetic uint8 32×32 RGB data, 10 classes, batch 128, meta batch 100, through the real ``Trainer``
(``prepare_train_batch`` + ``train_step``). Variants are timed round-robin so a change in machine load hits
all of them alike; the table reports the mean step time (over a multiple of meta_every steps) and the
ratio to CE.

    .venv/bin/python benchmarks/step_cost.py --threads 1 --write
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import torch  # noqa: E402

from benchmarks._harness import CODE_VERSION, command_line, store_table  # noqa: E402
from difficultynet.contracts.config import DNetConfig, TrainConfig, paper_recipe  # noqa: E402
from difficultynet.data.augment import channel_stats  # noqa: E402
from difficultynet.data.batches import seeded_generator  # noqa: E402
from difficultynet.data.splits import TensorSplits  # noqa: E402
from difficultynet.trainer import Trainer  # noqa: E402

TABLE_PATH = REPO_ROOT / "benchmarks" / "results" / "step-cost-cpu.md"
VARIANTS: dict[str, tuple[str, DNetConfig]] = {
    "ce": ("ce", DNetConfig()),
    "bsce": ("bsce", DNetConfig()),
    "dnet (default recipe)": ("dnet", DNetConfig()),
    "dnet-bsce (default recipe)": ("dnet-bsce", DNetConfig()),
    "dnet paper full": ("dnet", paper_recipe(meta_mode="full")),
    "dnet paper head": ("dnet", paper_recipe(meta_mode="head")),
    "dnet paper driver_only": ("dnet", paper_recipe(meta_mode="driver_only")),
    "dnet paper full, meta_every 10": ("dnet", paper_recipe(meta_mode="full", meta_every=10)),
    "dnet paper head, meta_every 10": ("dnet", paper_recipe(meta_mode="head", meta_every=10)),
}
BASE_LOSS = {"dnet": "ce", "dnet-bsce": "bsce"}  # a DNet variant's cost is compared with its base loss


def synthetic_splits(num_classes: int = 10, n_train: int = 4096, n_meta: int = 250) -> TensorSplits:
    g = torch.Generator().manual_seed(0)
    train_x = torch.randint(0, 256, (n_train, 3, 32, 32), dtype=torch.uint8, generator=g)
    meta_x = torch.randint(0, 256, (n_meta, 3, 32, 32), dtype=torch.uint8, generator=g)
    mean, std = channel_stats(train_x)
    counts = [n_train // num_classes] * num_classes
    return TensorSplits(
        train_x=train_x, train_y=torch.arange(n_train) % num_classes,
        meta_x=meta_x, meta_y=torch.arange(n_meta) % num_classes,
        eval_x=meta_x, eval_y=torch.arange(n_meta) % num_classes, eval_rows=torch.arange(n_meta),
        class_names=tuple(f"c{i}" for i in range(num_classes)), train_counts=counts,
        meta_counts=[n_meta // num_classes] * num_classes, eval_split="test", meta_source="val",
        dataset_sha256="0" * 64, notes=[], mean=mean, std=std,
    )  # fmt: skip


def measure(
    model: str, names: list[str], steps: int, warmup: int, batch_size: int
) -> dict[str, dict[str, float]]:
    splits = synthetic_splits()
    trainers = {}
    for name in names:
        method, dnet = VARIANTS[name]
        config = TrainConfig.model_validate(
            {"method": method, "model": model, "batch_size": batch_size, "device": "cpu", "dnet": dnet}
        )
        trainer = Trainer(config, splits, torch.device("cpu"), "step-cost")
        if trainer.learner is not None:  # a non-zero accuracy input, as after the first epoch
            trainer.learner.set_accuracy(torch.linspace(0.9, 0.1, 10))
        trainer.model.train()
        trainers[name] = trainer
    aug = seeded_generator(0, "augment", 0)
    idx = torch.arange(batch_size)
    times: dict[str, list[float]] = {name: [] for name in names}
    prep: list[float] = []
    for i in range(warmup + steps):
        for name, trainer in trainers.items():  # round-robin: load changes hit every variant alike
            started = time.perf_counter()
            x, y = trainer.prepare_train_batch(idx, aug)
            prepared = time.perf_counter()
            trainer.train_step(x, y, None, step_in_epoch=i)
            done = time.perf_counter()
            if i >= warmup:
                times[name].append((done - prepared) * 1000)
                prep.append((prepared - started) * 1000)
    # Mean, not median: with meta_every k (or a feature refresh every k steps) only every k-th step is
    # expensive, and the timed steps are a multiple of k.
    mean = {name: statistics.fmean(t) for name, t in times.items()}
    base = {name: VARIANTS[name][0] for name in names}
    return {
        name: {
            "ms": mean[name],
            "ratio": mean[name] / mean[names[0]],
            "base": BASE_LOSS.get(base[name], base[name]),
            "ratio_base": mean[name] / mean.get(BASE_LOSS.get(base[name], base[name]), mean[names[0]]),
            "prep_ms": statistics.median(prep),
        }
        for name in names
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", nargs="+", default=["resnet8", "resnet32"])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--steps", type=int, default=20, help="timed steps (keep a multiple of 10)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--write", action="store_true", help=f"write {TABLE_PATH.relative_to(REPO_ROOT)}")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run for `make bench`: resnet8, 10 steps, under var/bench",
    )
    args = parser.parse_args()
    table_path = TABLE_PATH
    if args.quick:
        args.models, args.steps, args.warmup, args.write = ["resnet8"], 10, 1, True
        table_path = REPO_ROOT / "var" / "bench" / "step-cost-quick.md"
        table_path.parent.mkdir(parents=True, exist_ok=True)
    names = ["ce", *[v for v in args.variants if v != "ce"]]
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    rows = []
    for model in args.models:
        for name, r in measure(model, names, args.steps, args.warmup, args.batch_size).items():
            rows.append(
                f"| {model} | {name} | {r['ms']:.0f} | {r['ratio']:.2f}× "
                f"| {r['ratio_base']:.2f}× ({r['base']}) | {r['prep_ms']:.1f} |"
            )
            print(rows[-1], flush=True)
    load_after = os.getloadavg()
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), "unknown")  # fmt: skip
    text = "\n".join([
        "# Training-step cost on CPU (ResNet, batch 128; DNet meta batch 100 or the whole 250-image set)",
        "",
        f"Command: `{command_line()}`  ",
        f"Machine: {cpu}, {os.cpu_count()} cores, torch {torch.__version__}, {args.threads} torch thread(s); "
        f"load average {load_before[0]:.2f} before / {load_after[0]:.2f} after (the machine is shared, so "
        "absolute times are noisy; variants are timed round-robin, so the ratios are the robust figure).  ",
        f"Code: `{CODE_VERSION}` (`git describe --dirty --always`, taken before measuring).  ",
        f"Date: {datetime.now(UTC).date().isoformat()}. Mean of {args.steps} steps after {args.warmup} "
        "warm-up steps. `prep` = gather from the uint8 cache + on-device crop/flip + normalise, per batch.",
        "",
        "| model | variant | ms/step | vs CE | vs its base loss | prep ms/batch |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
    ])  # fmt: skip
    return store_table(table_path, text, write=args.write)


if __name__ == "__main__":
    raise SystemExit(main())
