"""Manifest parsing and validation (torch-free: the API validates uploads with it).

A manifest is a CSV with the columns ``path,label[,split]`` (any order; unknown extra columns are ignored).
``path`` is relative to a data root (default: the manifest's folder), ``split`` is one of train/val/test
(missing column: everything is train). Every problem becomes a :class:`RowError` in the report; bad input
never raises, except :func:`load_manifest`, which raises :class:`ManifestInvalid` carrying that report.

Security: a path is only touched on disk after it is proven to stay inside the data root (no absolute
paths, no ``..``, and the fully resolved file - symlinks followed - must lie under the resolved root).
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import posixpath
import random
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Literal

from PIL import Image
from pydantic import BaseModel, Field

from difficultynet.errors import ManifestInvalid
from difficultynet.records import GROUPS, Group, group_of

Split = Literal["train", "val", "test"]
SPLITS: tuple[Split, ...] = ("train", "val", "test")
DEFAULT_MAX_ROWS = 2_000_000
REQUIRED_COLUMNS: tuple[str, ...] = ("path", "label")
DEFAULT_META_PER_CLASS = 10  # images/class carved from train when there are no val rows


class RowError(BaseModel):
    """One problem, located by 1-based file line (header = line 1) and column name."""

    row: int | None = Field(None, description="1-based line number in the file; None for file-level errors")
    column: str | None = None
    reason: str


class ClassSummary(BaseModel):
    index: int
    name: str
    train: int
    val: int
    test: int
    group: Group


class ManifestReport(BaseModel):
    ok: bool
    manifest_sha256: str = Field(description="sha256 of the manifest bytes: the dataset id")
    num_rows: int
    classes: list[ClassSummary]
    split_counts: dict[str, int]
    imbalance_factor: float | None = Field(None, description="max train count / min train count")
    group_counts: dict[str, int]
    meta_source: Literal["val", "carved"] = Field(
        description="'val': the manifest's val rows; 'carved': k per class carved from train (seeded)"
    )
    eval_split: Literal["test", "val"] = Field(description="split used for reported test accuracy")
    notes: list[str] = Field(default_factory=list)
    errors: list[RowError] = Field(default_factory=list, description="first max_errors errors")
    errors_total: int = 0

    @property
    def class_names(self) -> list[str]:
        return [c.name for c in self.classes]


@dataclass(frozen=True)
class Manifest:
    """A validated manifest: one entry per data row, in file order, with absolute resolved paths."""

    data_root: Path
    paths: tuple[Path, ...]
    labels: tuple[int, ...]
    splits: tuple[Split, ...]
    lines: tuple[int, ...] = field(repr=False)  # 1-based file line of each row, for error messages
    class_names: tuple[str, ...]
    sha256: str
    report: ManifestReport = field(repr=False)

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def indices(self, split: Split) -> list[int]:
        return [i for i, s in enumerate(self.splits) if s == split]


@dataclass(frozen=True)
class MetaSplit:
    """Which manifest rows train the classifier, which form the balanced meta set, which are evaluated."""

    train_indices: tuple[int, ...]
    meta_indices: tuple[int, ...]
    eval_indices: tuple[int, ...]
    source: Literal["val", "carved"]
    meta_counts: tuple[int, ...]  # meta images per class
    train_counts: tuple[int, ...]  # train images per class after carving
    notes: tuple[str, ...]


# --------------------------------------------------------------------------------------------- parsing


@dataclass
class _Row:
    line: int
    rel_path: str
    label: str
    split: Split


@dataclass
class _Problems:
    """Collects errors as plain tuples (cheap even for millions of rows); sorted and capped at the end."""

    items: list[tuple[int, int, str | None, str]] = field(default_factory=list)

    def add(self, row: int | None, column: str | None, reason: str) -> None:
        self.items.append((0 if row is None else row, len(self.items), column, reason))

    def __bool__(self) -> bool:
        return bool(self.items)

    def capped(self, max_errors: int) -> list[RowError]:
        ordered = sorted(self.items)[: max(max_errors, 0)]
        return [RowError(row=row or None, column=col, reason=reason) for row, _, col, reason in ordered]


def _decode(raw: bytes, problems: _Problems) -> str | None:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        problems.add(
            None, None, f"manifest is not UTF-8 text (invalid byte at line {line}, offset {exc.start})"
        )
        return None
    nul = text.find("\x00")
    if nul >= 0:
        problems.add(text.count("\n", 0, nul) + 1, None, "line contains a NUL byte (is this a binary file?)")
        return None
    return text


def _parse_rows(text: str, classes: Sequence[str] | None, max_rows: int, problems: _Problems) -> list[_Row]:
    """Parse the CSV into rows whose path/label/split cells are well-formed (paths not checked yet).

    Returns no rows when the file cannot be read to the end (malformed CSV, too many rows): a partial
    file would only add misleading class-level errors and needless file checks.
    """
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    allowed = set(classes) if classes is not None else None
    rows: list[_Row] = []
    header: list[str] | None = None
    columns: dict[str, int] | None = {}
    data_rows = 0
    previous_end = 0
    try:
        for record in reader:
            line, previous_end = previous_end + 1, reader.line_num
            if not record or all(not cell.strip() for cell in record):
                continue  # blank line
            if header is None:
                header = [cell.strip().lower() for cell in record]
                columns = _header_columns(header, line, problems)
                if columns is None:
                    return []
                continue
            data_rows += 1
            if data_rows > max_rows:
                problems.add(line, None, f"manifest has more than {max_rows} data rows; stopped reading")
                return []
            row = _parse_record(record, line, header, columns or {}, allowed, problems)
            if row is not None:
                rows.append(row)
    except csv.Error as exc:
        problems.add(reader.line_num or None, None, f"malformed CSV: {exc}")
        return []
    if header is None:
        problems.add(None, None, "manifest is empty (expected a header line 'path,label[,split]')")
    elif data_rows == 0:
        problems.add(None, None, "manifest has a header but no data rows")
    return rows


def _header_columns(header: list[str], line: int, problems: _Problems) -> dict[str, int] | None:
    """Column positions by name; None (after recording why) when the header is unusable."""
    columns: dict[str, int] = {}
    usable = True
    for position, name in enumerate(header):
        if name in columns and name in (*REQUIRED_COLUMNS, "split"):
            problems.add(line, name, f"column {name!r} appears more than once in the header")
            usable = False
        columns.setdefault(name, position)
    for name in REQUIRED_COLUMNS:
        if name not in columns:
            problems.add(
                line, name, f"missing required column {name!r} (header must contain path,label[,split])"
            )
            usable = False
    return columns if usable else None


def _parse_record(
    record: list[str],
    line: int,
    header: list[str],
    columns: dict[str, int],
    allowed: set[str] | None,
    problems: _Problems,
) -> _Row | None:
    if len(record) != len(header):
        problems.add(line, None, f"row has {len(record)} fields, the header has {len(header)}")
        return None
    before = len(problems.items)
    path = record[columns["path"]].strip()
    label = record[columns["label"]].strip()
    split_cell = record[columns["split"]].strip().lower() if "split" in columns else "train"
    if not path:
        problems.add(line, "path", "empty path")
    if not label:
        problems.add(line, "label", "empty label")
    elif allowed is not None and label not in allowed:
        problems.add(line, "label", f"label {label!r} is not one of the given classes")
    if split_cell not in SPLITS:
        problems.add(line, "split", f"split must be one of train, val, test (got {split_cell!r})")
    if len(problems.items) != before:
        return None
    return _Row(line=line, rel_path=path, label=label, split=split_cell)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------ file checks


def _lexical_path_problem(rel_path: str) -> str | None:
    """Reject paths that could leave the data root before anything touches the filesystem."""
    if PurePosixPath(rel_path).is_absolute() or PureWindowsPath(rel_path).anchor:
        return "absolute paths are not allowed; give a path relative to the data root"
    if ".." in PurePosixPath(rel_path.replace("\\", "/")).parts:
        return "path must not contain '..' (it would escape the data root)"
    return None


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


class _RootResolver:
    """Resolves relative paths under a root, following symlinks, with one ``realpath`` per directory.

    A path is only opened after it is proven to be inside the root: the lexical checks reject absolute
    paths and ``..``, and the fully resolved target (every symlink followed) must lie under the real root.
    """

    def __init__(self, root: Path, check_images: bool) -> None:
        self.root = str(root)
        self.check_images = check_images
        self._dirs: dict[str, str] = {}  # relative folder -> real folder (races only duplicate work)

    def _real_dir(self, rel_dir: str) -> str:
        real = self._dirs.get(rel_dir)
        if real is None:
            real = os.path.realpath(os.path.join(self.root, rel_dir))
            self._dirs[rel_dir] = real
        return real

    def check(self, rel_path: str) -> tuple[Path | None, str | None]:
        problem = _lexical_path_problem(rel_path)
        if problem:
            return None, problem
        rel_dir, name = posixpath.split(rel_path.replace("\\", "/"))
        try:
            real_dir = self._real_dir(rel_dir)
            if not _inside(real_dir, self.root):
                return None, "path resolves (through a symlink) to a folder outside the data root"
            target = os.path.join(real_dir, name)
            info = os.lstat(target)
            if stat.S_ISLNK(info.st_mode):
                target = os.path.realpath(target)
                if not _inside(target, self.root):
                    return None, "path resolves (through a symlink) to a file outside the data root"
                info = os.stat(target)
        except FileNotFoundError:
            return None, "file not found"
        except OSError as exc:
            return None, f"path cannot be resolved: {exc.strerror or exc}"
        if not stat.S_ISREG(info.st_mode):
            return None, "not a regular file"
        if self.check_images:
            try:
                with Image.open(target) as image:
                    image.verify()
            except Exception as exc:  # PIL raises many types (OSError, SyntaxError, ValueError, ...)
                return None, f"not a readable image: {type(exc).__name__}: {exc}"
        return Path(target), None

    def check_all(self, rel_paths: Sequence[str]) -> list[tuple[Path | None, str | None]]:
        return [self.check(p) for p in rel_paths]


def _check_files(
    root: Path, rows: list[_Row], check_images: bool, problems: _Problems
) -> list[tuple[_Row, Path]]:
    # Serial on purpose: PIL's header parsing holds the GIL, and with threads the 22.6k-file CIFAR-10-LT
    # manifest took 2.5 s instead of 1.35 s (2 cores); one realpath per folder keeps syscalls low.
    resolver = _RootResolver(root, check_images)
    results = resolver.check_all([row.rel_path for row in rows])
    good: list[tuple[_Row, Path]] = []
    first_line: dict[Path, int] = {}
    for row, (resolved, problem) in zip(rows, results, strict=True):
        if resolved is None:
            problems.add(row.line, "path", problem or "invalid path")
        elif resolved in first_line:
            problems.add(row.line, "path", f"duplicate of line {first_line[resolved]} (same file)")
        else:
            first_line[resolved] = row.line
            good.append((row, resolved))
    return good


# ------------------------------------------------------------------------------------------ meta split


def _carve_meta(
    train_rows: Sequence[tuple[int, int]],
    class_names: Sequence[str],
    meta_per_class: int | None,
    seed: int,
) -> tuple[list[int], list[int], list[int], list[str]]:
    """Carve a balanced meta set out of ``(row index, label)`` train rows; always keep ≥1 train image/class.

    Returns (train row indices, meta row indices, meta count per class, notes).
    """
    per_class: list[list[int]] = [[] for _ in class_names]
    for index, label in train_rows:
        per_class[label].append(index)
    rng = random.Random(seed)
    meta: set[int] = set()
    counts: list[int] = []
    for members in per_class:
        n = len(members)
        k = min(DEFAULT_META_PER_CLASS, n // 2) if meta_per_class is None else min(meta_per_class, n - 1)
        k = max(k, 0)
        meta.update(rng.sample(members, k))
        counts.append(k)
    notes: list[str] = []
    if counts:
        target = DEFAULT_META_PER_CLASS if meta_per_class is None else meta_per_class
        rule = "min(10, n_c // 2)" if meta_per_class is None else f"min({meta_per_class}, n_c - 1)"
        notes.append(
            f"no val rows: carved k={target} images/class from train (k = {rule}, seed {seed}) "
            f"as the balanced meta set: {sum(counts)} images"
        )
        short = [f"{class_names[c]!r}: {k}" for c, k in enumerate(counts) if k < target]
        if short:
            notes.append("classes with fewer meta images (too few train images): " + ", ".join(short))
        empty = [class_names[c] for c, k in enumerate(counts) if k == 0]
        if empty:
            notes.append(
                f"no meta images for {', '.join(map(repr, empty))} (a single train image is kept for "
                "training); its meta accuracy reads 0"
            )
    ordered = [index for index, _ in train_rows]
    return [i for i in ordered if i not in meta], [i for i in ordered if i in meta], counts, notes


def _split_rows(
    labels: Sequence[int],
    splits: Sequence[Split],
    class_names: Sequence[str],
    meta_per_class: int | None,
    seed: int,
) -> MetaSplit:
    by_split: dict[str, list[int]] = {s: [] for s in SPLITS}
    for index, split in enumerate(splits):
        by_split[split].append(index)
    notes: list[str] = []
    if by_split["val"]:
        train, meta = by_split["train"], by_split["val"]
        source: Literal["val", "carved"] = "val"
        if meta_per_class is not None:
            notes.append("meta_per_class is ignored: the manifest's val rows form the meta set")
    else:
        train_rows = [(i, labels[i]) for i in by_split["train"]]
        train, meta, _, notes = _carve_meta(train_rows, class_names, meta_per_class, seed)
        source = "carved"
    if by_split["test"]:
        evaluation = by_split["test"]
    elif by_split["val"]:
        evaluation = by_split["val"]
        notes.append("no test rows: evaluation uses the val split (the same images as the meta set)")
    else:
        evaluation = meta
        notes.append("no test or val rows: evaluation uses the carved meta set (optimistic, small)")
    return MetaSplit(
        train_indices=tuple(train),
        meta_indices=tuple(meta),
        eval_indices=tuple(evaluation),
        source=source,
        meta_counts=tuple(_count(labels, meta, len(class_names))),
        train_counts=tuple(_count(labels, train, len(class_names))),
        notes=tuple(notes),
    )


def _count(labels: Sequence[int], indices: Sequence[int], num_classes: int) -> list[int]:
    counts = [0] * num_classes
    for i in indices:
        counts[labels[i]] += 1
    return counts


def resolve_meta_split(manifest: Manifest, meta_per_class: int | None = None, seed: int = 0) -> MetaSplit:
    """Train / balanced meta / evaluation row indices: val rows as meta when present, else carved (seeded)."""
    return _split_rows(manifest.labels, manifest.splits, manifest.class_names, meta_per_class, seed)


# ------------------------------------------------------------------------------------------ report


def _class_order(rows: Sequence[_Row], classes: Sequence[str] | None, problems: _Problems) -> list[str]:
    if classes is not None:
        seen: set[str] = set()
        for name in classes:
            if name in seen:
                problems.add(None, "label", f"class {name!r} is listed twice in the given classes")
            seen.add(name)
        return list(dict.fromkeys(classes))
    return list(dict.fromkeys(row.label for row in rows))


def _summaries(rows: Sequence[_Row], class_names: Sequence[str]) -> list[ClassSummary]:
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


def _class_problems(summaries: Sequence[ClassSummary], problems: _Problems) -> None:
    for summary in summaries:
        if summary.train == 0:
            problems.add(None, "label", f"class {summary.name!r} has no train rows")
    if len(summaries) < 2:
        problems.add(None, "label", f"need at least 2 classes, found {len(summaries)}")


@dataclass(frozen=True)
class _Options:
    classes: Sequence[str] | None
    max_rows: int
    check_images: bool
    max_errors: int
    meta_per_class: int | None
    seed: int


def _build(raw: bytes, data_root: Path, opts: _Options) -> tuple[ManifestReport, Manifest | None]:
    problems = _Problems()
    sha256 = hashlib.sha256(raw).hexdigest()
    rows: list[_Row] = []
    root = data_root.resolve()
    if not root.is_dir():
        problems.add(None, None, f"data root {str(data_root)!r} is not a directory")
    text = _decode(raw, problems)
    if text is not None:
        rows = _parse_rows(text, opts.classes, opts.max_rows, problems)
    class_names = _class_order(rows, opts.classes, problems)
    summaries = _summaries(rows, class_names)
    if rows:
        _class_problems(summaries, problems)
    good = _check_files(root, rows, opts.check_images, problems) if rows and root.is_dir() else []

    label_index = {name: i for i, name in enumerate(class_names)}
    labels = [label_index[row.label] for row in rows]
    splits = [row.split for row in rows]
    meta = _split_rows(labels, splits, class_names, opts.meta_per_class, opts.seed) if class_names else None
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
        errors_total=len(problems.items),
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
        return None, root, f"cannot read manifest {str(path)!r}: {exc.strerror or exc}"


def _validate(
    source: Path | bytes, data_root: Path | None, opts: _Options
) -> tuple[ManifestReport, Manifest | None]:
    raw, root, read_error = _read_source(source, data_root)
    if raw is None:
        problems = _Problems()
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


def validate_manifest(
    source: Path | bytes,
    data_root: Path | None = None,
    *,
    classes: list[str] | None = None,
    max_rows: int = DEFAULT_MAX_ROWS,
    check_images: bool = True,
    max_errors: int = 100,
    meta_per_class: int | None = None,
    seed: int = 0,
) -> ManifestReport:
    """Check a manifest (a file, or raw bytes plus ``data_root``) and summarise it; never raises on bad input.

    ``meta_per_class`` and ``seed`` only shape the notes about carving a meta set (no val rows).
    """
    opts = _Options(classes, max_rows, check_images, max_errors, meta_per_class, seed)
    return _validate(source, data_root, opts)[0]


def load_manifest(
    source: Path | bytes,
    data_root: Path | None = None,
    *,
    classes: list[str] | None = None,
    max_rows: int = DEFAULT_MAX_ROWS,
    check_images: bool = True,
    max_errors: int = 100,
    meta_per_class: int | None = None,
    seed: int = 0,
) -> Manifest:
    """Validate and return the parsed :class:`Manifest`; raises :class:`ManifestInvalid` when not ok."""
    opts = _Options(classes, max_rows, check_images, max_errors, meta_per_class, seed)
    report, manifest = _validate(source, data_root, opts)
    if manifest is None:
        raise ManifestInvalid(report)
    return manifest


def with_errors(report: ManifestReport, errors: Sequence[RowError], max_errors: int = 100) -> ManifestReport:
    """A copy of ``report`` marked not ok with extra errors (e.g. images that failed to decode later)."""
    merged = [*report.errors, *errors]
    return report.model_copy(
        update={"ok": False, "errors": merged[:max_errors], "errors_total": report.errors_total + len(errors)}
    )
