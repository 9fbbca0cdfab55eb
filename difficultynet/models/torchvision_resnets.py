"""torchvision ResNet-18/50 adapted to any channel count, class count and (small) image size."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn
from torchvision.models import ResNet, resnet18, resnet50

from difficultynet.models.base import FeatureClassifier, make_head

SMALL_IMAGE_MAX = 64  # at or below this size the ImageNet stem would shrink the image too early


def torchvision_resnet(
    builder: Callable[..., ResNet],
    num_classes: int,
    in_channels: int,
    image_size: int,
    *,
    cosine_head: bool = False,
) -> FeatureClassifier:
    net = builder(weights=None)
    if image_size <= SMALL_IMAGE_MAX:
        # CIFAR-style stem: 3x3 stride-1 conv and no max-pool, so 32x32 inputs keep a 4x4 final map.
        net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
        net.maxpool = nn.Identity()
    elif in_channels != 3:
        net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
    nn.init.kaiming_normal_(net.conv1.weight, mode="fan_out", nonlinearity="relu")
    feature_dim = net.fc.in_features
    features = nn.Sequential(
        net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2, net.layer3, net.layer4,
        net.avgpool, nn.Flatten(),
    )  # fmt: skip
    return FeatureClassifier(features, make_head(feature_dim, num_classes, cosine=cosine_head), feature_dim)


def resnet18_adapted(
    num_classes: int, in_channels: int, image_size: int, *, cosine_head: bool = False
) -> FeatureClassifier:
    return torchvision_resnet(resnet18, num_classes, in_channels, image_size, cosine_head=cosine_head)


def resnet50_adapted(
    num_classes: int, in_channels: int, image_size: int, *, cosine_head: bool = False
) -> FeatureClassifier:
    return torchvision_resnet(resnet50, num_classes, in_channels, image_size, cosine_head=cosine_head)
