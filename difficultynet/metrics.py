"""Evaluation: per-class accuracy on device, then the record-level summaries (one host sync per call).

On the evaluation split the same forward pass also keeps, per image, the predicted class, its softmax
probability and the true class's probability; :func:`explore_classes` turns these into each class's top
confusions and hardest examples (sorted and selected on the device, so only C·k entries reach the host).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from difficultynet.contracts.records import (
    EXPLORE_DIGITS,
    GROUPS,
    ClassConfusion,
    Group,
    HardExample,
    clean_float,
)


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


@dataclass(frozen=True)
class EvalPass:
    """One evaluation pass, on the model's device: per-class counts, and per image (``per_image`` only)
    the predicted class, its probability and the true class's probability."""

    labels: torch.Tensor
    correct: torch.Tensor  # per class
    total: torch.Tensor  # per class
    predicted: torch.Tensor | None = None
    predicted_prob: torch.Tensor | None = None
    true_prob: torch.Tensor | None = None
    offset_correct: torch.Tensor | None = None  # per class, of logits + ``logit_offset`` (when given)

    def accuracy(self) -> ClassAccuracy:
        return to_class_accuracy(self.correct, self.total)

    def offset_accuracy(self) -> ClassAccuracy:
        """Per-class accuracy of the offset logits; only for a pass given a ``logit_offset``."""
        if self.offset_correct is None:
            raise ValueError("this evaluation pass had no logit offset")
        return to_class_accuracy(self.offset_correct, self.total)


EVAL_BATCH_SIZE = 1000  # images per evaluation forward at 32 px; fewer at larger sizes (eval_batch_size)


def eval_batch_size(image_size: int, train_batch_size: int) -> int:
    """Images per evaluation forward: the pixels of 1000 32-px images, but never fewer than a training batch.

    A fixed 1000 at 112 px held 12× the activations of a 32-px pass and lifted the worker's peak RSS above
    training's own (benchmarks/results/real-photos.md). A training batch already fits with its gradients, so
    an evaluation batch of that size, without them, never raises the peak.
    """
    same_pixels = EVAL_BATCH_SIZE * 32 * 32 // (image_size * image_size)
    return max(1, min(EVAL_BATCH_SIZE, max(same_pixels, train_batch_size)))


@torch.no_grad()
def evaluation_pass(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    prepare: Callable[[torch.Tensor], torch.Tensor],
    batch_size: int,
    *,
    per_image: bool = False,
    logit_offset: torch.Tensor | None = None,
) -> EvalPass:
    """Forward ``images`` once in batches; the model must be in eval mode. No host sync.

    ``logit_offset`` (C,): the same forward also counts which images logits + offset classify correctly
    (``offset_correct``); everything else reads the logits as they are."""
    correct = torch.zeros(num_classes, dtype=torch.long, device=labels.device)
    offset_correct = None if logit_offset is None else torch.zeros_like(correct)
    predicted: list[torch.Tensor] = []
    predicted_prob: list[torch.Tensor] = []
    true_prob: list[torch.Tensor] = []
    for start in range(0, images.shape[0], batch_size):
        y = labels[start : start + batch_size]
        logits = model(prepare(images[start : start + batch_size]))
        if offset_correct is not None:
            offset_pred = (logits.float() + logit_offset).argmax(dim=1)
            offset_correct += torch.bincount(y[offset_pred == y], minlength=num_classes)
        if per_image:
            # float32 softmax even under autocast; NaN logits (a diverged model) read as probability 0
            probs = torch.nan_to_num(logits.float().softmax(dim=1), nan=0.0)
            top_prob, pred = probs.max(dim=1)
            predicted.append(pred)
            predicted_prob.append(top_prob)
            true_prob.append(probs.gather(1, y[:, None]).squeeze(1))
        else:
            pred = logits.argmax(dim=1)
        correct += torch.bincount(y[pred == y], minlength=num_classes)
    total = torch.bincount(labels, minlength=num_classes)
    if not per_image:
        return EvalPass(labels, correct, total, offset_correct=offset_correct)
    empty = torch.zeros(0, device=labels.device)
    return EvalPass(
        labels,
        correct,
        total,
        predicted=torch.cat(predicted) if predicted else empty.long(),
        predicted_prob=torch.cat(predicted_prob) if predicted_prob else empty,
        true_prob=torch.cat(true_prob) if true_prob else empty,
        offset_correct=offset_correct,
    )


