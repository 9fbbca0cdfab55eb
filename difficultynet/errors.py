"""Engine exceptions. User-facing problems carry a readable message; nothing here needs torch.

``ManifestInvalid`` lives beside the report it carries, in :mod:`difficultynet.manifest`.
"""

from __future__ import annotations


class DnetError(Exception):
    """Base class for errors caused by bad input or run state (shown to users, exit code 2)."""


class RunCancelled(DnetError):
    """Raised inside the train loop when ``should_stop()`` turns true; records so far are kept."""


class CheckpointMismatch(DnetError):
    """A checkpoint exists but belongs to a different config or dataset."""


class UsageError(DnetError):
    """Bad command-line input or settings, found after argparse (shown as one line, exit code 2)."""
