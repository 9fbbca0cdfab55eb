"""An image folder → a manifest CSV (``path,label,split``) and its validation report.

Two steps, so a caller can recognise a folder it has seen before without opening a single image:
:func:`plan_folder` lists the files and carves the splits (the CSV bytes are final after it), and
:func:`check_folder` applies the manifest's row-level rules to every file (symlink escape, regular file,
readable image) and builds the same :class:`ManifestReport` a manifest upload gets. Problems name the
file by its path inside the folder, in plain words.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from difficultynet.contracts.datasets import FolderReport, FolderSplitOptions
from difficultynet.manifest.folder_splits import SplitRow, assign_splits
from difficultynet.manifest.folders import scan_folder
from difficultynet.manifest.parse import DEFAULT_MAX_ROWS
from difficultynet.manifest.paths import RootResolver, image_problem
from difficultynet.manifest.report import ManifestReport, Problems
from difficultynet.manifest.validate import ValidationOptions, validate_manifest

MAX_NAMED = 5  # loose files and short classes named in a note before "and N more"


@dataclass(frozen=True)
class FolderPlan:
    """The listed folder: its manifest CSV (relative to ``root``) and what the listing found wrong."""

    root: Path
    csv: bytes
    rows: list[SplitRow]
    folder: FolderReport
    problems: Problems = field(repr=False)


def manifest_csv(rows: list[SplitRow]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("path", "label", "split"))
    writer.writerows((row.rel_path, row.label, row.split) for row in rows)
    return buffer.getvalue().encode()


def plan_folder(
    root: Path, options: FolderSplitOptions | None = None, max_files: int = DEFAULT_MAX_ROWS
) -> FolderPlan:
    """List ``root`` (``train/<class>/*`` [+ ``val/``, ``test/``] or ``<class>/*``) and carve its splits."""
    options = options or FolderSplitOptions()
    problems = Problems()
    if not root.is_dir():
        problems.add(None, None, "the dataset folder does not exist or is not a folder")
    scan = scan_folder(root, max_files, problems) if root.is_dir() else None
    entries = scan.entries if scan else []
    layout = scan.layout if scan else "class-folders"
    given = list(scan.given_splits) if scan else []
    rows, short, carved = assign_splits(entries, given, layout, options)
    report = FolderReport(
        layout=layout,
        val_per_class=options.val_per_class,
        test_fraction=options.test_fraction,
        seed=options.seed,
        given_splits=given,
        carved_splits=carved,
        skipped_clutter=scan.clutter if scan else 0,
        skipped_loose_files=scan.loose_files if scan else [],
        short_classes=short,
    )
    return FolderPlan(root=root, csv=manifest_csv(rows), rows=rows, folder=report, problems=problems)


def _check_files(plan: FolderPlan, check_images: bool) -> list[SplitRow]:
    """The manifest's row-level rules, each file named by its path (the CSV's lines are not shown yet);
    returns the rows that pass."""
    resolver = RootResolver(plan.root.resolve())
    first_by_file: dict[str, str] = {}
    good: list[SplitRow] = []
    for row in plan.rows:
        target, problem = resolver.resolve(row.rel_path)
        if target is None:
            plan.problems.add(None, "path", f"{problem or 'invalid path'} ({row.rel_path!r})")
            continue
        first = first_by_file.setdefault(target, row.rel_path)
        if first != row.rel_path:
            plan.problems.add(None, "path", f"same file as {first!r} (a symbolic link) ({row.rel_path!r})")
            continue
        problem = image_problem(target) if check_images else None
        if problem:
            plan.problems.add(None, "path", f"{problem} ({row.rel_path!r})")
        else:
            good.append(row)
    return good


def _named(items: list[str]) -> str:
    shown = ", ".join(repr(item) for item in items[:MAX_NAMED])
    return shown + (f" and {len(items) - MAX_NAMED} more" if len(items) > MAX_NAMED else "")


def folder_notes(folder: FolderReport) -> list[str]:
    """Plain-words lines for the report: how the splits were made and what was skipped or fell short."""
    notes = [f"image folder ({folder.layout}): manifest generated from the folders"]
    if "val" in folder.carved_splits:
        notes.append(
            f"val (balanced meta set): {folder.val_per_class} images per class carved from each class "
            f"(at most half of a class; seed {folder.seed})"
        )
    if "test" in folder.carved_splits and folder.test_fraction > 0:
        notes.append(
            f"test: {folder.test_fraction:.0%} of each class held out (stratified; seed {folder.seed})"
        )
    if folder.skipped_clutter:
        notes.append(
            f"ignored {folder.skipped_clutter} hidden or system entries (.DS_Store, __MACOSX/, Thumbs.db, …)"
        )
    if folder.skipped_loose_files:
        notes.append(
            f"ignored {len(folder.skipped_loose_files)} file(s) outside any class folder: "
            + _named(folder.skipped_loose_files)
        )
    if folder.short_classes:
        notes.append(
            f"{len(folder.short_classes)} class(es) too small for the requested splits (kept, with fewer "
            "val/test images): " + _named([c.name for c in folder.short_classes])
        )
    return notes


def check_folder(plan: FolderPlan, check_images: bool = True, max_errors: int = 100) -> ManifestReport:
    """Check every listed file and validate the generated CSV; the report lists all problems found."""
    good = _check_files(plan, check_images) if plan.rows else []
    # The class summary of the files that passed (their own errors are already listed, by path).
    csv_bytes = plan.csv if len(good) == len(plan.rows) else manifest_csv(good)
    options = ValidationOptions(check_images=False, max_rows=max(len(plan.rows), 1), max_errors=max_errors)
    report = validate_manifest(csv_bytes, plan.root, options)
    errors = plan.problems.capped(max_errors)
    if not plan.rows:
        # Nothing listed: the CSV's own complaints (no data rows, < 2 classes) would only repeat ours.
        return report.model_copy(
            update={"ok": False, "errors": errors, "errors_total": len(plan.problems), "notes": []}
        )
    return report.model_copy(
        update={
            "ok": report.ok and not plan.problems,
            "errors": [*errors, *report.errors][:max_errors],
            "errors_total": len(plan.problems) + report.errors_total,
            "notes": [*folder_notes(plan.folder), *report.notes],
        }
    )
