"""Every loss and weight rule against a value computed by hand (spec §3)."""

from __future__ import annotations

import math

import pytest
import torch

from difficultynet.contracts.config import TrainConfig
from difficultynet.losses import (
    BatchLoss,
    LossRule,
    balanced_softmax_loss,
    cdb_tau,
    cdb_weights,
    class_balanced_weights,
    cross_entropy,
    drw_start_epoch,
    focal_loss,
    ldam_loss,
    ldam_margins,
    weight_consistent_balanced_softmax,
    weighted,
    weighted_batch_loss,
)

LN3 = math.log(3.0)


def test_cross_entropy_per_sample() -> None:
    # softmax([0, ln 3]) = [1/4, 3/4]
    loss = cross_entropy(torch.tensor([[0.0, LN3], [0.0, LN3]]), torch.tensor([1, 0]))
    torch.testing.assert_close(loss, torch.tensor([-math.log(0.75), -math.log(0.25)]))


def test_focal_gamma_one() -> None:
    # p_y = 3/4 → (1 − 3/4)·(−ln 3/4) = 0.25 · 0.287682
    loss = focal_loss(torch.tensor([[0.0, LN3]]), torch.tensor([1]), gamma=1.0)
    torch.testing.assert_close(loss, torch.tensor([0.25 * -math.log(0.75)]))
    same_as_ce = focal_loss(torch.tensor([[0.0, LN3]]), torch.tensor([1]), gamma=0.0)
    torch.testing.assert_close(same_as_ce, torch.tensor([-math.log(0.75)]))


def test_balanced_softmax_adds_log_counts() -> None:
    # counts (3, 1), z = 0: p̂_1 = 1·e^0 / (3·e^0 + 1·e^0) = 1/4
    loss = balanced_softmax_loss(torch.zeros(1, 2), torch.tensor([1]), torch.tensor([3.0, 1.0]).log())
    torch.testing.assert_close(loss, torch.tensor([math.log(4.0)]))


def test_ldam_margins_and_loss() -> None:
    margins = ldam_margins(torch.tensor([16, 1]), max_margin=0.5)  # n^{-1/4} = (0.5, 1) → scaled to max 0.5
    torch.testing.assert_close(margins, torch.tensor([0.25, 0.5]))
    cos = torch.tensor([[0.2, 0.1], [0.2, 0.1]])
    loss = ldam_loss(cos, torch.tensor([0, 1]), margins, scale=30.0)
    # y=0: 30·[0.2 − 0.25, 0.1] = [−1.5, 3] → log(1 + e^4.5)
    # y=1: 30·[0.2, 0.1 − 0.5] = [6, −12] → log(1 + e^18)
    torch.testing.assert_close(loss, torch.tensor([math.log1p(math.exp(4.5)), math.log1p(math.exp(18.0))]))


def test_weighted_batch_loss_divides_by_batch_size() -> None:
    per_sample = torch.tensor([1.0, 2.0, 3.0])
    targets = torch.tensor([0, 1, 1])
    # (0.5·1 + 1.5·2 + 1.5·3) / 3, not / Σw = 3.5
    torch.testing.assert_close(
        weighted_batch_loss(per_sample, targets, torch.tensor([0.5, 1.5])), torch.tensor(8 / 3)
    )
    torch.testing.assert_close(weighted_batch_loss(per_sample, targets, None), torch.tensor(2.0))


def test_class_balanced_weights() -> None:
    # β = 0.5, n = (2, 1): (1−β)/(1−β^n) = (0.5/0.75, 0.5/0.5) = (2/3, 1) → ×2/(5/3) = (0.8, 1.2)
    torch.testing.assert_close(class_balanced_weights(torch.tensor([2, 1]), 0.5), torch.tensor([0.8, 1.2]))
    torch.testing.assert_close(class_balanced_weights(torch.tensor([500, 5]), 0.0), torch.ones(2))
    w = class_balanced_weights(torch.tensor([4975, 49]), 0.9999)
    e = [(1 - 0.9999**n) / (1 - 0.9999) for n in (4975, 49)]
    expected = torch.tensor([1 / e[0], 1 / e[1]]) * (2 / (1 / e[0] + 1 / e[1]))
    torch.testing.assert_close(w, expected)


