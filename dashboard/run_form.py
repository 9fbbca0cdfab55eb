"""The new-run form as one table of fields: what each field is, how it is checked, what it sends.

:data:`FORM_FIELDS` is the only description of the form. Everything else is derived from it:

* the page's controls, labels, hints and error slots (``dashboard.pages.new_run.layout``);
* the checks (:func:`check_form`): every field at once, each with its own plain-words message, and never a
  silent default (an empty required field is refused, not replaced);
* the body of ``POST /api/runs`` (:func:`check_form`'s :class:`~difficultynet.contracts.api.RunCreate`,
  one key per filled field, named ``name``);
* where the API's 422 messages land (:func:`field_for_column`: a field's ``name`` or ``config`` location).

Adding a field is one entry in :data:`FORM_FIELDS`, e.g.::

    FormField("image_size", "Image size", "integer", config="image_size", default=_TRAIN.image_size,
              hint="pixels; 32 for CIFAR, 224 for ImageNet-style models"),

The request contract (``difficultynet.contracts.api.RunCreate``) must have a field of that ``name``; a
request field the form does not offer is listed in :data:`NOT_ON_THE_FORM` (so ``image_size`` above also
leaves that set). ``tests/dashboard/test_dashboard_pages.py`` checks that the two stay in step.

Its control id (``new-run-image-size``) and error slot (``new-run-error-image-size``) follow from the name;
``config`` names the :class:`~difficultynet.contracts.config.TrainConfig` location whose range rules
check the value before anything is sent, so the form, the API and the trainer share one rule. A field
the engine does not know (``config=None``) is checked by its kind and ``choices`` here, then against
``RunCreate`` (and by the API on submit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, get_args

from pydantic import ValidationError

from dashboard import ids
from difficultynet.contracts.api import RunCreate
from difficultynet.contracts.config import (
    META_MODES,
    METHODS,
    MODELS,
    DNetConfig,
    DNetRecipe,
    LrSchedule,
    TrainConfig,
)

FieldKind = Literal["dropdown", "radio", "text", "integer", "number", "yes_no"]
# where a field sits on the page: the main grid, the images-and-backbone and Difficulty-Net fieldsets,
# or below them all
FormGroup = Literal["training", "backbone", "dnet", "comparison"]
FORM_GROUPS: tuple[FormGroup, ...] = get_args(FormGroup)
NUMBER_KINDS: frozenset[FieldKind] = frozenset({"integer", "number"})
Value = str | int | float  # (bool is an int: yes/no fields send True / False)
YES_NO: tuple[tuple[str, str], ...] = (("no", "no"), ("yes", "yes"))


@dataclass(frozen=True)
class FormField:
    """One control of the new-run form and the request field it fills."""

    name: str  # the request field it fills (``RunCreate``), and the name of its error slot
    label: str
    kind: FieldKind
    group: FormGroup = "training"
    default: Value | None = None  # shown when the page opens
    choices: tuple[tuple[str, str], ...] = ()  # (value, label); empty: a callback loads the options
    hint: str | None = None
    placeholder: str | None = None
    optional: bool = False  # empty is allowed and leaves the field out of the request
    config: str | None = None  # dotted TrainConfig location whose rules check the value
    control_id: str = ""  # empty: derived from the name (``new-run-<name>``)

    @property
    def control(self) -> str:
        return self.control_id or ids.new_run_control(self.name)

    @property
    def error_slot(self) -> str:
        return ids.new_run_field_error(self.name)

    def parse(self, raw: Any) -> tuple[Value | None, str | None]:
        """(value, None), (None, None) for an allowed empty value, or (None, plain-words problem)."""
        text = "" if raw is None else str(raw).strip()
        if not text:
            if self.optional:
                return None, None
            return None, "required: choose one" if self.kind in (
                "dropdown",
                "radio",
            ) else "required: enter a value"
        if self.kind in NUMBER_KINDS:
            return _parse_number(text, whole=self.kind == "integer")
        if self.kind == "yes_no":
            if text.lower() in ("yes", "true"):
                return True, None
            if text.lower() in ("no", "false"):
                return False, None
            return None, f"“{text}” is not yes or no"
        if self.choices and text not in {value for value, _ in self.choices}:
            return None, f"“{text}” is not one of the choices"
        return text, None


def _parse_number(text: str, *, whole: bool) -> tuple[int | float | None, str | None]:
    try:
        number = float(text)
    except ValueError:
        return None, f"“{text}” is not a number"
    if not math.isfinite(number):
        return None, f"“{text}” is not a finite number"
    if whole:
        if not number.is_integer():
            return None, "must be a whole number"
        return int(number), None
    return number, None


def _labelled(values: tuple[str, ...], labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple((value, labels.get(value, value)) for value in values)


METHOD_LABELS: dict[str, str] = {
    "ce": "ce — cross-entropy",
    "focal": "focal — focal loss",
    "cb": "cb — class-balanced (effective number)",
    "cdb": "cdb — class-wise difficulty-balanced",
    "bsce": "bsce — balanced softmax",
    "ldam-drw": "ldam-drw — LDAM with deferred re-weighting",
    "dnet": "dnet — Difficulty-Net on cross-entropy (the paper's base loss)",
    "dnet-bsce": "dnet-bsce — Difficulty-Net over balanced softmax (default recipe)",
}
META_MODE_LABELS: dict[str, str] = {
    "full": "full — virtual step over all parameters (faithful)",
    "head": "head — virtual step on the classifier only (fast)",
    "driver_only": "driver_only — no meta gradient (released code)",
}
RECIPE_LABELS: dict[str, str] = {
    "default": "default — the library's recipe (recommended)",
    "paper": "paper — as published (its weights fade when the LR drops)",
}

SCHEDULE_LABELS: dict[str, str] = {
    "step": "step — ×0.01 at 80 %, ×1e-4 at 90 %",
    "cosine": "cosine — smooth decay (fine-tuning)",
}

_TRAIN = TrainConfig()
_DNET = DNetConfig()

FORM_FIELDS: tuple[FormField, ...] = (
    FormField(
        "dataset_id", "Dataset", "dropdown", placeholder="Choose a dataset", control_id=ids.NEW_RUN_DATASET
    ),
    FormField(
        "method", "Method", "dropdown", default=_TRAIN.method, choices=_labelled(METHODS, METHOD_LABELS),
        config="method",
    ),
    FormField(
        "model", "Model", "dropdown", default=_TRAIN.model, choices=_labelled(MODELS, {}), config="model",
        hint="resnet8/20/32 for 32×32 images; resnet18/50 or efficientnet_b0 for larger ones (pretrained)",
    ),
    FormField("epochs", "Epochs", "integer", default=_TRAIN.epochs, config="epochs"),
    FormField("batch_size", "Batch size", "integer", default=_TRAIN.batch_size, config="batch_size"),
    FormField("lr", "Learning rate", "number", default=_TRAIN.lr, config="lr"),
    FormField("seed", "Seed", "integer", default=_TRAIN.seed, config="seed"),
    FormField(
        "device", "Device", "text", default=_TRAIN.device, config="device",
        hint="auto, cpu, cuda or cuda:<index>",
    ),
    FormField(
        "image_size", "Image size", "integer", group="backbone", default=_TRAIN.image_size,
        config="image_size",
        hint="pixels: shorter side resized, centre-cropped; ≤ 32 pad-crop, larger random-resized-crop",
    ),
    FormField(
        "pretrained", "Pretrained backbone", "yes_no", group="backbone", default="no", choices=YES_NO,
        config="pretrained",
        hint="ImageNet weights of resnet18/50 or efficientnet_b0, from the workers' TORCH_HOME cache",
    ),
    FormField(
        "backbone_lr_scale", "Backbone lr × (fine-tuning)", "number", group="backbone",
        default=_TRAIN.backbone_lr_scale, config="backbone_lr_scale",
        hint="backbone learning rate = learning rate × this; the head keeps the learning rate",
    ),
    FormField(
        "lr_schedule", "LR schedule", "radio", group="backbone", default=_TRAIN.lr_schedule,
        choices=_labelled(get_args(LrSchedule), SCHEDULE_LABELS), config="lr_schedule",
    ),
    FormField(
        "warmup_epochs", "Warm-up epochs", "integer", group="backbone", default=_TRAIN.warmup_epochs,
        config="warmup_epochs", hint="linear warm-up, at most a quarter of the epochs",
    ),
    FormField(
        "dnet_recipe", "Recipe", "radio", group="dnet", default="default",
        choices=_labelled(get_args(DNetRecipe), RECIPE_LABELS),
    ),
    FormField(
        "meta_mode", "Meta mode", "radio", group="dnet", default=_DNET.meta_mode,
        choices=_labelled(META_MODES, META_MODE_LABELS), config="dnet.meta_mode",
    ),
    FormField(
        "meta_every", "Meta update every k iterations", "integer", group="dnet", default=_DNET.meta_every,
        config="dnet.meta_every",
    ),
    FormField(
        "dnet_lr", "Difficulty-Net learning rate", "number", group="dnet", optional=True, config="dnet.lr",
        hint=f"empty: the default ({_DNET.lr:g})",
    ),
    FormField(
        "baseline_run_id", "Baseline run to compare with (optional)", "dropdown", group="comparison",
        optional=True, placeholder="No baseline", control_id=ids.NEW_RUN_BASELINE,
        hint="runs on the chosen dataset; the run page shows per-class gains over it",
    ),
)  # fmt: skip
FIELDS: tuple[str, ...] = tuple(spec.name for spec in FORM_FIELDS)
# request fields the form does not offer: the API's defaults apply (the trainer sets its own threads; the
# image size follows the dataset's images)
NOT_ON_THE_FORM: frozenset[str] = frozenset({"num_threads"})
FIELD_BY_NAME: dict[str, FormField] = {spec.name: spec for spec in FORM_FIELDS}
# an API error's ``column`` (the request field, or the TrainConfig location it failed in) → form field
_FIELD_BY_CONFIG: dict[str, FormField] = {spec.config: spec for spec in FORM_FIELDS if spec.config}
_FIELD_BY_COLUMN: dict[str, FormField] = {**_FIELD_BY_CONFIG, **FIELD_BY_NAME}


def field_for_column(column: str | None) -> FormField | None:
    """The form field an API error's ``column`` is about (``epochs``, ``dnet_lr`` or ``dnet.lr``), if any."""
    return _FIELD_BY_COLUMN.get(column or "")


