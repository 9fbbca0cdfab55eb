"""Request and response models of the HTTP API: the one copy of its JSON shapes.

The backend declares its routes with these (its OpenAPI schema is generated from them), the dashboard
parses the answers with them and sends :class:`RunCreate`, and the tests' fake backend builds its answers
from them. Unknown fields in a response are ignored, so the API can grow without breaking older readers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic.fields import FieldInfo

from difficultynet.contracts.config import (
    DNetConfig,
    DNetRecipe,
    LrSchedule,
    MetaMode,
    Method,
    ModelName,
    TrainConfig,
)
from difficultynet.contracts.datasets import ClassSummary, FolderReport, FolderSplitOptions, RowError
from difficultynet.contracts.records import ClassConfusion, EpochRecord, HardExample

DATASET_ID_PATTERN = r"^[0-9a-f]{16}$"
RUN_ID_PATTERN = r"^[0-9a-f]{32}$"
DatasetId = Annotated[str, Field(pattern=DATASET_ID_PATTERN, description="16 hex digits")]
RunId = Annotated[str, Field(pattern=RUN_ID_PATTERN, description="32 hex digits")]

RunStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
RUN_STATUSES: tuple[str, ...] = get_args(RunStatus)
TERMINAL_STATUSES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})

_TRAIN = TrainConfig.model_fields
_DNET = DNetConfig.model_fields


def _same_as(field: FieldInfo) -> Any:
    """Reuse a TrainConfig field (default, range, description) so the request schema cannot drift."""
    return field


class ErrorBody(BaseModel):
    """Every 4xx/5xx response: a readable summary plus located problems (manifest line, field)."""

    detail: str
    errors: list[RowError] = Field(default_factory=list)


class DatasetRead(BaseModel):
    id: DatasetId
    name: str = Field(description="uploaded file name, or the folder under the data root")
    kind: Literal["csv", "zip", "folder"]
    created_at: datetime
    manifest_sha256: str
    num_rows: int
    num_classes: int
    classes: list[ClassSummary] = Field(description="class histogram: counts per split and group")
    split_counts: dict[str, int]
    imbalance_factor: float | None
    group_counts: dict[str, int]
    meta_source: Literal["val", "carved"]
    eval_split: Literal["test", "val"]
    notes: list[str]
    folder: FolderReport | None = Field(
        None,
        description="image folders only: layout, split settings, skipped files and classes too small for "
        "the requested splits; the generated manifest is at GET /api/datasets/{id}/manifest.csv",
    )

    @property
    def label(self) -> str:
        """Name and short id, for lists and titles."""
        return f"{self.name} ({self.id[:8]})" if self.name else self.id


class FolderCreate(FolderSplitOptions):
    """``POST /api/datasets/folders``: image folders already under the data root, no manifest needed."""

    folder: str = Field(
        min_length=1,
        max_length=1024,
        description="folder under the data root holding train/<class>/* [val/ test/] or <class>/*",
    )


class DatasetList(BaseModel):
    datasets: list[DatasetRead]
    total: int


class RunCreate(BaseModel):
    """A training request. Ranges and defaults are TrainConfig's own; the whole config is re-validated.

    Strict: JSON types must match (``"epochs": "5"`` and ``"epochs": true`` are refused, not coerced).
    Integers are still accepted for float fields such as ``lr``.
    """

    model_config = ConfigDict(extra="forbid", strict=True)

    dataset_id: DatasetId
    method: Method = _same_as(_TRAIN["method"])
    model: ModelName = _same_as(_TRAIN["model"])
    epochs: int = _same_as(_TRAIN["epochs"])
    batch_size: int = _same_as(_TRAIN["batch_size"])
    lr: float = _same_as(_TRAIN["lr"])
    seed: int = _same_as(_TRAIN["seed"])
    dnet_recipe: DNetRecipe = Field(
        "default", description="Difficulty-Net recipe: the library default, or the paper-faithful one"
    )
    meta_mode: MetaMode = _same_as(_DNET["meta_mode"])
    meta_every: int = _same_as(_DNET["meta_every"])
    device: str = Field("auto", max_length=32, description="'auto', 'cpu', 'cuda' or 'cuda:<index>'")
    baseline_run_id: RunId | None = Field(None, description="run to compare against in the dashboard")
    dnet_lr: float | None = Field(None, gt=0, le=1.0, description="Difficulty-Net learning rate")
    num_threads: int | None = _same_as(_TRAIN["num_threads"])
    image_size: int = _same_as(_TRAIN["image_size"])
    pretrained: bool = _same_as(_TRAIN["pretrained"])
    backbone_lr_scale: float = _same_as(_TRAIN["backbone_lr_scale"])
    lr_schedule: LrSchedule = _same_as(_TRAIN["lr_schedule"])
    warmup_epochs: int = _same_as(_TRAIN["warmup_epochs"])


RunPhase = Literal["queued", "preparing", "training", "finished"]


class PrepareRead(BaseModel):
    """Data preparation of a run: decoding every image into the uint8 cache (or reading it on a hit)."""

    done: int = Field(description="images decoded so far")
    total: int = Field(description="images to decode")
    rate: float | None = Field(None, description="images per second")
    eta_s: float | None = Field(None, description="estimated seconds left")
    cache: Literal["hit", "miss", "none"] = Field(
        description="hit: read from the image cache; miss: decoded and cached; none: no cache configured"
    )


class MemoryEstimateRead(BaseModel):
    """Memory a run needs on the device it trains on, estimated by the API when the run was created
    (``difficultynet.memory_estimate``: parameters, activations of one step, the decoded images, the
    framework)."""

    device: Literal["cpu", "gpu"] = Field(description="cpu: the worker's RAM; gpu: the GPU's memory")
    total_bytes: int = Field(ge=0, description="everything below, in bytes")
    activation_bytes: int = Field(ge=0, description="layer outputs of one training step, kept for backward")
    params_bytes: int = Field(ge=0, description="weights, gradients and optimiser state")
    data_bytes: int = Field(ge=0, description="the decoded uint8 images")
    overhead_bytes: int = Field(ge=0, description="interpreter and libraries, or the CUDA context")
    summary: str = Field(
        description="plain words: 'about 1.4 GiB of RAM: activations 310 MiB, parameters and optimiser …'"
    )


class RunRead(BaseModel):
    id: RunId
    status: RunStatus
    dataset_id: str
    baseline_run_id: str | None = None
    config: TrainConfig
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    epoch: int = Field(0, description="last finished epoch")
    epochs_total: int
    progress: float = Field(ge=0, le=1, description="epoch / epochs_total")
    elapsed_s: float | None = Field(None, description="training wall time up to the last finished epoch")
    eta_s: float | None = Field(None, description="estimated seconds left, from the mean epoch time")
    top1: float | None = Field(None, description="top-1 accuracy of the last finished epoch")
    balanced_acc: float | None = None
    balanced_acc_history: list[float] = Field(
        default_factory=list,
        description=(
            "balanced accuracy over the epochs so far, oldest first, for a sparkline: every epoch up to 50, "
            "else 50 epochs spread evenly (the first and the last included)"
        ),
    )
    error: str | None = None
    worker: str | None = Field(None, description="Celery worker host and process that ran it last")
    device: str | None = Field(None, description="device the worker trained on (e.g. cpu, cuda:0)")
    attempt: int = Field(0, description="times a worker started it (>1 after crash recovery)")
    crashes: int = Field(
        0, description="attempts whose worker process died (or lost Redis) before the run ended"
    )
    cancel_requested: bool = False
    phase: RunPhase = Field(
        "queued", description="queued, preparing (decoding the images), training, or finished"
    )
    preparing: PrepareRead | None = Field(None, description="data preparation progress, once it started")
    memory_estimate: MemoryEstimateRead | None = Field(
        None, description="memory the run needs, estimated when it was created (none for older runs)"
    )

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def label(self) -> str:
        """Method (meta mode), model, short id and status, for lists and titles."""
        config = self.config
        mode = f" ({config.dnet.meta_mode})" if config.is_dnet else ""
        return f"{config.method}{mode} · {config.model} · {self.id[:8]} · {self.status}"


class RunList(BaseModel):
    runs: list[RunRead]
    total: int = Field(description="runs matching the filters, before limit/offset")


class EpochPage(BaseModel):
    """Epoch records after the requested epoch, for polling clients."""

    run_id: RunId
    status: RunStatus
    epochs_total: int
    last_epoch: int = Field(description="highest epoch in this page, or `after` when it is empty")
    records: list[EpochRecord]


class HealthRead(BaseModel):
    status: Literal["ok", "degraded", "down"] = Field(
        description="ok: Redis and ≥1 worker; degraded: no worker answered; down: Redis unreachable"
    )
    redis: bool
    redis_error: str | None = None
    workers: list[str] = Field(description="Celery workers that answered a ping")
    versions: dict[str, str]


class SessionCreate(BaseModel):
    """``POST /api/session``: the API token, traded for a signed session cookie."""

    token: SecretStr = Field(max_length=4096)


class ClassMetrics(BaseModel):
    """The per-class values the class panel follows over the epochs (the epoch record's columns)."""

    difficulty: float
    weight: float
    val_acc: float
    test_acc: float


class ClassEpochExploration(BaseModel):
    """One class at one epoch, all the class panel shows of it: its values and the run's median class's,
    its top confusions and its hardest evaluation images (the record's ``confusions`` and ``hardest``
    entries for that class)."""

    epoch: int = Field(ge=1)
    values: ClassMetrics = Field(description="the class's own values at this epoch")
    median: ClassMetrics = Field(description="the median over all classes of each value at this epoch")
    confusions: list[ClassConfusion] = Field(
        description="[predicted class, fraction of the class's images], by decreasing rate (top 5)"
    )
    hardest: list[HardExample] = Field(
        description="[manifest row, true-class probability, predicted class, predicted-class probability], "
        "lowest true-class probability first (8 images)"
    )


class ClassExploration(BaseModel):
    """``GET /api/runs/{id}/classes/{class_index}/exploration``: one class over the epochs (class panel)."""

    run_id: RunId
    class_index: int = Field(ge=0)
    epochs: list[ClassEpochExploration] = Field(
        description="oldest first, the epochs after `after` whose records hold exploration data"
    )


class EpochConfusions(BaseModel):
    """``GET /api/runs/{id}/epochs/{epoch}/confusions``: every class's top confusions at one epoch."""

    run_id: RunId
    epoch: int = Field(ge=1)
    confusions: list[list[ClassConfusion]] | None = Field(
        description="per true class (class-index order), its top confusions, each [predicted class, rate]; "
        "null when the run's records hold no confusions (written before they were kept)"
    )
