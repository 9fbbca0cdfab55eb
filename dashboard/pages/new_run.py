"""New run ("/runs/new"): the training-options form, presets, and the API's field messages.

The form's fields are one table, :data:`dashboard.run_form.FORM_FIELDS`: this page lays them out, checks
them and sends them without naming any field itself (presets aside). To add a field, add its entry there.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from dash import Dash, Input, Output, State, ctx, dcc, html, no_update
from dash.development.base_component import Component

from dashboard import ids
from dashboard.api_client import ApiClient, ApiError, ApiValidationError
from dashboard.components.a11y import aria
from dashboard.components.alerts import alert
from dashboard.components.layout import field as form_field
from dashboard.components.layout import section
from dashboard.run_form import FIELD_BY_NAME, FORM_FIELDS, FormField, FormGroup, check_form, field_for_column
from difficultynet.contracts.config import RECOMMENDED_DNET_METHOD, DNetConfig, finetune_preset

logger = logging.getLogger(__name__)

PATH = "/runs/new"


@dataclass(frozen=True)
class Preset:
    label: str
    values: dict[str, Any]
    hint: str


_DNET_DEFAULTS = DNetConfig()
_FINETUNE = finetune_preset()
PRESETS: dict[str, Preset] = {
    ids.NEW_RUN_PRESET_RECOMMENDED: Preset(
        "Recommended DNet",
        {
            "method": RECOMMENDED_DNET_METHOD,
            "dnet_recipe": "default",
            "meta_mode": _DNET_DEFAULTS.meta_mode,
            "meta_every": _DNET_DEFAULTS.meta_every,
        },
        "Difficulty-Net over Balanced Softmax with the library's recipe: a meta-signal that survives the "
        "LR schedule, the whole balanced meta set each step, weights that favour the classes the loss "
        "still gets wrong (at most 2× apart), about 1.1× plain training cost.",
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
    ids.NEW_RUN_PRESET_FINETUNE: Preset(
        "Fine-tune pretrained",
        {
            "method": RECOMMENDED_DNET_METHOD,
            "dnet_recipe": "default",
            "meta_mode": "head",
            "meta_every": 1,
            "image_size": 112,
            "pretrained": "yes",
            **{
                name: _FINETUNE[name]
                for name in ("model", "epochs", "lr", "backbone_lr_scale", "lr_schedule", "warmup_epochs")
            },
        },
        "Real photos on an ImageNet-pretrained resnet18 at 112 px: head at lr 0.01, backbone at a tenth "
        "of it, 10 cosine epochs; DNet in head mode. The other presets keep these backbone fields.",
    ),
}
# Every field some preset sets; a preset leaves the fields it does not name as they are.
PRESET_FIELDS: tuple[str, ...] = tuple(dict.fromkeys(name for p in PRESETS.values() for name in p.values))


def control(spec: FormField) -> Component:
    """The input for one form field, by its kind. Numbers are text boxes: a browser number input turns
    what it cannot parse (or what breaks its ``min``) into an empty value, and the form would then
    silently use the default; here the check sees exactly what was typed and says what is wrong."""
    options = [{"label": label, "value": value} for value, label in spec.choices]
    if spec.kind == "dropdown":
        return dcc.Dropdown(
            id=spec.control,
            value=spec.default,
            options=options,
            placeholder=spec.placeholder,
            clearable=spec.optional,
        )
    if spec.kind in ("radio", "yes_no"):
        return dcc.RadioItems(id=spec.control, value=spec.default, options=options, className="radio-list")
    shown = f"{spec.default:g}" if isinstance(spec.default, int | float) else spec.default
    return dcc.Input(
        id=spec.control,
        type="text",
        value=shown,
        debounce=False,
        className="input",
        placeholder=spec.placeholder,
        required=not spec.optional,
    )


def fields_of(group: FormGroup) -> list[html.Div]:
    """The labelled controls of one part of the form, in table order."""
    return [
        form_field(spec.label, spec.control, control(spec), hint=spec.hint, error_id=spec.error_slot)
        for spec in FORM_FIELDS
        if spec.group == group
    ]


def layout(dataset: str | None = None, **_query: str) -> html.Div:
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
                html.Div(fields_of("training"), className="form-grid"),
                html.Fieldset(
                    [
                        html.Legend("Images and backbone"),
                        html.Div(fields_of("backbone"), className="form-grid"),
                    ],
                    className="fieldset",
                ),
                html.Fieldset(
                    [
                        html.Legend("Difficulty-Net (dnet methods only)"),
                        html.Div(fields_of("dnet"), className="form-grid"),
                    ],
                    className="fieldset",
                ),
                *fields_of("comparison"),
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


def submit_run(api: ApiClient, values: dict[str, Any]) -> SubmitResult:
    """Check every field, POST the form only when all are valid; on 422 map each error to its field."""
    request, problems = check_form(values)
    if request is None:
        count = len(problems)
        message = f"Please fix the {count} highlighted field{'s' if count > 1 else ''}: no run was started."
        return SubmitResult(alert=alert(message), field_errors=problems)
    try:
        run = api.create_run(request)
    except ApiValidationError as exc:
        field_errors: dict[str, str] = {}
        unplaced: list[str] = []
        for error in exc.errors:
            spec = field_for_column(error.column)
            if spec is None:
                unplaced.append(f"{error.column}: {error.reason}" if error.column else error.reason)
            elif spec.name in field_errors:
                field_errors[spec.name] += f"; {error.reason}"
            else:
                field_errors[spec.name] = error.reason
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
        [Output(FIELD_BY_NAME[name].control, "value", allow_duplicate=True) for name in PRESET_FIELDS],
        [Input(button_id, "n_clicks") for button_id in PRESETS],
        prevent_initial_call=True,
    )
    def on_preset(*_clicks: int) -> list[Any]:
        preset = PRESETS.get(str(ctx.triggered_id))
        if preset is None:
            return [no_update] * len(PRESET_FIELDS)
        return [preset.values.get(name, no_update) for name in PRESET_FIELDS]

    @app.callback(
        output={
            "redirect": Output(ids.NEW_RUN_REDIRECT, "href"),
            "alert": Output(ids.NEW_RUN_ALERT, "children", allow_duplicate=True),
            "errors": [Output(spec.error_slot, "children", allow_duplicate=True) for spec in FORM_FIELDS],
        },
        inputs={"_clicks": Input(ids.NEW_RUN_SUBMIT, "n_clicks")},
        state={"values": {spec.name: State(spec.control, "value") for spec in FORM_FIELDS}},
        prevent_initial_call=True,
    )
    def on_submit(_clicks: int, values: dict[str, Any]) -> dict[str, Any]:
        result = submit_run(api, values)
        return {
            "redirect": result.redirect or no_update,
            "alert": result.alert,
            "errors": [result.field_errors.get(spec.name) for spec in FORM_FIELDS],
        }
