"""Per-epoch records: what the trainer reports, what goes into Redis streams and over the wire.

Torch-free. Per-class values are stored column-wise (one list per quantity) so a 1000-class record
stays small and the dashboard can patch whole arrays at once. The optional exploration columns
(``confusions``, ``hardest``) hold one short list per class; their entries are named tuples, so each
goes over the wire as a compact JSON array (``[predicted, rate]``, ``[row, true_prob, predicted,
predicted_prob]``) yet reads as ``entry.rate`` in Python.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Annotated, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, model_validator

Group = Literal["many", "medium", "few"]
GROUPS: tuple[Group, ...] = ("many", "medium", "few")
RECORD_SCHEMA: Literal["epoch-record/v1"] = "epoch-record/v1"
MANY_THRESHOLD = 100  # > 100 train images
FEW_THRESHOLD = 20  # < 20 train images
CONFUSION_TOP_K = 5  # off-diagonal confusions kept per class and epoch
HARDEST_K = 8  # hardest evaluation images kept per class and epoch
EXPLORE_DIGITS = 4  # rates and probabilities are rounded to this many digits on the wire


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


Probability = Annotated[float, Field(ge=0, le=1)]
ClassIndex = Annotated[int, Field(ge=0)]


class ClassConfusion(NamedTuple):
    """One off-diagonal cell of the evaluation confusion matrix, seen from the true class's row.

    ``rate``: the fraction of the true class's evaluation images predicted as class ``predicted``.
    On the wire: ``[predicted, rate]``.
    """

    predicted: ClassIndex
    rate: Probability


class HardExample(NamedTuple):
    """An evaluation image of a class that the model finds hard: low probability on its own class.

    ``row`` is the 0-based index of the image's data row in the run's dataset manifest (header excluded),
    never a path; the thumbnails route serves it. ``predicted`` is the argmax class and ``predicted_prob``
    its softmax probability (equal to ``true_prob`` when the image is classified correctly).
    On the wire: ``[row, true_prob, predicted, predicted_prob]``.
    """

    row: Annotated[int, Field(ge=0)]
    true_prob: Probability
    predicted: ClassIndex
    predicted_prob: Probability


def _check_per_class(name: str, lists: Sequence[Sequence[object]], num_classes: int) -> None:
    if len(lists) != num_classes:
        raise ValueError(f"{name} has {len(lists)} per-class lists, expected {num_classes} (one per class)")


def _predicted_exists(name: str, true_class: int, predicted: list[int], num_classes: int) -> None:
    if predicted and max(predicted) >= num_classes:
        raise ValueError(
            f"{name} of class {true_class}: predicted class {max(predicted)} does not exist "
            f"({num_classes} classes)"
        )


# The checks below run for every record a client parses (13k entries at 1000 classes): they compare
# whole per-class lists with builtins instead of looping over entries in Python.


def _check_confusions(confusions: list[list[ClassConfusion]], num_classes: int) -> None:
    _check_per_class("confusions", confusions, num_classes)
    for true_class, entries in enumerate(confusions):
        predicted = [entry[0] for entry in entries]
        rates = [entry[1] for entry in entries]
        _predicted_exists("confusions", true_class, predicted, num_classes)
        if true_class in predicted:
            raise ValueError(f"confusions of class {true_class} list the class itself (off-diagonal only)")
        if len(set(predicted)) != len(predicted):
            raise ValueError(f"confusions of class {true_class} list a predicted class twice")
        if rates != sorted(rates, reverse=True):
            raise ValueError(f"confusions of class {true_class} are not sorted by decreasing rate")


def _check_hardest(hardest: list[list[HardExample]], num_classes: int) -> None:
    _check_per_class("hardest", hardest, num_classes)
    for true_class, entries in enumerate(hardest):
        rows = [entry[0] for entry in entries]
        true_probs = [entry[1] for entry in entries]
        _predicted_exists("hardest", true_class, [entry[2] for entry in entries], num_classes)
        if len(set(rows)) != len(rows):
            raise ValueError(f"hardest examples of class {true_class} list a row twice")
        if true_probs != sorted(true_probs):
            raise ValueError(
                f"hardest examples of class {true_class} are not sorted by increasing true-class probability"
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
    confusions: list[list[ClassConfusion]] | None = Field(
        None,
        description=(
            "per true class (class-index order): its top-k (k=5) off-diagonal confusions on the evaluation "
            "split, by decreasing rate, each [predicted class, fraction of the class's images]; classes "
            "predicted for none of its images are left out. Absent in records written before it existed"
        ),
    )
    hardest: list[list[HardExample]] | None = Field(
        None,
        description=(
            "per class (class-index order): its k (k=8) evaluation images with the lowest true-class "
            "probability, lowest first, each [manifest row, true-class probability, predicted class, "
            "predicted-class probability]. Absent in records written before it existed"
        ),
    )

    @model_validator(mode="after")
    def _explore_columns_match_classes(self) -> EpochRecord:
        if self.confusions is not None:
            _check_confusions(self.confusions, self.num_classes)
        if self.hardest is not None:
            _check_hardest(self.hardest, self.num_classes)
        return self

    @property
    def num_classes(self) -> int:
        return len(self.classes.index)
