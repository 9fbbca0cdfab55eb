"""Common shape of every classifier: a feature extractor followed by a final ``head`` layer.

Splitting the two as sub-modules lets the meta step run ``torch.func.functional_call`` on either part
(``head`` meta mode needs features without touching the backbone's parameters or BN statistics).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class NormedLinear(nn.Module):
    """Cosine classifier (LDAM): logits are cosines between L2-normalised features and class weights."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = nn.Parameter(torch.empty(in_features, out_features))
        # LDAM-DRW's init: uniform, then renormalised per column.
        nn.init.uniform_(self.weight, -1.0, 1.0)
        with torch.no_grad():
            self.weight.renorm_(2, 1, 1e-5).mul_(1e5)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return F.normalize(features, dim=1) @ F.normalize(self.weight, dim=0)


def make_head(in_features: int, num_classes: int, *, cosine: bool) -> nn.Module:
    if cosine:
        return NormedLinear(in_features, num_classes)
    head = nn.Linear(in_features, num_classes)
    nn.init.kaiming_normal_(head.weight)
    nn.init.zeros_(head.bias)
    return head


class FeatureClassifier(nn.Module):
    """``forward(x) = head(features(x))``; ``features`` ends with global pooling and flattening."""

    def __init__(self, features: nn.Module, head: nn.Module, feature_dim: int) -> None:
        super().__init__()
        self.features = features
        self.head = head
        self.feature_dim = feature_dim

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
