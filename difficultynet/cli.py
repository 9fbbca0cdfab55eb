"""The engine's commands: validate manifests, write one for an image folder, train, write the demo data.

The product's ``dnet`` (``stack.cli``) adds ``up`` to these; the engine itself never knows the launcher.
Importing this module is cheap and torch-free: torch loads only inside the commands that need it. Bad
input exits with status 2 and a one-line message, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from difficultynet.contracts.config import (
    META_MODES,
    METHODS,
    MODELS,
    RECOMMENDED_DNET_METHOD,
    Augment,
    DNetRecipe,
    LrSchedule,
    Normalization,
    TrainConfig,
    dnet_recipe,
    finetune_preset,
)
from difficultynet.contracts.records import EpochRecord
from difficultynet.errors import DnetError, UsageError
from difficultynet.manifest import FolderReport, ManifestInvalid, ManifestReport

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
MAX_ERRORS_SHOWN = 20

out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)


@dataclass(frozen=True)
class Command:
    """One ``dnet`` subcommand: its name, one-line help, arguments and handler (returns the exit code)."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    handler: Callable[[argparse.Namespace], int]


# ---------------------------------------------------------------------------------------------- validate


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}"


def print_report(report: ManifestReport) -> None:
    status = "[bold green]valid[/]" if report.ok else "[bold red]invalid[/]"
    out.print(f"manifest {status} · sha256 {report.manifest_sha256[:16]}… · {report.num_rows} rows")
    if report.classes:
        counts = ", ".join(f"{k} {v}" for k, v in report.split_counts.items())
        ratio = "–" if report.imbalance_factor is None else f"{report.imbalance_factor:g}"
        groups = ", ".join(f"{k} {v}" for k, v in report.group_counts.items())
        out.print(f"splits: {counts} · imbalance factor {ratio} · groups: {groups}")
        out.print(f"meta set: {report.meta_source} · evaluation split: {report.eval_split}")
        table = Table("index", "class", "train", "val", "test", "group")
        for c in report.classes:
            table.add_row(str(c.index), escape(c.name), str(c.train), str(c.val), str(c.test), c.group)
        out.print(table)
    for note in report.notes:
        out.print(f"note: {escape(note)}")
    if report.errors:
        out.print(
            f"[bold red]{report.errors_total} error(s)[/]"
            + (" (first shown)" if report.errors_total > len(report.errors) else "")
        )
        for e in report.errors[:MAX_ERRORS_SHOWN]:
            where = "file" if e.row is None else f"line {e.row}"
            column = f", column {e.column}" if e.column else ""
            out.print(f"  {where}{column}: {escape(e.reason)}")
        if len(report.errors) > MAX_ERRORS_SHOWN:
            out.print(f"  … {len(report.errors) - MAX_ERRORS_SHOWN} more (use --json for all)")


def cmd_validate(args: argparse.Namespace) -> int:
    from difficultynet.manifest import ValidationOptions, validate_manifest

    options = ValidationOptions(max_errors=args.max_errors, check_images=not args.no_image_check)
    report = validate_manifest(args.manifest, args.data_root, options)
    if args.json:
        out.print_json(report.model_dump_json())
    else:
        print_report(report)
    return EXIT_OK if report.ok else EXIT_USAGE


# ---------------------------------------------------------------------------------------------- manifest


def print_folder_report(folder: FolderReport) -> None:
    if not folder.short_classes:
        return
    out.print(f"{len(folder.short_classes)} class(es) too small for the requested splits (kept):")
    table = Table("class", "images", "train", "val", "test", "why")
    for c in folder.short_classes:
        table.add_row(escape(c.name), str(c.images), str(c.train), str(c.val), str(c.test), escape(c.reason))
    out.print(table)


def cmd_manifest(args: argparse.Namespace) -> int:
    from difficultynet.files import atomic_write_bytes
    from difficultynet.manifest import FolderSplitOptions, check_folder, plan_folder

    options = FolderSplitOptions(
        val_per_class=args.val_per_class, test_fraction=args.test_fraction, seed=args.seed
    )
    folder: Path = args.directory
    target: Path = args.output or folder / "manifest.csv"
    plan = plan_folder(folder, options)
    report = check_folder(plan, check_images=not args.no_image_check, max_errors=args.max_errors)
    if args.json:
        out.print_json(report.model_dump_json())
    else:
        print_report(report)
        print_folder_report(plan.folder)
    if not report.ok:
        err.print(
            f"[bold red]error:[/] no manifest written: {escape(str(folder))} has problems (listed above)"
        )
        return EXIT_USAGE
    if target.exists() and target.read_bytes() != plan.csv and not args.force:
        raise UsageError(f"{target} exists with other content; pass --force to replace it or choose -o")
    atomic_write_bytes(target, plan.csv)
    data_root = "" if target.parent.resolve() == folder.resolve() else f" --data-root {folder}"
    out.print(
        f"wrote {target} ({len(plan.rows)} rows); train with: dnet train --manifest {target}{data_root}"
    )
    return EXIT_OK


# ---------------------------------------------------------------------------------------------- train


