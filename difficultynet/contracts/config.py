"""Run specifications (``*Config``). Torch-free so the API tier can validate requests with them."""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

Method = Literal["ce", "focal", "cb", "cdb", "bsce", "ldam-drw", "dnet", "dnet-bsce"]
METHODS: tuple[str, ...] = get_args(Method)
DNET_METHODS: frozenset[str] = frozenset({"dnet", "dnet-bsce"})
# The base loss of the recommended Difficulty-Net recipe (the dashboard's first preset); chosen from the
# 3-seed CIFAR-10-LT benchmark, see benchmarks/results/methods-cpu-notes.md.
RECOMMENDED_DNET_METHOD: Method = "dnet-bsce"

ModelName = Literal["resnet8", "resnet20", "resnet32", "resnet18", "resnet50", "efficientnet_b0"]
MODELS: tuple[str, ...] = get_args(ModelName)
# Models with ImageNet weights in torchvision (``pretrained=True``); see difficultynet/models/pretrained.py.
PRETRAINED_MODELS: frozenset[str] = frozenset({"resnet18", "resnet50", "efficientnet_b0"})

# Training augmentation: "auto" is CIFAR pad-crop at <= 32 px and random-resized-crop above.
Augment = Literal["auto", "pad_crop", "random_resized_crop", "none"]
# Input normalisation: "auto" is the backbone's ImageNet statistics when pretrained, else the train split's.
Normalization = Literal["auto", "dataset", "backbone"]
PAD_CROP_MAX_SIZE = 32

MetaMode = Literal["full", "head", "driver_only"]
META_MODES: tuple[str, ...] = get_args(MetaMode)

LrSchedule = Literal["step", "cosine"]
VirtualLr = Literal["current", "base"]
PhiOptimizer = Literal["adam", "adamw"]
DriverSchedule = Literal["constant", "to_zero_at_lr_drop"]
DriverTarget = Literal["share", "error"]
MetaBatchKind = Literal["random", "class_balanced", "full"]
AccuracyLogits = Literal["prediction", "loss"]
# ``error`` driver target t = max(1 − a, floor): at most a 1/floor pull between the easiest and hardest class
DEFAULT_ERROR_TARGET_FLOOR = 0.1
BSCE_ERROR_TARGET_FLOOR = 0.5  # dnet-bsce's recipe (base_loss_recipe)
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
        description="share: t = 1 - a/sum(a) (the code's); error: t = max(1 - a, 0.1), the class's own "
        "error; a TrainConfig that does not set it uses base_loss_recipe(method)",
    )
    error_target_floor: float = Field(
        DEFAULT_ERROR_TARGET_FLOOR,
        gt=0,
        le=1.0,
        description="error target: t = max(1 - a, floor); a class's target never falls below it, so the "
        "anchor's spread between the easiest and the hardest class is at most 1/floor",
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
    accuracy_logits: AccuracyLogits = Field(
        "prediction",
        description="the logits DNet's accuracy input a is measured with: the model's predictions, or the "
        "logits its training loss scores (z + τ·log n under Balanced Softmax; the same as prediction on CE)",
    )
    weights_in_adjustment: bool = Field(
        False,
        description="Balanced Softmax base loss: the weights also enter the logit adjustment, "
        "w_y·CE(z + τ·log n + log w, y), so they change which samples the loss emphasises but not the "
        "balanced optimum (no effect on CE)",
    )
    defer_frac: float = Field(
        0.0,
        ge=0,
        lt=1.0,
        description="weights enter the real loss from this fraction of training (DRW-style)",
    )


def base_loss_recipe(method: str) -> dict[str, Any]:
    """The library recipe's DNetConfig fields that depend on the base loss; a TrainConfig applies those its
    ``dnet`` does not set (CIFAR-10-LT IF100 benchmark, ``benchmarks/results/methods-cpu-notes.md``).

    CE (``dnet``): the ``error`` driver target, t = max(1 − a, 0.1): weights follow the class error
    (ρ(w, train count) −0.89 … −0.99), 51.2 ± 2.6 balanced accuracy against 45.5 ± 0.5 with ``share``.
    Balanced Softmax (``dnet-bsce``): the balanced predictions' error no longer follows the frequency, so a is
    read from the logits the loss scores (``accuracy_logits="loss"``, z + log n), the weights enter the logit
    adjustment too (``weights_in_adjustment``: they cannot move the balanced optimum), and the error target's
    floor of 0.5 keeps the pull between classes at most 2× (floor 0.1 gave max/min ≈ 9.5 and −1 point).
    """
    if method == "dnet":
        return {"driver_target": "error"}
    if method == "dnet-bsce":
        return {
            "driver_target": "error",
            "error_target_floor": BSCE_ERROR_TARGET_FLOOR,
            "accuracy_logits": "loss",
            "weights_in_adjustment": True,
        }
    return {}


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
        "error_target_floor": DEFAULT_ERROR_TARGET_FLOOR,
        "accuracy_logits": "prediction",
        "weights_in_adjustment": False,
    }
    return DNetConfig.model_validate(values | overrides)


