"""End-to-end ``fit`` on the built-in digits dataset at 8×8: records, files, determinism, resume, cancel."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch

from difficultynet.checkpoint import load_checkpoint
from difficultynet.contracts.config import METHODS, DNetConfig, TrainConfig
from difficultynet.contracts.records import EpochRecord
from difficultynet.data.splits import load_splits
from difficultynet.errors import CheckpointMismatch, RunCancelled
from difficultynet.export import validate_weights_export
from difficultynet.losses import class_balanced_weights
from difficultynet.manifest import Manifest, load_manifest
from difficultynet.train import fit
from difficultynet.trainer import Trainer

TIMING = {"elapsed_s", "epoch_time_s"}


@pytest.fixture(scope="module")
def digits(demo_manifest: Path) -> Manifest:
    return load_manifest(demo_manifest)


def tiny_config(**overrides: Any) -> TrainConfig:
    base: dict[str, Any] = {
        "model": "resnet8",
        "image_size": 8,
        "channels": 1,
        "batch_size": 32,
        "epochs": 2,
        "device": "cpu",
        "num_threads": 1,
        "dnet": DNetConfig(meta_batch_size=20),
    }
    return TrainConfig(**(base | overrides))


def comparable(records: list[EpochRecord]) -> list[dict[str, Any]]:
    return [r.model_dump(exclude=TIMING) for r in records]


class StopAfterEpoch:
    """A reporter that fails once ``epoch`` has been reported (an interrupted worker)."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch
        self.seen: list[int] = []

    def __call__(self, record: EpochRecord) -> None:
        self.seen.append(record.epoch)
        if record.epoch == self.epoch:
            raise KeyboardInterrupt("simulated crash")


