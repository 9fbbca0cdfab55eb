"""Plain-words status lines of a run: progress, alerts, and why a run shows no epoch."""

from __future__ import annotations

from typing import Literal

from dashboard.formatting import duration, percent
from dashboard.models import Run

NoticeKind = Literal["error", "warning", "info"]


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


def run_notice(run: Run) -> tuple[str, NoticeKind] | None:
    """The alert a run's state calls for (failed, cancelled, cancel pending), or None."""
    if run.status == "failed":
        return f"The run failed: {run.error or 'no error message was recorded'}", "error"
    if run.status == "cancelled":
        return "The run was cancelled; the epochs it finished are kept.", "info"
    if run.cancel_requested and not run.terminal:
        return "Cancel requested: the run stops after the current batch.", "info"
    return None


def ended_before_first_epoch(status: str) -> str:
    return f"No epoch finished: the run was {status} before its first epoch."


def not_a_run_id(value: str) -> str:
    shown = value if len(value) <= 40 else value[:40] + "…"
    return f"No such run: “{shown}” is not a run id (run ids are 32 hexadecimal digits)."


def run_not_found(run_id: str) -> str:
    return f"Run {run_id} was not found: it may have been deleted, or the link is wrong."


def summary_note(num_classes: int) -> str:
    return (
        f"{num_classes} classes: the curves show the many/medium/few means and the classes picked "
        "below; the heatmap shows every class."
    )
