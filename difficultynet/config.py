"""Run specifications (``*Config``). Torch-free so the API tier can validate requests with them."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

Method = Literal["ce", "focal", "cb", "cdb", "bsce", "ldam-drw", "dnet", "dnet-bsce"]
METHODS: tuple[str, ...] = get_args(Method)
DNET_METHODS: frozenset[str] = frozenset({"dnet", "dnet-bsce"})

ModelName = Literal["resnet8", "resnet20", "resnet32", "resnet18", "resnet50"]
MODELS: tuple[str, ...] = get_args(ModelName)

MetaMode = Literal["full", "head", "driver_only"]
META_MODES: tuple[str, ...] = get_args(MetaMode)

LrSchedule = Literal["step", "cosine"]
Device = str  # "auto" | "cpu" | "cuda" | "cuda:<i>"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DNetConfig(_Strict):
    """Difficulty-Net hyper-parameters (spec §1.3, §1.9)."""

    meta_mode: MetaMode = "full"
    meta_every: int = Field(1, ge=1, le=1000, description="meta update every k iterations")
    hidden: int = Field(128, ge=1, le=8192)
    bias: bool = False
    # The paper's 1e-5 was set for 12,800-epoch schedules; short schedules need a faster meta learner
    # (see benchmarks/results/methods-cpu.md for the measured effect).
    lr: float = Field(1e-3, gt=0, le=1.0)
    weight_decay: float = Field(1e-4, ge=0, le=1.0)
    driver_lambda: float = Field(0.3, ge=0, le=100.0)
    meta_batch_size: int = Field(100, ge=1, le=4096)


class TrainConfig(_Strict):
    """Everything needed to reproduce one training run; stored with every checkpoint and export."""

    method: Method = "dnet"
    model: ModelName = "resnet8"
    epochs: int = Field(20, ge=1, le=1000)
    batch_size: int = Field(128, ge=1, le=4096)
    lr: float = Field(0.1, gt=0, le=10.0)
    momentum: float = Field(0.9, ge=0, lt=1.0)
    weight_decay: float = Field(2e-4, ge=0, le=1.0)
    lr_schedule: LrSchedule = "step"
    warmup_epochs: int = Field(5, ge=0, le=1000, description="linear warm-up, clamped to epochs // 4")
    # step schedule: ×0.01 at 80 % and ×1e-4 at 90 % of training (LDAM-DRW's 160/180 of 200 epochs)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    device: Device = "auto"
    amp: bool = Field(True, description="mixed precision; only used on CUDA")
    num_threads: int | None = Field(None, ge=1, le=256, description="torch CPU threads (None: torch default)")
    image_size: int = Field(32, ge=8, le=512)
    channels: Literal[1, 3] = 3
    # baselines (spec §3.9)
    focal_gamma: float = Field(1.0, ge=0, le=10.0)
    cb_beta: float = Field(0.9999, ge=0, lt=1.0)
    cdb_tau: Literal["dynamic", "dynamic_code"] | float = "dynamic"
    ldam_max_margin: float = Field(0.5, gt=0, le=10.0)
    ldam_s: float = Field(30.0, gt=0, le=1000.0)
    drw_start_frac: float = Field(0.8, ge=0, le=1.0, description="DRW starts at this fraction of epochs")
    # data
    meta_per_class: int | None = Field(
        None, ge=1, le=10000, description="images/class carved from train when the manifest has no val rows"
    )
    dnet: DNetConfig = Field(default_factory=DNetConfig)

    @field_validator("device")
    @classmethod
    def _check_device(cls, value: str) -> str:
        if value in ("auto", "cpu", "cuda"):
            return value
        prefix, _, index = value.partition(":")
        if prefix == "cuda" and index.isdigit():
            return value
        raise ValueError("device must be 'auto', 'cpu', 'cuda' or 'cuda:<index>'")

    @field_validator("cdb_tau")
    @classmethod
    def _check_tau(cls, value: str | float) -> str | float:
        if isinstance(value, float) and not 0 < value <= 10:
            raise ValueError("cdb_tau must be 'dynamic', 'dynamic_code' or a number in (0, 10]")
        return value

    @property
    def is_dnet(self) -> bool:
        return self.method in DNET_METHODS

    @property
    def effective_warmup_epochs(self) -> int:
        return min(self.warmup_epochs, self.epochs // 4)
