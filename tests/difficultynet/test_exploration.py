"""Top confusions and hardest examples: computed from the evaluation pass, checked against brute force."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from difficultynet.contracts.records import CONFUSION_TOP_K, HARDEST_K, EpochRecord
from difficultynet.data.splits import load_splits
from difficultynet.manifest import load_manifest
from difficultynet.metrics import evaluation_pass, explore_classes
from difficultynet.trainer import Trainer
from tests.difficultynet.test_train import tiny_config


def brute_force(
    probs: np.ndarray, labels: np.ndarray, rows: np.ndarray, num_classes: int, k_conf: int, k_hard: int
) -> tuple[list[list[tuple[int, float]]], list[list[tuple[int, float, int, float]]]]:
    """The dense confusion matrix and a per-class sort, one class at a time."""
    predicted = probs.argmax(axis=1)
    confusions, hardest = [], []
    for c in range(num_classes):
        members = np.flatnonzero(labels == c)
        counts = np.bincount(predicted[members], minlength=num_classes)
        cells = [(int(p), int(counts[p])) for p in range(num_classes) if p != c and counts[p] > 0]
        cells.sort(key=lambda cell: (-cell[1], cell[0]))
        confusions.append([(p, round(n / len(members), 4)) for p, n in cells[:k_conf]])
        ordered = sorted(members, key=lambda i: (probs[i, c], i))[:k_hard]
        hardest.append(
            [(int(rows[i]), float(probs[i, c]), int(predicted[i]), float(probs[i].max())) for i in ordered]
        )
    return confusions, hardest


def assert_matches(
    record_confusions: list,
    record_hardest: list,
    expected: tuple[list[list[tuple[int, float]]], list[list[tuple[int, float, int, float]]]],
) -> None:
    confusions, hardest = expected
    assert [[tuple(e) for e in entries] for entries in record_confusions] == confusions
    assert len(record_hardest) == len(hardest)
    for got, want in zip(record_hardest, hardest, strict=True):
        assert [(e.row, e.predicted) for e in got] == [(w[0], w[2]) for w in want]
        for e, w in zip(got, want, strict=True):
            assert e.true_prob == pytest.approx(w[1], abs=1e-4)
            assert e.predicted_prob == pytest.approx(w[3], abs=1e-4)


def test_trainer_records_match_a_brute_force_pass_over_the_evaluation_split(demo_manifest: Path) -> None:
    manifest = load_manifest(demo_manifest)
    config = tiny_config(method="ce", epochs=1)
    splits = load_splits(manifest, image_size=8, channels=1)
    trainer = Trainer(config, splits, torch.device("cpu"), "explore")
    record = trainer.train_epoch()
    assert record.confusions is not None and record.hardest is not None

    # Rows point at the manifest: each hardest example's row is a test row of its own class.
    for c, entries in enumerate(record.hardest):
        assert len(entries) == HARDEST_K
        for entry in entries:
            assert manifest.splits[entry.row] == "test" and manifest.labels[entry.row] == c
    assert all(len(entries) <= CONFUSION_TOP_K for entries in record.confusions)
    assert any(record.confusions), "an 8×8 ResNet after one epoch confuses some digits"

    trainer.model.eval()
    with torch.no_grad():
        logits = trainer.model(trainer._prepare(splits.eval_x))
    probs = logits.float().softmax(dim=1).numpy()
    expected = brute_force(
        probs, splits.eval_y.numpy(), splits.eval_rows.numpy(), splits.num_classes, CONFUSION_TOP_K, HARDEST_K
    )
    assert_matches(record.confusions, record.hardest, expected)
    # The confusions agree with the record's own accuracy: no class loses more than 1 - acc to them.
    for c, entries in enumerate(record.confusions):
        assert sum(e.rate for e in entries) <= 1 - record.classes.test_acc[c] + 1e-3
    assert EpochRecord.model_validate_json(record.model_dump_json()) == record


def test_small_batches_missing_classes_and_few_images(tmp_path: Path) -> None:
    """Batches that split classes, a class with no evaluation image, one with fewer than k images."""
    generator = torch.Generator().manual_seed(3)
    num_classes = 7
    labels = torch.tensor([0] * 12 + [1] * 3 + [2] * 9 + [4] * 20 + [5] * 1 + [6] * 6)  # no class 3
    labels = labels[torch.randperm(len(labels), generator=generator)]
    images = torch.randint(0, 256, (len(labels), 1, 4, 4), dtype=torch.uint8, generator=generator)
    rows = torch.randperm(1000, generator=generator)[: len(labels)] + 5
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, num_classes)).eval()

    def prepare(x: torch.Tensor) -> torch.Tensor:
        return x.float() / 255 * 4 - 2

    result = evaluation_pass(model, images, labels, num_classes, prepare, batch_size=7, per_image=True)
    explored = explore_classes(result, rows, confusion_k=2, hardest_k=4)
    with torch.no_grad():
        probs = model(prepare(images)).softmax(dim=1).numpy()
    expected = brute_force(probs, labels.numpy(), rows.numpy(), num_classes, 2, 4)
    assert_matches(explored.confusions, explored.hardest, expected)
    assert explored.confusions[3] == [] and explored.hardest[3] == []
    assert len(explored.hardest[5]) == 1 and len(explored.hardest[1]) == 3
    assert result.accuracy().acc == [
        float(np.mean(probs[labels.numpy() == c].argmax(1) == c)) if (labels == c).any() else 0.0
        for c in range(num_classes)
    ]


def test_explore_needs_a_per_image_pass() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2)).eval()
    labels = torch.tensor([0, 1])
    result = evaluation_pass(model, torch.zeros(2, 1, 2, 2), labels, 2, lambda x: x, batch_size=8)
    assert result.predicted is None
    with pytest.raises(ValueError, match="per_image=True"):
        explore_classes(result, labels, 5, 8)
