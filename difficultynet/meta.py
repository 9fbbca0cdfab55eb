"""Difficulty-Net (spec §1): the MLP, its driver loss, and the meta update in three modes.

``full``        virtual plain-SGD step over every classifier parameter (``functional_call``, second order),
                meta CE through θ'(φ); the training batch's forward is shared with the real step (§6.1).
``head``        virtual step on the head only, on detached features (§6.2); the real forward is reused and
                the meta batch's features are computed once without gradient.
``driver_only`` φ is trained on λ·L_drv alone, which is what the released code effectively does (§1.8 F2).

BN running statistics are touched only by the real step: every functional forward gets cloned buffers,
and the trainer copies the training-batch clones back (:func:`commit_buffers`) when it takes the real step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from difficultynet.config import DNetConfig
from difficultynet.losses import PerSampleLoss, cross_entropy, weighted_batch_loss
from difficultynet.models import FeatureClassifier

TARGET_EPS = 1e-12  # the official driver target's 1e-12 in 1 − a / (Σa + 1e-12)
Tensors = dict[str, torch.Tensor]


class DifficultyNet(nn.Module):
    """D_φ: R^C → (0,1)^C, C → h → h → C with ReLU and a sigmoid output (spec §1.3)."""

    def __init__(self, num_classes: int, hidden: int = 128, *, bias: bool = False) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.hidden = hidden
        self.bias = bias
        self.layers = nn.Sequential(
            nn.Linear(num_classes, hidden, bias=bias),
            nn.ReLU(),
            nn.Linear(hidden, hidden, bias=bias),
            nn.ReLU(),
            nn.Linear(hidden, num_classes, bias=bias),
        )

    def forward(self, accuracy: torch.Tensor) -> torch.Tensor:
        # Always fp32: C numbers, and the sigmoid saturates quickly in half precision.
        with torch.autocast(device_type=accuracy.device.type, enabled=False):
            return torch.sigmoid(self.layers(accuracy.float().unsqueeze(0))).squeeze(0)

    def linear_layers(self) -> list[nn.Linear]:
        return [m for m in self.layers if isinstance(m, nn.Linear)]


def class_weights_from_difficulty(difficulty: torch.Tensor) -> torch.Tensor:
    """w_c = C · d_c / Σ_k d_k (mean weight 1)."""
    return difficulty * (difficulty.numel() / difficulty.sum())


def driver_target(accuracy: torch.Tensor) -> torch.Tensor:
    """t_c = 1 − a_c / (Σ_k a_k + 1e-12): a class's accuracy as its share of the summed accuracy."""
    return 1.0 - accuracy / (accuracy.sum() + TARGET_EPS)


def driver_loss(difficulty: torch.Tensor, accuracy: torch.Tensor) -> torch.Tensor:
    """L_drv = mean_c (d_c − t_c)², on the un-normalised sigmoid outputs."""
    return F.mse_loss(difficulty, driver_target(accuracy.float()))


def cloned_buffers(module: nn.Module) -> Tensors:
    return {name: buf.clone() for name, buf in module.named_buffers()}


@torch.no_grad()
def commit_buffers(module: nn.Module, buffers: Tensors) -> None:
    """Copy BN statistics computed by a functional forward into the real module (the real step's effect)."""
    for name, buf in module.named_buffers():
        buf.copy_(buffers[name])


def sgd_virtual_step(
    params: Tensors, loss: torch.Tensor, lr: float | torch.Tensor, *, create_graph: bool = True
) -> Tensors:
    """θ' = θ − η ∇_θ loss, plain SGD, keeping the graph so θ' stays a function of the class weights."""
    names = list(params)
    grads = torch.autograd.grad(
        loss, [params[n] for n in names], create_graph=create_graph, allow_unused=True
    )
    return {n: params[n] if g is None else params[n] - lr * g for n, g in zip(names, grads, strict=True)}


def full_meta_loss(
    model: nn.Module,
    params: Tensors,
    per_sample: torch.Tensor,
    targets: torch.Tensor,
    class_weights: torch.Tensor,
    meta_x: torch.Tensor,
    meta_y: torch.Tensor,
    lr: float | torch.Tensor,
) -> torch.Tensor:
    """Meta CE of the whole model after one virtual step on the w-weighted training loss.

    ``per_sample`` must come from ``functional_call(model, (params, buffers), x)`` so it is differentiable
    w.r.t. ``params``; the meta forward gets its own cloned buffers (BN in train mode, statistics discarded).
    """
    virtual = sgd_virtual_step(params, weighted_batch_loss(per_sample, targets, class_weights), lr)
    meta_logits = functional_call(model, (virtual, cloned_buffers(model)), (meta_x,))
    return cross_entropy(meta_logits, meta_y).mean()


def head_meta_loss(
    head: nn.Module,
    features: torch.Tensor,
    targets: torch.Tensor,
    loss_fn: PerSampleLoss,
    class_weights: torch.Tensor,
    meta_features: torch.Tensor,
    meta_y: torch.Tensor,
    lr: float | torch.Tensor,
) -> torch.Tensor:
    """Meta CE after a virtual step on the head alone; ``features`` are treated as constants."""
    params: Tensors = dict(head.named_parameters())
    per_sample = loss_fn(functional_call(head, params, (features.detach(),)), targets)
    virtual = sgd_virtual_step(params, weighted_batch_loss(per_sample, targets, class_weights), lr)
    meta_logits = functional_call(head, virtual, (meta_features,))
    return cross_entropy(meta_logits, meta_y).mean()


