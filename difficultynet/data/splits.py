"""The train / balanced meta / evaluation tensors of a manifest, decoded once and kept on one device."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from difficultynet.data.augment import channel_stats, normalize
from difficultynet.data.cache import load_images
from difficultynet.data.meta_split import resolve_meta_split
from difficultynet.manifest import Manifest
from difficultynet.progress import PrepareReporter, StopCheck

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TensorSplits:
    """uint8 images ``(N, C, H, W)`` and int64 labels for each role, plus what the trainer reports.

    ``mean``/``std`` (shape (C,), [0, 1] units) are computed from the training images actually used;
    :meth:`normalize` applies them, so the same numbers serve training, evaluation and export.
    ``eval_rows[i]`` is the manifest row index (0-based data row) of evaluation image ``i``: the trainer
    reports hardest examples by row, never by path.
    """

    train_x: Tensor
    train_y: Tensor
    meta_x: Tensor
    meta_y: Tensor
    eval_x: Tensor
    eval_y: Tensor
    eval_rows: Tensor
    class_names: tuple[str, ...]
    train_counts: list[int]  # per class, after carving the meta set
    meta_counts: list[int]
    eval_split: Literal["test", "val"]
    meta_source: Literal["val", "carved"]
    dataset_sha256: str
    notes: list[str]
    mean: Tensor
    std: Tensor

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def channels(self) -> int:
        return int(self.train_x.shape[1])

    @property
    def image_size(self) -> int:
        return int(self.train_x.shape[-1])

    @property
    def device(self) -> torch.device:
        return self.train_x.device

    def normalize(self, x: Tensor) -> Tensor:
        return normalize(x, self.mean, self.std)

    def with_stats(self, mean: Sequence[float], std: Sequence[float]) -> TensorSplits:
        """The same data normalised with other statistics (e.g. a pretrained backbone's)."""
        return replace(
            self,
            mean=torch.tensor(mean, dtype=torch.float32, device=self.device),
            std=torch.tensor(std, dtype=torch.float32, device=self.device),
        )

    def to(self, device: torch.device | str) -> TensorSplits:
        tensors = ("train_x", "train_y", "meta_x", "meta_y", "eval_x", "eval_y", "eval_rows", "mean", "std")
        return replace(self, **{name: getattr(self, name).to(device) for name in tensors})


def _take(images: np.ndarray, labels: Tensor, indices: Sequence[int]) -> tuple[Tensor, Tensor]:
    index = np.asarray(indices, dtype=np.int64)
    return torch.from_numpy(np.ascontiguousarray(images[index])), labels[torch.from_numpy(index)]


def load_splits(
    manifest: Manifest,
    *,
    image_size: int,
    channels: int,
    seed: int = 0,
    meta_per_class: int | None = None,
    cache_dir: Path | None = None,
    num_workers: int | None = None,
    device: torch.device | str = "cpu",
    on_progress: PrepareReporter | None = None,
    should_stop: StopCheck | None = None,
) -> TensorSplits:
    """Decode (or load from ``cache_dir``) every image once and split into train / meta / eval tensors.

    Meta rows: the manifest's val rows, else ``meta_per_class`` per class carved from train with ``seed``
    (see :func:`difficultynet.data.meta_split.resolve_meta_split`). Eval rows: test, else val.
    ``on_progress`` and ``should_stop`` follow the decoding (see :func:`load_images`).
    """
    images = load_images(
        manifest, image_size=image_size, channels=channels, cache_dir=cache_dir, num_workers=num_workers,
        on_progress=on_progress, should_stop=should_stop,
    )  # fmt: skip
    split = resolve_meta_split(manifest, meta_per_class=meta_per_class, seed=seed)
    labels = torch.tensor(manifest.labels, dtype=torch.int64)
    train_x, train_y = _take(images, labels, split.train_indices)
    meta_x, meta_y = _take(images, labels, split.meta_indices)
    eval_x, eval_y = _take(images, labels, split.eval_indices)
    mean, std = channel_stats(train_x)
    splits = TensorSplits(
        train_x=train_x,
        train_y=train_y,
        meta_x=meta_x,
        meta_y=meta_y,
        eval_x=eval_x,
        eval_y=eval_y,
        eval_rows=torch.tensor(split.eval_indices, dtype=torch.int64),
        class_names=manifest.class_names,
        train_counts=list(split.train_counts),
        meta_counts=list(split.meta_counts),
        eval_split="test" if manifest.indices("test") else "val",
        meta_source=split.source,
        dataset_sha256=manifest.sha256,
        notes=list(split.notes),
        mean=mean,
        std=std,
    )
    logger.info(
        "data: %d train / %d meta (%s) / %d eval (%s) images, %d classes, %d×%d×%d",
        len(train_y), len(meta_y), split.source, len(eval_y), splits.eval_split,
        splits.num_classes, channels, image_size, image_size,
    )  # fmt: skip
    return splits.to(device)
