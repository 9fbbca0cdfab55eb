"""Per-class test-accuracy gain of a run over a baseline run, matched by class name."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dashboard.analysis.columns import GROUP_LABELS, frequency_order
from difficultynet.contracts.records import GROUPS, EpochRecord, Group


class IncomparableRuns(ValueError):
    """The baseline's classes are not this run's classes (different datasets)."""


@dataclass(frozen=True)
class Gains:
    """Per-class test-accuracy gain (fractions) of a run over its baseline, head → tail."""

    names: list[str]
    indices: list[int]  # this run's class indices
    groups: list[Group]
    train_counts: list[int]
    run_acc: list[float]
    baseline_acc: list[float]

    @property
    def deltas(self) -> list[float]:
        return [a - b for a, b in zip(self.run_acc, self.baseline_acc, strict=True)]

    def group_mean(self, group: Group) -> float | None:
        values = [d for d, g in zip(self.deltas, self.groups, strict=True) if g == group]
        return float(np.mean(values)) if values else None

    def summary(self) -> str:
        """``many-shot +1.2 pts, few-shot -0.4 pts`` over the groups present."""
        return ", ".join(
            f"{GROUP_LABELS[grp]} {100 * m:+.1f} pts"
            for grp in GROUPS
            if (m := self.group_mean(grp)) is not None
        )


def gains(record: EpochRecord, baseline: EpochRecord) -> Gains:
    """Match classes by name; raise :class:`IncomparableRuns` if the class sets differ."""
    base = baseline.classes
    base_acc = dict(zip(base.name, base.test_acc, strict=True))
    c = record.classes
    if set(base_acc) != set(c.name):
        raise IncomparableRuns("the baseline run was trained on different classes")
    order = frequency_order(c)
    return Gains(
        names=[c.name[p] for p in order],
        indices=[c.index[p] for p in order],
        groups=[c.group[p] for p in order],
        train_counts=[c.train_count[p] for p in order],
        run_acc=[c.test_acc[p] for p in order],
        baseline_acc=[base_acc[c.name[p]] for p in order],
    )
