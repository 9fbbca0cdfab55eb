"""The run page's views of one chosen epoch (the epoch slider): difficulty vs frequency, "is the
difficulty right?", and the confusions (heatmap up to 100 classes, most confused pairs at any size).

Two reads serve all three: the epoch's record (scatter, difficulty check, class names and counts) and its
confusions of every class (``GET /api/runs/{id}/epochs/{epoch}/confusions``; the record carries none).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from dash import html, no_update
from dash.development.base_component import Component

from dashboard.analysis.confusions import (
    HEATMAP_CLASS_LIMIT,
    Confusions,
    confusion_matrix,
    most_confused_pairs,
)
from dashboard.analysis.difficulty_check import DifficultyCheck, difficulty_check
from dashboard.api_client import ApiClient, ApiError
from dashboard.figures.confusions import confusion_heatmap_figure
from dashboard.figures.difficulty_check import difficulty_vs_count_figure, difficulty_vs_error_figure
from dashboard.figures.scatter import frequency_scatter_figure, frequency_scatter_patch
from dashboard.figures.style import placeholder_figure
from dashboard.formatting import percent
from dashboard.pages.run.class_panel import class_link
from dashboard.run_view.state import clamp_epoch
from difficultynet.contracts.records import EpochRecord

logger = logging.getLogger(__name__)

CONFUSIONS_TITLE = "Confusions"


@dataclass
class EpochViewsUpdate:
    scatter: Any = no_update
    scatter_state: Any = no_update
    confusions: Any = no_update
    pairs: Any = no_update
    check: Any = no_update
    check_count: Any = no_update
    check_note: Any = no_update

    def as_outputs(self) -> tuple[Any, ...]:
        return (
            self.scatter,
            self.scatter_state,
            self.confusions,
            self.pairs,
            self.check,
            self.check_count,
            self.check_note,
        )


def epoch_views_update(
    api: ApiClient, run_id: str, epoch: int | None, trend: bool, drawn_for: str | None
) -> EpochViewsUpdate:
    """Every view of ``epoch``; the scatter is patched when it is already drawn for this run."""
    update = EpochViewsUpdate()
    if not epoch:
        return update
    try:
        record = api.epoch(run_id, epoch)
        confusions = api.epoch_confusions(run_id, epoch).confusions if record is not None else None
    except ApiError as exc:
        logger.info("epoch views not updated: %s", exc.message)
        return update
    if record is None:
        return update
    update.scatter, update.scatter_state = scatter_update(record, run_id, trend, drawn_for)
    update.confusions, update.pairs = confusions_view(record, confusions)
    check = difficulty_check(record)
    update.check = difficulty_vs_error_figure(check)
    update.check_count = difficulty_vs_count_figure(check)
    update.check_note = difficulty_check_note(check)
    return update


def scatter_update(record: EpochRecord, run_id: str, trend: bool, drawn_for: str | None) -> tuple[Any, Any]:
    """Figure (or patch) of the scatter, and the new scatter state (the run it is drawn for)."""
    key = f"{run_id}:{record.num_classes}"
    if drawn_for == key:
        return frequency_scatter_patch(record, trend), no_update
    return frequency_scatter_figure(record, trend), key


def confusions_view(record: EpochRecord, confusions: Confusions) -> tuple[Any, Component]:
    """The heatmap (or why there is none) and the most-confused-pairs table at the record's epoch."""
    if confusions is None:
        message = "This run's records hold no confusions (they were written before confusions were kept)."
        return placeholder_figure(message, CONFUSIONS_TITLE), html.P(message, className="muted")
    matrix = confusion_matrix(record.classes, confusions)
    figure = (
        confusion_heatmap_figure(matrix, record.epoch)
        if matrix is not None
        else placeholder_figure(
            f"{record.num_classes} classes: the heatmap is drawn up to {HEATMAP_CLASS_LIMIT}; "
            "the table below lists the most confused pairs.",
            CONFUSIONS_TITLE,
        )
    )
    return figure, pairs_table(record, confusions)


def pairs_table(record: EpochRecord, confusions: Confusions) -> Component:
    pairs = most_confused_pairs(record.classes, confusions)
    if not pairs:
        return html.P(f"At epoch {record.epoch}, no class was confused with another.", className="muted")
    header = html.Thead(
        html.Tr(
            [
                html.Th(h, scope="col")
                for h in ("True class", "Predicted as", "Share of its images", "Train images")
            ]
        )
    )
    rows = [
        html.Tr(
            [
                html.Td(class_link(p.true_index, p.true_name, f"pairs-{i}-true")),
                html.Td(class_link(p.predicted_index, p.predicted_name, f"pairs-{i}-predicted")),
                html.Td(percent(p.rate)),
                html.Td(f"{p.true_train} → {p.predicted_train}"),
            ]
        )
        for i, p in enumerate(pairs)
    ]
    return html.Div(
        [
            html.P(f"Most confused pairs at epoch {record.epoch}", className="table-caption"),
            html.Div(
                html.Table([header, html.Tbody(rows)], className="data-table"), className="table-scroll"
            ),
        ]
    )


def difficulty_check_note(check: DifficultyCheck) -> str:
    if not check.learned:
        return (
            "This run's method does not learn a difficulty: its “difficulty” is 1 − val accuracy, so the "
            "left plot only compares validation with test error."
        )
    return (
        "A good difficulty ranks the classes by their observed error (ρ near +1) and, on long-tailed data, "
        "falls as a class's train images grow (ρ below 0)."
    )


def epoch_box_sync(
    typed_changed: bool, typed: Any, slider_value: int | None, latest: int | None
) -> tuple[Any, Any]:
    """(slider value, box value) after the epoch box or the slider changed.

    A typed epoch moves the slider, clamped and written back to the box; a moved slider (or a new latest
    epoch) shows in the box; an unreadable entry puts the slider's epoch back in the box.
    """
    if not typed_changed:
        return no_update, slider_value
    epoch = clamp_epoch(typed, latest or 0)
    if epoch is None:
        return no_update, slider_value
    return (no_update if epoch == slider_value else epoch), epoch
