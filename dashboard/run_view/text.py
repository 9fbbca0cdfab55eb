"""Plain-words status lines of a run: progress, alerts, and why a run shows no epoch."""

from __future__ import annotations

from typing import Literal

from dashboard.formatting import duration, percent
from dashboard.models import Run
from difficultynet.contracts.api import PrepareRead

NoticeKind = Literal["error", "warning", "info"]


def preparing_text(run: Run) -> str | None:
    """ "Preparing data: 1200 / 5000 images (24 %) · 410 images/s · ETA 9 s · cache miss" while the images
    are decoded; None otherwise."""
    prep = run.preparing
    if run.phase != "preparing" or prep is None:
        return None
    share = f" ({prep.done / prep.total:.0%})" if prep.total else ""
    parts = [f"Preparing data: {prep.done} / {prep.total} images{share}"]
    if prep.rate is not None:
        parts.append(f"{prep.rate:.0f} images/s")
    if prep.eta_s is not None:
        parts.append(f"ETA {duration(prep.eta_s)}")
    parts.append(f"cache {prep.cache}")
    return " · ".join(parts)


def progress_bar(run: Run) -> tuple[int, int]:
    """(value, max) of the progress bar: images decoded while preparing, then epochs finished."""
    if run.phase == "preparing" and run.preparing is not None:
        return run.preparing.done, max(run.preparing.total, 1)
    return run.epoch, max(run.epochs_total, 1)


def progress_text(run: Run) -> str:
    preparing = preparing_text(run)
    if preparing is not None:
        return preparing
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
    if run.preparing is not None:
        parts.append(prepared_text(run.preparing))
    return " · ".join(parts)


def prepared_text(prep: PrepareRead) -> str:
    """What the data preparation of a run did, once it is over (kept while training and after)."""
    if prep.cache == "hit":
        return "images from the cache (cache hit)"
    share = f" ({prep.done / prep.total:.0%})" if prep.total else ""
    return f"data prepared: {prep.done} / {prep.total} images{share}, cache {prep.cache}"


def memory_text(run: Run) -> str | None:
    """ "Needs about 1.4 GiB of RAM: activations …" (estimated when the run was created); None when the
    API has no estimate for it."""
    estimate = run.memory_estimate
    return None if estimate is None else f"Needs {estimate.summary}"


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
