"""Learning-rate schedule: linear warm-up, then step (×0.01 at 80 %, ×1e-4 at 90 %) or cosine decay.

Expressed as a per-iteration multiplier for ``torch.optim.lr_scheduler.LambdaLR`` so its state is a
plain step counter that checkpoints and resumes exactly.
"""

from __future__ import annotations

import math

import torch

from difficultynet.contracts.config import TrainConfig

LR_DROP_FRACTION = 0.8  # the step schedule's first drop; also where DNet's λ schedule reaches 0
STEP_MILESTONES: tuple[tuple[float, float], ...] = (
    (0.9, 1e-4),
    (LR_DROP_FRACTION, 1e-2),
)  # (fraction, factor)
_EPS = 1e-9


def lr_factor(step: int, steps_per_epoch: int, config: TrainConfig) -> float:
    """Multiplier of the base LR for the 0-based optimisation ``step``."""
    epochs = config.epochs
    warmup_steps = config.effective_warmup_epochs * steps_per_epoch
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if config.lr_schedule == "cosine":
        total = max(epochs * steps_per_epoch - warmup_steps, 1)
        progress = min((step - warmup_steps) / total, 1.0)
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    epoch = step // steps_per_epoch
    for fraction, factor in STEP_MILESTONES:
        if epoch + _EPS >= fraction * epochs:
            return factor
    return 1.0


def make_scheduler(
    optimizer: torch.optim.Optimizer, steps_per_epoch: int, config: TrainConfig
) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, steps_per_epoch, config))


def deferred_start_epoch(config: TrainConfig) -> int:
    """0-based epoch from which Difficulty-Net's weights enter the real loss (``dnet.defer_frac``)."""
    return math.floor(config.dnet.defer_frac * config.epochs + 1e-9)
