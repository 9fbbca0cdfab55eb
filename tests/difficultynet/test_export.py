"""``weights.json``: schema, torch-free module, and DNet weights recomputed from the exported MLP."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from difficultynet.contracts.config import TrainConfig
from difficultynet.contracts.records import EpochRecord
from difficultynet.errors import DnetError
from difficultynet.export import WEIGHTS_SCHEMA_ID, build_weights_export, validate_weights_export
from difficultynet.synthetic import record_from_columns

SHA = "0123456789abcdef" * 4


def _record(epoch: int, weights: list[float], val_acc: list[float], balanced: float) -> EpochRecord:
    return record_from_columns(
        epoch, counts=[500, 5], names=["cat", "dog"], val_acc=val_acc, test_acc=[0.9, 0.1], weight=weights,
        run_id="run-1", method="cdb", epochs_total=3, top1=balanced, balanced_acc=balanced,
    )  # fmt: skip


RECORDS = [_record(1, [1.0, 1.0], [0.5, 0.1], 0.3), _record(2, [0.7, 1.3], [0.9, 0.5], 0.5)]


def test_export_of_plain_method_records() -> None:
    doc = build_weights_export(RECORDS, TrainConfig(method="cdb"), dataset_sha256=SHA, partial=True)
    validate_weights_export(doc)
    assert doc["schema"] == WEIGHTS_SCHEMA_ID and doc["partial"] is True and doc["difficulty_net"] is None
    assert doc["run_id"] == "run-1" and doc["epochs_completed"] == 2 and doc["epochs_total"] == 3
    assert doc["classes"][1] == {
        "index": 1, "name": "dog", "train_count": 5, "group": "few", "difficulty": 0.5, "weight": 1.3,
        "val_acc": 0.5, "test_acc": 0.1,
    }  # fmt: skip
    assert doc["weight_history"] == [[1.0, 1.0], [0.7, 1.3]]
    assert doc["summary"]["best_val_epoch"] == 2 and doc["summary"]["best_val_epoch_balanced_acc"] == 0.5
    assert doc["summary"]["medium_acc"] is None and doc["config"]["method"] == "cdb"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(schema="difficulty-weights/v0"), "schema"),
        (lambda d: d.pop("classes"), "'classes' is a required property"),
        (lambda d: d["classes"][0].update(weight=-1), "classes/0/weight"),
        (lambda d: d["classes"][0].update(group="huge"), "classes/0/group"),
        (lambda d: d.update(dataset_sha256="xyz"), "dataset_sha256"),
        (lambda d: d.update(difficulty_net={"layers": []}), "difficulty_net"),
    ],
)
def test_schema_rejects_broken_documents(mutate: Any, message: str) -> None:
    doc = copy.deepcopy(
        build_weights_export(RECORDS, TrainConfig(method="cdb"), dataset_sha256=SHA, partial=False)
    )
    mutate(doc)
    with pytest.raises(DnetError, match=message):
        validate_weights_export(doc)


def test_export_needs_records() -> None:
    with pytest.raises(ValueError, match="at least one"):
        build_weights_export([], TrainConfig(), dataset_sha256=SHA, partial=True)


def test_export_module_does_not_import_torch() -> None:
    code = "import sys, difficultynet.export; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_dnet_weights_recompute_from_exported_mlp(demo_manifest: Path) -> None:
    from difficultynet.manifest import load_manifest
    from difficultynet.train import fit

    config = TrainConfig(
        method="dnet", image_size=8, channels=1, batch_size=64, epochs=3, device="cpu", num_threads=1,
    )  # fmt: skip
    doc = fit(config, load_manifest(demo_manifest), run_id="export").export
    validate_weights_export(doc)
    state = doc["difficulty_net"]
    assert state["architecture"] == {
        "input": 10, "hidden": [128, 128], "output": 10, "bias": False, "hidden_activation": "relu",
        "output_activation": "sigmoid", "weight_rule": "w_c = C * d_c / sum(d)",
    }  # fmt: skip
    h = np.asarray(state["accuracy_input"], dtype=np.float64)
    for i, layer in enumerate(state["layers"]):
        h = np.asarray(layer["weight"]) @ h
        h = np.maximum(h, 0.0) if i < len(state["layers"]) - 1 else 1.0 / (1.0 + np.exp(-h))
    weights = 10 * h / h.sum()
    exported = np.asarray([c["weight"] for c in doc["classes"]])
    np.testing.assert_allclose(weights, exported, atol=2e-6)
    np.testing.assert_allclose(h, [c["difficulty"] for c in doc["classes"]], atol=2e-6)
    assert exported.std() > 1e-4  # genuinely non-uniform after the accuracy input became non-zero
