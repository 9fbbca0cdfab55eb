"""New run ("/runs/new"): a form for every training option, presets, and the API's field messages."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from dash import Dash, Input, Output, State, ctx, dcc, html, no_update
from dash.development.base_component import Component
from pydantic import ValidationError

from dashboard import ids
from dashboard.api_client import ApiClient, ApiError, ApiValidationError
from dashboard.components.a11y import aria
from dashboard.components.alerts import alert
from dashboard.components.layout import field as form_field
from dashboard.components.layout import section
from dashboard.models import RunRequest
from difficultynet.config import META_MODES, METHODS, MODELS, RECOMMENDED_DNET_METHOD, DNetConfig, TrainConfig

logger = logging.getLogger(__name__)

PATH = "/runs/new"

METHOD_LABELS: dict[str, str] = {
    "ce": "ce — cross-entropy",
    "focal": "focal — focal loss",
    "cb": "cb — class-balanced (effective number)",
    "cdb": "cdb — class-wise difficulty-balanced",
    "bsce": "bsce — balanced softmax",
    "ldam-drw": "ldam-drw — LDAM with deferred re-weighting",
    "dnet": "dnet — Difficulty-Net",
    "dnet-bsce": "dnet-bsce — Difficulty-Net over balanced softmax",
}
META_MODE_LABELS: dict[str, str] = {
    "full": "full — virtual step over all parameters (faithful)",
    "head": "head — virtual step on the classifier only (fast)",
    "driver_only": "driver_only — no meta gradient (released code)",
}

# Form fields, in the order of RunRequest; each has an error slot next to it.
FIELDS: tuple[str, ...] = tuple(RunRequest.model_fields)


@dataclass(frozen=True)
class Preset:
    label: str
    values: dict[str, Any]
    hint: str


_DNET_DEFAULTS = DNetConfig()
PRESETS: dict[str, Preset] = {
    ids.NEW_RUN_PRESET_RECOMMENDED: Preset(
        "Recommended DNet",
        {
            "method": RECOMMENDED_DNET_METHOD,
            "dnet_recipe": "default",
            "meta_mode": _DNET_DEFAULTS.meta_mode,
            "meta_every": _DNET_DEFAULTS.meta_every,
        },
        "Difficulty-Net with the library's recipe: a meta-signal that survives the LR schedule, "
        "the whole balanced meta set each step, close to plain training cost.",
    ),
    ids.NEW_RUN_PRESET_FAITHFUL: Preset(
        "Paper DNet",
        {"method": "dnet", "dnet_recipe": "paper", "meta_mode": "full", "meta_every": 1},
        "Difficulty-Net exactly as the paper describes it: cross-entropy, bilevel step over all "
        "parameters at the current lr, Adam with L2 decay, constant driver weight.",
    ),
    ids.NEW_RUN_PRESET_CE: Preset(
        "CE baseline",
        {"method": "ce", "dnet_recipe": "default", "meta_mode": _DNET_DEFAULTS.meta_mode, "meta_every": 1},
        "Plain cross-entropy: the baseline for the per-class gains chart.",
    ),
}
PRESET_FIELDS: tuple[str, ...] = ("method", "dnet_recipe", "meta_mode", "meta_every")
RECIPE_LABELS: dict[str, str] = {
    "default": "default — the library's recipe (recommended)",
    "paper": "paper — as published (its weights fade when the LR drops)",
}

_DEFAULTS = TrainConfig()


def _number(field_name: str, control_id: str, value: float | int | None) -> Component:
    """A text box for a number: a browser number input turns what it cannot parse (or what breaks its
    ``min``) into an empty value, and the form would then silently use the default. Here the server sees
    exactly what was typed and says what is wrong with it (:func:`check_numbers`)."""
    return dcc.Input(
        id=control_id,
        type="text",
        value=None if value is None else f"{value:g}",
        debounce=False,
        className="input",
        required=field_name not in OPTIONAL_NUMBERS,
    )


def layout(dataset: str | None = None, **_query: str) -> html.Div:
    err = ids.new_run_field_error
    preset_buttons = [
        html.Button(
            preset.label, id=button_id, n_clicks=0, className="button button-secondary", title=preset.hint
        )
        for button_id, preset in PRESETS.items()
    ]
    return html.Div(
        [
            html.H1("New run"),
            dcc.Store(id=ids.NEW_RUN_QUERY, data={"dataset": dataset}),
            dcc.Location(id=ids.NEW_RUN_REDIRECT, refresh="callback-nav"),
            html.Div(id=ids.NEW_RUN_ALERT),
            section(
                "Presets",
                html.Div(preset_buttons, className="button-row", role="group", **aria(label="Presets")),
                html.Ul(
                    [html.Li([html.Strong(p.label), f": {p.hint}"]) for p in PRESETS.values()],
                    className="hints",
                ),
                section_id="new-run-presets",
            ),
            section(
                "Training options",
                html.Div(
                    [
                        form_field(
                            "Dataset",
                            ids.NEW_RUN_DATASET,
                            dcc.Dropdown(
                                id=ids.NEW_RUN_DATASET, placeholder="Choose a dataset", clearable=False
                            ),
                            error_id=err("dataset_id"),
                        ),
                        form_field(
                            "Method",
                            ids.NEW_RUN_METHOD,
                            dcc.Dropdown(
                                id=ids.NEW_RUN_METHOD,
                                value=_DEFAULTS.method,
                                clearable=False,
                                options=[{"label": METHOD_LABELS.get(m, m), "value": m} for m in METHODS],
                            ),
                            error_id=err("method"),
                        ),
                        form_field(
                            "Model",
                            ids.NEW_RUN_MODEL,
                            dcc.Dropdown(
                                id=ids.NEW_RUN_MODEL,
                                value=_DEFAULTS.model,
                                clearable=False,
                                options=[{"label": m, "value": m} for m in MODELS],
                            ),
                            hint="resnet8/20/32 for 32×32 images; resnet18/50 for larger ones",
                            error_id=err("model"),
                        ),
                        form_field(
                            "Epochs",
                            ids.NEW_RUN_EPOCHS,
                            _number("epochs", ids.NEW_RUN_EPOCHS, _DEFAULTS.epochs),
                            error_id=err("epochs"),
                        ),
                        form_field(
                            "Batch size",
                            ids.NEW_RUN_BATCH_SIZE,
                            _number("batch_size", ids.NEW_RUN_BATCH_SIZE, _DEFAULTS.batch_size),
                            error_id=err("batch_size"),
                        ),
                        form_field(
                            "Learning rate",
                            ids.NEW_RUN_LR,
                            _number("lr", ids.NEW_RUN_LR, _DEFAULTS.lr),
                            error_id=err("lr"),
                        ),
                        form_field(
                            "Seed",
                            ids.NEW_RUN_SEED,
                            _number("seed", ids.NEW_RUN_SEED, _DEFAULTS.seed),
                            error_id=err("seed"),
                        ),
                        form_field(
                            "Device",
                            ids.NEW_RUN_DEVICE,
                            dcc.Input(
                                id=ids.NEW_RUN_DEVICE, type="text", value=_DEFAULTS.device, className="input"
                            ),
                            hint="auto, cpu, cuda or cuda:<index>",
                            error_id=err("device"),
                        ),
                    ],
                    className="form-grid",
                ),
                html.Fieldset(
                    [
                        html.Legend("Difficulty-Net (dnet methods only)"),
                        html.Div(
                            [
                                form_field(
                                    "Recipe",
                                    ids.NEW_RUN_DNET_RECIPE,
                                    dcc.RadioItems(
                                        id=ids.NEW_RUN_DNET_RECIPE,
                                        value="default",
                                        options=[
                                            {"label": label, "value": value}
                                            for value, label in RECIPE_LABELS.items()
                                        ],
                                        className="radio-list",
                                    ),
                                    error_id=err("dnet_recipe"),
                                ),
                                form_field(
                                    "Meta mode",
                                    ids.NEW_RUN_META_MODE,
                                    dcc.RadioItems(
                                        id=ids.NEW_RUN_META_MODE,
                                        value=_DNET_DEFAULTS.meta_mode,
                                        options=[
                                            {"label": META_MODE_LABELS.get(m, m), "value": m}
                                            for m in META_MODES
                                        ],
                                        className="radio-list",
                                    ),
                                    error_id=err("meta_mode"),
                                ),
                                form_field(
                                    "Meta update every k iterations",
                                    ids.NEW_RUN_META_EVERY,
                                    _number("meta_every", ids.NEW_RUN_META_EVERY, _DNET_DEFAULTS.meta_every),
                                    error_id=err("meta_every"),
                                ),
                                form_field(
                                    "Difficulty-Net learning rate",
                                    ids.NEW_RUN_DNET_LR,
                                    _number("dnet_lr", ids.NEW_RUN_DNET_LR, None),
                                    hint=f"empty: the default ({_DNET_DEFAULTS.lr:g})",
                                    error_id=err("dnet_lr"),
                                ),
                            ],
                            className="form-grid",
                        ),
                    ],
                    className="fieldset",
                ),
                form_field(
                    "Baseline run to compare with (optional)",
                    ids.NEW_RUN_BASELINE,
                    dcc.Dropdown(id=ids.NEW_RUN_BASELINE, placeholder="No baseline"),
                    hint="runs on the chosen dataset; the run page shows per-class gains over it",
                    error_id=err("baseline_run_id"),
                ),
                html.Button(
                    "Start run", id=ids.NEW_RUN_SUBMIT, n_clicks=0, className="button", type="button"
                ),
                section_id="new-run-form",
            ),
        ]
    )


def dataset_options(api: ApiClient) -> list[dict[str, str]]:
    return [{"label": f"{d.label} · {len(d.classes)} classes", "value": d.id} for d in api.list_datasets()]


def baseline_options(api: ApiClient, dataset_id: str | None) -> list[dict[str, str]]:
    if not dataset_id:
        return []
    return [{"label": run.label, "value": run.id} for run in api.list_runs(dataset_id=dataset_id)]


def load_form(
    api: ApiClient, wanted_dataset: str | None
) -> tuple[list[dict[str, str]], str | None, Component | None]:
    """Dataset options, the preselected dataset (from ``?dataset=``) and an alert if any."""
    try:
        options = dataset_options(api)
    except ApiError as exc:
        return [], None, alert(exc.message)
    values = {o["value"] for o in options}
    if not options:
        return [], None, alert("No datasets yet: upload one on the Datasets page first.", "info")
    if wanted_dataset and wanted_dataset not in values:
        return (
            options,
            None,
            alert(f"Dataset {wanted_dataset} does not exist (it may have been deleted).", "warning"),
        )
    return options, wanted_dataset or options[0]["value"], None


@dataclass
class SubmitResult:
    redirect: str | None = None
    alert: Component | None = None
    field_errors: dict[str, str] = field(default_factory=dict)


INT_FIELDS: frozenset[str] = frozenset({"epochs", "batch_size", "seed", "meta_every"})
FLOAT_FIELDS: frozenset[str] = frozenset({"lr", "dnet_lr"})
OPTIONAL_NUMBERS: frozenset[str] = frozenset({"dnet_lr"})
# form field → (TrainConfig location, where a validation error of that location is shown)
_CONFIG_FIELDS: dict[str, tuple[str, ...]] = {
    "epochs": ("epochs",),
    "batch_size": ("batch_size",),
    "lr": ("lr",),
    "seed": ("seed",),
    "meta_every": ("dnet", "meta_every"),
    "dnet_lr": ("dnet", "lr"),
}


def _parse_number(name: str, value: Any) -> tuple[int | float | None, str | None]:
    """(number, None) or (None, plain-words problem) for what the user typed into a number field."""
    text = str(value).strip() if value is not None else ""
    if not text:
        return None, None if name in OPTIONAL_NUMBERS else "required: enter a value"
    try:
        number = float(text)
    except ValueError:
        return None, f"“{text}” is not a number"
    if number != number or number in (float("inf"), float("-inf")):
        return None, f"“{text}” is not a finite number"
    if name in INT_FIELDS:
        if not number.is_integer():
            return None, "must be a whole number"
        return int(number), None
    return number, None


def check_numbers(values: dict[str, Any]) -> tuple[dict[str, int | float], dict[str, str]]:
    """Parse every number field and check it against TrainConfig's ranges: all problems at once."""
    numbers: dict[str, int | float] = {}
    problems: dict[str, str] = {}
    for name in sorted(INT_FIELDS | FLOAT_FIELDS):
        number, problem = _parse_number(name, values.get(name))
        if problem:
            problems[name] = problem
        elif number is not None:
            numbers[name] = number
    candidate: dict[str, Any] = {"dnet": {}}
    for name, number in numbers.items():
        location = _CONFIG_FIELDS[name]
        (candidate["dnet"] if location[0] == "dnet" else candidate)[location[-1]] = number
    try:
        TrainConfig.model_validate(candidate)
    except ValidationError as exc:
        for error in exc.errors():
            location = tuple(str(part) for part in error["loc"])
            for name, config_location in _CONFIG_FIELDS.items():
                if location == config_location and name in numbers:
                    problems.setdefault(name, error["msg"])
    return numbers, problems