def test_cdb_tau_variants() -> None:
    acc = torch.tensor([0.8, 0.2])
    b = 0.8 / (0.2 + 0.01)
    assert cdb_tau(acc, "dynamic").item() == pytest.approx(2 / (1 + math.exp(-(b - 1))))
    assert cdb_tau(acc, "dynamic_code").item() == pytest.approx(1 / (1 + math.exp(-b)))
    assert cdb_tau(acc, 1.5).item() == 1.5
    assert cdb_tau(torch.tensor([0.5, 0.5]), "dynamic").item() == pytest.approx(
        2 / (1 + math.exp(-(0.5 / 0.51 - 1)))
    )


def test_cdb_weights() -> None:
    acc = torch.tensor([0.8, 0.2])  # d = (0.2, 0.8)
    torch.testing.assert_close(cdb_weights(acc, 1.0), torch.tensor([0.4, 1.6]))
    tau = 2 / (1 + math.exp(-(0.8 / 0.21 - 1)))
    raw = [0.2**tau, 0.8**tau]
    expected = torch.tensor([2 * r / sum(raw) for r in raw])
    torch.testing.assert_close(cdb_weights(acc, "dynamic"), expected)
    torch.testing.assert_close(cdb_weights(torch.ones(3), "dynamic"), torch.ones(3))  # all perfect: no 0/0


def _rule(method: str, **kwargs: object) -> LossRule:
    return LossRule(TrainConfig.model_validate({"method": method, **kwargs}), torch.tensor([100, 10, 1]))


def test_rule_weights_per_method_and_epoch() -> None:
    ones = torch.ones(3)
    for method in ("ce", "focal", "bsce", "dnet", "dnet-bsce"):
        torch.testing.assert_close(_rule(method).class_weights(3, torch.rand(3)), ones)
    torch.testing.assert_close(
        _rule("cb").class_weights(0, None), class_balanced_weights(torch.tensor([100, 10, 1]), 0.9999)
    )
    cdb = _rule("cdb", cdb_tau=1.0)
    torch.testing.assert_close(cdb.class_weights(0, None), ones)  # epoch 1: uniform
    torch.testing.assert_close(
        cdb.class_weights(1, torch.tensor([0.9, 0.5, 0.1])), torch.tensor([0.2, 1.0, 1.8])
    )
    ldam = _rule("ldam-drw", epochs=10)
    assert drw_start_epoch(ldam.config) == 8 and drw_start_epoch(TrainConfig(epochs=200)) == 160
    torch.testing.assert_close(ldam.class_weights(7, None), ones)
    assert not ldam.is_weighted(7) and ldam.is_weighted(8)
    torch.testing.assert_close(
        ldam.class_weights(8, None), class_balanced_weights(torch.tensor([100, 10, 1]), 0.9999)
    )


def test_rule_losses_per_method() -> None:
    logits = torch.tensor([[1.0, 0.0, -1.0], [0.0, 2.0, 0.5]])
    y = torch.tensor([0, 2])
    torch.testing.assert_close(_rule("ce").per_sample_loss()(logits, y), cross_entropy(logits, y))
    torch.testing.assert_close(_rule("focal").per_sample_loss()(logits, y), focal_loss(logits, y, 1.0))
    log_n = torch.tensor([100.0, 10.0, 1.0]).log()
    for method in ("bsce", "dnet-bsce"):
        loss = _rule(method).per_sample_loss()(logits, y)
        assert loss.shape == (2,)  # per sample, so DNet weights apply per sample (not spec F4's broadcast)
        torch.testing.assert_close(loss, balanced_softmax_loss(logits, y, log_n))
    # τ scales the log-prior: 0 is plain CE, ½ is half of Balanced Softmax's logit shift
    plain = _rule("bsce", bsce_tau=0.0).per_sample_loss()(logits, y)
    torch.testing.assert_close(plain, cross_entropy(logits, y))
    half = _rule("dnet-bsce", bsce_tau=0.5).per_sample_loss()(logits, y)
    torch.testing.assert_close(half, cross_entropy(logits + 0.5 * log_n, y))
    assert not torch.allclose(half, balanced_softmax_loss(logits, y, log_n))
    ldam = _rule("ldam-drw")
    assert ldam.uses_cosine_head and not _rule("ce").uses_cosine_head
    margins = ldam_margins(torch.tensor([100, 10, 1]), 0.5)
    torch.testing.assert_close(
        ldam.per_sample_loss()(logits * 0.1, y), ldam_loss(logits * 0.1, y, margins, 30.0)
    )


