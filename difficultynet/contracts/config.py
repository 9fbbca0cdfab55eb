"""Run specifications (``*Config``). Torch-free so the API tier can validate requests with them."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

Method = Literal["ce", "focal", "cb", "cdb", "bsce", "ldam-drw", "dnet", "dnet-bsce"]
METHODS: tuple[str, ...] = get_args(Method)
DNET_METHODS: frozenset[str] = frozenset({"dnet", "dnet-bsce"})
# The base loss of the recommended Difficulty-Net recipe (the dashboard's first preset); chosen from the
# 3-seed CIFAR-10-LT benchmark, see benchmarks/results/methods-cpu-notes.md.
RECOMMENDED_DNET_METHOD: Method = "dnet-bsce"

ModelName = Literal["resnet8", "resnet20", "resnet32", "resnet18", "resnet50"]
MODELS: tuple[str, ...] = get_args(ModelName)

MetaMode = Literal["full", "head", "driver_only"]
META_MODES: tuple[str, ...] = get_args(MetaMode)

LrSchedule = Literal["step", "cosine"]
VirtualLr = Literal["current", "base"]
PhiOptimizer = Literal["adam", "adamw"]
DriverSchedule = Literal["constant", "to_zero_at_lr_drop"]
DriverTarget = Literal["share", "error"]
MetaBatchKind = Literal["random", "class_balanced", "full"]
Device = str  # "auto" | "cpu" | "cuda" | "cuda:<i>"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DNetConfig(_Strict):
    """Difficulty-Net hyper-parameters (spec §1.3, §1.9, and the meta-signal options of issue F).

    The defaults are the library's recommended recipe; :func:`paper_recipe` gives the paper-faithful one
    (spec §1.7: CE base loss, full virtual step at the current lr, Adam with L2 decay on φ, constant λ).
    The options and the measured reason for each default are documented on
    :class:`difficultynet.meta.DifficultyNetLearner` and in ``benchmarks/results/methods-cpu-notes.md``.
    """

    meta_mode: MetaMode = "head"
    meta_every: int = Field(1, ge=1, le=1000, description="meta update every k iterations")
    meta_accumulate: int = Field(
        1, ge=1, le=1000, description="average the φ-gradient over k meta steps before one optimiser step"
    )
    hidden: int = Field(128, ge=1, le=8192)
    bias: bool = False
    # The paper's 1e-5 was set for 12,800-epoch schedules; short schedules need a faster meta learner
    # (see benchmarks/results/methods-cpu.md for the measured effect).
    lr: float = Field(1e-3, gt=0, le=1.0)
    weight_decay: float = Field(1e-4, ge=0, le=1.0)
    optimizer: PhiOptimizer = Field("adamw", description="adam: L2 decay in the gradient; adamw: decoupled")
    driver_lambda: float = Field(0.3, ge=0, le=100.0)
    driver_schedule: DriverSchedule = Field(
        "constant", description="constant λ, or λ falling linearly to 0 at 80 % of training"
    )
    driver_target: DriverTarget = Field(
        "share",
        description="share: t = 1 - a/sum(a) (the code's); error: t = max(1 - a, 0.1), the class's own error",
    )
    virtual_lr: VirtualLr = Field(
        "base", description="step size of the virtual step: the classifier's current lr η_t or its base lr"
    )
    normalize_meta_grad: bool = Field(False, description="rescale ∂L_meta/∂w to unit norm every meta step")
    meta_batch: MetaBatchKind = Field(
        "full", description="random batches of meta_batch_size, class-balanced batches, or the whole meta set"
    )
    meta_batch_size: int = Field(100, ge=1, le=4096)
    meta_feature_refresh: int = Field(
        10, ge=1, le=10000, description="head mode: recompute the meta set's features every k steps"
    )
    defer_frac: float = Field(
        0.0,
        ge=0,
        lt=1.0,
        description="weights enter the real loss from this fraction of training (DRW-style)",
    )


DNetRecipe = Literal["default", "paper"]


def dnet_recipe(name: DNetRecipe, **overrides: object) -> DNetConfig:
    """A named Difficulty-Net recipe with ``overrides`` applied (validated like any DNetConfig)."""
    if name == "paper":
        return paper_recipe(**overrides)
    return DNetConfig.model_validate(overrides)


def paper_recipe(**overrides: object) -> DNetConfig:
    """The paper-faithful recipe (spec §1.7), exactly as this project ran it before issue F."""
    values: dict[str, object] = {
        "meta_mode": "full",
        "optimizer": "adam",
        "driver_schedule": "constant",
        "driver_target": "share",
        "virtual_lr": "current",
        "normalize_meta_grad": False,
        "meta_batch": "random",
        "meta_feature_refresh": 1,
        "defer_frac": 0.0,
        "meta_accumulate": 1,
    }
    return DNetConfig.model_validate(values | overrides)


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
