"""The dashboard's own view of the backend's JSON (it never imports ``backend``).

Unknown fields are ignored, so the backend can grow its responses without breaking the dashboard.
Epoch records reuse the torch-free engine contract :class:`difficultynet.records.EpochRecord`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from difficultynet.config import TrainConfig
from difficultynet.manifest import FolderReport
from difficultynet.protocol import TERMINAL_STATUSES, RunStatus
from difficultynet.records import EpochRecord, Group


class _Read(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class FieldError(_Read):
    """One located problem: a manifest row/column, or a request field (``column``) for run forms."""

    row: int | None = None
    column: str | None = None
    reason: str


class DatasetClass(_Read):
    index: int
    name: str
    train: int
    val: int = 0
    test: int = 0
    group: Group


class Dataset(_Read):
    id: str
    name: str = Field("", description="uploaded file name")
    kind: str = "csv"
    created_at: datetime | None = None
    num_rows: int = 0
    num_classes: int = 0
    classes: list[DatasetClass]
    imbalance_factor: float | None = None
    group_counts: dict[str, int] = Field(default_factory=dict)
    split_counts: dict[str, int] = Field(default_factory=dict)
    eval_split: str | None = None
    meta_source: str | None = None
    notes: list[str] = Field(default_factory=list)
    folder: FolderReport | None = Field(None, description="set when the manifest was generated from folders")

    @property
    def label(self) -> str:
        return f"{self.name} ({self.id[:8]})" if self.name else self.id


class DatasetList(_Read):
    datasets: list[Dataset]
    total: int = 0


class Run(_Read):
    id: str
    status: RunStatus
    dataset_id: str
    baseline_run_id: str | None = None
    config: TrainConfig
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    epoch: int = Field(0, description="last finished epoch")
    epochs_total: int
    elapsed_s: float | None = None
    eta_s: float | None = None
    top1: float | None = None
    balanced_acc: float | None = None
    balanced_acc_history: list[float] = Field(default_factory=list, description="for a sparkline")
    error: str | None = None
    worker: str | None = None
    device: str | None = None
    crashes: int = Field(0, description="attempts whose worker process died")
    cancel_requested: bool = False

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def label(self) -> str:
        config = self.config
        mode = f" ({config.dnet.meta_mode})" if config.is_dnet else ""
        return f"{config.method}{mode} · {config.model} · {self.id[:8]} · {self.status}"


class RunList(_Read):
    runs: list[Run]
    total: int = 0


class EpochPage(_Read):
    """``GET /api/runs/{id}/epochs?after=N``: the records after epoch N."""

    run_id: str
    status: RunStatus
    epochs_total: int
    last_epoch: int
    records: list[EpochRecord]


class EpochSummary(EpochRecord):
    """An epoch record whose exploration columns (``confusions``, ``hardest``) are kept as sent, unchecked.

    Curves and class histories read every epoch but at most one class's confusions: validating the
    top-k lists of all classes of all epochs (13 named tuples per class) cost the live page most of its
    time at 1000 classes. Entries stay plain ``[predicted, rate]`` / ``[row, …]`` lists here.
    """

    confusions: Any = None
    hardest: Any = None

    @model_validator(mode="after")
    def _explore_columns_match_classes(self) -> EpochSummary:  # replaces the record's full check
        return self


class EpochSummaryPage(EpochPage):
    records: list[EpochSummary]  # type: ignore[assignment]


class RunRequest(BaseModel):
    """Body of ``POST /api/runs``.

    Every field is optional here on purpose: the form sends what the user typed and the backend's 422
    names each missing or out-of-range field, so validation rules live in one place (the API).
    """

    model_config = ConfigDict(extra="forbid")

    dataset_id: str | None = None
    method: str | None = None
    model: str | None = None
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    seed: int | None = None
    dnet_recipe: str | None = None
    meta_mode: str | None = None
    meta_every: int | None = None
    device: str | None = None
    baseline_run_id: str | None = None
    dnet_lr: float | None = None
