"""Confusions from the sparse per-class top-k the API serves apart from the epoch records (one epoch's, for
every class; one class's, over the epochs): pairs, one class's history, a matrix."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dashboard.analysis.columns import frequency_order
from difficultynet.contracts.api import ClassEpochExploration
from difficultynet.contracts.records import ClassColumns, ClassConfusion

# per true class in class-index order (an epoch's ``EpochConfusions.confusions``); None: none were recorded
Confusions = Sequence[Sequence[ClassConfusion]] | None

HEATMAP_CLASS_LIMIT = 100  # a C × C map is readable (and small) up to here; the pairs table serves any C
TOP_PAIRS = 20


@dataclass(frozen=True)
class ConfusedPair:
    true_index: int
    true_name: str
    predicted_index: int
    predicted_name: str
    rate: float  # fraction of the true class's evaluation images predicted as the other class
    true_train: int
    predicted_train: int


def most_confused_pairs(
    classes: ClassColumns, confusions: Confusions, limit: int = TOP_PAIRS
) -> list[ConfusedPair]:
    """The ``limit`` highest off-diagonal rates of one epoch, highest first (ties: head class first)."""
    if not confusions:
        return []
    c = classes
    position = {index: pos for pos, index in enumerate(c.index)}
    pairs = [
        ConfusedPair(
            c.index[pos],
            c.name[pos],
            entry.predicted,
            c.name[position[entry.predicted]],
            entry.rate,
            c.train_count[pos],
            c.train_count[position[entry.predicted]],
        )
        for pos, entries in enumerate(confusions)
        for entry in entries
        if entry.rate > 0
    ]
    pairs.sort(key=lambda p: (-p.rate, -p.true_train, p.true_index, p.predicted_index))
    return pairs[:limit]


@dataclass(frozen=True)
class ConfusionMatrix:
    """Rows: true class, columns: predicted class, both head → tail; None where the top-k has no entry."""

    names: list[str]
    indices: list[int]
    rates: list[list[float | None]]


def confusion_matrix(classes: ClassColumns, confusions: Confusions) -> ConfusionMatrix | None:
    """The frequency-ordered matrix of one epoch's top-k confusions (None above the class limit)."""
    c = classes
    if confusions is None or len(c.index) > HEATMAP_CLASS_LIMIT:
        return None
    order = frequency_order(c)
    column_of = {c.index[pos]: col for col, pos in enumerate(order)}
    rates: list[list[float | None]] = [[None] * len(order) for _ in order]
    for row, pos in enumerate(order):
        for entry in confusions[pos]:
            rates[row][column_of[entry.predicted]] = entry.rate
    return ConfusionMatrix([c.name[p] for p in order], [c.index[p] for p in order], rates)


@dataclass(frozen=True)
class ConfusionHistory:
    """Rates over epochs of the classes a class was most often confused with (0 when not in the top-k)."""

    epochs: list[int]
    targets: list[tuple[int, str]]  # (class index, name), most confused first
    rates: list[list[float]]  # one series per target


def confusion_history(
    entries: Sequence[ClassEpochExploration], classes: ClassColumns, limit: int = 5
) -> ConfusionHistory | None:
    """The ``limit`` classes with the highest summed rate over one class's ``entries`` (its exploration,
    oldest first), and their rate per epoch; ``classes`` names them."""
    if not entries:
        return None
    per_epoch = [{e.predicted: e.rate for e in entry.confusions} for entry in entries]
    totals: dict[int, float] = {}
    for rates in per_epoch:
        for predicted, rate in rates.items():
            totals[predicted] = totals.get(predicted, 0.0) + rate
    chosen = sorted(totals, key=lambda k: (-totals[k], k))[:limit]
    position = {index: pos for pos, index in enumerate(classes.index)}
    return ConfusionHistory(
        epochs=[entry.epoch for entry in entries],
        targets=[(k, classes.name[position[k]]) for k in chosen],
        rates=[[rates.get(k, 0.0) for rates in per_epoch] for k in chosen],
    )