def top_confusions(
    labels: torch.Tensor, predicted: torch.Tensor, total: torch.Tensor, k: int
) -> list[list[ClassConfusion]]:
    """Per true class, its ``k`` most frequent wrong predictions with their rate (count / class images),
    by decreasing rate then class index. Sparse: only the (true, predicted) pairs that occur are counted,
    so memory grows with the errors, not with C²."""
    num_classes = len(total)
    wrong = predicted != labels
    pairs, counts = torch.unique(labels[wrong] * num_classes + predicted[wrong], return_counts=True)
    true_class, predicted_class = pairs // num_classes, pairs % num_classes  # sorted by (true, predicted)
    most = int(counts.max()) if len(counts) else 0
    order = torch.argsort(true_class * (most + 1) + (most - counts), stable=True)  # class-major, count desc
    true_sorted = true_class[order]
    rank = torch.arange(len(order), device=order.device) - torch.searchsorted(true_sorted, true_sorted)
    keep = order[rank < k]
    out: list[list[ClassConfusion]] = [[] for _ in range(num_classes)]
    totals = total.tolist()
    for t, p, n in zip(
        true_class[keep].tolist(), predicted_class[keep].tolist(), counts[keep].tolist(), strict=True
    ):
        out[t].append(ClassConfusion(p, clean_float(n / totals[t], EXPLORE_DIGITS)))
    return out


def hardest_examples(
    labels: torch.Tensor,
    true_prob: torch.Tensor,
    predicted: torch.Tensor,
    predicted_prob: torch.Tensor,
    rows: torch.Tensor,
    total: torch.Tensor,
    k: int,
) -> list[list[HardExample]]:
    """Per class, its ``k`` images with the lowest true-class probability (ties: evaluation order), as
    manifest rows with their prediction."""
    num_classes = len(total)
    out: list[list[HardExample]] = [[] for _ in range(num_classes)]
    if len(labels) == 0:
        return out
    by_prob = torch.argsort(true_prob, stable=True)
    order = by_prob[torch.argsort(labels[by_prob], stable=True)]  # class-major, lowest probability first
    slot = torch.arange(k, device=labels.device)
    first = torch.cumsum(total, 0) - total
    valid = slot[None, :] < total[:, None]
    chosen = order[(first[:, None] + slot[None, :]).clamp(max=len(order) - 1)][valid]
    owner = torch.arange(num_classes, device=labels.device)[:, None].expand(-1, k)[valid]
    columns = zip(
        owner.tolist(),
        rows.to(labels.device)[chosen].tolist(),
        true_prob[chosen].tolist(),
        predicted[chosen].tolist(),
        predicted_prob[chosen].tolist(),
        strict=True,
    )
    for c, row, p_true, pred, p_pred in columns:
        out[c].append(
            HardExample(row, clean_float(p_true, EXPLORE_DIGITS), pred, clean_float(p_pred, EXPLORE_DIGITS))
        )
    return out


@dataclass(frozen=True)
class ClassExploration:
    """The record's ``confusions`` and ``hardest`` columns."""

    confusions: list[list[ClassConfusion]]
    hardest: list[list[HardExample]]


def explore_classes(
    result: EvalPass, rows: torch.Tensor, confusion_k: int, hardest_k: int
) -> ClassExploration:
    """Top confusions and hardest examples of every class from a ``per_image`` evaluation pass."""
    if result.predicted is None or result.predicted_prob is None or result.true_prob is None:
        raise ValueError("explore_classes needs an evaluation pass run with per_image=True")
    return ClassExploration(
        confusions=top_confusions(result.labels, result.predicted, result.total, confusion_k),
        hardest=hardest_examples(
            result.labels,
            result.true_prob,
            result.predicted,
            result.predicted_prob,
            rows,
            result.total,
            hardest_k,
        ),
    )


def to_class_accuracy(correct: torch.Tensor, total: torch.Tensor) -> ClassAccuracy:
    correct_list = correct.cpu().tolist()
    total_list = total.cpu().tolist()
    acc = [c / t if t else 0.0 for c, t in zip(correct_list, total_list, strict=True)]
    n = sum(total_list)
    top1 = sum(correct_list) / n if n else 0.0
    return ClassAccuracy(acc=acc, present=[t > 0 for t in total_list], top1=top1)
