"""Model registry: a name from ``config.MODELS`` selects a builder."""

from __future__ import annotations

from collections.abc import Callable

from difficultynet.models.base import FeatureClassifier, NormedLinear
from difficultynet.models.resnet_cifar import cifar_resnet
from difficultynet.models.torchvision_resnets import (
    BackboneState,
    efficientnet_b0_adapted,
    resnet18_adapted,
    resnet50_adapted,
)

ModelBuilder = Callable[..., FeatureClassifier]


def _cifar(depth: int) -> ModelBuilder:
    def build(
        num_classes: int,
        in_channels: int,
        image_size: int,
        *,
        cosine_head: bool = False,
        backbone_state: BackboneState | None = None,
    ) -> FeatureClassifier:
        del image_size  # global pooling makes the CIFAR ResNets size-agnostic
        if backbone_state is not None:
            raise ValueError(f"the CIFAR ResNet-{depth} has no pretrained weights")
        return cifar_resnet(depth, num_classes, in_channels, cosine_head=cosine_head)

    return build


MODEL_BUILDERS: dict[str, ModelBuilder] = {
    "resnet8": _cifar(8),
    "resnet20": _cifar(20),
    "resnet32": _cifar(32),
    "resnet18": resnet18_adapted,
    "resnet50": resnet50_adapted,
    "efficientnet_b0": efficientnet_b0_adapted,
}


def create_model(
    name: str,
    num_classes: int,
    in_channels: int,
    image_size: int,
    *,
    cosine_head: bool = False,
    backbone_state: BackboneState | None = None,
) -> FeatureClassifier:
    """Build a classifier, freshly initialised or with its backbone from ``backbone_state`` (a torchvision
    state dict); the head is always new (uses the global torch RNG: seed it first)."""
    try:
        builder = MODEL_BUILDERS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_BUILDERS)}") from None
    if num_classes < 2:
        raise ValueError("a classifier needs at least 2 classes")
    return builder(
        num_classes, in_channels, image_size, cosine_head=cosine_head, backbone_state=backbone_state
    )


__all__ = ["MODEL_BUILDERS", "FeatureClassifier", "NormedLinear", "create_model"]
