"""Run ("/runs/<run_id>"): live progress, difficulty curves, difficulty vs frequency, gains, weights, export.

Live updates: a ``dcc.Interval`` (≤ 1 s) asks the API for the epochs after the last one drawn and appends
them with ``dash.Patch``; figures are rebuilt only when the user changes what they show. The view state
store records what the figures currently contain, so every tick reconciles "drawn" with "available": a
dropped or pruned request never leaves a gap or a duplicate.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from typing import Any

from dash import Dash, Input, Output, State, ctx, dcc, html, no_update
from dash.development.base_component import Component
from pydantic import BaseModel, ValidationError

from dashboard import figures, ids
from dashboard.api_client import ApiClient, ApiError, ApiNotFound
from dashboard.components.a11y import aria
from dashboard.components.alerts import alert
from dashboard.components.cards import headline_cards
from dashboard.components.dnet_health import dnet_health_panel
from dashboard.components.layout import field as form_field
from dashboard.components.layout import section
from dashboard.exports import records_to_csv, records_to_jsonl
from dashboard.formatting import duration, percent, short_id
from dashboard.models import Run
from difficultynet.records import EpochRecord

logger = logging.getLogger(__name__)

PATH_TEMPLATE = "/runs/<run_id>"
GRAPH_CONFIG: dcc.Graph.Config = {"displaylogo": False, "responsive": True}
SLIDER_MARKS = 10
MAX_PICKS = 12


class RunViewState(BaseModel):
    """What the live figures of one page currently show (kept in a browser store, never trusted blindly)."""

    run_id: str = ""
    drawn: int = 0
    metric: figures.Metric = "difficulty"
    picks: list[int] = []
    latest: int = 0
    num_classes: int = 0

    @classmethod
    def load(cls, data: Any) -> RunViewState:
        try:
            return cls.model_validate(data or {})
        except ValidationError:
            return cls()


def status_badge(status: str) -> html.Span:
    return html.Span(status, className=f"status status-{status}")


def progress_text(run: Run) -> str:
    parts = [f"Epoch {run.epoch} / {run.epochs_total}", f"elapsed {duration(run.elapsed_s)}"]
    if not run.terminal:
        parts.append(f"ETA {duration(run.eta_s)}")
    if run.top1 is not None:
        parts.append(f"top-1 {percent(run.top1)} · balanced {percent(run.balanced_acc)}")
    if run.device or run.worker:
        parts.append(f"on {run.device or '?'} ({run.worker or 'worker ?'})")
    if run.crashes:
        resumed = "" if run.terminal else ", resumed from the last checkpoint"
        parts.append(f"worker process died {run.crashes}×{resumed}")
    return " · ".join(parts)


def run_title(run: Run) -> list[Component | str]:
    config = run.config
    mode = f" ({config.dnet.meta_mode} meta, every {config.dnet.meta_every})" if config.is_dnet else ""
    parts: list[Component | str] = [
        f"{config.method}{mode} · {config.model} · {config.epochs} epochs · batch {config.batch_size} · "
        f"lr {config.lr:g} · seed {config.seed} · dataset ",
        dcc.Link(short_id(run.dataset_id, 16), href=f"/compare?dataset={run.dataset_id}"),
    ]
    return parts


def slider_marks(latest: int) -> dict[int, str]:
    if latest <= 0:
        return {}
    step = max(1, round(latest / SLIDER_MARKS))
    marks = {e: str(e) for e in range(1, latest + 1, step)}
    marks[latest] = str(latest)
    return marks


def run_alert(run: Run) -> Component | None:
    if run.status == "failed":
        return alert(f"The run failed: {run.error or 'no error message was recorded'}")
    if run.status == "cancelled":
        return alert("The run was cancelled; the epochs it finished are kept.", "info")
    if run.cancel_requested and not run.terminal:
        return alert("Cancel requested: the run stops after the current batch.", "info")
    return None


@dataclass
class RunPollUpdate:
    """Every output of one poll tick; ``no_update`` leaves a property as it is."""

    curves: Any = no_update
    heatmap: Any = no_update
    view_state: Any = no_update
    slider_max: Any = no_update
    slider_marks: Any = no_update
    slider_value: Any = no_update
    picker_options: Any = no_update
    picker_value: Any = no_update
    picker_hidden: Any = no_update
    curves_note: Any = no_update
    title: Any = no_update
    status: Any = no_update
    progress_value: Any = no_update
    progress_max: Any = no_update
    progress_text: Any = no_update
    cancel_disabled: Any = no_update
    interval_disabled: Any = no_update
    alert: Any = no_update
    dnet_health: Any = no_update

    def as_outputs(self) -> dict[str, Any]:
        # not dataclasses.asdict: it deep-copies values, and a dash.Patch cannot be deep-copied
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _unreachable(update: RunPollUpdate, error: ApiError) -> RunPollUpdate:
    # keep polling: the backend may come back; the figures keep what they show
    update.alert = alert(f"{error.message}. Retrying every few seconds…", "warning")
    return update


def _picker_options(record: EpochRecord) -> list[dict[str, Any]]:
    classes = record.classes
    return [
        {"label": f"{classes.name[p]} ({classes.train_count[p]})", "value": classes.index[p]}
        for p in figures.frequency_order(classes)
    ]


def poll(
    api: ApiClient,
    run_id: str,
    state: RunViewState,
    metric: figures.Metric,
    picks: list[int] | None,
    slider_value: int | None,
) -> RunPollUpdate:
    """One tick: read the run (status first), then the epochs not drawn yet, and emit patches."""
    update = RunPollUpdate()
    try:
        run = api.get_run(run_id)
    except ApiNotFound:
        update.alert = alert(f"Run {run_id} was not found: it may have been deleted, or the link is wrong.")
        update.interval_disabled = True
        update.cancel_disabled = True
        update.status = status_badge("unknown")
        return update
    except ApiError as exc:
        return _unreachable(update, exc)

    lines = figures.uses_class_lines(state.num_classes) if state.num_classes else True
    wanted_picks = sorted(picks or []) if not lines else []
    rebuild = (
        state.run_id != run_id or state.drawn == 0 or metric != state.metric or wanted_picks != state.picks
    )
    # the status was read before the records: if it is terminal, the records below are complete
    try:
        records = api.epochs(run_id, after=0 if rebuild else state.drawn)
    except ApiNotFound:
        update.alert = alert(f"Run {run_id} was deleted.")
        update.interval_disabled = True
        return update
    except ApiError as exc:
        return _unreachable(update, exc)
    drawn = 0 if state.run_id != run_id else state.drawn
    new = [r for r in records if r.epoch > drawn]
    latest = records[-1].epoch if records else drawn

    update.title = run_title(run)
    update.status = status_badge(run.status)
    update.progress_value = run.epoch
    update.progress_max = max(run.epochs_total, 1)
    update.progress_text = progress_text(run)
    update.cancel_disabled = run.terminal
    update.interval_disabled = run.terminal
    update.alert = run_alert(run)

    next_state = RunViewState(
        run_id=run_id,
        drawn=latest,
        metric=metric,
        picks=state.picks,
        latest=latest,
        num_classes=state.num_classes,
    )
    if not records:
        if state.run_id != run_id:
            update.curves = figures.curves_figure([], metric)
            update.heatmap = figures.heatmap_figure([])
    else:
        first = records[0]
        num_classes = first.num_classes
        next_state.num_classes = num_classes
        if figures.uses_class_lines(num_classes):
            next_state.picks = []
            update.picker_hidden = True
        elif state.num_classes != num_classes:  # first records: offer the picker with head/median/tail picked
            next_state.picks = sorted(figures.default_picks(first.classes))
            update.picker_options = _picker_options(first)
            update.picker_value = next_state.picks
            update.picker_hidden = False
            update.curves_note = (
                f"{num_classes} classes: the curves show the many/medium/few means and the classes picked "
                "below; the heatmap shows every class."
            )
        else:
            next_state.picks = wanted_picks[:MAX_PICKS]
            if len(wanted_picks) > MAX_PICKS:
                update.picker_value = next_state.picks
        if rebuild:
            update.curves = figures.curves_figure(records, metric, next_state.picks)
            if drawn == 0:
                update.heatmap = figures.heatmap_figure(records)
            elif new:
                update.heatmap = figures.heatmap_patch(new)
        elif new:
            update.curves = figures.curves_patch(new, metric, next_state.picks)
            update.heatmap = figures.heatmap_patch(new)
        if new or rebuild:
            update.dnet_health = dnet_health_panel(records[-1])
    if latest != state.latest or rebuild:
        update.slider_max = max(latest, 1)
        update.slider_marks = slider_marks(latest)
        following = slider_value is None or slider_value >= state.latest
        if latest and following:
            update.slider_value = latest
    if next_state != state:
        update.view_state = next_state.model_dump()
    return update


# -- difficulty vs frequency ------------------------------------------------------------------------


def scatter_update(
    api: ApiClient, run_id: str, epoch: int | None, trend: bool, drawn_for: str | None
) -> tuple[Any, Any]:
    """Figure (or patch) of the scatter at ``epoch``, and the new scatter state (the run it is drawn for)."""
    if not epoch:
        return no_update, no_update
    try:
        record = api.epoch(run_id, epoch)
    except ApiError as exc:
        logger.info("scatter not updated: %s", exc.message)
        return no_update, no_update
    if record is None:
        return no_update, no_update
    key = f"{run_id}:{record.num_classes}"
    if drawn_for == key:
        return figures.frequency_scatter_patch(record, trend), no_update
    return figures.frequency_scatter_figure(record, trend), key


# -- gains over a baseline --------------------------------------------------------------------------


@dataclass
class GainsUpdate:
    figure: Any = no_update
    note: Any = no_update
    headlines: Any = no_update
    state: Any = no_update


def _gains_placeholder(update: GainsUpdate, message: str) -> GainsUpdate:
    update.figure = figures.placeholder_figure(message, "Per-class test accuracy gain")
    update.note = message
    update.state = None
    return update


def gains_update(
    api: ApiClient, run_id: str, latest: int, baseline_id: str | None, drawn_for: str | None
) -> GainsUpdate:
    """Headline cards and the per-class gains chart of this run's latest epoch over the baseline's last."""
    update = GainsUpdate()
    try:
        record = api.epoch(run_id, latest) if latest else None
        if not baseline_id:
            update.headlines = headline_cards(record)
            return _gains_placeholder(update, "Pick a baseline run above to see per-class gains.")
        baseline_run = api.get_run(baseline_id)
        baseline = api.latest_epoch(baseline_run)
    except ApiNotFound:
        update.headlines = headline_cards(None)
        return _gains_placeholder(update, "The baseline run was not found (it may have been deleted).")
    except ApiError as exc:
        update.note = exc.message
        return update
    update.headlines = headline_cards(record, baseline)
    if record is None:
        return _gains_placeholder(update, "Waiting for this run's first epoch…")
    if baseline is None:
        return _gains_placeholder(update, "The baseline run has no finished epoch yet.")
    try:
        g = figures.gains(record, baseline)
    except figures.IncomparableRuns as exc:
        return _gains_placeholder(update, f"Cannot compare: {exc}.")
    label = f"{baseline_run.config.method} run {short_id(baseline_run.id)}"
    key = f"{run_id}:{baseline_id}:{len(g.names)}"
    update.figure = (
        figures.gains_patch(g, record.epoch, label)
        if drawn_for == key
        else figures.gains_figure(g, record.epoch, label)
    )
    update.state = key
    update.note = (
        f"This run at epoch {record.epoch} vs the baseline at epoch {baseline.epoch}/{baseline.epochs_total} "
        f"({baseline_run.status}). Mean gain: "
        + ", ".join(
            f"{figures.GROUP_LABELS[grp]} {100 * m:+.1f} pts"
            for grp in ("many", "medium", "few")
            if (m := g.group_mean(grp)) is not None
        )
    )
    return update


def baseline_choices(api: ApiClient, run_id: str) -> tuple[list[dict[str, str]], str | None]:
    """Other runs on the same dataset; preselect the run's own baseline, else the newest finished CE run."""
    run = api.get_run(run_id)
    others = [r for r in api.list_runs(dataset_id=run.dataset_id) if r.id != run_id]
    options = [{"label": r.label, "value": r.id} for r in others]
    if run.baseline_run_id and any(r.id == run.baseline_run_id for r in others):
        return options, run.baseline_run_id
    ce_runs = [r for r in others if r.config.method == "ce" and r.status == "succeeded"]
    return options, ce_runs[0].id if ce_runs else None


