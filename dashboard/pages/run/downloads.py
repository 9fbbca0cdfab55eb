"""The run page's exports: the weights document and the epoch metrics (JSONL or CSV)."""

from __future__ import annotations

from typing import Any

from dash import no_update
from dash.development.base_component import Component

from dashboard import ids
from dashboard.api_client import ApiClient, ApiError, ApiNotFound
from dashboard.components.alerts import alert
from dashboard.exports import records_to_csv, records_to_jsonl


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
