"""Is the difficulty right? Does the predicted difficulty d_c follow the observed error and class size?"""

from __future__ import annotations

from dataclasses import dataclass

from difficultynet.contracts.config import DNET_METHODS
from difficultynet.contracts.records import EpochRecord
from difficultynet.diagnostics import spearman


@dataclass(frozen=True)
class DifficultyCheck:
    epoch: int
    learned: bool  # False: the method's "difficulty" is 1 − val acc, not a learned prediction
    names: list[str]
    indices: list[int]
    difficulty: list[float]
    error: list[float]  # 1 − accuracy on the evaluation split
    train_counts: list[int]
    rho_error: float | None  # Spearman ρ(d, error): near +1 when d ranks classes by how hard they are
    rho_count: float | None  # Spearman ρ(d, train count): negative when rare classes are harder
    eval_split: str


def difficulty_check(record: EpochRecord) -> DifficultyCheck:
    c = record.classes
    error = [1.0 - a for a in c.test_acc]
    return DifficultyCheck(
        epoch=record.epoch,
        learned=record.method in DNET_METHODS,
        names=list(c.name),
        indices=list(c.index),
        difficulty=list(c.difficulty),
        error=error,
        train_counts=list(c.train_count),
        rho_error=spearman(c.difficulty, error),
        rho_count=spearman(c.difficulty, [float(n) for n in c.train_count]),
        eval_split=record.eval_split,
    )