def test_dnet_bsce_weights_apply_per_sample() -> None:
    per_sample = torch.tensor([1.0, 3.0])
    targets = torch.tensor([0, 1])
    w = torch.tensor([0.5, 1.5])
    weighted = weighted_batch_loss(per_sample, targets, w)
    assert weighted.item() == pytest.approx((0.5 + 4.5) / 2)
    assert weighted.item() != pytest.approx(
        per_sample.mean().item() * w.mean().item()
    )  # the official F4 value


def _population_gradient(
    batch_loss: BatchLoss, logits: torch.Tensor, p_train: torch.Tensor, w: torch.Tensor
) -> torch.Tensor:
    """∂/∂z of E_{y ~ p_train}[loss(z, y)] for one input, each class's term weighted by its probability."""
    z = logits.clone().requires_grad_()
    classes = torch.arange(z.numel())
    per_class = torch.stack([batch_loss(z[None], classes[c : c + 1], w) for c in classes])
    (grad,) = torch.autograd.grad((p_train * per_class).sum(), z)
    return grad


def test_weight_consistent_balanced_softmax_keeps_the_balanced_optimum_for_any_weights() -> None:
    """At z = log q (q the balanced class posterior), the expected loss under the training prior π is flat
    for any w: the weights cannot shift the classifier (Menon et al. 2021). Plain weighting shifts it."""
    generator = torch.Generator().manual_seed(0)
    counts = torch.tensor([500.0, 120.0, 30.0, 6.0])
    prior = counts / counts.sum()
    q = torch.softmax(torch.randn(4, generator=generator, dtype=torch.float64), 0)
    p_train = q * prior / (q * prior).sum()
    w = torch.tensor([0.3, 0.8, 1.2, 1.7], dtype=torch.float64)
    consistent = weight_consistent_balanced_softmax(counts.double().log())
    plain = weighted(lambda z, y: balanced_softmax_loss(z, y, counts.double().log()))
    zero = torch.zeros(4, dtype=torch.float64)
    torch.testing.assert_close(_population_gradient(consistent, q.log(), p_train, w), zero)
    torch.testing.assert_close(_population_gradient(plain, q.log(), p_train, torch.ones_like(w)), zero)
    assert _population_gradient(plain, q.log(), p_train, w).abs().max() > 1e-3


def test_weights_in_the_adjustment_by_default_on_balanced_softmax_and_equal_to_it_without_weights() -> None:
    logits = torch.tensor([[1.0, 0.0, -1.0], [0.0, 2.0, 0.5]])
    y = torch.tensor([0, 2])
    consistent = _rule("dnet-bsce").batch_loss()  # the recipe on Balanced Softmax puts w in the adjustment
    plain = _rule("dnet-bsce", dnet={"weights_in_adjustment": False}).batch_loss()
    torch.testing.assert_close(consistent(logits, y, None), plain(logits, y, None))
    torch.testing.assert_close(consistent(logits, y, torch.ones(3)), plain(logits, y, torch.ones(3)))
    w = torch.tensor([0.5, 1.0, 1.5])
    log_n = torch.tensor([100.0, 10.0, 1.0]).log()
    torch.testing.assert_close(
        consistent(logits, y, w), (w[y] * cross_entropy(logits + log_n + w.log(), y)).mean()
    )
    # on CE there is no adjustment to put the weights in: the option changes nothing
    ce_rule = _rule("dnet", dnet={"weights_in_adjustment": True}).batch_loss()
    torch.testing.assert_close(ce_rule(logits, y, w), (w[y] * cross_entropy(logits, y)).mean())
