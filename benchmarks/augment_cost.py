"""Micro benchmark: the cost of on-device augmentation per training step, at 32 px and at photo sizes.

Part 1 (32 px unchanged): the trainer's ``prepare_train_batch`` (which now chooses between pad-crop and
random-resized-crop) against the pre-issue-H body it replaced (pad-crop + normalise, inlined here), each
followed by the same CE ``train_step``, timed round-robin in one process.
Part 2 (photo sizes): pad-crop vs random-resized-crop per batch at 64 and 112 px (uint8 gather included,
normalise included), and the share RRC takes of a full CE step of the model.

    .venv/bin/python benchmarks/augment_cost.py --threads 1 --write
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import torch  # noqa: E402

from benchmarks._harness import CODE_VERSION, command_line, store_table  # noqa: E402
from difficultynet.contracts.config import TrainConfig  # noqa: E402
from difficultynet.data.augment import augment, channel_stats, random_resized_crop  # noqa: E402
from difficultynet.data.batches import seeded_generator  # noqa: E402
from difficultynet.data.splits import TensorSplits  # noqa: E402
from difficultynet.trainer import Trainer  # noqa: E402

TABLE_PATH = REPO_ROOT / "benchmarks" / "results" / "augment-cost-cpu.md"


def synthetic_splits(image_size: int, n_train: int = 512, n_meta: int = 100) -> TensorSplits:
    g = torch.Generator().manual_seed(0)
    train_x = torch.randint(0, 256, (n_train, 3, image_size, image_size), dtype=torch.uint8, generator=g)
    meta_x = torch.randint(0, 256, (n_meta, 3, image_size, image_size), dtype=torch.uint8, generator=g)
    mean, std = channel_stats(train_x)
    return TensorSplits(
        train_x=train_x, train_y=torch.arange(n_train) % 10, meta_x=meta_x, meta_y=torch.arange(n_meta) % 10,
        eval_x=meta_x, eval_y=torch.arange(n_meta) % 10, eval_rows=torch.arange(n_meta),
        class_names=tuple(f"c{i}" for i in range(10)),
        train_counts=[n_train // 10] * 10, meta_counts=[n_meta // 10] * 10, eval_split="test",
        meta_source="val", dataset_sha256="0" * 64, notes=[], mean=mean, std=std,
    )  # fmt: skip


def trainer_for(model: str, image_size: int, batch_size: int, augment_kind: str = "auto") -> Trainer:
    config = TrainConfig(
        method="ce", model=model, image_size=image_size, batch_size=batch_size, device="cpu",
        augment=augment_kind,  # type: ignore[arg-type]
    )  # fmt: skip
    trainer = Trainer(config, synthetic_splits(image_size), torch.device("cpu"), "augment-cost")
    trainer.model.train()
    return trainer


def round_robin(fns: dict[str, Callable[[], object]], steps: int, warmup: int) -> dict[str, float]:
    """Mean milliseconds per call of each function, called in turn so load changes hit all alike."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for i in range(warmup + steps):
        for name, fn in fns.items():
            started = time.perf_counter()
            fn()
            if i >= warmup:
                times[name].append((time.perf_counter() - started) * 1000)
    return {name: statistics.fmean(t) for name, t in times.items()}


def part_32px(model: str, batch_size: int, steps: int, warmup: int) -> list[str]:
    trainer = trainer_for(model, 32, batch_size)
    idx = torch.arange(batch_size)
    aug = seeded_generator(0, "augment", 0)

    def old_prepare() -> tuple[torch.Tensor, torch.Tensor]:  # the body before issue H
        return trainer._prepare(augment(trainer.splits.train_x[idx], aug)), trainer.splits.train_y[idx]

    def new_prepare() -> tuple[torch.Tensor, torch.Tensor]:
        return trainer.prepare_train_batch(idx, aug)

    prep = round_robin({"old": old_prepare, "new": new_prepare}, steps * 5, warmup)
    step = round_robin(
        {
            "old": lambda: trainer.train_step(*old_prepare(), None),
            "new": lambda: trainer.train_step(*new_prepare(), None),
        },
        steps,
        warmup,
    )
    return [
        f"| {model} | 32 | prepare batch (gather + pad-crop + normalise) | {prep['old']:.2f} "
        f"| {prep['new']:.2f} | {prep['new'] / prep['old']:.3f} |",
        f"| {model} | 32 | full CE step (prepare + train_step) | {step['old']:.1f} | {step['new']:.1f} "
        f"| {step['new'] / step['old']:.3f} |",
    ]


