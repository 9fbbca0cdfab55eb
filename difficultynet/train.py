"""``fit``: run one training job end to end, writing the run directory and reporting every epoch.

Run directory (``out_dir``): ``config.json``, ``metrics.jsonl`` (one EpochRecord per line),
``checkpoint.pt`` (atomic, every epoch) and ``weights.json`` (``difficulty-weights/v1``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from difficultynet.allocator import pin_mmap_threshold
from difficultynet.checkpoint import CHECKPOINT_NAME, check_compatible, load_checkpoint, save_checkpoint
from difficultynet.contracts.config import TrainConfig
from difficultynet.contracts.records import EpochRecord
from difficultynet.data.splits import load_splits
from difficultynet.device import describe_device, resolve_device
from difficultynet.export import build_weights_export
from difficultynet.files import atomic_write_bytes
from difficultynet.manifest import Manifest
from difficultynet.memory_estimate import estimate_training_memory, human_bytes
from difficultynet.models.pretrained import backbone_stats, load_backbone_state
from difficultynet.progress import PrepareProgress, PrepareReporter
from difficultynet.trainer import StopCheck, Trainer

logger = logging.getLogger(__name__)

CHECKPOINT_FORMAT = 1
Reporter = Callable[[EpochRecord], None]


@dataclass(frozen=True)
class FitResult:
    records: list[EpochRecord]
    export: dict[str, Any]
    out_dir: Path | None


class RunDirectory:
    """The files of one run; every write is atomic so readers never see half a file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)

    @property
    def checkpoint(self) -> Path:
        return self.path / CHECKPOINT_NAME

    def write_json(self, name: str, doc: Any, *, compact: bool = False) -> None:
        # weights.json carries the MLP matrices (C×h + h×h + h×C numbers): compact keeps 1000 classes small.
        text = json.dumps(doc, separators=(",", ":")) if compact else json.dumps(doc, indent=1)
        atomic_write_bytes(self.path / name, (text + "\n").encode())

    def write_metrics(self, records_json: list[str]) -> None:
        # Rewritten from the records each epoch, so a resumed run never duplicates lines.
        atomic_write_bytes(self.path / "metrics.jsonl", "".join(r + "\n" for r in records_json).encode())


def _checkpoint_state(
    trainer: Trainer, config: TrainConfig, dataset_sha256: str, run_id: str
) -> dict[str, Any]:
    return {
        "format": CHECKPOINT_FORMAT,
        "config": config.model_dump(mode="json"),
        "dataset_sha256": dataset_sha256,
        "run_id": run_id,
        "trainer": trainer.state_dict(),
    }


def _export(trainer: Trainer, config: TrainConfig, dataset_sha256: str) -> dict[str, Any]:
    return build_weights_export(
        trainer.records,
        config,
        dataset_sha256=dataset_sha256,
        dnet_state=trainer.dnet_export_state(),
        partial=trainer.epoch < config.epochs,
    )


def log_memory_needed(config: TrainConfig, manifest: Manifest, device: torch.device) -> None:
    estimate = estimate_training_memory(
        config, len(manifest.class_names), len(manifest), on_gpu=device.type == "cuda"
    )
    where = "GPU memory" if device.type == "cuda" else "RAM"
    logger.info(
        "memory: this run needs about %s of %s (%s); image cache %s on disk",
        human_bytes(estimate.total_bytes), where, estimate.breakdown(), human_bytes(estimate.data_bytes),
    )  # fmt: skip


def fan_out(*reporters: PrepareReporter | None) -> PrepareReporter | None:
    """One reporter calling each of ``reporters`` that is set (None when none is)."""
    chosen = [r for r in reporters if r is not None]
    if not chosen:
        return None

    def report(progress: PrepareProgress) -> None:
        for reporter in chosen:
            reporter(progress)

    return report


