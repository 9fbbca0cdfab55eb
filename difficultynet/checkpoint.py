"""Atomic checkpoints of the full training state (``files.atomic_write``: never a torn file)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from difficultynet.contracts.config import TrainConfig
from difficultynet.errors import CheckpointMismatch, DnetError
from difficultynet.files import atomic_write

CHECKPOINT_NAME = "checkpoint.pt"
# Fields that may change between an interrupted run and its resumption without changing the maths.
RUNTIME_ONLY_FIELDS = frozenset({"device", "num_threads"})


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    with atomic_write(path) as handle:
        torch.save(state, handle)


def load_checkpoint(path: Path) -> dict[str, Any]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file: say so instead of a torch traceback
        raise DnetError(f"cannot read checkpoint {path}: {exc}") from exc
    if not isinstance(state, dict) or "config" not in state:
        raise DnetError(f"{path} is not a difficultynet checkpoint")
    return state


def comparable_config(config: TrainConfig) -> dict[str, Any]:
    return config.model_dump(mode="json", exclude=set(RUNTIME_ONLY_FIELDS))


def check_compatible(state: dict[str, Any], config: TrainConfig, dataset_sha256: str) -> None:
    """Refuse to continue a checkpoint written for another config or dataset."""
    saved = TrainConfig.model_validate(state["config"])
    if state.get("dataset_sha256") != dataset_sha256:
        raise CheckpointMismatch(
            f"checkpoint was written for dataset {str(state.get('dataset_sha256'))[:12]}…, "
            f"not {dataset_sha256[:12]}…; use another output directory or start without --resume"
        )
    old, new = comparable_config(saved), comparable_config(config)
    changed = sorted(key for key in new if old.get(key) != new[key])
    if changed:
        raise CheckpointMismatch(
            f"checkpoint config differs in {', '.join(changed)}; use another output directory or start "
            "without --resume"
        )