@pytest.fixture(scope="module")
def dnet_run(
    digits: Manifest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[TrainConfig, list[EpochRecord]]:
    config = tiny_config(method="dnet", epochs=4)
    result = fit(config, digits, run_id="reference", out_dir=tmp_path_factory.mktemp("reference"))
    return config, result.records


def test_records_and_run_directory(digits: Manifest, tmp_path: Path) -> None:
    config = tiny_config(method="dnet", epochs=2)
    partial_flags: list[bool] = []

    def reporter(record: EpochRecord) -> None:  # runs after that epoch's files are on disk
        doc = json.loads((tmp_path / "weights.json").read_text())
        partial_flags.append(doc["partial"])
        assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == record.epoch
        assert load_checkpoint(tmp_path / "checkpoint.pt")["trainer"]["epoch"] == record.epoch

    result = fit(config, digits, run_id="r1", out_dir=tmp_path, reporter=reporter)
    assert partial_flags == [True, False]
    assert [r.epoch for r in result.records] == [1, 2]
    first, last = result.records
    assert first.classes.weight == [1.0] * 10  # a = 0 before epoch 1 → uniform (spec §1.2)
    assert first.classes.difficulty == [0.5] * 10
    assert last.classes.weight != first.classes.weight
    assert math.isclose(sum(last.classes.weight), 10.0, rel_tol=1e-4)
    assert last.driver_loss is not None and last.meta_loss is not None
    assert last.eval_split == "test" and last.epochs_total == 2 and last.run_id == "r1"
    assert last.classes.train_count[0] == 120 and last.classes.group[0] == "many" and last.few_acc is not None
    assert 0.0 <= last.balanced_acc <= 1.0 and last.elapsed_s >= first.elapsed_s
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [EpochRecord.model_validate_json(line) for line in lines] == result.records
    doc = json.loads((tmp_path / "weights.json").read_text())
    validate_weights_export(doc)
    assert doc == json.loads(json.dumps(result.export))
    assert json.loads((tmp_path / "config.json").read_text())["config"] == config.model_dump(mode="json")


def test_same_seed_gives_identical_records(
    digits: Manifest, dnet_run: tuple[TrainConfig, list[EpochRecord]]
) -> None:
    config, reference = dnet_run
    again = fit(config, digits, run_id="reference").records
    assert comparable(again) == comparable(reference)
    other_seed = fit(config.model_copy(update={"seed": 1, "epochs": 1}), digits, run_id="reference").records
    assert other_seed[0].train_loss != reference[0].train_loss


def test_resume_after_crash_reproduces_the_uninterrupted_run(
    digits: Manifest, dnet_run: tuple[TrainConfig, list[EpochRecord]], tmp_path: Path
) -> None:
    config, reference = dnet_run
    crash = StopAfterEpoch(2)
    with pytest.raises(KeyboardInterrupt):
        fit(config, digits, run_id="reference", out_dir=tmp_path, reporter=crash)
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 2
    assert json.loads((tmp_path / "weights.json").read_text())["partial"] is True

    replayed: list[int] = []
    resumed = fit(
        config,
        digits,
        run_id="reference",
        out_dir=tmp_path,
        resume=True,
        reporter=lambda r: replayed.append(r.epoch),
    )
    assert replayed == [1, 2, 3, 4]  # checkpointed records are re-reported first
    assert comparable(resumed.records) == comparable(reference)
    assert resumed.records[2].elapsed_s > resumed.records[1].elapsed_s  # summed over resumes
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 4
    assert resumed.export["partial"] is False

    finished: list[int] = []  # resuming a finished run only replays it
    again = fit(
        config,
        digits,
        run_id="reference",
        out_dir=tmp_path,
        resume=True,
        reporter=lambda r: finished.append(r.epoch),
    )
    assert finished == [1, 2, 3, 4] and again.records == resumed.records


def test_resume_refuses_another_config_or_dataset(
    digits: Manifest, tmp_path: Path, demo_manifest: Path
) -> None:
    config = tiny_config(method="ce", epochs=2)
    with pytest.raises(KeyboardInterrupt):
        fit(config, digits, run_id="x", out_dir=tmp_path, reporter=StopAfterEpoch(1))
    with pytest.raises(CheckpointMismatch, match="lr"):
        fit(config.model_copy(update={"lr": 0.05}), digits, run_id="x", out_dir=tmp_path, resume=True)
    other = load_manifest(demo_manifest.read_bytes().replace(b"\n", b"\r\n"), data_root=demo_manifest.parent)
    with pytest.raises(CheckpointMismatch, match="dataset"):
        fit(config, other, run_id="x", out_dir=tmp_path, resume=True)
    # Runtime-only settings may change: the same run continues with another thread count.
    result = fit(
        config.model_copy(update={"num_threads": 2}), digits, run_id="x", out_dir=tmp_path, resume=True
    )
    assert [r.epoch for r in result.records] == [1, 2]
    torch.set_num_threads(1)


def test_should_stop_cancels_after_the_current_batch(digits: Manifest, tmp_path: Path) -> None:
    polls: list[int] = []
    reported: list[int] = []

    def should_stop() -> bool:  # polled while decoding and after every batch
        if reported:  # epoch 1 is done: stop after the 4th batch of epoch 2
            polls.append(1)
        return len(polls) == 4

    with pytest.raises(RunCancelled, match=r"epoch 2 \(after batch 4\)"):
        fit(
            tiny_config(method="ce"),
            digits,
            run_id="c",
            out_dir=tmp_path,
            should_stop=should_stop,
            reporter=lambda r: reported.append(r.epoch),
        )
    assert len(polls) == 4 and reported == [1]
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 1


@pytest.mark.parametrize("method", METHODS)
def test_every_method_trains_and_reports_its_weights(digits: Manifest, method: str) -> None:
    config = tiny_config(method=method, epochs=2, drw_start_frac=0.5, cdb_tau=1.0)
    records = fit(config, digits, run_id=method).records
    for record in records:
        assert all(math.isfinite(v) for v in record.classes.weight + record.classes.difficulty)
        assert math.isfinite(record.train_loss) and record.train_loss > 0
    first, last = records
    counts = torch.tensor(first.classes.train_count)
    if method in ("ce", "focal", "bsce"):
        assert last.classes.weight == [1.0] * 10 and last.driver_loss is None
    if method in ("ce", "focal", "bsce", "cb", "cdb", "ldam-drw"):
        assert last.classes.difficulty == [round(1 - a, 6) for a in last.classes.val_acc]
    if method == "cb":
        assert last.classes.weight == pytest.approx(class_balanced_weights(counts, 0.9999).tolist(), abs=1e-5)
    if method == "cdb":
        assert first.classes.weight == [1.0] * 10
        raw = [1 - a for a in first.classes.val_acc]
        assert last.classes.weight == pytest.approx([10 * d / sum(raw) for d in raw], abs=1e-4)
    if method == "ldam-drw":  # DRW from epoch 2 of 2 with drw_start_frac 0.5
        assert first.classes.weight == [1.0] * 10
        assert last.classes.weight == pytest.approx(class_balanced_weights(counts, 0.9999).tolist(), abs=1e-5)
    if method in ("dnet", "dnet-bsce"):
        assert last.driver_loss is not None and last.meta_loss is not None


def test_meta_every_k_and_driver_only(digits: Manifest, tmp_path: Path) -> None:
    config = tiny_config(
        method="dnet", epochs=1, dnet=DNetConfig(meta_mode="head", meta_every=3, meta_batch_size=20)
    )
    fit(config, digits, run_id="k", out_dir=tmp_path / "k")
    learner = load_checkpoint(tmp_path / "k" / "checkpoint.pt")["trainer"]["learner"]
    assert learner["optimizer"]["state"][0]["step"] == 6  # steps 0, 3, …, 15 of 16
    config = tiny_config(
        method="dnet", epochs=2, dnet=DNetConfig(meta_mode="driver_only", meta_batch_size=20)
    )
    record = fit(config, digits, run_id="d").records[-1]
    assert record.meta_loss is None and record.driver_loss is not None


def test_learning_rate_schedule() -> None:
    from difficultynet.schedule import lr_factor

    step = TrainConfig(epochs=20, warmup_epochs=5)
    assert lr_factor(0, 10, step) == pytest.approx(1 / 50)  # linear warm-up over 5 epochs × 10 steps
    assert lr_factor(24, 10, step) == pytest.approx(25 / 50)
    assert lr_factor(49, 10, step) == 1.0 and lr_factor(159, 10, step) == 1.0
    assert lr_factor(160, 10, step) == 0.01 and lr_factor(179, 10, step) == 0.01  # ×0.01 from 80 %
    assert lr_factor(180, 10, step) == 1e-4 and lr_factor(199, 10, step) == 1e-4  # ×1e-4 from 90 %
    assert TrainConfig(epochs=8, warmup_epochs=5).effective_warmup_epochs == 2  # clamped to epochs // 4
    cosine = TrainConfig(epochs=10, warmup_epochs=0, lr_schedule="cosine")
    assert lr_factor(0, 10, cosine) == 1.0
    assert lr_factor(50, 10, cosine) == pytest.approx(0.5)
    assert lr_factor(99, 10, cosine) == pytest.approx(0.5 * (1 + math.cos(math.pi * 99 / 100)))


def test_evaluation_batches_hold_no_more_pixels_than_a_32px_pass_or_a_training_batch() -> None:
    from difficultynet.metrics import EVAL_BATCH_SIZE, eval_batch_size

    assert eval_batch_size(32, 128) == EVAL_BATCH_SIZE  # CIFAR size: unchanged
    assert eval_batch_size(64, 128) == 250  # the same pixels as 1000 images of 32 px
    assert eval_batch_size(112, 128) == 128  # 81 by pixels, but a training batch fits with its gradients
    assert eval_batch_size(224, 32) == 32 and eval_batch_size(224, 4096) == EVAL_BATCH_SIZE


def _meta_accuracy(trainer: Trainer, offset: torch.Tensor) -> torch.Tensor:
    trainer.model.eval()
    with torch.no_grad():
        logits = trainer.model(trainer._prepare(trainer.splits.meta_x)).float() + offset
    y = trainer.splits.meta_y
    correct = torch.bincount(y[logits.argmax(dim=1) == y], minlength=trainer.num_classes)
    return correct / torch.bincount(y, minlength=trainer.num_classes)


@pytest.mark.parametrize("view", ["prediction", "loss"])
def test_dnet_accuracy_input_is_read_from_the_chosen_logits(digits: Manifest, view: str) -> None:
    """``accuracy_logits="loss"``: D_φ's input a is the meta-set accuracy of z + log n, the logits Balanced
    Softmax scores, while the record's val_acc stays the accuracy of the model's own predictions."""
    splits = load_splits(digits, image_size=8, channels=1)
    config = tiny_config(
        method="dnet-bsce", epochs=1, dnet=DNetConfig(meta_batch_size=20, accuracy_logits=view)
    )
    trainer = Trainer(config, splits, torch.device("cpu"), view)
    record = trainer.train_epoch()
    assert trainer.learner is not None
    log_counts = torch.tensor(splits.train_counts, dtype=torch.float32).log()
    predicted = _meta_accuracy(trainer, torch.zeros_like(log_counts))
    assert record.classes.val_acc == pytest.approx(predicted.tolist(), abs=1e-6)
    expected = predicted if view == "prediction" else _meta_accuracy(trainer, log_counts)
    torch.testing.assert_close(trainer.learner.accuracy, expected.float())

    # A head that outputs −½ log n for every image predicts the rarest class, and z + log n the commonest.
    with torch.no_grad():
        trainer.model.head.weight.zero_()
        trainer.model.head.bias.copy_(-0.5 * log_counts)
    a = trainer._dnet_accuracy_input(trainer._evaluate_meta_set())
    commonest, rarest = int(log_counts.argmax()), int(log_counts.argmin())
    assert a[commonest if view == "loss" else rarest] == 1.0 and a.sum() == 1.0