class PrepareBar:
    """``dnet train``'s progress bar over the image decoding (a single "cache hit" line on a hit)."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: tqdm[Any] | None = None

    def __enter__(self) -> PrepareBar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()

    def update(self, progress: PrepareProgress) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            label = "no cache" if progress.cache == "none" else f"cache {progress.cache}"
            self.bar = tqdm(total=progress.total, desc=f"preparing ({label})", unit="img")
        self.bar.update(progress.done - self.bar.n)


def fit(
    config: TrainConfig,
    manifest: Manifest,
    *,
    run_id: str,
    out_dir: Path | None = None,
    reporter: Reporter | None = None,
    should_stop: StopCheck | None = None,
    resume: bool = False,
    cache_dir: Path | None = None,
    progress: bool = False,
    on_prepare: PrepareReporter | None = None,
) -> FitResult:
    """Train ``config`` on ``manifest``; ``reporter(record)`` runs after each epoch's checkpoint is on disk.

    ``resume=True`` continues from ``out_dir/checkpoint.pt`` when present (first re-reporting its records)
    and raises :class:`CheckpointMismatch` when it belongs to another config or dataset. ``should_stop`` is
    polled after every batch and while the images are decoded; when true, :class:`RunCancelled` is raised
    (earlier epochs stay on disk). ``on_prepare`` receives the decoding progress (and cache hit or miss);
    ``progress=True`` also shows it as a progress bar.

    Pretrained weights are looked up before any image is decoded, so a missing file fails at once.
    """
    if config.num_threads is not None:
        torch.set_num_threads(config.num_threads)
    pin_mmap_threshold()  # freed activations go back to the OS instead of fragmenting the heap
    device = resolve_device(config.device)
    backbone_state = load_backbone_state(config)
    log_memory_needed(config, manifest, device)
    with PrepareBar(enabled=progress) as bar:
        splits = load_splits(
            manifest,
            image_size=config.image_size,
            channels=config.channels,
            seed=config.seed,
            meta_per_class=config.meta_per_class,
            cache_dir=cache_dir,
            device=device,
            on_progress=fan_out(bar.update if progress else None, on_prepare),
            should_stop=should_stop,
        )
    if config.effective_normalization == "backbone":
        splits = splits.with_stats(*backbone_stats(config.model, config.channels))
    sha = splits.dataset_sha256
    trainer = Trainer(config, splits, device, run_id, backbone_state)
    run_dir = RunDirectory(out_dir) if out_dir is not None else None
    if run_dir is not None and resume and run_dir.checkpoint.exists():
        state = load_checkpoint(run_dir.checkpoint)
        check_compatible(state, config, sha)
        trainer.load_state_dict(state["trainer"])
        logger.info("run %s: resuming after epoch %d of %d", run_id, trainer.epoch, config.epochs)
        for record in trainer.records:
            if reporter is not None:
                reporter(record)
    if run_dir is not None:
        run_dir.write_json(
            "config.json",
            {"run_id": run_id, "dataset_sha256": sha, "config": config.model_dump(mode="json"),
             "device": describe_device(device), "notes": splits.notes},
        )  # fmt: skip
    logger.info(
        "run %s: %s/%s on %s, %d train images, %d steps/epoch", run_id, config.method, config.model,
        describe_device(device), len(splits.train_y), trainer.steps_per_epoch,
    )  # fmt: skip
    epochs_bar = (
        tqdm(total=config.epochs, initial=trainer.epoch, desc="epochs", unit="ep") if progress else None
    )
    with epochs_bar if epochs_bar is not None else nullcontext():
        while trainer.epoch < config.epochs:
            batch_bar = (
                tqdm(
                    total=trainer.steps_per_epoch,
                    desc=f"epoch {trainer.epoch + 1}",
                    unit="batch",
                    leave=False,
                )
                if progress
                else None
            )
            try:
                record = trainer.train_epoch(should_stop, None if batch_bar is None else batch_bar.update)
            finally:
                if batch_bar is not None:
                    batch_bar.close()
            if run_dir is not None:
                save_checkpoint(run_dir.checkpoint, _checkpoint_state(trainer, config, sha, run_id))
                run_dir.write_metrics(trainer.records_json)
                run_dir.write_json("weights.json", _export(trainer, config, sha), compact=True)
            if epochs_bar is not None:
                epochs_bar.set_postfix(loss=f"{record.train_loss:.3f}", bal_acc=f"{record.balanced_acc:.3f}")
                epochs_bar.update()
            if reporter is not None:
                reporter(record)
    return FitResult(records=list(trainer.records), export=_export(trainer, config, sha), out_dir=out_dir)
