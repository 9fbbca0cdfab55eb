"""Engine exceptions. User-facing problems carry a readable message; nothing here needs torch."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from difficultynet.manifest import ManifestReport


class DnetError(Exception):
    """Base class for errors caused by bad input or run state (shown to users, exit code 2)."""


class ManifestInvalid(DnetError):
    """The manifest failed validation; ``report.errors`` lists every row-level problem."""

    def __init__(self, report: ManifestReport) -> None:
        self.report = report
        first = report.errors[0] if report.errors else None
        where = f" (line {first.row}, column {first.column}): {first.reason}" if first else ""
        super().__init__(f"manifest has {report.errors_total} error(s){where}")


class RunCancelled(DnetError):
    """Raised inside the train loop when ``should_stop()`` turns true; records so far are kept."""


class CheckpointMismatch(DnetError):
    """A checkpoint exists but belongs to a different config or dataset."""


class UsageError(DnetError):
    """Bad command-line input or settings, found after argparse (shown as one line, exit code 2)."""
