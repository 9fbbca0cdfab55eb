"""Synthetic, realistic EpochRecords (any class count) for API tests and the streaming benchmark."""

from __future__ import annotations

import random

from difficultynet.records import ClassColumns, EpochRecord, clean_float, group_of


def make_record(
    run_id: str, epoch: int, *, epochs_total: int = 5, num_classes: int = 10, seed: int = 0
) -> EpochRecord:
    rng = random.Random(seed * 100_003 + epoch)
    counts = [max(1, int(500 * 0.01 ** (c / max(num_classes - 1, 1)))) for c in range(num_classes)]
    acc = [clean_float(min(1.0, rng.random() * epoch / epochs_total + 0.05)) for _ in counts]
    difficulty = [clean_float(1.0 - a) for a in acc]
    return EpochRecord(
        run_id=run_id,
        epoch=epoch,
        epochs_total=epochs_total,
        method="dnet",
        elapsed_s=2.5 * epoch,
        epoch_time_s=2.5,
        train_loss=clean_float(2.3 / epoch),
        lr=0.1,
        top1=clean_float(sum(acc) / len(acc)),
        balanced_acc=clean_float(sum(acc) / len(acc)),
        many_acc=0.5,
        medium_acc=0.4,
        few_acc=0.3,
        driver_loss=0.01,
        meta_loss=1.2,
        classes=ClassColumns(
            index=list(range(num_classes)),
            name=[f"class{c:04d}" for c in range(num_classes)],
            train_count=counts,
            group=[group_of(n) for n in counts],
            difficulty=difficulty,
            weight=[clean_float(d / (sum(difficulty) or 1) * num_classes) for d in difficulty],
            val_acc=acc,
            test_acc=acc,
        ),
    )
