"""What validation produces: the report (row errors, class summaries), the validated manifest, and the
exception that carries a failed report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from difficultynet.contracts.datasets import ClassSummary, RowError, Split
from difficultynet.errors import DnetError


def invalid_summary(report: ManifestReport) -> str:
    """One line for a rejected manifest: the error count and the first problem, located."""
    first = report.errors[0] if report.errors else None
    return f"manifest has {report.errors_total} error(s)" + (f" ({first.located()})" if first else "")


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


class ManifestInvalid(DnetError):
    """The manifest failed validation; ``report.errors`` lists every row-level problem."""

    def __init__(self, report: ManifestReport) -> None:
        self.report = report
        super().__init__(invalid_summary(report))


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


@dataclass
class Problems:
    """Collects errors as plain tuples (cheap even for millions of rows); sorted and capped at the end."""

    items: list[tuple[int, int, str | None, str]] = field(default_factory=list)

    def add(self, row: int | None, column: str | None, reason: str) -> None:
        self.items.append((0 if row is None else row, len(self.items), column, reason))

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def capped(self, max_errors: int) -> list[RowError]:
        ordered = sorted(self.items)[: max(max_errors, 0)]
        return [RowError(row=row or None, column=col, reason=reason) for row, _, col, reason in ordered]


def with_errors(report: ManifestReport, errors: Sequence[RowError], max_errors: int = 100) -> ManifestReport:
    """A copy of ``report`` marked not ok with extra errors (e.g. images that failed to decode later)."""
    merged = [*report.errors, *errors]
    return report.model_copy(
        update={"ok": False, "errors": merged[:max_errors], "errors_total": report.errors_total + len(errors)}
    )
