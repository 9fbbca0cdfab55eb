"""Micro benchmark: what recording confusions and hardest examples adds to an epoch's evaluation.

The trainer evaluates the evaluation split once per epoch; with exploration the same forward pass also
keeps each image's softmax (predicted class, its probability, the true class's probability) and then picks
each class's top-5 confusions and 8 hardest images on the device. This times, through the real
``Trainer.evaluate``, the plain pass (per-class accuracy only) against the pass with exploration plus
``explore_classes``, round-robin so machine load hits both alike, and reports the extra time as a
fraction of the plain evaluation. Synthetic uint8 32×32 RGB images, ResNet-8, untrained (its predictions
spread over many classes: the worst case for the confusion table).

    .venv/bin/python benchmarks/eval_exploration.py --write
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import torch  # noqa: E402

from benchmarks._harness import CODE_VERSION, command_line, machine, now_utc, store_table  # noqa: E402
from difficultynet.contracts.config import TrainConfig  # noqa: E402
from difficultynet.contracts.records import CONFUSION_TOP_K, HARDEST_K  # noqa: E402
from difficultynet.data.augment import channel_stats  # noqa: E402
from difficultynet.data.splits import TensorSplits  # noqa: E402
from difficultynet.metrics import explore_classes  # noqa: E402
from difficultynet.trainer import Trainer  # noqa: E402

TABLE_PATH = REPO_ROOT / "benchmarks" / "results" / "eval-exploration.md"


def synthetic_splits(num_classes: int, n_eval: int) -> TensorSplits:
    g = torch.Generator().manual_seed(0)
    eval_x = torch.randint(0, 256, (n_eval, 3, 32, 32), dtype=torch.uint8, generator=g)
    eval_y = torch.arange(n_eval) % num_classes
    mean, std = channel_stats(eval_x)
    return TensorSplits(
        train_x=eval_x[:num_classes], train_y=eval_y[:num_classes], meta_x=eval_x[:num_classes],
        meta_y=eval_y[:num_classes], eval_x=eval_x, eval_y=eval_y, eval_rows=torch.arange(n_eval) + 10**6,
        class_names=tuple(f"c{i}" for i in range(num_classes)), train_counts=[1] * num_classes,
        meta_counts=[1] * num_classes, eval_split="test", meta_source="val", dataset_sha256="0" * 64,
        notes=[], mean=mean, std=std,
    )  # fmt: skip


def measure(num_classes: int, n_eval: int, repeats: int, device: torch.device) -> dict[str, float]:
    splits = synthetic_splits(num_classes, n_eval)
    config = TrainConfig(
        method="dnet", model="resnet8", device=str(device), num_threads=torch.get_num_threads()
    )
    trainer = Trainer(config, splits, device, "bench")
    x, y, rows = trainer.splits.eval_x, trainer.splits.eval_y, trainer.splits.eval_rows

    def plain() -> None:
        trainer.evaluate(x, y).accuracy()

    selection: list[float] = []

    def explored() -> None:
        result = trainer.evaluate(x, y, per_image=True)
        result.accuracy()
        started = time.perf_counter()
        explore_classes(result, rows, CONFUSION_TOP_K, HARDEST_K)
        selection.append(time.perf_counter() - started)

    timings: dict[str, list[float]] = {"plain": [], "explored": []}
    for i in range(repeats + 1):  # the first round warms up
        for name, fn in (("plain", plain), ("explored", explored)):
            if device.type == "cuda":
                torch.cuda.synchronize()
            started = time.perf_counter()
            fn()
            if device.type == "cuda":
                torch.cuda.synchronize()
            if i:
                timings[name].append(time.perf_counter() - started)
    plain_s = statistics.median(timings["plain"])
    explored_s = statistics.median(timings["explored"])
    select_s = statistics.median(selection[1:])
    return {
        "plain_s": plain_s,
        "explored_s": explored_s,
        "extra": (explored_s - plain_s) / plain_s,
        "select_s": select_s,
        "select_share": select_s / plain_s,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--classes", nargs="+", type=int, default=[10, 100, 1000])
    parser.add_argument("--eval-images", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--write", action="store_true", help=f"write {TABLE_PATH.relative_to(REPO_ROOT)}")
    parser.add_argument("--quick", action="store_true", help="smoke run for `make bench`, under var/bench")
    args = parser.parse_args()
    table_path = TABLE_PATH
    if args.quick:
        args.classes, args.eval_images, args.repeats, args.write = [10, 1000], 2000, 2, True
        table_path = REPO_ROOT / "var" / "bench" / "eval-exploration-quick.md"
        table_path.parent.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    rows = []
    for num_classes in args.classes:
        r = measure(num_classes, args.eval_images, args.repeats, device)
        rows.append(
            f"| {num_classes} | {args.eval_images} | {r['plain_s'] * 1000:.0f} "
            f"| {r['explored_s'] * 1000:.0f} | {r['extra'] * 100:+.1f} % | {r['select_s'] * 1000:.1f} "
            f"| {r['select_share'] * 100:.2f} % |"
        )
        print(rows[-1], flush=True)
    text = "\n".join([
        "# Extra evaluation cost of confusions and hardest examples (per epoch)",
        "",
        f"Command: `{command_line()}`  ",
        f"Machine: {machine()}; device {device}, {args.threads} torch thread(s), torch {torch.__version__}. "
        "The machine is shared with other jobs, so absolute times are noisy; both variants are timed "
        "round-robin and the median is shown.  ",
        f"Code: `{CODE_VERSION}` (`git describe --dirty --always`, taken before measuring).  ",
        f"Date: {now_utc()}. Median of {args.repeats} evaluations after one warm-up round. ResNet-8 "
        "(untrained), 32×32 RGB, evaluation batch 1000; `extra` = (with exploration − plain) / plain, which "
        "includes the per-batch softmax; `selection` = `explore_classes` alone (sort, top-k, host copy of "
        "C·k entries), timed inside the explored pass, and its share of the plain evaluation.",
        "",
        "| classes | eval images | plain ms | explored ms | extra | selection ms | selection share |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
    ])  # fmt: skip
    return store_table(table_path, text, write=args.write)


if __name__ == "__main__":
    raise SystemExit(main())