def submit_run(api: ApiClient, values: dict[str, Any]) -> SubmitResult:
    """Check every field, POST the form only when all are valid; on 422 map each error to its field."""
    numbers, problems = check_numbers(values)
    clean: dict[str, Any] = {}
    for name in FIELDS:
        if name in INT_FIELDS or name in FLOAT_FIELDS:
            if name in numbers:
                clean[name] = numbers[name]
            continue
        value = values.get(name)
        if value not in ("", None):
            clean[name] = value
    if problems:
        count = len(problems)
        message = f"Please fix the {count} highlighted field{'s' if count > 1 else ''}: no run was started."
        return SubmitResult(alert=alert(message), field_errors=problems)
    try:
        run = api.create_run(RunRequest.model_validate(clean))
    except ApiValidationError as exc:
        field_errors: dict[str, str] = {}
        unplaced: list[str] = []
        for error in exc.errors:
            name = (error.column or "").split(".")[-1]
            name = {"lr": "dnet_lr"}.get(name, name) if (error.column or "").startswith("dnet.") else name
            if name in FIELDS:
                field_errors[name] = (
                    error.reason if name not in field_errors else f"{field_errors[name]}; {error.reason}"
                )
            else:
                unplaced.append(f"{error.column}: {error.reason}" if error.column else error.reason)
        message = "The API rejected the run: " + ("; ".join(unplaced) if unplaced else exc.message)
        return SubmitResult(alert=alert(message), field_errors=field_errors)
    except ApiError as exc:
        return SubmitResult(alert=alert(exc.message))
    return SubmitResult(redirect=f"/runs/{run.id}")


