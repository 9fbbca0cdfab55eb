"""Per-sample base losses and per-class weight rules of the long-tail baselines (spec §3).

Every base loss returns shape (B,); a method's batch loss is ``(1/B) Σ_i w_{y_i} ℓ_i`` (spec §1.4: divide
by B, not by Σ w). Weight rules return a (C,) tensor normalised to Σ_c w_c = C.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from difficultynet.contracts.config import TrainConfig

PerSampleLoss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
# (logits, targets, class weights or None) → the batch loss; the form every training step takes its loss in
BatchLoss = Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None], torch.Tensor]
CDB_ACC_EPS = 0.01  # CDB's "+0.01" in b = max a / (min a + 0.01)
WEIGHT_LOG_FLOOR = 1e-8  # a class weight of exactly 0 (saturated sigmoid) would make log w = −inf


def _full_precision(logits: torch.Tensor) -> torch.Tensor:
    """Half-precision logits (AMP) are upcast for the softmax; float32/float64 are kept as they are."""
    return logits.float() if logits.dtype in (torch.float16, torch.bfloat16) else logits


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(_full_precision(logits), targets, reduction="none")


def focal_loss(logits: torch.Tensor, targets: torch.Tensor, gamma: float) -> torch.Tensor:
    """ℓ = −(1 − p_y)^γ log p_y (α = 1)."""
    log_p = F.log_softmax(_full_precision(logits), dim=1).gather(1, targets[:, None]).squeeze(1)
    return -((1.0 - log_p.exp()).clamp_min(0.0) ** gamma) * log_p


def balanced_softmax_loss(
    logits: torch.Tensor, targets: torch.Tensor, log_prior: torch.Tensor
) -> torch.Tensor:
    """Balanced Softmax: ℓ = CE(z + τ·log n, y), ``log_prior`` = τ·log n (τ = 1 in the paper); tests use z."""
    return F.cross_entropy(_full_precision(logits) + log_prior, targets, reduction="none")


def ldam_margins(counts: torch.Tensor, max_margin: float) -> torch.Tensor:
    """m_c = K / n_c^{1/4} with K such that max_c m_c = max_margin."""
    raw = counts.double().pow(-0.25)
    return (raw * (max_margin / raw.max())).float()


def ldam_loss(
    cosine_logits: torch.Tensor, targets: torch.Tensor, margins: torch.Tensor, scale: float
) -> torch.Tensor:
    """ℓ = CE(s · (z − m_y e_y), y): only the true-class cosine is reduced by its margin."""
    z = _full_precision(cosine_logits)
    shifted = z - F.one_hot(targets, z.shape[1]).to(z.dtype) * margins[targets][:, None]
    return F.cross_entropy(scale * shifted, targets, reduction="none")


def weighted_batch_loss(
    per_sample: torch.Tensor, targets: torch.Tensor, class_weights: torch.Tensor | None
) -> torch.Tensor:
    """(1/B) Σ_i w_{y_i} ℓ_i; plain mean when there are no class weights."""
    if class_weights is None:
        return per_sample.mean()
    return (class_weights[targets] * per_sample).mean()


def weighted(per_sample_loss: PerSampleLoss) -> BatchLoss:
    """The batch loss (1/B) Σ_i w_{y_i} ℓ_i of a per-sample loss."""
    return lambda z, y, w: weighted_batch_loss(per_sample_loss(z, y), y, w)


def weight_consistent_balanced_softmax(log_prior: torch.Tensor) -> BatchLoss:
    """(1/B) Σ_i w_{y_i} · CE(z_i + log_prior + log w, y_i): the class weights enter the adjustment too.

    Weighting a logit-adjusted loss by w_y moves its optimum by log w_y (the model learns p ∝ w_y p_bal), so
    on Balanced Softmax any non-uniform weights over-correct. Adding log w to the adjustment cancels that:
    this is the Fisher-consistent family of Menon et al. (2021, "Long-tail learning via logit adjustment",
    α_y = w_y with margins log(π_y' w_y' / π_y w_y)). The balanced optimum is the same for every w, and the
    weights only decide which samples the gradient emphasises. w is differentiable in both places.
    """

    def loss(logits: torch.Tensor, targets: torch.Tensor, class_weights: torch.Tensor | None) -> torch.Tensor:
        if class_weights is None:
            return balanced_softmax_loss(logits, targets, log_prior).mean()
        adjustment = log_prior + class_weights.float().clamp_min(WEIGHT_LOG_FLOOR).log()
        return weighted_batch_loss(balanced_softmax_loss(logits, targets, adjustment), targets, class_weights)

    return loss


def normalise_to_num_classes(raw: torch.Tensor) -> torch.Tensor:
    """Scale so Σ_c w_c = C; an all-zero vector becomes uniform instead of 0/0."""
    total = raw.sum()
    if not torch.isfinite(total) or total <= 0:
        return torch.ones_like(raw)
    return raw * (raw.numel() / total)


def class_balanced_weights(counts: torch.Tensor, beta: float) -> torch.Tensor:
    """Cui et al.: w_c ∝ (1 − β) / (1 − β^{n_c}) (inverse effective number), Σ w = C. β = 0 → uniform."""
    n = counts.double()
    effective = -torch.expm1(n * math.log(beta)) / (1.0 - beta) if beta > 0 else torch.ones_like(n)
    return normalise_to_num_classes(1.0 / effective).float()


def cdb_tau(val_acc: torch.Tensor, tau: str | float) -> torch.Tensor:
    """CDB τ: fixed, ``dynamic`` = 2σ(b − 1) or ``dynamic_code`` = σ(b), with b = max a / (min a + 0.01)."""
    if not isinstance(tau, str):
        return torch.tensor(float(tau), dtype=torch.float64, device=val_acc.device)
    a = val_acc.double()
    b = a.max() / (a.min() + CDB_ACC_EPS)
    if tau == "dynamic":
        return 2.0 * torch.sigmoid(b - 1.0)
    if tau == "dynamic_code":
        return torch.sigmoid(b)
    raise ValueError(f"unknown CDB tau {tau!r}")


def cdb_weights(val_acc: torch.Tensor, tau: str | float) -> torch.Tensor:
    """CDB-CE: w_c ∝ (1 − a_c)^τ, Σ w = C (spec §3.4)."""
    difficulty = (1.0 - val_acc.double()).clamp_min(0.0)
    return normalise_to_num_classes(difficulty.pow(cdb_tau(val_acc, tau))).float()


def drw_start_epoch(config: TrainConfig) -> int:
    """0-based epoch from which LDAM-DRW switches on its CB weights (160 of 200 with frac 0.8)."""
    return math.floor(config.drw_start_frac * config.epochs + 1e-9)


@dataclass(frozen=True)
class LossRule:
    """A method's base loss and its (non-learned) class-weight rule."""

    config: TrainConfig
    counts: torch.Tensor  # (C,) train images per class, on the training device

    @property
    def num_classes(self) -> int:
        return int(self.counts.numel())

    @property
    def uses_cosine_head(self) -> bool:
        return self.config.method == "ldam-drw"

    def per_sample_loss(self) -> PerSampleLoss:
        method = self.config.method
        if method in ("ce", "cb", "cdb", "dnet"):
            return cross_entropy
        if method == "focal":
            gamma = self.config.focal_gamma
            return lambda z, y: focal_loss(z, y, gamma)
        if (log_prior := self.loss_logit_offset()) is not None:
            return lambda z, y: balanced_softmax_loss(z, y, log_prior)
        if method == "ldam-drw":
            margins = ldam_margins(self.counts, self.config.ldam_max_margin)
            scale = self.config.ldam_s
            return lambda z, y: ldam_loss(z, y, margins, scale)
        raise ValueError(f"unknown method {method!r}")

    def loss_logit_offset(self) -> torch.Tensor | None:
        """What the base loss adds to the logits before scoring them (τ·log n for Balanced Softmax)."""
        if self.config.method in ("bsce", "dnet-bsce"):
            return self.config.bsce_tau * self.counts.float().log()
        return None

    def batch_loss(self) -> BatchLoss:
        """The method's batch loss as a function of the class weights (see :func:`weighted`)."""
        log_prior = self.loss_logit_offset()
        if log_prior is not None and self.config.is_dnet and self.config.dnet.weights_in_adjustment:
            return weight_consistent_balanced_softmax(log_prior)
        return weighted(self.per_sample_loss())

    def class_weights(self, epoch_index: int, prev_val_acc: torch.Tensor | None) -> torch.Tensor:
        """Effective per-class weights for a 0-based epoch; ``prev_val_acc`` is the last measured a (or None).

        DNet methods return uniform weights here: their weights come from the Difficulty-Net.
        """
        method = self.config.method
        ones = torch.ones(self.num_classes, device=self.counts.device)
        if method == "cb":
            return class_balanced_weights(self.counts, self.config.cb_beta)
        if method == "cdb":
            return ones if prev_val_acc is None else cdb_weights(prev_val_acc, self.config.cdb_tau)
        if method == "ldam-drw" and epoch_index >= drw_start_epoch(self.config):
            return class_balanced_weights(self.counts, self.config.cb_beta)
        return ones

    def is_weighted(self, epoch_index: int) -> bool:
        method = self.config.method
        if method in ("cb", "cdb", "dnet", "dnet-bsce"):
            return True
        return method == "ldam-drw" and epoch_index >= drw_start_epoch(self.config)
