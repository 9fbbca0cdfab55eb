"""The validation driver: parse, check classes and files, describe the meta split, build the report."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from difficultynet.contracts.datasets import SPLITS, ClassSummary
from difficultynet.contracts.records import GROUPS, group_of
from difficultynet.data.meta_split import split_rows
from difficultynet.manifest.parse import DEFAULT_MAX_ROWS, Row, decode, parse_rows
from difficultynet.manifest.paths import check_files
from difficultynet.manifest.report import (
    Manifest,
    ManifestInvalid,
    ManifestReport,
    Problems,
)


@dataclass(frozen=True)
class ValidationOptions:
    """How strictly to validate, and how to describe the meta split (no val rows) in the report."""

    classes: Sequence[str] | None = None  # fixed class order; labels outside it are errors
    max_rows: int = DEFAULT_MAX_ROWS
    check_images: bool = True  # open each distinct file and verify its image header and data
    max_errors: int = 100  # errors listed in the report (all are counted)
    meta_per_class: int | None = None
    seed: int = 0


DEFAULT_OPTIONS = ValidationOptions()


def validate_manifest(
    source: Path | bytes, data_root: Path | None = None, options: ValidationOptions = DEFAULT_OPTIONS
) -> ManifestReport:
    """Check a manifest (a file, or raw bytes plus ``data_root``) and summarise it; never raises on bad input.

    ``data_root`` defaults to the manifest file's folder.
    """
    return _validate(source, data_root, options)[0]


def load_manifest(
    source: Path | bytes, data_root: Path | None = None, options: ValidationOptions = DEFAULT_OPTIONS
) -> Manifest:
    """Validate and return the parsed :class:`Manifest`; raises :class:`ManifestInvalid` when not ok."""
    report, manifest = _validate(source, data_root, options)
    if manifest is None:
        raise ManifestInvalid(report)
    return manifest


def _validate(
    source: Path | bytes, data_root: Path | None, opts: ValidationOptions
) -> tuple[ManifestReport, Manifest | None]:
    raw, root, read_error = _read_source(source, data_root)
    if raw is None:
        problems = Problems()
        problems.add(None, None, read_error or "cannot read manifest")
        report = ManifestReport(
            ok=False,
            manifest_sha256=hashlib.sha256(b"").hexdigest(),
            num_rows=0,
            classes=[],
            split_counts=dict.fromkeys(SPLITS, 0),
            group_counts=dict.fromkeys(GROUPS, 0),
            meta_source="carved",
            eval_split="val",
            errors=problems.capped(opts.max_errors),
            errors_total=1,
        )
        return report, None
    return _build(raw, root, opts)


def _read_source(source: Path | bytes, data_root: Path | None) -> tuple[bytes | None, Path, str | None]:
    if isinstance(source, bytes | bytearray):
        if data_root is None:
            raise ValueError("data_root is required when the manifest is given as bytes")
        return bytes(source), Path(data_root), None
    path = Path(source)
    root = Path(data_root) if data_root is not None else path.parent
    try:
        return path.read_bytes(), root, None
    except OSError as exc:
        return None, root, f"cannot read manifest {str(path)!r}: {exc.strerror or 'unreadable file'}"


def _build(raw: bytes, data_root: Path, opts: ValidationOptions) -> tuple[ManifestReport, Manifest | None]:
    problems = Problems()
    sha256 = hashlib.sha256(raw).hexdigest()
    rows: list[Row] = []
    root = data_root.resolve()
    if not root.is_dir():
        problems.add(None, None, f"data root {str(data_root)!r} is not a directory")
    text = decode(raw, problems)
    if text is not None:
        rows = parse_rows(text, opts.classes, opts.max_rows, problems)
    class_names = _class_order(rows, opts.classes, problems)
    summaries = _summaries(rows, class_names)
    if rows:
        _class_problems(summaries, problems)
    good = check_files(root, rows, opts.check_images, problems) if rows and root.is_dir() else []

    label_index = {name: i for i, name in enumerate(class_names)}
    labels = [label_index[row.label] for row in rows]
    splits = [row.split for row in rows]
    meta = split_rows(labels, splits, class_names, opts.meta_per_class, opts.seed) if class_names else None
    if meta is not None and rows and not meta.meta_indices:
        problems.add(None, "split", "no val rows, and no class has 2 train images to carve a meta set from")
    train_counts = [s.train for s in summaries]
    imbalance = max(train_counts) / min(train_counts) if train_counts and min(train_counts) > 0 else None
    report = ManifestReport(
        ok=not problems,
        manifest_sha256=sha256,
        num_rows=len(rows),
        classes=summaries,
        split_counts={s: splits.count(s) for s in SPLITS},
        imbalance_factor=imbalance,
        group_counts={g: sum(1 for s in summaries if s.group == g) for g in GROUPS},
        meta_source=meta.source if meta else "carved",
        eval_split="test" if "test" in splits else "val",
        notes=list(meta.notes) if meta else [],
        errors=problems.capped(opts.max_errors),
        errors_total=len(problems),
    )
    if not report.ok:
        return report, None
    manifest = Manifest(
        data_root=root,
        paths=tuple(path for _, path in good),
        labels=tuple(label_index[row.label] for row, _ in good),
        splits=tuple(row.split for row, _ in good),
        lines=tuple(row.line for row, _ in good),
        class_names=tuple(class_names),
        sha256=sha256,
        report=report,
    )
    return report, manifest


def _class_order(rows: Sequence[Row], classes: Sequence[str] | None, problems: Problems) -> list[str]:
    if classes is not None:
        seen: set[str] = set()
        for name in classes:
            if name in seen:
                problems.add(None, "label", f"class {name!r} is listed twice in the given classes")
            seen.add(name)
        return list(dict.fromkeys(classes))
    return list(dict.fromkeys(row.label for row in rows))


def _summaries(rows: Sequence[Row], class_names: Sequence[str]) -> list[ClassSummary]:
    index = {name: i for i, name in enumerate(class_names)}
    counts = [dict.fromkeys(SPLITS, 0) for _ in class_names]
    for row in rows:
        counts[index[row.label]][row.split] += 1
    return [
        ClassSummary(
            index=i, name=name, group=group_of(c["train"]), train=c["train"], val=c["val"], test=c["test"]
        )
        for i, (name, c) in enumerate(zip(class_names, counts, strict=True))
    ]


def _class_problems(summaries: Sequence[ClassSummary], problems: Problems) -> None:
    for summary in summaries:
        if summary.train == 0:
            problems.add(None, "label", f"class {summary.name!r} has no train rows")
    if len(summaries) < 2:
        problems.add(None, "label", f"need at least 2 classes, found {len(summaries)}")
