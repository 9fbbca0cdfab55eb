"""Which class a click on the run page means, so a click on any per-class figure opens the same panel.

Most figures carry the class index in their points' ``customdata`` (at a known position); the weights
heatmap does not (a live tick would send a row of indices per epoch), so its cells are found by name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dashboard import ids

# graph id -> position of the class index in a point's customdata (None: the customdata is the index)
CLASS_INDEX_AT: dict[str, int | None] = {
    ids.RUN_CURVES: 4,
    ids.RUN_SCATTER: 4,
    ids.RUN_GAINS: 3,
    ids.RUN_DIFFICULTY_CHECK: 1,
    ids.RUN_DIFFICULTY_COUNT: 1,
    ids.RUN_CONFUSIONS: None,
}
CLASS_NAME_AT: dict[str, str] = {ids.RUN_HEATMAP: "x"}  # graph id -> point field holding the class name


def class_from_click(source: str, click: Mapping[str, Any] | None, names: Sequence[str] = ()) -> int | None:
    """The class index of the first clicked point of graph ``source``; None for a mean line or no point.

    ``names``: the run's class names in class-index order (for figures that locate classes by name).
    """
    if not click:
        return None
    points = click.get("points") or []
    if not points or not isinstance(points[0], Mapping):
        return None
    point = points[0]
    if source in CLASS_NAME_AT:
        name = point.get(CLASS_NAME_AT[source])
        return list(names).index(name) if isinstance(name, str) and name in names else None
    if source not in CLASS_INDEX_AT:
        return None
    custom = point.get("customdata")
    at = CLASS_INDEX_AT[source]
    if at is not None:
        custom = custom[at] if isinstance(custom, list) and len(custom) > at else None
    if isinstance(custom, bool) or not isinstance(custom, int | float) or custom != int(custom):
        return None
    return int(custom) if custom >= 0 else None