# -- downloads --------------------------------------------------------------------------------------


def download(api: ApiClient, run_id: str, which: str) -> tuple[Any, Component | None]:
    """``dcc.Download`` data for the weights export or the metrics; an alert when it is not available."""
    try:
        if which == ids.RUN_DOWNLOAD_WEIGHTS:
            content = api.weights_json(run_id).decode("utf-8")
            return {
                "content": content,
                "filename": f"{run_id}-weights.json",
                "type": "application/json",
            }, None
        records = api.epochs(run_id)
    except ApiNotFound:
        return no_update, alert(
            "Nothing to download yet: the run has no finished epoch (or was deleted).", "info"
        )
    except ApiError as exc:
        return no_update, alert(exc.message)
    if not records:
        return no_update, alert("Nothing to download yet: the run has no finished epoch.", "info")
    if which == ids.RUN_DOWNLOAD_CSV:
        return {
            "content": records_to_csv(records),
            "filename": f"{run_id}-metrics.csv",
            "type": "text/csv",
        }, None
    return {
        "content": records_to_jsonl(records),
        "filename": f"{run_id}-metrics.jsonl",
        "type": "application/x-ndjson",
    }, None


# -- layout and callbacks ---------------------------------------------------------------------------


def _graph(graph_id: str, message: str, title: str, height: int = 440) -> dcc.Graph:
    return dcc.Graph(
        id=graph_id,
        figure=figures.placeholder_figure(message, title),
        config=GRAPH_CONFIG,
        className="graph",
        style={"height": f"{height}px"},
    )


