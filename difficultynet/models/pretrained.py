"""ImageNet weights for the torchvision backbones, from torchvision's own weights API and cache — offline.

``pretrained=True`` reads the file torchvision's ``get_state_dict`` would download into
``$TORCH_HOME/hub/checkpoints/`` — but only once it is there: this module never downloads, so a machine
without network fails at once with a message saying where to put the file (or to pass ``weights_file``).
``weights_file`` is any state dict of the same torchvision architecture (e.g. saved with
``torch.save(torchvision.models.resnet18().state_dict(), path)``); its classifier layer is ignored.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import Tensor
from torchvision.models import WeightsEnum, get_weight

from difficultynet.contracts.config import TrainConfig
from difficultynet.errors import DnetError

# The ImageNet weights of each backbone, by torchvision's name (``torchvision.models.get_weight``).
WEIGHTS_NAMES = {
    "resnet18": "ResNet18_Weights.IMAGENET1K_V1",
    "resnet50": "ResNet50_Weights.IMAGENET1K_V2",
    "efficientnet_b0": "EfficientNet_B0_Weights.IMAGENET1K_V1",
}


class PretrainedWeightsMissing(DnetError):
    """The requested weights are not on this machine (and are never downloaded)."""


def torchvision_weights(model: str) -> WeightsEnum:
    return get_weight(WEIGHTS_NAMES[model])


def cached_weights_path(model: str) -> Path:
    """Where torchvision keeps (or would download) the weights: ``<torch hub dir>/checkpoints/<name>``."""
    filename = os.path.basename(urlparse(torchvision_weights(model).url).path)
    return Path(torch.hub.get_dir()) / "checkpoints" / filename


def _read_state_dict(path: Path, what: str) -> dict[str, Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise PretrainedWeightsMissing(f"{what} {path} does not exist") from None
    except Exception as exc:  # torch.load raises many types for a file that is not a state dict
        raise DnetError(f"{what} {path.name} is not a readable PyTorch state dict ({exc})") from None
    if isinstance(state, Mapping) and isinstance(state.get("state_dict"), Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
        raise DnetError(f"{what} {path.name} does not hold a state dict (a mapping of names to tensors)")
    return dict(state)


def load_backbone_state(config: TrainConfig) -> dict[str, Tensor] | None:
    """The torchvision state dict to start from, or None to train from scratch.

    Fails fast and never downloads."""
    if config.weights_file is not None:
        return _read_state_dict(Path(config.weights_file).expanduser(), "weights file")
    if not config.pretrained:
        return None
    path = cached_weights_path(config.model)
    if not path.is_file():
        raise PretrainedWeightsMissing(
            f"pretrained {config.model} weights are not on this machine and are never downloaded during a "
            f"run. Put torchvision's file {path.name} at {path} (the TORCH_HOME cache: run "
            f"`python -c \"import torchvision; torchvision.models.get_weight('{WEIGHTS_NAMES[config.model]}')"
            f'.get_state_dict()"` once on a machine with network, then copy the file), or pass a local '
            "state dict with --weights-file (API: weights_file)"
        )
    return _read_state_dict(path, "cached weights file")


def backbone_stats(model: str, channels: int) -> tuple[list[float], list[float]]:
    """The mean/std (per channel, [0, 1] units) the backbone's weights were trained with."""
    preset = torchvision_weights(model).transforms()
    mean, std = list(preset.mean), list(preset.std)
    if channels == 1:  # grey images: the mean statistic of the three colour planes
        return [sum(mean) / 3], [sum(std) / 3]
    return mean, std
