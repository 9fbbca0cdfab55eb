from __future__ import annotations

from pathlib import Path

import pytest
import torch

from difficultynet.checkpoint import check_compatible, load_checkpoint, save_checkpoint
from difficultynet.contracts.config import DNetConfig, TrainConfig
from difficultynet.errors import CheckpointMismatch, DnetError

SHA = "a" * 64


def _state(config: TrainConfig) -> dict[str, object]:
    return {
        "config": config.model_dump(mode="json"),
        "dataset_sha256": SHA,
        "trainer": {"w": torch.arange(3)},
    }


def test_save_is_atomic_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, _state(TrainConfig()))
    save_checkpoint(path, _state(TrainConfig(epochs=7)))  # overwrite in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]  # no temp file left behind
    state = load_checkpoint(path)
    assert state["config"]["epochs"] == 7 and torch.equal(state["trainer"]["w"], torch.arange(3))


def test_unreadable_or_foreign_files_raise_readable_errors(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(DnetError, match="cannot read checkpoint"):
        load_checkpoint(garbage)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.ones(1)}, foreign)
    with pytest.raises(DnetError, match="not a difficultynet checkpoint"):
        load_checkpoint(foreign)


def test_compatibility_ignores_runtime_only_fields() -> None:
    config = TrainConfig(device="cpu", num_threads=1)
    state = _state(config)
    check_compatible(state, config.model_copy(update={"device": "auto", "num_threads": 4}), SHA)
    with pytest.raises(CheckpointMismatch, match="dataset"):
        check_compatible(state, config, "b" * 64)
    with pytest.raises(CheckpointMismatch, match="dnet, epochs"):
        check_compatible(state, config.model_copy(update={"epochs": 30, "dnet": DNetConfig(lr=0.1)}), SHA)