def layout(run_id: str = "", poll_interval_ms: int = 1000, **_query: str) -> html.Div:
    waiting = "Loading…"
    return html.Div(
        [
            dcc.Store(id=ids.RUN_ID_STORE, data=run_id),
            dcc.Store(id=ids.RUN_VIEW_STATE, data=RunViewState().model_dump()),
            dcc.Store(id=ids.RUN_SCATTER_STATE),
            dcc.Store(id=ids.RUN_GAINS_STATE),
            dcc.Interval(id=ids.RUN_INTERVAL, interval=poll_interval_ms, n_intervals=0),
            html.H1(["Run ", html.Code(short_id(run_id, 12))]),
            html.P(id=ids.RUN_TITLE, className="subtitle"),
            html.Div(id=ids.RUN_ALERT),
            section(
                "Progress",
                html.Div(
                    [
                        html.Span(id=ids.RUN_STATUS, children=status_badge("loading")),
                        html.Progress(
                            id=ids.RUN_PROGRESS,
                            value="0",
                            max="1",
                            className="progress",
                            **aria(label="Epochs finished"),
                        ),
                        dcc.ConfirmDialogProvider(
                            html.Button(
                                "Cancel run",
                                id=ids.RUN_CANCEL_BUTTON,
                                className="button button-danger",
                                disabled=True,
                            ),
                            id=ids.RUN_CANCEL,
                            message="Cancel this run? It stops after the current batch; "
                            "finished epochs are kept.",
                        ),
                    ],
                    className="progress-row",
                ),
                html.P(
                    id=ids.RUN_PROGRESS_TEXT, className="progress-text", role="status", **aria(live="polite")
                ),
                html.Div(id=ids.RUN_CANCEL_MESSAGE),
                section_id="run-progress-section",
            ),
            section(
                "Is DNet learning?",
                html.Div(id=ids.RUN_DNET_HEALTH, children=dnet_health_panel(None)),
                section_id="run-dnet-health-section",
            ),
            section(
                "Difficulty curves",
                html.Div(
                    [
                        html.Span("Show", id="run-metric-label", className="field-label"),
                        dcc.RadioItems(
                            id=ids.RUN_METRIC,
                            options=[
                                {"label": label, "value": value} for value, label in figures.METRICS.items()
                            ],
                            value="difficulty",
                            inline=True,
                            className="radio-inline",
                        ),
                    ],
                    className="control-row",
                    role="radiogroup",
                    **aria(labelledby="run-metric-label"),
                ),
                html.Div(
                    form_field(
                        "Classes to draw (besides the group means)",
                        ids.RUN_CLASS_PICKER,
                        dcc.Dropdown(id=ids.RUN_CLASS_PICKER, multi=True, placeholder="Pick classes"),
                        hint=f"up to {MAX_PICKS}",
                    ),
                    id=ids.RUN_CLASS_PICKER_ROW,
                    hidden=True,
                ),
                html.P(id=ids.RUN_CURVES_NOTE, className="muted"),
                _graph(ids.RUN_CURVES, waiting, "Difficulty per class"),
                section_id="run-curves-section",
            ),
            section(
                "Difficulty vs frequency",
                html.Div(
                    [
                        html.Label("Epoch", htmlFor=ids.RUN_EPOCH_SLIDER, className="field-label"),
                        html.Div(
                            dcc.Slider(
                                id=ids.RUN_EPOCH_SLIDER,
                                min=1,
                                max=1,
                                step=1,
                                value=None,
                                marks={},
                                updatemode="mouseup",
                            ),
                            className="slider",
                        ),
                        dcc.Checklist(
                            id=ids.RUN_TREND,
                            options=[{"label": " trend line", "value": "trend"}],
                            value=["trend"],
                            className="checklist-inline",
                        ),
                    ],
                    className="control-row",
                ),
                html.P(
                    "The slider follows the latest epoch while the run trains; move it to look back.",
                    className="muted",
                ),
                _graph(ids.RUN_SCATTER, waiting, "Difficulty vs train images"),
                section_id="run-scatter-section",
            ),
            section(
                "Gains over a baseline",
                form_field(
                    "Baseline run",
                    ids.RUN_BASELINE,
                    dcc.Dropdown(id=ids.RUN_BASELINE, placeholder="Pick a baseline run on the same dataset"),
                ),
                html.Div(id=ids.RUN_HEADLINES, children=headline_cards(None)),
                html.P(id=ids.RUN_GAINS_NOTE, className="muted", role="status", **aria(live="polite")),
                _graph(ids.RUN_GAINS, waiting, "Per-class test accuracy gain"),
                section_id="run-gains-section",
            ),
            section(
                "Loss weights",
                _graph(ids.RUN_HEATMAP, waiting, "Loss weights per class and epoch", height=480),
                section_id="run-heatmap-section",
            ),
            section(
                "Export",
                html.Div(
                    [
                        html.Button(
                            "Download weights JSON",
                            id=ids.RUN_DOWNLOAD_WEIGHTS,
                            n_clicks=0,
                            className="button",
                        ),
                        html.Button(
                            "Download metrics (JSONL)",
                            id=ids.RUN_DOWNLOAD_JSONL,
                            n_clicks=0,
                            className="button button-secondary",
                        ),
                        html.Button(
                            "Download metrics (CSV)",
                            id=ids.RUN_DOWNLOAD_CSV,
                            n_clicks=0,
                            className="button button-secondary",
                        ),
                    ],
                    className="button-row",
                ),
                html.P(
                    [
                        "Weights use the ",
                        html.Code("difficulty-weights/v1"),
                        " schema; they are partial while the run trains.",
                    ],
                    className="muted",
                ),
                dcc.Download(id=ids.RUN_DOWNLOAD),
                html.Div(id=ids.RUN_DOWNLOAD_MESSAGE),
                section_id="run-export-section",
            ),
        ]
    )