@dataclass(frozen=True)
class MetaStats:
    driver_loss: torch.Tensor  # detached scalars, kept on device (no host sync in the hot loop)
    meta_loss: torch.Tensor | None


@dataclass(frozen=True)
class DnetStep:
    """What the trainer needs to take the real step after (or without) a meta update."""

    loss: torch.Tensor  # (1/B) Σ w'_{y_i} ℓ_i with the post-update weights, graph to the model
    buffers: Tensors | None  # BN statistics to commit after the real step (full mode only)
    stats: MetaStats | None  # None on iterations without a meta update


MetaBatch = Callable[[], tuple[torch.Tensor, torch.Tensor]]


class DifficultyNetLearner:
    """Holds φ, its Adam optimiser and the accuracy input a; produces the per-class weights."""

    def __init__(self, num_classes: int, config: DNetConfig, device: torch.device) -> None:
        self.config = config
        self.net = DifficultyNet(num_classes, config.hidden, bias=config.bias).to(device)
        self.optimizer = torch.optim.Adam(
            self.net.parameters(), lr=config.lr, weight_decay=config.weight_decay
        )
        # a = 0 before the first refresh: with no biases d = 0.5 everywhere, i.e. uniform weights (§1.2).
        self.accuracy = torch.zeros(num_classes, device=device)

    @torch.no_grad()
    def difficulties(self) -> torch.Tensor:
        return self.net(self.accuracy)

    @torch.no_grad()
    def weights(self) -> torch.Tensor:
        return class_weights_from_difficulty(self.net(self.accuracy))

    def set_accuracy(self, accuracy: torch.Tensor) -> None:
        self.accuracy = accuracy.detach().float().clone()

    def meta_update(
        self, meta_loss_fn: Callable[[torch.Tensor], torch.Tensor] | None, *, retain_graph: bool = False
    ) -> MetaStats:
        """One Adam step on φ for L = meta_loss(w(φ)) + λ·L_drv(φ) (driver only: ``meta_loss_fn`` None)."""
        params = list(self.net.parameters())
        self.optimizer.zero_grad(set_to_none=True)
        difficulty = self.net(self.accuracy)
        drv = driver_loss(difficulty, self.accuracy)
        total = self.config.driver_lambda * drv
        meta = None
        if meta_loss_fn is not None:
            meta = meta_loss_fn(class_weights_from_difficulty(difficulty))
            total = total + meta
        total.backward(inputs=params, retain_graph=retain_graph)
        self.optimizer.step()
        return MetaStats(drv.detach(), None if meta is None else meta.detach())

    def training_step(
        self,
        model: FeatureClassifier,
        loss_fn: PerSampleLoss,
        x: torch.Tensor,
        y: torch.Tensor,
        *,
        meta_batch: MetaBatch,
        lr: float | torch.Tensor,
        do_meta: bool,
    ) -> DnetStep:
        """Meta update (when ``do_meta``), then the real loss with the updated weights (spec §1.7, 1–6)."""
        mode = self.config.meta_mode
        if do_meta and mode == "full":
            params: Tensors = dict(model.named_parameters())
            buffers = cloned_buffers(model)
            per_sample = loss_fn(functional_call(model, (params, buffers), (x,)), y)
            meta_x, meta_y = meta_batch()
            stats = self.meta_update(
                lambda w: full_meta_loss(model, params, per_sample, y, w, meta_x, meta_y, lr),
                retain_graph=True,  # the real step back-propagates through the same forward
            )
            return DnetStep(weighted_batch_loss(per_sample, y, self.weights()), buffers, stats)
        if do_meta and mode == "head":
            features = model.forward_features(x)
            per_sample = loss_fn(model.head(features), y)
            meta_x, meta_y = meta_batch()
            with torch.no_grad():
                meta_features = functional_call(model.features, cloned_buffers(model.features), (meta_x,))
            stats = self.meta_update(
                lambda w: head_meta_loss(model.head, features, y, loss_fn, w, meta_features, meta_y, lr)
            )
            return DnetStep(weighted_batch_loss(per_sample, y, self.weights()), None, stats)
        skipped_stats = self.meta_update(None) if do_meta else None  # driver_only, or a skipped iteration
        return DnetStep(weighted_batch_loss(loss_fn(model(x), y), y, self.weights()), None, skipped_stats)

    def export_state(self) -> dict[str, Any]:
        """Plain-Python MLP state (for ``weights.json``) so the weights can be recomputed without torch."""
        layers = self.net.linear_layers()
        return {
            "architecture": {
                "input": self.net.num_classes,
                "hidden": [self.net.hidden, self.net.hidden],
                "output": self.net.num_classes,
                "bias": self.net.bias,
                "hidden_activation": "relu",
                "output_activation": "sigmoid",
                "weight_rule": "w_c = C * d_c / sum(d)",
            },
            "layers": [
                {
                    "weight": layer.weight.detach().double().cpu().tolist(),
                    "bias": None if layer.bias is None else layer.bias.detach().double().cpu().tolist(),
                }
                for layer in layers
            ],
            "accuracy_input": self.accuracy.detach().double().cpu().tolist(),
        }

    def state_dict(self) -> dict[str, Any]:
        return {
            "net": self.net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "accuracy": self.accuracy,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.accuracy = state["accuracy"].to(self.accuracy.device)