def _nest(location: str, value: Value, into: dict[str, Any]) -> None:
    *parents, leaf = location.split(".")
    for parent in parents:
        into = into.setdefault(parent, {})
    into[leaf] = value


def _plain(message: str) -> str:
    # pydantic prefixes a validator's own ValueError text; the user needs only the text
    return message.removeprefix("Value error, ")


def check_form(values: dict[str, Any]) -> tuple[RunCreate | None, dict[str, str]]:
    """(request, {}) or (None, {field: problem}) for what the user entered: every field is parsed by its
    kind, the ones the engine knows are checked together against TrainConfig's rules, and the request
    against its contract. All problems are reported at once; an empty optional field is left out of the
    request so the API's default applies."""
    body: dict[str, Value] = {}
    problems: dict[str, str] = {}
    for spec in FORM_FIELDS:
        value, problem = spec.parse(values.get(spec.name))
        if problem:
            problems[spec.name] = problem
        elif value is not None:
            body[spec.name] = value
    candidate: dict[str, Any] = {}
    for spec in FORM_FIELDS:
        if spec.config and spec.name in body:
            _nest(spec.config, body[spec.name], candidate)
    try:
        TrainConfig.model_validate(candidate)
    except ValidationError as exc:
        for error in exc.errors():
            located = _FIELD_BY_CONFIG.get(".".join(str(part) for part in error["loc"]))
            if located is not None and located.name in body:
                problems.setdefault(located.name, _plain(error["msg"]))
    if problems:
        return None, problems
    try:
        return RunCreate.model_validate(body), {}
    except ValidationError as exc:
        for error in exc.errors():
            problems.setdefault(str(error["loc"][0]) if error["loc"] else "", _plain(error["msg"]))
        return None, problems
