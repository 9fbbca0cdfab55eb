"""``dnet``: validate manifests, train from the shell, write the demo dataset, start the local stack.

Importing this module is cheap and torch-free: torch (and the launcher) load only inside the commands
that need them. Bad input exits with status 2 and a one-line message, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from difficultynet.config import META_MODES, METHODS, MODELS, TrainConfig
from difficultynet.errors import DnetError
from difficultynet.manifest import ManifestInvalid, ManifestReport
from difficultynet.records import EpochRecord

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
MAX_ERRORS_SHOWN = 20

out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)


class UsageError(DnetError):
    """Bad command-line input detected after argparse (shown as one line, exit 2)."""


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


# ---------------------------------------------------------------------------------------------- train


def build_config(args: argparse.Namespace) -> TrainConfig:
    """TrainConfig from the flags that were given (unset flags keep the config defaults)."""
    fields = ("method", "model", "epochs", "batch_size", "lr", "seed", "device", "num_threads", "image_size",
              "channels", "lr_schedule", "meta_per_class")  # fmt: skip
    values: dict[str, Any] = {f: getattr(args, f) for f in fields if getattr(args, f) is not None}
    dnet = {
        key: getattr(args, attr)
        for key, attr in (("meta_mode", "meta_mode"), ("meta_every", "meta_every"), ("lr", "dnet_lr"))
        if getattr(args, attr) is not None
    }
    return TrainConfig.model_validate(values | {"dnet": dnet})  # nested errors read 'dnet.lr: …'


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


def cmd_train(args: argparse.Namespace) -> int:
    config = build_config(args)
    from difficultynet.manifest import ValidationOptions, load_manifest

    options = ValidationOptions(meta_per_class=config.meta_per_class, seed=config.seed)
    manifest = load_manifest(args.manifest, args.data_root, options)
    from difficultynet.train import fit

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


# ---------------------------------------------------------------------------------------------- demo / up


def cmd_demo_data(args: argparse.Namespace) -> int:
    from difficultynet.demo import write_demo_dataset

    manifest = write_demo_dataset(args.directory)
    out.print(f"demo dataset written: {manifest}")
    return EXIT_OK


def cmd_up(args: argparse.Namespace) -> int:
    from stack.launcher import run_up

    return int(run_up(args))


# ---------------------------------------------------------------------------------------------- parser


def _add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--manifest", type=Path, required=True, help="CSV with path,label[,split]")
    p.add_argument(
        "--data-root", type=Path, help="folder the manifest paths are relative to (default: its folder)"
    )
    p.add_argument(
        "--out", type=Path, required=True, help="run directory (metrics.jsonl, weights.json, checkpoint.pt)"
    )
    p.add_argument("--method", choices=METHODS, help="default: dnet")
    p.add_argument("--model", choices=MODELS, help="default: resnet8")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float, help="classifier learning rate")
    p.add_argument("--lr-schedule", choices=("step", "cosine"))
    p.add_argument("--seed", type=int)
    p.add_argument("--device", help="auto | cpu | cuda | cuda:<i>")
    p.add_argument("--num-threads", type=int, help="torch CPU threads")
    p.add_argument("--image-size", type=int, help="images are resized to this square size (default 32)")
    p.add_argument("--channels", type=int, choices=(1, 3))
    p.add_argument(
        "--meta-per-class", type=int, help="meta images per class carved from train if no val rows"
    )
    p.add_argument("--meta-mode", choices=META_MODES, help="Difficulty-Net meta step (default full)")
    p.add_argument("--meta-every", type=int, help="Difficulty-Net update every k iterations")
    p.add_argument("--dnet-lr", type=float, help="Difficulty-Net Adam learning rate")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    p.add_argument("--cache-dir", type=Path, help="keep the decoded images here (.npy) for later runs")
    p.add_argument("--run-id", help="id written into the records (default: the --out folder name)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")  # fmt: skip


def build_parser(*, with_up_arguments: bool = False) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dnet", description="Difficulty-Net: long-tailed training and dashboard"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress messages")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("validate", help="check a manifest and summarise its classes")
    p.add_argument("manifest", type=Path)
    p.add_argument("--data-root", type=Path)
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--max-errors", type=int, default=100)
    p.add_argument("--no-image-check", action="store_true", help="skip opening every image")
    p.set_defaults(handler=cmd_validate)

    p = sub.add_parser("train", help="train a model on a manifest")
    _add_train_arguments(p)
    p.set_defaults(handler=cmd_train)

    p = sub.add_parser("demo-data", help="write the built-in long-tailed digits dataset")
    p.add_argument("directory", type=Path)
    p.set_defaults(handler=cmd_demo_data)

    p = sub.add_parser("up", help="start redis, API, worker and dashboard locally")
    if with_up_arguments:  # the launcher is imported only when `up` runs
        from stack.launcher import add_up_arguments

        add_up_arguments(p)
    p.set_defaults(handler=cmd_up)
    return parser


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for e in exc.errors():
        where = ".".join(str(part) for part in e["loc"]) or "value"
        parts.append(f"{where}: {e['msg']}")
    return "invalid settings: " + "; ".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # The only global option is the flag -v, so the first non-option word is the command (`dnet -v up`).
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    args = build_parser(with_up_arguments=command == "up").parse_args(argv)
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
