"""The run page against a baseline run: the baseline choices, headline cards and the gains chart."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dash import no_update

from dashboard.analysis.gains import IncomparableRuns, gains
from dashboard.api_client import ApiClient, ApiError, ApiNotFound
from dashboard.components.cards import headline_cards
from dashboard.figures.gains import gains_figure, gains_patch
from dashboard.figures.style import placeholder_figure
from dashboard.formatting import short_id

GAINS_TITLE = "Per-class test accuracy gain"


@dataclass
class GainsUpdate:
    figure: Any = no_update
    note: Any = no_update
    headlines: Any = no_update
    state: Any = no_update


def _gains_placeholder(update: GainsUpdate, message: str) -> GainsUpdate:
    update.figure = placeholder_figure(message, GAINS_TITLE)
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
        g = gains(record, baseline)
    except IncomparableRuns as exc:
        return _gains_placeholder(update, f"Cannot compare: {exc}.")
    label = f"{baseline_run.config.method} run {short_id(baseline_run.id)}"
    key = f"{run_id}:{baseline_id}:{len(g.names)}"
    update.figure = (
        gains_patch(g, record.epoch, label) if drawn_for == key else gains_figure(g, record.epoch, label)
    )
    update.state = key
    update.note = (
        f"This run at epoch {record.epoch} vs the baseline at epoch {baseline.epoch}/{baseline.epochs_total} "
        f"({baseline_run.status}). Mean gain: {g.summary()}"
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
