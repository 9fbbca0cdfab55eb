"""Metrics downloads: epoch records as JSON Lines (one record per line) or a long per-class CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from difficultynet.contracts.records import EpochRecord

CSV_COLUMNS: tuple[str, ...] = (
    "run_id",
    "method",
    "epoch",
    "epochs_total",
    "train_loss",
    "lr",
    "top1",
    "balanced_acc",
    "class_index",
    "class_name",
    "train_count",
    "group",
    "difficulty",
    "weight",
    "val_acc",
    "test_acc",
)


def records_to_jsonl(records: Sequence[EpochRecord]) -> str:
    """The same format as the trainer's ``metrics.jsonl``."""
    return "".join(record.model_dump_json() + "\n" for record in records)


def records_to_csv(records: Sequence[EpochRecord]) -> str:
    """One row per (epoch, class) with the epoch's headline numbers repeated: ready for a dataframe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in records:
        head = [r.run_id, r.method, r.epoch, r.epochs_total, r.train_loss, r.lr, r.top1, r.balanced_acc]
        for row in r.classes.rows():
            writer.writerow(
                [
                    *head,
                    row.index,
                    row.name,
                    row.train_count,
                    row.group,
                    row.difficulty,
                    row.weight,
                    row.val_acc,
                    row.test_acc,
                ]
            )
    return out.getvalue()
