"""torchvision backbones (ResNet-18/50, EfficientNet-B0) adapted to any channel count, class count and
image size, optionally starting from a torchvision state dict (ImageNet weights).

From scratch at small sizes (≤ 64 px) the ResNets get a CIFAR-style stem; a pretrained ResNet keeps its
ImageNet stem, whose weights are the point of starting from it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from functools import partial

from torch import Tensor, nn
from torchvision.models import ResNet, efficientnet_b0, resnet18, resnet50

from difficultynet.errors import DnetError
from difficultynet.models.base import FeatureClassifier, make_head

SMALL_IMAGE_MAX = 64  # at or below this size the ImageNet stem would shrink the image too early
BackboneState = Mapping[str, Tensor]
# The classifier layers of torchvision's own models: replaced by our head, so never loaded.
_CLASSIFIER_PREFIXES = ("fc.", "classifier.")


def _grey_first_conv(conv: nn.Conv2d) -> nn.Conv2d:
    """A one-channel copy of an RGB convolution whose kernel is the sum over the colour planes."""
    grey = copy.deepcopy(conv)
    grey.in_channels = 1
    grey.weight = nn.Parameter(conv.weight.detach().sum(dim=1, keepdim=True))
    return grey


def load_torchvision_state(net: nn.Module, state: BackboneState) -> None:
    """Load ``state`` (a torchvision model's state dict) into ``net``, except its classifier layer.

    A missing or mis-shaped backbone tensor is a :class:`DnetError` naming the first few keys.
    """
    wanted = {k: v for k, v in state.items() if not k.startswith(_CLASSIFIER_PREFIXES)}
    own = {k: v for k, v in net.state_dict().items() if not k.startswith(_CLASSIFIER_PREFIXES)}
    missing = sorted(set(own) - set(wanted))
    wrong = sorted(k for k in set(own) & set(wanted) if own[k].shape != wanted[k].shape)
    if missing or wrong:
        problems = [f"{len(missing)} missing (e.g. {', '.join(missing[:3])})"] if missing else []
        problems += [f"{len(wrong)} of another shape (e.g. {', '.join(wrong[:3])})"] if wrong else []
        raise DnetError(
            f"the weights do not fit this {type(net).__name__} backbone: {'; '.join(problems)}; "
            "pass a state dict saved from the same torchvision model"
        )
    net.load_state_dict(wanted, strict=False)


def torchvision_resnet(
    builder: Callable[..., ResNet],
    num_classes: int,
    in_channels: int,
    image_size: int,
    *,
    cosine_head: bool = False,
    backbone_state: BackboneState | None = None,
) -> FeatureClassifier:
    net = builder(weights=None)
    if backbone_state is not None:
        load_torchvision_state(net, backbone_state)
        if in_channels == 1:
            net.conv1 = _grey_first_conv(net.conv1)
    else:
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


# The registry's builders (num_classes, in_channels, image_size, *, cosine_head, backbone_state).
resnet18_adapted = partial(torchvision_resnet, resnet18)
resnet50_adapted = partial(torchvision_resnet, resnet50)


def efficientnet_b0_adapted(
    num_classes: int,
    in_channels: int,
    image_size: int,
    *,
    cosine_head: bool = False,
    backbone_state: BackboneState | None = None,
) -> FeatureClassifier:
    """EfficientNet-B0 (5.3 M parameters): its stride-32 stem is kept at every size (global pooling)."""
    del image_size
    net = efficientnet_b0(weights=None)
    if backbone_state is not None:
        load_torchvision_state(net, backbone_state)
    stem = net.features[0][0]
    if in_channels == 1:
        assert isinstance(stem, nn.Conv2d)
        if backbone_state is not None:
            net.features[0][0] = _grey_first_conv(stem)
        else:
            net.features[0][0] = nn.Conv2d(1, stem.out_channels, 3, stride=2, padding=1, bias=False)
            nn.init.kaiming_normal_(net.features[0][0].weight, mode="fan_out")
    linear = net.classifier[1]
    assert isinstance(linear, nn.Linear)
    feature_dim = linear.in_features
    # The classifier's dropout is left out: head-mode DNet reads these features as the head's input.
    features = nn.Sequential(net.features, net.avgpool, nn.Flatten())
    return FeatureClassifier(features, make_head(feature_dim, num_classes, cosine=cosine_head), feature_dim)
