"""Synthetic long-tailed epoch records, for the dashboard's benchmark and tests (no training needed).

Class counts follow the usual exponential long-tail profile ``n_max * imbalance^(-i / (C - 1))``; per-class
accuracy rises over epochs and with class size, difficulty is ``1 - val acc`` and weights are ``C·d/Σd``,
so the figures look like a real run while staying deterministic for a given seed.
"""

from __future__ import annotations

import numpy as np

from difficultynet.diagnostics import dnet_diagnostics
from difficultynet.records import ClassColumns, EpochRecord, clean_float, group_of


def long_tail_counts(num_classes: int, n_max: int = 500, imbalance: float = 100.0) -> list[int]:
    if num_classes == 1:
        return [n_max]
    ranks = np.arange(num_classes) / (num_classes - 1)
    return [max(1, int(n)) for n in n_max * imbalance ** (-ranks)]


def synthetic_records(
    num_classes: int,
    epochs: int,
    *,
    epochs_total: int | None = None,
    run_id: str = "synthetic",
    method: str = "dnet",
    seed: int = 0,
    skill: float = 1.0,
    start_epoch: int = 1,
) -> list[EpochRecord]:
    """``epochs`` records (epochs ``start_epoch`` …) of a fake run; ``skill`` scales every accuracy."""
    rng = np.random.default_rng(seed)
    counts = long_tail_counts(num_classes)
    total = epochs_total or start_epoch + epochs - 1
    size_effect = np.log(np.asarray(counts, dtype=float)) / np.log(max(counts))
    names = [f"class_{i:04d}" for i in range(num_classes)]
    records = []
    for epoch in range(start_epoch, start_epoch + epochs):
        progress = epoch / total
        base = np.clip(skill * (0.15 + 0.7 * progress * (0.4 + 0.6 * size_effect)), 0, 1)
        val_acc = np.clip(base + rng.normal(0, 0.03, num_classes), 0, 1)
        test_acc = np.clip(base + rng.normal(0, 0.03, num_classes), 0, 1)
        difficulty = np.clip(1 - val_acc, 1e-3, 1)
        weight = num_classes * difficulty / difficulty.sum()
        groups = [group_of(n) for n in counts]
        balanced = float(test_acc.mean())
        by_group = {
            g: [a for a, gg in zip(test_acc, groups, strict=True) if gg == g]
            for g in ("many", "medium", "few")
        }
        records.append(
            EpochRecord(
                run_id=run_id,
                epoch=epoch,
                epochs_total=total,
                method=method,
                elapsed_s=12.5 * epoch,
                epoch_time_s=12.5,
                train_loss=clean_float(2.3 * (1 - 0.8 * progress)),
                lr=0.1,
                top1=clean_float(float(np.average(test_acc, weights=counts))),
                balanced_acc=clean_float(balanced),
                many_acc=clean_float(float(np.mean(by_group["many"]))) if by_group["many"] else None,
                medium_acc=clean_float(float(np.mean(by_group["medium"]))) if by_group["medium"] else None,
                few_acc=clean_float(float(np.mean(by_group["few"]))) if by_group["few"] else None,
                dnet=dnet_diagnostics(
                    weight.tolist(),
                    counts,
                    val_acc.tolist(),
                    meta_grad_norm=clean_float(2e-3 * (1 - 0.5 * progress)),
                    driver_grad_norm=clean_float(1e-3 * max(0.0, 1 - progress / 0.8)),
                )
                if method.startswith("dnet")
                else None,
                classes=ClassColumns(
                    index=list(range(num_classes)),
                    name=names,
                    train_count=counts,
                    group=groups,
                    difficulty=[clean_float(v, 4) for v in difficulty],
                    weight=[clean_float(v, 4) for v in weight],
                    val_acc=[clean_float(v, 4) for v in val_acc],
                    test_acc=[clean_float(v, 4) for v in test_acc],
                ),
            )
        )
    return records
