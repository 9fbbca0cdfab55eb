"""The retry budget: how many times in a row a run's worker died without the run getting further.

Every attempt of a run that is not terminal when the next one starts (or when the orphan scan finds it)
died: its process was killed, or it lost Redis. ``crashes`` counts all of them, for people to see. The
budget counts only deaths *in a row while training the same epoch*: a run that OOMs at start, or always
at the same step, is a poison run; a long run that was interrupted a few times but kept finishing epochs
(a stack restarted at night, a host rebooted) is not, and resumes from its checkpoint as often as needed.

Run-hash fields (strings in Redis): ``attempt`` (starts so far), ``epoch`` (last finished), and, written
at each attempt's start, ``attempt_epoch`` (the epoch it started from) and ``crashes_in_a_row`` (deaths in
a row before it). From these the count after the latest death is recomputed the same way by whoever
looks (the next task, or the orphan scan), as often as it looks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


def _int(fields: Mapping[str, str], name: str) -> int:
    value = fields.get(name) or "0"
    return int(value) if value.isdigit() else 0


@dataclass(frozen=True)
class DeathCount:
    crashes: int  # every attempt so far died
    in_a_row: int  # deaths since the run last finished an epoch
    epoch: int
    epochs_total: int


def count_deaths(fields: Mapping[str, str]) -> DeathCount:
    """For a non-terminal run about to be started again (or re-queued): every earlier attempt died."""
    attempts, epoch = _int(fields, "attempt"), _int(fields, "epoch")
    if attempts == 0:
        in_a_row = 0
    elif epoch > _int(fields, "attempt_epoch"):
        in_a_row = 1  # the last attempt got further before it died
    else:
        in_a_row = _int(fields, "crashes_in_a_row") + 1
    return DeathCount(attempts, in_a_row, epoch, _int(fields, "epochs_total"))


def give_up_reason(deaths: DeathCount, lines: list[str]) -> str:
    """The ``error`` of a run failed for running out of attempts, in plain words."""
    times = f"{deaths.in_a_row} time{'s' if deaths.in_a_row != 1 else ''}"
    where = (
        f"while training epoch {deaths.epoch + 1} of {deaths.epochs_total}"
        if deaths.epoch < deaths.epochs_total
        else "after its last epoch"
    )
    reason = f"the worker process died {times} {where} (often: out of memory); the run was not retried again"
    if lines:
        reason += "; the last log lines: " + " | ".join(lines)
    return reason