def build_config(args: argparse.Namespace) -> TrainConfig:
    """TrainConfig from the flags that were given (unset flags keep the config defaults)."""
    fields = ("method", "model", "epochs", "batch_size", "lr", "seed", "device", "num_threads", "image_size",
              "channels", "lr_schedule", "warmup_epochs", "meta_per_class", "augment", "normalization",
              "weights_file", "backbone_lr_scale")  # fmt: skip
    preset = finetune_preset() if getattr(args, "finetune", False) else {}
    values: dict[str, Any] = preset | {
        f: getattr(args, f) for f in fields if getattr(args, f, None) is not None
    }
    if getattr(args, "pretrained", False):
        values["pretrained"] = True
    dnet = {
        key: getattr(args, attr)
        for key, attr in (("meta_mode", "meta_mode"), ("meta_every", "meta_every"), ("lr", "dnet_lr"))
        if getattr(args, attr) is not None
    }
    # exclude_unset: the default recipe leaves the fields that follow the base loss unset
    recipe = (
        dnet_recipe(args.dnet_recipe).model_dump(exclude_unset=True)
        if getattr(args, "dnet_recipe", None)
        else {}
    )
    return TrainConfig.model_validate(values | {"dnet": recipe | dnet})  # nested errors read 'dnet.lr: …'


def print_summary(records: Sequence[EpochRecord]) -> None:
    last = records[-1]
    out.print(
        f"epoch {last.epoch}/{last.epochs_total} · {last.eval_split} balanced acc "
        f"{_percent(last.balanced_acc)} % · top-1 {_percent(last.top1)} % · many/medium/few "
        f"{_percent(last.many_acc)} / {_percent(last.medium_acc)} / {_percent(last.few_acc)} % "
        f"· {last.elapsed_s:.0f} s"
    )
    table = Table("class", "train", "group", "difficulty", "weight", "val acc %", f"{last.eval_split} acc %")
    for row in last.classes.rows():
        table.add_row(
            escape(row.name), str(row.train_count), row.group, f"{row.difficulty:.3f}", f"{row.weight:.3f}",
            _percent(row.val_acc), _percent(row.test_acc),
        )  # fmt: skip
    out.print(table)


def print_memory_needed(config: TrainConfig, num_classes: int, num_images: int) -> None:
    from difficultynet.memory_estimate import cache_file_bytes, estimate_training_memory, human_bytes

    on_gpu = config.device.startswith("cuda")
    estimate = estimate_training_memory(config, num_classes, num_images, on_gpu=on_gpu)
    cache = cache_file_bytes(num_images, config.channels, config.image_size, config.image_size)
    out.print(
        f"memory: about {human_bytes(estimate.total_bytes)} of {'GPU memory' if on_gpu else 'RAM'} "
        f"({estimate.breakdown()}); image cache {human_bytes(cache)} on disk"
    )


def cmd_train(args: argparse.Namespace) -> int:
    config = build_config(args)
    from difficultynet.manifest import ValidationOptions, load_manifest

    options = ValidationOptions(meta_per_class=config.meta_per_class, seed=config.seed)
    manifest = load_manifest(args.manifest, args.data_root, options)
    from difficultynet.train import fit

    print_memory_needed(config, len(manifest.class_names), len(manifest))
    out_dir: Path = args.out
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out {out_dir} exists and is not a directory")
    if (out_dir / "checkpoint.pt").exists() and not args.resume:
        raise UsageError(
            f"{out_dir} already holds a run; pass --resume to continue it or choose another --out"
        )
    result = fit(
        config,
        manifest,
        run_id=args.run_id or out_dir.resolve().name,
        out_dir=out_dir,
        resume=args.resume,
        cache_dir=args.cache_dir,
        progress=not args.quiet,
    )
    print_summary(result.records)
    out.print(f"wrote {out_dir / 'metrics.jsonl'}, {out_dir / 'weights.json'}, {out_dir / 'checkpoint.pt'}")
    return EXIT_OK


# ---------------------------------------------------------------------------------------------- demo


def cmd_demo_data(args: argparse.Namespace) -> int:
    from difficultynet.demo import write_demo_dataset

    manifest = write_demo_dataset(args.directory)
    out.print(f"demo dataset written: {manifest}")
    return EXIT_OK


# ---------------------------------------------------------------------------------------------- parser


