from __future__ import annotations

import pytest
import torch
from torch import nn

from difficultynet.contracts.config import MODELS
from difficultynet.models import MODEL_BUILDERS, NormedLinear, create_model
from difficultynet.models.resnet_cifar import BasicBlock, PadShortcut

torch.set_num_threads(1)


def test_registry_covers_every_configurable_model() -> None:
    assert set(MODEL_BUILDERS) == set(MODELS)


@pytest.mark.parametrize(("name", "blocks", "params"), [("resnet8", 3, 75_290), ("resnet20", 9, 269_722)])
def test_cifar_resnets_have_he_et_al_layout(name: str, blocks: int, params: int) -> None:
    model = create_model(name, num_classes=10, in_channels=3, image_size=32)
    assert sum(isinstance(m, BasicBlock) for m in model.modules()) == blocks
    # Hand count: stem 432 + 32, per-stage convs/BN (option-A shortcuts are free), head 64·10 + 10.
    assert sum(p.numel() for p in model.parameters()) == params
    widths = [m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert widths[0] == 16 and widths[-1] == 64 and set(widths) == {16, 32, 64}


def test_resnet32_matches_the_published_size_and_option_a_shortcuts_have_no_parameters() -> None:
    model = create_model("resnet32", num_classes=10, in_channels=3, image_size=32)
    assert 0.45e6 < sum(p.numel() for p in model.parameters()) < 0.47e6  # "about 0.46 M" (spec §4.1)
    shortcuts = [m for m in model.modules() if isinstance(m, PadShortcut)]
    assert len(shortcuts) == 2 and all(not list(s.parameters()) for s in shortcuts)
    x = torch.randn(2, 16, 8, 8)
    out = PadShortcut(stride=2, extra_channels=16)(x)
    assert out.shape == (2, 32, 4, 4)
    assert torch.equal(out[:, 8:24], x[:, :, ::2, ::2]) and not out[:, :8].any() and not out[:, 24:].any()


@pytest.mark.parametrize("name", ["resnet8", "resnet20", "resnet32", "resnet18"])
@pytest.mark.parametrize("channels", [1, 3])
def test_models_expose_features_and_head(name: str, channels: int) -> None:
    model = create_model(name, num_classes=5, in_channels=channels, image_size=16)
    x = torch.randn(2, channels, 16, 16)
    features = model.forward_features(x)
    assert features.shape == (2, model.feature_dim)
    assert isinstance(model.head, nn.Linear) and model.head.out_features == 5
    torch.testing.assert_close(model.head(features), model(x))


def test_torchvision_stem_depends_on_image_size() -> None:
    small = create_model("resnet18", num_classes=3, in_channels=1, image_size=32)
    assert isinstance(small.features, nn.Sequential)
    stem, maxpool = small.features[0], small.features[3]
    assert isinstance(stem, nn.Conv2d) and stem.kernel_size == (3, 3) and stem.stride == (1, 1)
    assert isinstance(maxpool, nn.Identity)  # no max-pool for small images
    large = create_model("resnet50", num_classes=3, in_channels=1, image_size=96)
    assert isinstance(large.features, nn.Sequential)
    stem = large.features[0]
    assert isinstance(stem, nn.Conv2d) and stem.kernel_size == (7, 7) and stem.in_channels == 1
    assert large(torch.randn(1, 1, 96, 96)).shape == (1, 3)


def test_cosine_head_outputs_cosines() -> None:
    model = create_model("resnet8", num_classes=4, in_channels=3, image_size=8, cosine_head=True)
    assert isinstance(model.head, NormedLinear)
    assert not any(name.endswith("bias") for name, _ in model.head.named_parameters())
    logits = model(torch.randn(3, 3, 8, 8))
    assert logits.abs().max() <= 1.0 + 1e-6
    features = model.forward_features(torch.randn(3, 3, 8, 8))
    head = model.head
    expected = torch.nn.functional.normalize(features, dim=1) @ torch.nn.functional.normalize(
        head.weight, dim=0
    )
    torch.testing.assert_close(head(features), expected)


def test_unknown_model_and_single_class_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown model"):
        create_model("vgg11", num_classes=3, in_channels=3, image_size=32)
    with pytest.raises(ValueError, match="at least 2 classes"):
        create_model("resnet8", num_classes=1, in_channels=3, image_size=32)


def test_same_seed_same_initialisation() -> None:
    torch.manual_seed(3)
    a = create_model("resnet8", 4, 3, 8)
    torch.manual_seed(3)
    b = create_model("resnet8", 4, 3, 8)
    for (name, pa), (_, pb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(pa, pb), name
