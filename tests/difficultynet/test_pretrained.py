"""Pretrained torchvision backbones from a state dict the test writes itself (never downloaded), offline
failure without the file, fine-tuning param groups, and DNet head mode on a pretrained backbone."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import torch
import torchvision
from torch import nn

from difficultynet.contracts.config import DNetConfig, TrainConfig, finetune_preset
from difficultynet.errors import DnetError
from difficultynet.manifest import Manifest, load_manifest
from difficultynet.models import create_model
from difficultynet.models.pretrained import (
    PretrainedWeightsMissing,
    backbone_stats,
    cached_weights_path,
    load_backbone_state,
)
from difficultynet.progress import PrepareProgress
from difficultynet.train import fit
from difficultynet.trainer import Trainer

torch.set_num_threads(1)
TORCHVISION_MODELS = {
    "resnet18": torchvision.models.resnet18,
    "efficientnet_b0": torchvision.models.efficientnet_b0,
}


@pytest.fixture
def empty_torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "torch-home"
    monkeypatch.setenv("TORCH_HOME", str(home))
    return home


def saved_state(path: Path, model: str) -> dict[str, torch.Tensor]:
    torch.manual_seed(7)
    state = TORCHVISION_MODELS[model]().state_dict()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return state


@pytest.mark.parametrize("model", sorted(TORCHVISION_MODELS))
@pytest.mark.parametrize("channels", [1, 3])
def test_backbone_starts_from_the_state_dict_and_the_head_is_new(model: str, channels: int) -> None:
    torch.manual_seed(7)
    reference = TORCHVISION_MODELS[model]()
    state = reference.state_dict()
    net = create_model(model, 5, channels, image_size=32, backbone_state=state)
    first_conv = next(m for m in net.features.modules() if isinstance(m, nn.Conv2d))
    expected = next(m for m in reference.modules() if isinstance(m, nn.Conv2d)).weight
    if channels == 1:
        expected = expected.sum(dim=1, keepdim=True)
    torch.testing.assert_close(first_conv.weight, expected)
    if model == "resnet18":
        assert first_conv.kernel_size == (7, 7)  # the ImageNet stem is kept even at 32 px
    assert isinstance(net.head, nn.Linear) and net.head.out_features == 5
    assert net(torch.randn(2, channels, 32, 32)).shape == (2, 5)


def test_a_state_dict_of_another_architecture_is_refused_plainly() -> None:
    state = torchvision.models.resnet50().state_dict()
    with pytest.raises(DnetError, match=r"the weights do not fit this ResNet backbone: .* of another shape"):
        create_model("resnet18", 5, 3, image_size=32, backbone_state=state)


def test_offline_without_the_cached_file_fails_at_once(empty_torch_home: Path) -> None:
    config = TrainConfig(model="resnet18", pretrained=True)
    started = time.monotonic()
    with pytest.raises(PretrainedWeightsMissing) as info:
        load_backbone_state(config)
    assert time.monotonic() - started < 1.0
    message = str(info.value)
    assert "never downloaded" in message and "--weights-file" in message
    assert str(cached_weights_path("resnet18")) in message
    assert cached_weights_path("resnet18").is_relative_to(empty_torch_home)
    assert not any(empty_torch_home.rglob("*.pth"))  # nothing was fetched


def test_the_torch_home_cache_file_is_used(empty_torch_home: Path) -> None:
    state = saved_state(cached_weights_path("resnet18"), "resnet18")
    loaded = load_backbone_state(TrainConfig(model="resnet18", pretrained=True))
    assert loaded is not None and torch.equal(loaded["conv1.weight"], state["conv1.weight"])


def test_weights_file_errors_are_plain(tmp_path: Path) -> None:
    with pytest.raises(PretrainedWeightsMissing, match="does not exist"):
        load_backbone_state(TrainConfig(model="resnet18", weights_file=str(tmp_path / "absent.pth")))
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(DnetError, match=r"junk\.pth is not a readable PyTorch state dict"):
        load_backbone_state(TrainConfig(model="resnet18", weights_file=str(tmp_path / "junk.pth")))


def test_config_rules() -> None:
    with pytest.raises(ValueError, match="resnet8 has no pretrained weights"):
        TrainConfig(model="resnet8", pretrained=True)
    with pytest.raises(ValueError, match="normalization 'backbone' needs pretrained weights"):
        TrainConfig(normalization="backbone")
    assert TrainConfig(image_size=32).effective_augment == "pad_crop"
    assert TrainConfig(image_size=64).effective_augment == "random_resized_crop"
    tuned = TrainConfig.model_validate(finetune_preset())
    assert tuned.effective_normalization == "backbone" and tuned.backbone_lr_scale < 1
    assert tuned.epochs < TrainConfig().epochs


def test_backbone_stats_are_the_weights_own() -> None:
    mean, std = backbone_stats("resnet18", 3)
    assert mean == pytest.approx([0.485, 0.456, 0.406]) and std == pytest.approx([0.229, 0.224, 0.225])
    assert backbone_stats("resnet18", 1)[0] == pytest.approx([sum(mean) / 3])


@pytest.fixture(scope="module")
def digits(demo_manifest: Path) -> Manifest:
    return load_manifest(demo_manifest)


def finetune_config(weights_file: Path, **overrides: Any) -> TrainConfig:
    values = finetune_preset(
        pretrained=False, weights_file=str(weights_file), method="dnet", image_size=40, channels=1,
        batch_size=64, epochs=1, device="cpu", num_threads=1,
        dnet=DNetConfig(meta_mode="head", meta_batch_size=20),
    )  # fmt: skip
    return TrainConfig.model_validate(values | overrides)


def test_dnet_head_mode_fine_tunes_a_pretrained_backbone(digits: Manifest, tmp_path: Path) -> None:
    weights_file = tmp_path / "resnet18.pth"
    state = saved_state(weights_file, "resnet18")
    config = finetune_config(weights_file, epochs=2)
    reports: list[PrepareProgress] = []
    result = fit(config, digits, run_id="finetune", out_dir=tmp_path / "run", on_prepare=reports.append)
    assert reports[-1].finished and reports[-1].cache == "none"
    record = result.records[-1]  # epoch 2: DNet reads epoch 1's accuracies
    assert record.dnet is not None and record.dnet.weights_applied
    weights = record.classes.weight
    assert all(w is not None and w > 0 for w in weights) and len(set(weights)) > 1  # DNet weights are learned

    # the optimiser: the head at lr, the backbone at lr × backbone_lr_scale, both following one schedule
    trainer_state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)["trainer"]
    groups = trainer_state["optimizer"]["param_groups"]
    assert [g["initial_lr"] for g in groups] == pytest.approx(
        [config.lr, config.lr * config.backbone_lr_scale]
    )
    moved = trainer_state["model"]["features.0.weight"].sum(dim=1, keepdim=True)
    assert not torch.equal(moved, state["conv1.weight"].sum(dim=1, keepdim=True))  # it was fine-tuned


def test_normalisation_uses_the_backbone_stats(digits: Manifest, tmp_path: Path) -> None:
    weights_file = tmp_path / "resnet18.pth"
    saved_state(weights_file, "resnet18")
    from difficultynet.data.splits import load_splits

    splits = load_splits(digits, image_size=40, channels=1).with_stats(*backbone_stats("resnet18", 1))
    trainer = Trainer(finetune_config(weights_file), splits, torch.device("cpu"), "stats")
    assert trainer.splits.mean.tolist() == pytest.approx([(0.485 + 0.456 + 0.406) / 3])
    assert len(trainer.optimizer.param_groups) == 2


def test_a_run_without_the_weights_fails_before_decoding(
    digits: Manifest, tmp_path: Path, empty_torch_home: Path
) -> None:
    reports: list[PrepareProgress] = []
    config = TrainConfig(model="resnet18", pretrained=True, image_size=40, channels=1, device="cpu", epochs=1)
    with pytest.raises(PretrainedWeightsMissing):
        fit(config, digits, run_id="offline", on_prepare=reports.append)
    assert reports == []