def _add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--manifest", type=Path, required=True, help="CSV with path,label[,split]")
    p.add_argument(
        "--data-root", type=Path, help="folder the manifest paths are relative to (default: its folder)"
    )
    p.add_argument(
        "--out", type=Path, required=True, help="run directory (metrics.jsonl, weights.json, checkpoint.pt)"
    )
    p.add_argument(
        "--method", choices=METHODS, help=f"default: {RECOMMENDED_DNET_METHOD} (the default DNet recipe)"
    )
    p.add_argument("--model", choices=MODELS, help="default: resnet8")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float, help="classifier learning rate")
    p.add_argument("--lr-schedule", choices=get_args(LrSchedule))
    p.add_argument("--seed", type=int)
    p.add_argument("--device", help="auto | cpu | cuda | cuda:<i>")
    p.add_argument("--num-threads", type=int, help="torch CPU threads")
    p.add_argument(
        "--image-size", type=int, help="shorter side resized to this, then centre-cropped square (default 32)"
    )
    p.add_argument("--augment", choices=get_args(Augment), help="default auto: pad-crop <= 32 px, else RRC")
    p.add_argument("--normalization", choices=get_args(Normalization), help="default auto")
    p.add_argument(
        "--pretrained",
        action="store_true",
        help="start from torchvision's ImageNet weights (TORCH_HOME cache)",
    )
    p.add_argument("--weights-file", help="local torchvision state dict to start from (implies --pretrained)")
    p.add_argument("--backbone-lr-scale", type=float, help="backbone lr = lr × this (head keeps lr)")
    p.add_argument("--warmup-epochs", type=int)
    p.add_argument(
        "--finetune",
        action="store_true",
        help="fine-tuning preset: pretrained resnet18, lr 0.01, backbone lr ×0.1, 10 cosine epochs "
        "(flags override it)",
    )
    p.add_argument("--channels", type=int, choices=(1, 3))
    p.add_argument(
        "--meta-per-class", type=int, help="meta images per class carved from train if no val rows"
    )
    p.add_argument(
        "--dnet-recipe",
        choices=get_args(DNetRecipe),
        help="Difficulty-Net recipe: default (the library's) or paper (as published); flags override it",
    )
    p.add_argument("--meta-mode", choices=META_MODES, help="Difficulty-Net meta step (default head)")
    p.add_argument("--meta-every", type=int, help="Difficulty-Net update every k iterations")
    p.add_argument("--dnet-lr", type=float, help="Difficulty-Net Adam learning rate")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    p.add_argument("--cache-dir", type=Path, help="keep the decoded images here (.npy) for later runs")
    p.add_argument("--run-id", help="id written into the records (default: the --out folder name)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")  # fmt: skip


def _add_validate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("manifest", type=Path)
    p.add_argument("--data-root", type=Path)
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--max-errors", type=int, default=100)
    p.add_argument("--no-image-check", action="store_true", help="skip opening every image")


def _add_manifest_arguments(p: argparse.ArgumentParser) -> None:
    from difficultynet.manifest import DEFAULT_TEST_FRACTION, DEFAULT_VAL_PER_CLASS

    p.add_argument("directory", type=Path, help="train/<class>/* [val/ test/] or <class>/* image folders")
    p.add_argument(
        "--val-per-class",
        type=int,
        default=DEFAULT_VAL_PER_CLASS,
        help=f"val (meta) images per class, carved if there is no val/ (default {DEFAULT_VAL_PER_CLASS})",
    )
    p.add_argument(
        "--test-fraction",
        type=float,
        default=DEFAULT_TEST_FRACTION,
        help=f"share of each class held out as test if there is no test/ (default {DEFAULT_TEST_FRACTION})",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the per-class carve (default 0)")
    p.add_argument("-o", "--output", type=Path, help="CSV to write (default: DIRECTORY/manifest.csv)")
    p.add_argument("--force", action="store_true", help="replace an existing, different output file")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--max-errors", type=int, default=100)
    p.add_argument("--no-image-check", action="store_true", help="skip opening every image")


def _add_demo_data_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("directory", type=Path)


ENGINE_COMMANDS: tuple[Command, ...] = (
    Command("validate", "check a manifest and summarise its classes", _add_validate_arguments, cmd_validate),
    Command(
        "manifest",
        "write the manifest CSV of an image folder (seeded splits)",
        _add_manifest_arguments,
        cmd_manifest,
    ),
    Command("train", "train a model on a manifest", _add_train_arguments, cmd_train),
    Command(
        "demo-data", "write the built-in long-tailed digits dataset", _add_demo_data_arguments, cmd_demo_data
    ),
)


def build_parser(commands: Sequence[Command] = ENGINE_COMMANDS) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dnet", description="Difficulty-Net: long-tailed training and dashboard"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress messages")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in commands:
        p = sub.add_parser(command.name, help=command.help)
        command.add_arguments(p)
        p.set_defaults(handler=command.handler)
    return parser


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for e in exc.errors():
        where = ".".join(str(part) for part in e["loc"]) or "value"
        parts.append(f"{where}: {e['msg']}")
    return "invalid settings: " + "; ".join(parts)


def main(argv: Sequence[str] | None = None, commands: Sequence[Command] = ENGINE_COMMANDS) -> int:
    """Run one command (``commands`` lets the product CLI add its own); returns the exit code."""
    args = build_parser(commands).parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.handler(args))
    except ManifestInvalid as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
        print_report(exc.report)
    except ValidationError as exc:
        err.print(f"[bold red]error:[/] {escape(_validation_message(exc))}")
    except (DnetError, OSError, ValueError) as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc) or type(exc).__name__)}")
    except KeyboardInterrupt:
        err.print("interrupted")
        return EXIT_INTERRUPTED
    return EXIT_USAGE
