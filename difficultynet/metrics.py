"""Evaluation: per-class accuracy on device, then the record-level summaries (one host sync per call)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from difficultynet.records import GROUPS, Group


@dataclass(frozen=True)
class ClassAccuracy:
    """Per-class accuracies as floats; ``present[c]`` is False when the split has no image of class c."""

    acc: list[float]
    present: list[bool]
    top1: float

    @property
    def balanced(self) -> float:
        values = [a for a, p in zip(self.acc, self.present, strict=True) if p]
        return sum(values) / len(values) if values else 0.0

    def group_mean(self, groups: Sequence[Group], group: Group) -> float | None:
        values = [a for a, g, p in zip(self.acc, groups, self.present, strict=True) if g == group and p]
        return sum(values) / len(values) if values else None

    def group_means(self, groups: Sequence[Group]) -> dict[Group, float | None]:
        return {g: self.group_mean(groups, g) for g in GROUPS}


@torch.no_grad()
def class_correct_counts(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    prepare: Callable[[torch.Tensor], torch.Tensor],
    batch_size: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(correct per class, images per class) on the model's device; the model must be in eval mode."""
    correct = torch.zeros(num_classes, dtype=torch.long, device=labels.device)
    for start in range(0, images.shape[0], batch_size):
        y = labels[start : start + batch_size]
        pred = model(prepare(images[start : start + batch_size])).argmax(dim=1)
        correct += torch.bincount(y[pred == y], minlength=num_classes)
    return correct, torch.bincount(labels, minlength=num_classes)


def to_class_accuracy(correct: torch.Tensor, total: torch.Tensor) -> ClassAccuracy:
    correct_list = correct.cpu().tolist()
    total_list = total.cpu().tolist()
    acc = [c / t if t else 0.0 for c, t in zip(correct_list, total_list, strict=True)]
    n = sum(total_list)
    top1 = sum(correct_list) / n if n else 0.0
    return ClassAccuracy(acc=acc, present=[t > 0 for t in total_list], top1=top1)
