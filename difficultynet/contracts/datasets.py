"""Dataset shapes: what manifest validation reports, and how image folders are split and reported.

Produced by :mod:`difficultynet.manifest`, stored by the API and sent in ``DatasetRead`` and ``ErrorBody``.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from difficultynet.contracts.records import Group

Split = Literal["train", "val", "test"]
SPLITS: tuple[Split, ...] = get_args(Split)
Layout = Literal["split-folders", "class-folders"]

# The CIFAR-LT protocol's balanced val set has 25 images per class (see the shared CIFAR-10-LT README).
DEFAULT_VAL_PER_CLASS = 25
DEFAULT_TEST_FRACTION = 0.2


class RowError(BaseModel):
    """One problem, located by 1-based file line (header = line 1) and column name, or by request field
    (``column``, with ``row`` None)."""

    row: int | None = Field(None, description="1-based line number in the file; None for file-level errors")
    column: str | None = None
    reason: str

    def located(self) -> str:
        """'line 3, column label: reason', 'line 3: reason' or just the reason for file-level problems."""
        where = [f"line {self.row}"] if self.row is not None else []
        if self.column:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.reason}" if where else self.reason


class ClassSummary(BaseModel):
    index: int
    name: str
    train: int
    val: int
    test: int
    group: Group


class FolderSplitOptions(BaseModel):
    """How the missing splits of an image folder are carved."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    val_per_class: int = Field(
        DEFAULT_VAL_PER_CLASS, ge=1, le=10_000, description="val (meta) images per class, when no val/ folder"
    )
    test_fraction: float = Field(
        DEFAULT_TEST_FRACTION,
        ge=0.0,
        le=0.9,
        description="share of each class held out for test, when no test/",
    )
    seed: int = Field(0, ge=0, le=2**32 - 1, description="seed of the per-class random carve")


class ClassShortfall(BaseModel):
    """A class that got fewer val or test images than asked (it keeps all its images)."""

    name: str
    images: int = Field(description="images of the class the carve drew from")
    train: int
    val: int
    test: int
    reason: str


class FolderReport(BaseModel):
    """How an image folder became a manifest: layout, split settings, what was skipped or fell short."""

    layout: Layout
    val_per_class: int
    test_fraction: float
    seed: int
    given_splits: list[Split] = Field(description="splits read from train/, val/, test/ folders")
    carved_splits: list[Split] = Field(description="splits carved from each class with the seed")
    skipped_clutter: int = Field(0, description="hidden files, __MACOSX/, Thumbs.db, ... ignored")
    skipped_loose_files: list[str] = Field(default_factory=list, description="files outside class folders")
    short_classes: list[ClassShortfall] = Field(default_factory=list)
