"""Manifest parsing and validation (torch-free: the API validates uploads with it).

OWNER: engine-data helper implements the functions below; the models are the shared contract.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from difficultynet.records import Group

Split = Literal["train", "val", "test"]
SPLITS: tuple[Split, ...] = ("train", "val", "test")
DEFAULT_MAX_ROWS = 2_000_000


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
