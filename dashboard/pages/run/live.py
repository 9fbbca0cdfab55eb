"""The live tick of the run page: read the run (status first), then the epochs not drawn yet, and emit
figures or :class:`dash.Patch` deltas for exactly what changed (the plan comes from :mod:`run_view.poll`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any

from dash import dcc, html, no_update
from dash.development.base_component import Component

from dashboard.analysis.columns import Metric
from dashboard.api_client import ApiClient, ApiError, ApiNotFound
from dashboard.components.alerts import alert
from dashboard.components.dnet_health import dnet_health_panel
from dashboard.figures.curves import curves_figure, curves_patch
from dashboard.figures.heatmap import heatmap_figure, heatmap_patch
from dashboard.figures.style import placeholder_figure
from dashboard.formatting import short_id
from dashboard.models import Run
from dashboard.run_view import text
from dashboard.run_view.poll import FigureAction, TickPlan, plan_fetch, plan_tick
from dashboard.run_view.state import RunViewState, is_run_id
from difficultynet.contracts.records import EpochRecord

CURVES_TITLE = "Difficulty per class"
HEATMAP_TITLE = "Loss weights per class and epoch"


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
    class_options: Any = no_update
    class_names: Any = no_update

    def as_outputs(self) -> dict[str, Any]:
        # not dataclasses.asdict: it deep-copies values, and a dash.Patch cannot be deep-copied
        return {f.name: getattr(self, f.name) for f in fields(self)}


def status_badge(status: str) -> html.Span:
    return html.Span(status, className=f"status status-{status}")


def run_title(run: Run) -> list[Component | str]:
    config = run.config
    mode = f" ({config.dnet.meta_mode} meta, every {config.dnet.meta_every})" if config.is_dnet else ""
    memory = text.memory_text(run)
    return [
        f"{config.method}{mode} · {config.model} · {config.epochs} epochs · batch {config.batch_size} · "
        f"lr {config.lr:g} · seed {config.seed} · dataset ",
        dcc.Link(short_id(run.dataset_id, 16), href=f"/compare?dataset={run.dataset_id}"),
        *([html.Br(), html.Span(memory, className="run-memory")] if memory else []),
    ]


def run_alert(run: Run) -> Component | None:
    notice = text.run_notice(run)
    return alert(*notice) if notice else None


def _stop_polling(update: RunPollUpdate) -> RunPollUpdate:
    update.interval_disabled = True
    update.cancel_disabled = True
    update.status = status_badge("unknown")
    return update


def _unreachable(update: RunPollUpdate, error: ApiError) -> RunPollUpdate:
    # keep polling: the backend may come back; the figures keep what they show
    update.interval_disabled = False  # the timer pauses while a tick is in flight (see the page module)
    update.alert = alert(f"{error.message}. Retrying every few seconds…", "warning")
    return update


def poll(
    api: ApiClient,
    run_id: str,
    state: RunViewState,
    metric: Metric,
    picks: list[int] | None,
    slider_value: int | None,
) -> RunPollUpdate:
    """One tick: read the run (status first), then the epochs not drawn yet, and emit patches."""
    update = RunPollUpdate()
    if not is_run_id(run_id):
        update.alert = alert(text.not_a_run_id(run_id))
        return _stop_polling(update)
    try:
        run = api.get_run(run_id)
    except ApiNotFound:
        update.alert = alert(text.run_not_found(run_id))
        return _stop_polling(update)
    except ApiError as exc:
        return _unreachable(update, exc)

    fetch = plan_fetch(state, run_id, metric, picks)
    # the status was read before the records: if it is terminal, the records below are complete
    try:
        records = api.epochs(run_id, after=fetch.after)
    except ApiNotFound:
        update.alert = alert(f"Run {run_id} was deleted.")
        update.interval_disabled = True
        return update
    except ApiError as exc:
        return _unreachable(update, exc)

    update.title = run_title(run)
    update.status = status_badge(run.status)
    update.progress_value, update.progress_max = text.progress_bar(run)
    update.progress_text = text.progress_text(run)
    update.cancel_disabled = run.terminal
    update.interval_disabled = run.terminal
    update.alert = run_alert(run)

    plan = plan_tick(state, run_id, metric, fetch, records, terminal=run.terminal, slider_value=slider_value)
    _render(update, plan, metric, run.status)
    if plan.next_state != state:
        update.view_state = plan.next_state.model_dump()
    return update


def _render(update: RunPollUpdate, plan: TickPlan, metric: Metric, status: str) -> None:
    picks = plan.next_state.picks
    update.curves = _figure(
        plan.curves,
        plan.curve_records,
        CURVES_TITLE,
        status,
        build=lambda records: curves_figure(records, metric, picks),
        append=lambda records: curves_patch(records, metric, picks),
    )
    update.heatmap = _figure(
        plan.heatmap, plan.heatmap_records, HEATMAP_TITLE, status, build=heatmap_figure, append=heatmap_patch
    )
    if plan.curves == "ended":
        update.dnet_health = html.P(text.ended_before_first_epoch(status), className="muted")
    elif plan.health_record is not None:
        update.dnet_health = dnet_health_panel(plan.health_record)
    if plan.picker == "hide":
        update.picker_hidden = True
    elif plan.picker == "offer":
        update.picker_options = plan.picker_options
        update.picker_value = picks
        update.picker_hidden = False
        update.curves_note = text.summary_note(plan.next_state.num_classes)
    elif plan.picker == "trim":
        update.picker_value = picks
    if plan.class_options is not None:
        update.class_options = plan.class_options
        update.class_names = plan.class_names
    if plan.slider is not None:
        update.slider_max = plan.slider.max
        update.slider_marks = plan.slider.marks
        if plan.slider.value is not None:
            update.slider_value = plan.slider.value


def _figure(
    action: FigureAction,
    records: Sequence[EpochRecord],
    title: str,
    status: str,
    *,
    build: Callable[[Sequence[EpochRecord]], Any],
    append: Callable[[Sequence[EpochRecord]], Any],
) -> Any:
    if action == "build":
        return build(records)
    if action == "append":
        return append(records)
    if action == "waiting":
        return build([])
    if action == "ended":
        return placeholder_figure(text.ended_before_first_epoch(status), title)
    return no_update
