"""The torch-free memory table matches the real models, and the estimate refuses only what cannot fit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from difficultynet.contracts.config import MODELS, DNetConfig, TrainConfig
from difficultynet.memory_estimate import (
    GIB,
    WorkerCapacity,
    cache_file_bytes,
    disk_shortfall,
    estimate_training_memory,
    host_ram_bytes,
    human_bytes,
    model_footprint,
    run_memory_estimate,
    shortfall,
)
from difficultynet.models import create_model

NUM_CLASSES = 10
H200 = WorkerCapacity(worker="gpu0@h", ram_bytes=128 * GIB, gpu_bytes=141 * GIB, gpu_name="H200")
LAPTOP = WorkerCapacity(worker="cpu0@l", ram_bytes=16 * GIB)


def activation_floats_per_pixel(model: torch.nn.Module, image_size: int) -> float:
    """Floats every layer outputs for one sample in training mode, per input pixel."""
    floats = 0

    def count(_module: torch.nn.Module, _inputs: object, output: object) -> None:
        nonlocal floats
        if isinstance(output, torch.Tensor):
            floats += output.numel()

    leaves = [m for m in model.modules() if not list(m.children())]
    hooks = [leaf.register_forward_hook(count) for leaf in leaves]
    model.train()
    with torch.no_grad():
        model(torch.zeros(2, 3, image_size, image_size))
    for hook in hooks:
        hook.remove()
    return floats / 2 / image_size**2


@pytest.mark.parametrize("model_name", MODELS)
@pytest.mark.parametrize("image_size", [32, 96])
def test_the_table_matches_the_real_models(model_name: str, image_size: int) -> None:
    torch.manual_seed(0)
    model = create_model(model_name, NUM_CLASSES, 3, image_size)
    footprint = model_footprint(model_name, image_size)
    params = sum(p.numel() for p in model.parameters())
    assert params == footprint.backbone_params + (footprint.feature_dim + 1) * NUM_CLASSES
    measured = activation_floats_per_pixel(model, image_size)
    assert measured == pytest.approx(footprint.activation_floats_per_pixel, rel=0.02)


@pytest.mark.parametrize("model_name", ["resnet18", "resnet50"])
@pytest.mark.parametrize("image_size", [32, 96])
def test_pretrained_resnets_keep_the_imagenet_stem_in_the_table(model_name: str, image_size: int) -> None:
    import torchvision

    state = getattr(torchvision.models, model_name)().state_dict()
    model = create_model(model_name, NUM_CLASSES, 3, image_size, backbone_state=state)
    footprint = model_footprint(model_name, image_size, pretrained=True)
    params = sum(p.numel() for p in model.parameters())
    assert params == footprint.backbone_params + (footprint.feature_dim + 1) * NUM_CLASSES
    measured = activation_floats_per_pixel(model, image_size)
    assert measured == pytest.approx(footprint.activation_floats_per_pixel, rel=0.02)
    assert TrainConfig(model=model_name, pretrained=True, image_size=image_size).uses_pretrained_weights


def test_a_cache_that_cannot_fit_the_disk_is_explained() -> None:
    config = TrainConfig(image_size=224)
    needed = cache_file_bytes(100_000, 3, 224, 224)
    assert needed == 128 + 100_000 * 3 * 224 * 224
    assert disk_shortfall(config, 100_000, needed) is None
    reason = disk_shortfall(config, 100_000, 10 * GIB)
    assert reason is not None and reason.startswith(
        "the decoded images need 14.0 GiB of disk for the image cache (100000 images of 3×224×224) "
        "but only 10.0 GiB is free there"
    )
    assert "lower image_size (now 224)" in reason


def test_the_estimator_does_not_import_torch() -> None:
    code = "import sys, difficultynet.memory_estimate; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_resnet50_at_512_px_with_batch_4096_fits_nowhere() -> None:
    config = TrainConfig(model="resnet50", image_size=512, batch_size=4096, method="ce")
    estimate = estimate_training_memory(config, NUM_CLASSES, 12_000, on_gpu=True)
    assert estimate.total_bytes > 1024 * GIB  # over a TiB of activations
    reason = shortfall(config, NUM_CLASSES, 12_000, [H200, LAPTOP])
    assert reason is not None
    assert reason.startswith("this run cannot fit in any worker's memory: it needs about")
    assert "GPU memory (H200)" in reason and "141.0 GiB" in reason and "batch_size (now 4096)" in reason


def test_ordinary_runs_fit() -> None:
    cifar = TrainConfig()  # resnet8, 32 px, batch 128, the default DNet recipe
    assert shortfall(cifar, 100, 50_000, [LAPTOP]) is None
    imagenet_like = TrainConfig(model="resnet50", image_size=224, batch_size=256, method="ce")
    assert shortfall(imagenet_like, 1000, 100_000, [H200]) is None
    assert shortfall(imagenet_like, 1000, 100_000, []) is None  # nobody to compare with: no refusal


def test_cpu_runs_are_held_against_ram_and_gpu_runs_against_the_gpu() -> None:
    big = TrainConfig(model="resnet18", image_size=64, batch_size=1024, method="ce")
    on_gpu = estimate_training_memory(big, NUM_CLASSES, 0, on_gpu=True).total_bytes
    on_cpu = estimate_training_memory(big, NUM_CLASSES, 0, on_gpu=False).total_bytes
    assert LAPTOP.ram_bytes < on_cpu and on_gpu < H200.gpu_bytes
    assert shortfall(big, NUM_CLASSES, 0, [LAPTOP]) is not None  # auto on a CPU-only worker: RAM
    assert shortfall(big, NUM_CLASSES, 0, [LAPTOP, H200]) is None  # the GPU worker can take it
    cpu_only = big.model_copy(update={"device": "cpu"})
    assert on_cpu <= H200.ram_bytes and shortfall(cpu_only, NUM_CLASSES, 0, [H200]) is None
    assert "GiB of RAM" in (shortfall(cpu_only, NUM_CLASSES, 0, [LAPTOP]) or "")
    assert shortfall(big.model_copy(update={"device": "cuda"}), NUM_CLASSES, 0, [LAPTOP]) is None


def test_faithful_dnet_needs_more_than_the_head_only_variant() -> None:
    full = TrainConfig(method="dnet", dnet=DNetConfig(meta_mode="full"))
    head = TrainConfig(method="dnet", dnet=DNetConfig(meta_mode="head"))
    assert (
        estimate_training_memory(full, 10, 1000, on_gpu=True).total_bytes
        > estimate_training_memory(head, 10, 1000, on_gpu=True).total_bytes
    )


def test_images_are_counted_as_uint8_pixels() -> None:
    config = TrainConfig(image_size=32, channels=3)
    estimate = estimate_training_memory(config, 10, 50_000, on_gpu=False)
    assert estimate.data_bytes == 50_000 * 3 * 32 * 32


def test_host_ram_respects_a_lower_cgroup_limit(tmp_path: Path) -> None:
    physical = host_ram_bytes(tmp_path / "absent")
    assert physical > 0
    (tmp_path / "memory.max").write_text(f"{2 * GIB}\n")
    assert host_ram_bytes(tmp_path) == min(physical, 2 * GIB)
    (tmp_path / "memory.max").write_text("max\n")
    assert host_ram_bytes(tmp_path) == physical


def test_human_bytes() -> None:
    assert human_bytes(1536 * 1024**2) == "1.5 GiB" and human_bytes(3 * 1024**4) == "3.0 TiB"
    assert human_bytes(512) == "0 KiB" and human_bytes(2 * 1024**2) == "2.0 MiB"


def test_the_estimate_a_run_carries_is_for_the_device_it_will_train_on() -> None:
    config = TrainConfig(model="resnet18", image_size=64, batch_size=128)  # device "auto"
    on_cpu = run_memory_estimate(config, NUM_CLASSES, 5_000, [LAPTOP])
    expected = estimate_training_memory(config, NUM_CLASSES, 5_000, on_gpu=False)
    assert on_cpu.device == "cpu" and on_cpu.total_bytes == expected.total_bytes
    assert on_cpu.activation_bytes == expected.activation_bytes and on_cpu.data_bytes == 5_000 * 3 * 64 * 64
    total = human_bytes(expected.total_bytes)
    assert on_cpu.summary == f"about {total} of RAM: {expected.breakdown()}, Python and libraries 1.0 GiB"
    on_gpu = run_memory_estimate(config, NUM_CLASSES, 5_000, [LAPTOP, H200])
    assert on_gpu.device == "gpu" and "of GPU memory: " in on_gpu.summary
    assert on_gpu.overhead_bytes < on_cpu.overhead_bytes  # the CUDA context, not the host's libraries
    pinned = config.model_copy(update={"device": "cpu"})
    assert run_memory_estimate(pinned, NUM_CLASSES, 5_000, [H200]).device == "cpu"
