"""How much memory a training run needs, and whether a worker has it. Torch-free: the API checks runs
before queueing them and the workers share the same numbers.

The per-model figures below are measured from the real models (``tests/difficultynet/
test_memory_estimate.py`` rebuilds each model and checks the table): parameter counts without the
classifier head, the feature width the head reads, and the activation floats one training sample keeps
per input pixel (the outputs of every layer, which the backward pass needs). All models are fully
convolutional up to global pooling, so activations grow linearly with the pixel count.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from difficultynet.contracts.api import MemoryEstimateRead
from difficultynet.contracts.config import TrainConfig

GIB = 1024**3
FLOAT_BYTES = 4
# torchvision ResNets use a CIFAR stem (no stride, no max-pool) at or below this size; see
# ``difficultynet/models/torchvision_resnets.py``. The ImageNet stem divides the map by 4 at once.
SMALL_STEM_MAX_SIZE = 64
# Parameters, gradients and SGD momentum: three float copies. Faithful DNet ("full") also keeps the
# virtually stepped copy θ' and its gradient.
PARAM_COPIES = {"plain": 3, "full": 5}
# "full" keeps the train batch's graph alive through the virtual step and adds the meta batch's.
ACTIVATION_FACTOR = {"plain": 1.0, "full": 2.0}
# Framework baseline: the CUDA context and kernels on a GPU, the interpreter and libraries in RAM.
DEVICE_OVERHEAD_BYTES = GIB // 2
HOST_OVERHEAD_BYTES = GIB


@dataclass(frozen=True)
class ModelFootprint:
    backbone_params: int
    feature_dim: int
    activation_floats_per_pixel: float


_CIFAR = {
    "resnet8": ModelFootprint(74_640, 64, 188.1),
    "resnet20": ModelFootprint(269_072, 64, 468.1),
    "resnet32": ModelFootprint(463_504, 64, 748.1),
}
_TORCHVISION_SMALL = {
    "resnet18": ModelFootprint(11_168_832, 512, 1809.0),
    "resnet50": ModelFootprint(23_500_352, 2048, 9644.0),
}
_TORCHVISION_LARGE = {
    "resnet18": ModelFootprint(11_176_512, 512, 149.0),
    "resnet50": ModelFootprint(23_508_032, 2048, 638.6),
}
# EfficientNet-B0 keeps its stride-2 stem at every size; odd map sizes make its per-pixel activations vary
# a little with the image size (≈ 400–440 floats for even sizes from 32 to 224 px).
_EFFICIENTNET_SMALL = {"efficientnet_b0": ModelFootprint(4_007_548, 1280, 425.0)}
_EFFICIENTNET_LARGE = {"efficientnet_b0": ModelFootprint(4_007_548, 1280, 398.7)}
NPY_HEADER_BYTES = 128  # numpy's .npy header (format 1.0, padded to 64-byte alignment; 128 for our shapes)


def model_footprint(model: str, image_size: int, *, pretrained: bool = False) -> ModelFootprint:
    """The table row of ``model``; a pretrained ResNet keeps its ImageNet stem at every size."""
    if model in _CIFAR:
        return _CIFAR[model]
    if model in _EFFICIENTNET_SMALL:
        return (_EFFICIENTNET_SMALL if image_size <= SMALL_STEM_MAX_SIZE else _EFFICIENTNET_LARGE)[model]
    small_stem = image_size <= SMALL_STEM_MAX_SIZE and not pretrained
    table = _TORCHVISION_SMALL if small_stem else _TORCHVISION_LARGE
    return table[model]


def cache_file_bytes(num_images: int, channels: int, height: int, width: int) -> int:
    """Size of the uint8 image cache file (``difficultynet.data.cache``) of that shape."""
    return NPY_HEADER_BYTES + num_images * channels * height * width


def cache_disk_shortfall(num_images: int, channels: int, size: int, free_bytes: int) -> str | None:
    """None when an image cache of ``num_images`` square images fits ``free_bytes`` of disk, else a plain
    explanation. The one rule behind the API's admission check and the worker's check before decoding."""
    needed = cache_file_bytes(num_images, channels, size, size)
    if needed <= free_bytes:
        return None
    return (
        f"the decoded images need {human_bytes(needed)} of disk for the image cache "
        f"({num_images} images of {channels}×{size}×{size}) but only {human_bytes(free_bytes)} is free "
        f"there; lower image_size (now {size}), or free disk space"
    )


def disk_shortfall(config: TrainConfig, num_images: int, free_bytes: int) -> str | None:
    """:func:`cache_disk_shortfall` for a run's config."""
    return cache_disk_shortfall(num_images, config.channels, config.image_size, free_bytes)


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a run needs on its training device (everything) and in host RAM (the decoded images, which
    the image cache also keeps on disk, memory-mapped)."""

    params_bytes: int  # weights, gradients, optimiser state
    activation_bytes: int
    data_bytes: int  # the uint8 image tensors, kept on the training device
    overhead_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.params_bytes + self.activation_bytes + self.data_bytes + self.overhead_bytes

    def breakdown(self) -> str:
        return (
            f"activations {human_bytes(self.activation_bytes)}, "
            f"parameters and optimiser {human_bytes(self.params_bytes)}, "
            f"images {human_bytes(self.data_bytes)}"
        )

    def read(self, kind: DeviceKind) -> MemoryEstimateRead:
        """The API's view of this estimate for a run training on ``kind``."""
        gpu = kind == "gpu"
        where, framework = ("GPU memory", "CUDA context") if gpu else ("RAM", "Python and libraries")
        return MemoryEstimateRead(
            device=kind,
            total_bytes=self.total_bytes,
            activation_bytes=self.activation_bytes,
            params_bytes=self.params_bytes,
            data_bytes=self.data_bytes,
            overhead_bytes=self.overhead_bytes,
            summary=(
                f"about {human_bytes(self.total_bytes)} of {where}: {self.breakdown()}, "
                f"{framework} {human_bytes(self.overhead_bytes)}"
            ),
        )


