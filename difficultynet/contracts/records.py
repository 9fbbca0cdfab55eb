"""Per-epoch records: what the trainer reports, what goes into Redis streams and over the wire.

Torch-free. Per-class values are stored column-wise (one list per quantity) so a 1000-class record
stays small and the dashboard can patch whole arrays at once.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Group = Literal["many", "medium", "few"]
GROUPS: tuple[Group, ...] = ("many", "medium", "few")
RECORD_SCHEMA: Literal["epoch-record/v1"] = "epoch-record/v1"
MANY_THRESHOLD = 100  # > 100 train images
FEW_THRESHOLD = 20  # < 20 train images


def group_of(train_count: int) -> Group:
    """Many/medium/few-shot group (Liu et al. 2019): > 100 / 20–100 / < 20 train images."""
    if train_count > MANY_THRESHOLD:
        return "many"
    if train_count < FEW_THRESHOLD:
        return "few"
    return "medium"


def clean_float(value: float, digits: int = 6) -> float:
    """Round for the wire and map NaN/inf to 0 so records are always valid JSON."""
    if not math.isfinite(value):
        return 0.0
    return round(float(value), digits)


class ClassStats(BaseModel):
    """One class's row of an :class:`EpochRecord` (a view; records store columns)."""

    index: int
    name: str
    train_count: int
    group: Group
    difficulty: float
    weight: float
    val_acc: float
    test_acc: float


class ClassColumns(BaseModel):
    """Per-class values, one list per quantity, all of length C, in class-index order."""

    model_config = ConfigDict(frozen=True)

    index: list[int]
    name: list[str]
    train_count: list[int]
    group: list[Group]
    difficulty: list[float] = Field(description="d_c: DNet output, or 1 - val acc for other methods")
    weight: list[float] = Field(description="w_c: the per-class loss weight used in this epoch")
    val_acc: list[float]
    test_acc: list[float] = Field(description="accuracy on the evaluation split (test, or val if none)")

    @model_validator(mode="after")
    def _same_length(self) -> ClassColumns:
        n = len(self.index)
        for field in ("name", "train_count", "group", "difficulty", "weight", "val_acc", "test_acc"):
            if len(getattr(self, field)) != n:
                raise ValueError(f"column {field!r} has {len(getattr(self, field))} entries, expected {n}")
        return self

    def rows(self) -> Iterator[ClassStats]:
        for i in range(len(self.index)):
            yield ClassStats(
                index=self.index[i],
                name=self.name[i],
                train_count=self.train_count[i],
                group=self.group[i],
                difficulty=self.difficulty[i],
                weight=self.weight[i],
                val_acc=self.val_acc[i],
                test_acc=self.test_acc[i],
            )


class DNetDiagnostics(BaseModel):
    """'Is Difficulty-Net learning?': φ-gradient norms (means over the epoch's meta steps) and the learned
    weights' spread and orientation at the epoch end."""

    model_config = ConfigDict(frozen=True)

    meta_grad_norm: float | None = Field(None, description="‖∂(meta term)/∂φ‖ as applied, epoch mean")
    driver_grad_norm: float | None = Field(None, description="‖∂(λ_t·L_drv)/∂φ‖, epoch mean")
    weight_spread: float | None = Field(None, description="max w / min w")
    spearman_weight_count: float | None = Field(None, description="Spearman ρ(w, train count)")
    spearman_weight_error: float | None = Field(None, description="Spearman ρ(w, 1 − val acc)")
    weights_applied: bool = Field(True, description="False while a deferred start keeps the loss unweighted")


class EpochRecord(BaseModel):
    """Everything the dashboard shows about one finished epoch."""

    model_config = ConfigDict(frozen=True)

    schema_id: Literal["epoch-record/v1"] = RECORD_SCHEMA
    run_id: str
    epoch: int = Field(ge=1, description="1-based epoch number")
    epochs_total: int = Field(ge=1)
    method: str
    elapsed_s: float = Field(description="wall time since the run started, summed over resumes")
    epoch_time_s: float
    train_loss: float
    lr: float
    top1: float = Field(description="overall top-1 accuracy on the evaluation split")
    balanced_acc: float = Field(description="mean of per-class accuracies on the evaluation split")
    many_acc: float | None = None
    medium_acc: float | None = None
    few_acc: float | None = None
    eval_split: Literal["test", "val"] = "test"
    driver_loss: float | None = Field(None, description="DNet only: mean((d - t)^2)")
    meta_loss: float | None = Field(None, description="DNet only: meta CE on the balanced meta set")
    dnet: DNetDiagnostics | None = Field(None, description="DNet only: is Difficulty-Net learning?")
    classes: ClassColumns

    @property
    def num_classes(self) -> int:
        return len(self.classes.index)