class TrainConfig(_Strict):
    """Everything needed to reproduce one training run; stored with every checkpoint and export."""

    method: Method = RECOMMENDED_DNET_METHOD  # the default DNet recipe (issue F): DNet over Balanced Softmax
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
    image_size: int = Field(
        32, ge=8, le=512, description="images are resized (shorter side) and centre-cropped to this square"
    )
    channels: Literal[1, 3] = 3
    augment: Augment = Field("auto", description="auto: pad-crop at <= 32 px, random-resized-crop above")
    # backbone (the field order matters: each validator below sees the fields declared before its own)
    pretrained: bool = Field(False, description="start from torchvision's ImageNet weights")
    weights_file: str | None = Field(
        None, max_length=4096, description="local state dict of the torchvision model (implies pretrained)"
    )
    backbone_lr_scale: float = Field(
        1.0, gt=0, le=1.0, description="backbone learning rate = lr × this (the head keeps lr)"
    )
    normalization: Normalization = Field(
        "auto", description="auto: the backbone's ImageNet mean/std when pretrained, else the train split's"
    )
    # baselines (spec §3.9)
    focal_gamma: float = Field(1.0, ge=0, le=10.0)
    cb_beta: float = Field(0.9999, ge=0, lt=1.0)
    cdb_tau: Literal["dynamic", "dynamic_code"] | float = "dynamic"
    ldam_max_margin: float = Field(0.5, gt=0, le=10.0)
    ldam_s: float = Field(30.0, gt=0, le=1000.0)
    drw_start_frac: float = Field(0.8, ge=0, le=1.0, description="DRW starts at this fraction of epochs")
    bsce_tau: float = Field(
        1.0,
        ge=0,
        le=2.0,
        description="strength of Balanced Softmax's log-prior (logit adjustment τ): 1 is Balanced Softmax; "
        "below 1 leaves part of the frequency to the class weights (dnet-bsce)",
    )
    # data
    meta_per_class: int | None = Field(
        None, ge=1, le=10000, description="images/class carved from train when the manifest has no val rows"
    )
    dnet: DNetConfig = Field(default_factory=DNetConfig, validate_default=True)

    @field_validator("device")
    @classmethod
    def _check_device(cls, value: str) -> str:
        if value in ("auto", "cpu", "cuda"):
            return value
        prefix, _, index = value.partition(":")
        if prefix == "cuda" and index.isdigit():
            return value
        raise ValueError("device must be 'auto', 'cpu', 'cuda' or 'cuda:<index>'")

    @field_validator("dnet")
    @classmethod
    def _recipe_for_the_base_loss(cls, value: DNetConfig, info: ValidationInfo) -> DNetConfig:
        """Unless given, the fields of :func:`base_loss_recipe` follow the base loss."""
        method = info.data.get("method")  # absent when the method itself was invalid
        if method is None:
            return value
        unset = {k: v for k, v in base_loss_recipe(method).items() if k not in value.model_fields_set}
        return value.model_copy(update=unset) if unset else value

    @field_validator("cdb_tau")
    @classmethod
    def _check_tau(cls, value: str | float) -> str | float:
        if isinstance(value, float) and not 0 < value <= 10:
            raise ValueError("cdb_tau must be 'dynamic', 'dynamic_code' or a number in (0, 10]")
        return value

    @field_validator("pretrained", "weights_file")
    @classmethod
    def _check_pretrained(cls, value: bool | str | None, info: ValidationInfo) -> bool | str | None:
        model = info.data.get("model")  # absent when the model itself was invalid
        if value and model is not None and model not in PRETRAINED_MODELS:
            raise ValueError(
                f"model {model} has no pretrained weights; pick one of {', '.join(sorted(PRETRAINED_MODELS))}"
            )
        return value

    @field_validator("normalization")
    @classmethod
    def _check_normalization(cls, value: str, info: ValidationInfo) -> str:
        if value == "backbone" and not (info.data.get("pretrained") or info.data.get("weights_file")):
            raise ValueError("normalization 'backbone' needs pretrained weights (pretrained or weights_file)")
        return value

    @property
    def is_dnet(self) -> bool:
        return self.method in DNET_METHODS

    @property
    def uses_pretrained_weights(self) -> bool:
        return self.pretrained or self.weights_file is not None

    @property
    def effective_augment(self) -> Literal["pad_crop", "random_resized_crop", "none"]:
        if self.augment != "auto":
            return self.augment
        return "pad_crop" if self.image_size <= PAD_CROP_MAX_SIZE else "random_resized_crop"

    @property
    def effective_normalization(self) -> Literal["dataset", "backbone"]:
        if self.normalization != "auto":
            return self.normalization
        return "backbone" if self.uses_pretrained_weights else "dataset"

    @property
    def effective_warmup_epochs(self) -> int:
        return min(self.warmup_epochs, self.epochs // 4)


def finetune_preset(**overrides: object) -> dict[str, object]:
    """Fine-tuning a pretrained backbone: a 10× lower backbone lr than the head's, a short cosine schedule
    with one warm-up epoch. The TrainConfig fields it sets (merge them into a request, then validate)."""
    values: dict[str, object] = {
        "pretrained": True,
        "model": "resnet18",
        "lr": 0.01,
        "backbone_lr_scale": 0.1,
        "epochs": 10,
        "warmup_epochs": 1,
        "lr_schedule": "cosine",
        "weight_decay": 1e-4,
    }
    return values | overrides
