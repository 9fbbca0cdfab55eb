"""The run page's views of one chosen epoch (the epoch slider): difficulty vs frequency."""

from __future__ import annotations

import logging
from typing import Any

from dash import no_update

from dashboard.api_client import ApiClient, ApiError
from dashboard.figures.scatter import frequency_scatter_figure, frequency_scatter_patch

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