def estimate_training_memory(
    config: TrainConfig, num_classes: int, num_images: int | None, *, on_gpu: bool
) -> MemoryEstimate:
    """Peak memory of one training step of ``config`` (``num_images``: every image the run decodes)."""
    footprint = model_footprint(config.model, config.image_size, pretrained=config.uses_pretrained_weights)
    full_meta = config.is_dnet and config.dnet.meta_mode == "full"
    kind = "full" if full_meta else "plain"
    params = footprint.backbone_params + (footprint.feature_dim + 1) * num_classes
    pixels = config.image_size * config.image_size
    batch = config.batch_size + (config.dnet.meta_batch_size if full_meta else 0)
    activations = footprint.activation_floats_per_pixel * pixels * batch * ACTIVATION_FACTOR[kind]
    # Mixed precision on CUDA stores most activations in half precision.
    activation_bytes = activations * (FLOAT_BYTES / 2 if on_gpu and config.amp else FLOAT_BYTES)
    data = (num_images or 0) * config.channels * pixels
    return MemoryEstimate(
        params_bytes=params * FLOAT_BYTES * PARAM_COPIES[kind],
        activation_bytes=int(activation_bytes),
        data_bytes=data,
        overhead_bytes=DEVICE_OVERHEAD_BYTES if on_gpu else HOST_OVERHEAD_BYTES,
    )


class WorkerCapacity(BaseModel):
    """What a worker reports about its memory (``protocol.worker_capacity_key``), refreshed while alive."""

    worker: str
    ram_bytes: int = Field(ge=0, description="physical memory of the worker's host")
    gpu_bytes: int = Field(0, ge=0, description="memory of the GPU it trains on; 0 when it has none")
    gpu_name: str = ""


DeviceKind = Literal["cpu", "gpu"]


def device_kind(requested: str, capacity: WorkerCapacity) -> DeviceKind:
    """What ``requested`` ('auto', 'cpu', 'cuda', 'cuda:i') trains on at this worker."""
    if requested == "cpu":
        return "cpu"
    return "gpu" if capacity.gpu_bytes or requested != "auto" else "cpu"


def expected_device(config: TrainConfig, capacities: list[WorkerCapacity]) -> DeviceKind:
    """Where the run will train: on a GPU when it asks for one, or asks for 'auto' and a worker has one."""
    kinds = {device_kind(config.device, capacity) for capacity in capacities}
    return "gpu" if "gpu" in kinds or config.device.startswith("cuda") else "cpu"


def run_memory_estimate(
    config: TrainConfig, num_classes: int, num_images: int | None, capacities: list[WorkerCapacity]
) -> MemoryEstimateRead:
    """What a run needs on the device it is expected to train on (stored with the run at creation)."""
    kind = expected_device(config, capacities)
    return estimate_training_memory(config, num_classes, num_images, on_gpu=kind == "gpu").read(kind)


def shortfall(
    config: TrainConfig, num_classes: int, num_images: int | None, capacities: list[WorkerCapacity]
) -> str | None:
    """None when at least one worker can hold the run, else a plain explanation for the client."""
    reasons: list[tuple[int, str]] = []
    for capacity in capacities:
        kind = device_kind(config.device, capacity)
        if kind == "gpu" and not capacity.gpu_bytes:
            continue  # a CPU-only worker cannot take a CUDA run at all; memory is not the question
        estimate = estimate_training_memory(config, num_classes, num_images, on_gpu=kind == "gpu")
        available = capacity.gpu_bytes if kind == "gpu" else capacity.ram_bytes
        if estimate.total_bytes <= available:
            return None
        where = f"GPU memory ({capacity.gpu_name or 'GPU'})" if kind == "gpu" else "RAM"
        reasons.append(
            (
                available,
                f"it needs about {human_bytes(estimate.total_bytes)} of {where} "
                f"({estimate.breakdown()}) but the largest worker has {human_bytes(available)}",
            )
        )
    if not reasons:
        return None
    _, reason = max(reasons)
    return (
        f"this run cannot fit in any worker's memory: {reason}. "
        f"Lower batch_size (now {config.batch_size}) or image_size (now {config.image_size}), "
        "or pick a smaller model"
    )


def human_bytes(value: float) -> str:
    for unit, scale in (("TiB", 1024**4), ("GiB", GIB), ("MiB", 1024**2)):
        if value >= scale:
            return f"{value / scale:.1f} {unit}"
    return f"{value / 1024:.0f} KiB"


def host_ram_bytes(cgroup_root: Path = Path("/sys/fs/cgroup")) -> int:
    """Physical memory of this host, or this container's cgroup memory limit when that is lower."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for limit_file in (cgroup_root / "memory.max", cgroup_root / "memory" / "memory.limit_in_bytes"):
        try:
            text = limit_file.read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total
