"""The run page's views of one chosen epoch (the epoch slider): difficulty vs frequency."""

from __future__ import annotations

import logging
from typing import Any

from dash import no_update

from dashboard.api_client import ApiClient, ApiError
from dashboard.figures.scatter import frequency_scatter_figure, frequency_scatter_patch
from dashboard.run_view.state import clamp_epoch

logger = logging.getLogger(__name__)


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
        return frequency_scatter_patch(record, trend), no_update
    return frequency_scatter_figure(record, trend), key


def epoch_box_sync(
    typed_changed: bool, typed: Any, slider_value: int | None, latest: int | None
) -> tuple[Any, Any]:
    """(slider value, box value): a typed epoch moves the slider, clamped and written back to the box;
    a moved slider (or a new latest epoch) shows in the box; an unreadable entry restores the box."""
    if not typed_changed:
        return no_update, slider_value
    epoch = clamp_epoch(typed, latest or 0)
    if epoch is None:
        return no_update, slider_value
    return (no_update if epoch == slider_value else epoch), epoch