def register_callbacks(app: Dash, api: ApiClient) -> None:
    @app.callback(
        Output(ids.NEW_RUN_DATASET, "options"),
        Output(ids.NEW_RUN_DATASET, "value"),
        Output(ids.NEW_RUN_ALERT, "children"),
        Input(ids.NEW_RUN_QUERY, "data"),
    )
    def on_load(query: dict[str, Any] | None) -> tuple[Any, Any, Any]:
        return load_form(api, (query or {}).get("dataset"))

    @app.callback(
        Output(ids.NEW_RUN_BASELINE, "options"),
        Output(ids.NEW_RUN_BASELINE, "value"),
        Output(ids.new_run_field_error("baseline_run_id"), "children"),
        Input(ids.NEW_RUN_DATASET, "value"),
    )
    def on_dataset(dataset_id: str | None) -> tuple[Any, Any, Any]:
        try:
            return baseline_options(api, dataset_id), None, None
        except ApiError as exc:
            return [], None, exc.message

    @app.callback(
        [
            Output(control, "value", allow_duplicate=True)
            for control in (
                ids.NEW_RUN_METHOD,
                ids.NEW_RUN_DNET_RECIPE,
                ids.NEW_RUN_META_MODE,
                ids.NEW_RUN_META_EVERY,
            )
        ],
        [Input(button_id, "n_clicks") for button_id in PRESETS],
        prevent_initial_call=True,
    )
    def on_preset(*_clicks: int) -> list[Any]:
        preset = PRESETS.get(str(ctx.triggered_id))
        if preset is None:
            return [no_update] * len(PRESET_FIELDS)
        return [preset.values[name] for name in PRESET_FIELDS]

    controls = {
        "dataset_id": ids.NEW_RUN_DATASET,
        "method": ids.NEW_RUN_METHOD,
        "model": ids.NEW_RUN_MODEL,
        "epochs": ids.NEW_RUN_EPOCHS,
        "batch_size": ids.NEW_RUN_BATCH_SIZE,
        "lr": ids.NEW_RUN_LR,
        "seed": ids.NEW_RUN_SEED,
        "dnet_recipe": ids.NEW_RUN_DNET_RECIPE,
        "meta_mode": ids.NEW_RUN_META_MODE,
        "meta_every": ids.NEW_RUN_META_EVERY,
        "device": ids.NEW_RUN_DEVICE,
        "baseline_run_id": ids.NEW_RUN_BASELINE,
        "dnet_lr": ids.NEW_RUN_DNET_LR,
    }
    assert set(controls) == set(FIELDS), "every RunRequest field needs a form control"

    @app.callback(
        output={
            "redirect": Output(ids.NEW_RUN_REDIRECT, "href"),
            "alert": Output(ids.NEW_RUN_ALERT, "children", allow_duplicate=True),
            "errors": [
                Output(ids.new_run_field_error(name), "children", allow_duplicate=True) for name in FIELDS
            ],
        },
        inputs={"_clicks": Input(ids.NEW_RUN_SUBMIT, "n_clicks")},
        state={"values": {name: State(control, "value") for name, control in controls.items()}},
        prevent_initial_call=True,
    )
    def on_submit(_clicks: int, values: dict[str, Any]) -> dict[str, Any]:
        result = submit_run(api, values)
        return {
            "redirect": result.redirect or no_update,
            "alert": result.alert,
            "errors": [result.field_errors.get(name) for name in FIELDS],
        }
