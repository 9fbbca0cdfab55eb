"""``weights.json`` (schema ``difficulty-weights/v1``): the per-class weights a run learned, torch-free.

Built from the run's :class:`EpochRecord` list, so the API tier can rebuild or validate it without torch.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator

from difficultynet.contracts.config import TrainConfig
from difficultynet.contracts.records import EpochRecord, clean_float
from difficultynet.errors import DnetError

WEIGHTS_SCHEMA_ID = "difficulty-weights/v1"
SCHEMA_FILE = "difficulty-weights-v1.json"


def _floats(values: Sequence[float]) -> list[float]:
    return [clean_float(v) for v in values]


def _optional(value: float | None) -> float | None:
    return None if value is None else clean_float(value)


def _summary(records: Sequence[EpochRecord]) -> dict[str, Any]:
    last = records[-1]
    # Model selection on the balanced meta/val set (spec §2.3): the epoch with the best mean val accuracy.
    best = max(records, key=lambda r: (sum(r.classes.val_acc) / max(len(r.classes.val_acc), 1), -r.epoch))
    return {
        "eval_split": last.eval_split,
        "top1": clean_float(last.top1),
        "balanced_acc": clean_float(last.balanced_acc),
        "many_acc": _optional(last.many_acc),
        "medium_acc": _optional(last.medium_acc),
        "few_acc": _optional(last.few_acc),
        "best_val_epoch": best.epoch,
        "best_val_epoch_balanced_acc": clean_float(best.balanced_acc),
        "train_loss": clean_float(last.train_loss),
        "driver_loss": _optional(last.driver_loss),
        "meta_loss": _optional(last.meta_loss),
        "elapsed_s": clean_float(last.elapsed_s, 3),
    }


def build_weights_export(
    records: Sequence[EpochRecord],
    config: TrainConfig,
    *,
    dataset_sha256: str,
    dnet_state: dict[str, Any] | None = None,
    partial: bool,
) -> dict[str, Any]:
    """Assemble the export document from the records so far (``partial`` until the last epoch)."""
    if not records:
        raise ValueError("a weights export needs at least one epoch record")
    last = records[-1]
    columns = last.classes
    classes = [
        {
            "index": row.index,
            "name": row.name,
            "train_count": row.train_count,
            "group": row.group,
            "difficulty": clean_float(row.difficulty),
            "weight": clean_float(row.weight),
            "val_acc": clean_float(row.val_acc),
            "test_acc": clean_float(row.test_acc),
        }
        for row in columns.rows()
    ]
    return {
        "schema": WEIGHTS_SCHEMA_ID,
        "run_id": last.run_id,
        "dataset_sha256": dataset_sha256,
        "method": config.method,
        "model": config.model,
        "config": config.model_dump(mode="json"),
        "partial": partial,
        "epochs_completed": last.epoch,
        "epochs_total": last.epochs_total,
        "classes": classes,
        "weight_history": [_floats(r.classes.weight) for r in records],
        "difficulty_history": [_floats(r.classes.difficulty) for r in records],
        "summary": _summary(records),
        "difficulty_net": dnet_state,
    }


@cache
def weights_schema() -> dict[str, Any]:
    text = resources.files("difficultynet.schemas").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def validate_weights_export(doc: Any) -> None:
    """Raise :class:`DnetError` listing every schema violation (path: message)."""
    validator = Draft202012Validator(weights_schema())
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}" for e in errors[:20]]
        raise DnetError(f"invalid {WEIGHTS_SCHEMA_ID} document: " + "; ".join(lines))