def register_callbacks(app: Dash, api: ApiClient) -> None:
    @app.callback(
        output={
            "curves": Output(ids.RUN_CURVES, "figure"),
            "heatmap": Output(ids.RUN_HEATMAP, "figure"),
            "view_state": Output(ids.RUN_VIEW_STATE, "data"),
            "slider_max": Output(ids.RUN_EPOCH_SLIDER, "max"),
            "slider_marks": Output(ids.RUN_EPOCH_SLIDER, "marks"),
            "slider_value": Output(ids.RUN_EPOCH_SLIDER, "value"),
            "picker_options": Output(ids.RUN_CLASS_PICKER, "options"),
            "picker_value": Output(ids.RUN_CLASS_PICKER, "value"),
            "picker_hidden": Output(ids.RUN_CLASS_PICKER_ROW, "hidden"),
            "curves_note": Output(ids.RUN_CURVES_NOTE, "children"),
            "title": Output(ids.RUN_TITLE, "children"),
            "status": Output(ids.RUN_STATUS, "children"),
            "progress_value": Output(ids.RUN_PROGRESS, "value"),
            "progress_max": Output(ids.RUN_PROGRESS, "max"),
            "progress_text": Output(ids.RUN_PROGRESS_TEXT, "children"),
            "cancel_disabled": Output(ids.RUN_CANCEL_BUTTON, "disabled"),
            "interval_disabled": Output(ids.RUN_INTERVAL, "disabled"),
            "alert": Output(ids.RUN_ALERT, "children"),
            "dnet_health": Output(ids.RUN_DNET_HEALTH, "children"),
        },
        inputs={
            "_tick": Input(ids.RUN_INTERVAL, "n_intervals"),
            "metric": Input(ids.RUN_METRIC, "value"),
            "picks": Input(ids.RUN_CLASS_PICKER, "value"),
        },
        state={
            "run_id": State(ids.RUN_ID_STORE, "data"),
            "view_state": State(ids.RUN_VIEW_STATE, "data"),
            "slider_value": State(ids.RUN_EPOCH_SLIDER, "value"),
        },
    )
    def on_tick(
        _tick: int,
        metric: figures.Metric,
        picks: list[int] | None,
        run_id: str,
        view_state: dict[str, Any] | None,
        slider_value: int | None,
    ) -> dict[str, Any]:
        metric = metric if metric in figures.METRICS else "difficulty"
        return poll(api, run_id, RunViewState.load(view_state), metric, picks, slider_value).as_outputs()

    @app.callback(
        Output(ids.RUN_SCATTER, "figure"),
        Output(ids.RUN_SCATTER_STATE, "data"),
        Input(ids.RUN_EPOCH_SLIDER, "value"),
        Input(ids.RUN_TREND, "value"),
        State(ids.RUN_ID_STORE, "data"),
        State(ids.RUN_SCATTER_STATE, "data"),
        prevent_initial_call=True,
    )
    def on_epoch(
        epoch: int | None, trend: list[str] | None, run_id: str, drawn_for: str | None
    ) -> tuple[Any, Any]:
        return scatter_update(api, run_id, epoch, "trend" in (trend or []), drawn_for)

    @app.callback(
        Output(ids.RUN_BASELINE, "options"),
        Output(ids.RUN_BASELINE, "value"),
        Input(ids.RUN_ID_STORE, "data"),
    )
    def on_run(run_id: str) -> tuple[Any, Any]:
        try:
            return baseline_choices(api, run_id)
        except ApiError as exc:
            logger.info("no baseline choices: %s", exc.message)
            return [], None

    @app.callback(
        Output(ids.RUN_GAINS, "figure"),
        Output(ids.RUN_GAINS_NOTE, "children"),
        Output(ids.RUN_HEADLINES, "children"),
        Output(ids.RUN_GAINS_STATE, "data"),
        Input(ids.RUN_VIEW_STATE, "data"),
        Input(ids.RUN_BASELINE, "value"),
        State(ids.RUN_ID_STORE, "data"),
        State(ids.RUN_GAINS_STATE, "data"),
        prevent_initial_call=True,
    )
    def on_gains(
        view_state: dict[str, Any] | None, baseline_id: str | None, run_id: str, drawn_for: str | None
    ) -> tuple[Any, Any, Any, Any]:
        latest = RunViewState.load(view_state).latest
        u = gains_update(api, run_id, latest, baseline_id, drawn_for)
        return u.figure, u.note, u.headlines, u.state

    @app.callback(
        Output(ids.RUN_CANCEL_MESSAGE, "children"),
        Input(ids.RUN_CANCEL, "submit_n_clicks"),
        State(ids.RUN_ID_STORE, "data"),
        prevent_initial_call=True,
    )
    def on_cancel(_clicks: int, run_id: str) -> Component:
        try:
            api.cancel_run(run_id)
        except ApiError as exc:
            return alert(exc.message)
        return alert("Cancel requested: the run stops after the current batch.", "info")

    @app.callback(
        Output(ids.RUN_DOWNLOAD, "data"),
        Output(ids.RUN_DOWNLOAD_MESSAGE, "children"),
        Input(ids.RUN_DOWNLOAD_WEIGHTS, "n_clicks"),
        Input(ids.RUN_DOWNLOAD_JSONL, "n_clicks"),
        Input(ids.RUN_DOWNLOAD_CSV, "n_clicks"),
        State(ids.RUN_ID_STORE, "data"),
        prevent_initial_call=True,
    )
    def on_download(_w: int, _j: int, _c: int, run_id: str) -> tuple[Any, Any]:
        return download(api, run_id, str(ctx.triggered_id))
