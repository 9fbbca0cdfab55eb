"""CIFAR ResNets of He et al. (2016): 6n+2 layers, widths 16/32/64, option-A shortcuts (spec §4.1)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from difficultynet.models.base import FeatureClassifier, make_head

STAGE_WIDTHS = (16, 32, 64)


class PadShortcut(nn.Module):
    """Option A: subsample spatially by the stride and zero-pad the new channels (no parameters)."""

    def __init__(self, stride: int, extra_channels: int) -> None:
        super().__init__()
        self.stride = stride
        self.pad_each_side = extra_channels // 2
        self.pad_rest = extra_channels - self.pad_each_side

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, self.pad_each_side, self.pad_rest))


class BasicBlock(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        needs_projection = stride != 1 or in_planes != planes
        self.shortcut: nn.Module = (
            PadShortcut(stride, planes - in_planes) if needs_projection else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


def _cifar_features(blocks_per_stage: int, in_channels: int) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, STAGE_WIDTHS[0], 3, stride=1, padding=1, bias=False),
        nn.BatchNorm2d(STAGE_WIDTHS[0]),
        nn.ReLU(inplace=True),
    ]
    in_planes = STAGE_WIDTHS[0]
    for stage, planes in enumerate(STAGE_WIDTHS):
        for block in range(blocks_per_stage):
            stride = 2 if stage > 0 and block == 0 else 1
            layers.append(BasicBlock(in_planes, planes, stride))
            in_planes = planes
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    features = nn.Sequential(*layers)
    for module in features.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight)
    return features


def cifar_resnet(
    depth: int, num_classes: int, in_channels: int, *, cosine_head: bool = False
) -> FeatureClassifier:
    """ResNet-``depth`` with depth = 6n + 2 (8, 20, 32, ...): n BasicBlocks per stage."""
    if depth < 8 or (depth - 2) % 6 != 0:
        raise ValueError(f"CIFAR ResNet depth must be 6n+2 with n >= 1, got {depth}")
    features = _cifar_features((depth - 2) // 6, in_channels)
    head = make_head(STAGE_WIDTHS[-1], num_classes, cosine=cosine_head)
    return FeatureClassifier(features, head, STAGE_WIDTHS[-1])