def part_rrc(model: str, image_size: int, batch_size: int, steps: int, warmup: int) -> str:
    trainer = trainer_for(model, image_size, batch_size, "random_resized_crop")
    idx = torch.arange(batch_size)
    aug = seeded_generator(0, "augment", 0)
    x_uint8 = trainer.splits.train_x[idx]
    prep = round_robin(
        {
            "gather+normalise": lambda: trainer._prepare(trainer.splits.train_x[idx]),
            "pad_crop": lambda: trainer._prepare(augment(trainer.splits.train_x[idx], aug)),
            "rrc": lambda: trainer._prepare(random_resized_crop(trainer.splits.train_x[idx], aug)),
            "rrc_only": lambda: random_resized_crop(x_uint8, aug),
        },
        steps * 3,
        warmup,
    )
    step = round_robin(
        {"step": lambda: trainer.train_step(*trainer.prepare_train_batch(idx, aug), None)}, steps, 1
    )
    share = prep["rrc"] / step["step"]
    return (
        f"| {model} | {image_size} | {prep['gather+normalise']:.1f} | {prep['pad_crop']:.1f} "
        f"| {prep['rrc']:.1f} | {prep['rrc_only']:.1f} | {step['step']:.0f} | {share * 100:.1f} % |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", nargs="+", default=["resnet8", "resnet18"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[64, 112])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--write", action="store_true", help=f"write {TABLE_PATH.relative_to(REPO_ROOT)}")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    rows_32 = [
        row for model in args.models[:1] for row in part_32px(model, args.batch_size, args.steps, args.warmup)
    ]
    for row in rows_32:
        print(row, flush=True)
    rows_rrc = []
    for model in args.models:
        for size in args.sizes:
            rows_rrc.append(part_rrc(model, size, args.batch_size, args.steps, args.warmup))
            print(rows_rrc[-1], flush=True)
    load_after = os.getloadavg()
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), "unknown")  # fmt: skip
    text = "\n".join([
        f"# Augmentation cost per training step on CPU (batch {args.batch_size}, CE)",
        "",
        f"Command: `{command_line()}`  ",
        f"Machine: {cpu}, {os.cpu_count()} cores, torch {torch.__version__}, {args.threads} torch thread(s); "
        f"load average {load_before[0]:.2f} before / {load_after[0]:.2f} after (shared machine: absolute "
        "times are noisy; the variants of each table are timed round-robin, so the ratios are robust).  ",
        f"Code: `{CODE_VERSION}` (`git describe --dirty --always`).  ",
        f"Date: {datetime.now(UTC).date().isoformat()}.",
        "",
        "## 32 px: unchanged",
        "",
        "`old` is the trainer's batch preparation before issue H (pad-crop + normalise), `new` the current "
        "`prepare_train_batch` (chooses pad-crop at ≤ 32 px); both feed the same CE `train_step`.",
        "",
        "| model | px | what | old ms | new ms | new / old |",
        "|---|---|---|---|---|---|",
        *rows_32,
        "",
        "## Random-resized-crop at photo sizes",
        "",
        "Milliseconds per batch: `gather+normalise` (no augmentation), `pad-crop`, `RRC` (each includes the "
        "uint8 gather and the normalisation), `RRC only` (the batched affine_grid + grid_sample alone); "
        "`step` is a full CE training step with RRC; `RRC share` = RRC / step.",
        "",
        "| model | px | gather+normalise | pad-crop | RRC | RRC only | step ms | RRC share |",
        "|---|---|---|---|---|---|---|---|",
        *rows_rrc,
        "",
    ])  # fmt: skip
    return store_table(TABLE_PATH, text, write=args.write)


if __name__ == "__main__":
    raise SystemExit(main())
