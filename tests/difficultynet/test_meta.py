"""Difficulty-Net maths and the meta-gradient path (spec §1.4–1.9)."""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from difficultynet.contracts.config import paper_recipe
from difficultynet.losses import cross_entropy, weighted, weighted_batch_loss
from difficultynet.meta import (
    DifficultyNet,
    DifficultyNetLearner,
    MetaStepPlan,
    class_weights_from_difficulty,
    cloned_buffers,
    commit_buffers,
    driver_loss,
    driver_target,
    full_meta_loss,
    head_meta_loss,
)
from difficultynet.models import FeatureClassifier, create_model

torch.set_num_threads(1)
CE_BATCH = weighted(cross_entropy)
C = 4
ACCURACY = torch.tensor([0.9, 0.6, 0.3, 0.1])


def _model(seed: int = 0) -> FeatureClassifier:
    torch.manual_seed(seed)
    return create_model("resnet8", C, 3, 8)


def _batches(seed: int = 1) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(12, 3, 8, 8, generator=g)
    y = torch.arange(12) % C
    meta_x = torch.randn(8, 3, 8, 8, generator=g)
    meta_y = torch.arange(8) % C
    return x, y, meta_x, meta_y


def _learner(mode: str, *, driver_lambda: float = 0.0, **options: object) -> DifficultyNetLearner:
    """The paper recipe's learner (plain Adam, no accumulation) unless ``options`` say otherwise."""
    torch.manual_seed(5)
    config = paper_recipe(meta_mode=mode, driver_lambda=driver_lambda, **options)
    learner = DifficultyNetLearner(C, config, torch.device("cpu"))
    learner.set_accuracy(ACCURACY)
    return learner


def _plan(learner: DifficultyNetLearner, lr: float = 0.1) -> MetaStepPlan:
    return MetaStepPlan(virtual_lr=lr, driver_lambda=learner.config.driver_lambda)


def test_zero_accuracy_gives_uniform_weights_without_bias() -> None:
    net = DifficultyNet(C, hidden=16, bias=False)
    d = net(torch.zeros(C))
    torch.testing.assert_close(d, torch.full((C,), 0.5))
    torch.testing.assert_close(class_weights_from_difficulty(d), torch.ones(C))
    assert [(m.in_features, m.out_features) for m in net.linear_layers()] == [(C, 16), (16, 16), (16, C)]
    assert all(m.bias is None for m in net.linear_layers())
    assert all(m.bias is not None for m in DifficultyNet(C, 8, bias=True).linear_layers())


def test_weight_normalisation_and_driver_loss_by_hand() -> None:
    torch.testing.assert_close(
        class_weights_from_difficulty(torch.tensor([0.2, 0.6])), torch.tensor([0.5, 1.5])
    )
    a = torch.tensor([0.5, 0.25, 0.25])  # Σa = 1 → t = (0.5, 0.75, 0.75)
    torch.testing.assert_close(driver_target(a), torch.tensor([0.5, 0.75, 0.75]))
    # d = 0.5: squared errors (0, 0.0625, 0.0625), mean 0.041667
    torch.testing.assert_close(driver_loss(torch.full((3,), 0.5), a), torch.tensor(0.125 / 3))
    torch.testing.assert_close(driver_target(torch.zeros(3)), torch.ones(3))  # a = 0 → t = 1


def test_error_driver_target_is_each_class_error_with_a_floor() -> None:
    a = torch.tensor([1.0, 0.95, 0.5, 0.0])
    # own error, floored at 0.1 so a class scoring 100 % on its few meta images keeps a weight
    torch.testing.assert_close(driver_target(a, "error"), torch.tensor([0.1, 0.1, 0.5, 1.0]))
    # unlike the share target, it does not flatten as the summed accuracy grows
    assert driver_target(a, "error").max() / driver_target(a, "error").min() == pytest.approx(10.0)
    assert driver_target(a).max() / driver_target(a).min() < 1.7
    torch.testing.assert_close(
        driver_loss(torch.full((4,), 0.5), a, "error"), torch.tensor((0.16 + 0.16 + 0 + 0.25) / 4)
    )
    # a higher floor caps the anchor's spread at 1/floor: the easy classes share the floor
    torch.testing.assert_close(driver_target(a, "error", 0.5), torch.tensor([0.5, 0.5, 0.5, 1.0]))
    torch.testing.assert_close(driver_loss(torch.full((4,), 0.5), a, "error", 0.5), torch.tensor(0.25 / 4))


def test_the_learner_anchors_to_its_configured_error_floor() -> None:
    learner = _learner("driver_only", driver_lambda=1.0, driver_target="error", error_target_floor=0.5)
    with torch.no_grad():
        difficulty = learner.net(ACCURACY)
    stats = learner.meta_update(None, 1.0)
    torch.testing.assert_close(stats.driver_loss, driver_loss(difficulty, ACCURACY, "error", 0.5))
    assert not torch.allclose(stats.driver_loss, driver_loss(difficulty, ACCURACY, "error"))


def _params(learner: DifficultyNetLearner) -> list[torch.Tensor]:
    return [p.detach().clone() for p in learner.net.parameters()]


def _moved(before: list[torch.Tensor], learner: DifficultyNetLearner) -> bool:
    return any(not torch.equal(b, p) for b, p in zip(before, learner.net.parameters(), strict=True))


def _step(learner: DifficultyNetLearner, model: FeatureClassifier, *, do_meta: bool = True, lr: float = 0.1):  # type: ignore[no-untyped-def]
    x, y, meta_x, meta_y = _batches()
    return learner.training_step(
        model,
        CE_BATCH,
        x,
        y,
        meta_batch=lambda: (meta_x, meta_y),
        plan=_plan(learner, lr),
        do_meta=do_meta,
    )


@pytest.mark.parametrize("mode", ["full", "head"])
def test_meta_loss_alone_reaches_difficulty_net(mode: str) -> None:
    """λ = 0: the only signal is the meta CE through θ'(w(φ)); non-zero here, 0 in the released code."""
    learner = _learner(mode)
    before = _params(learner)
    step = _step(learner, _model())
    assert step.stats is not None and step.stats.meta_loss is not None
    assert step.stats.meta_grad_norm.item() > 1e-6 and step.stats.driver_grad_norm.item() == 0.0
    assert _moved(before, learner)


def _manual_adam_step(learner: DifficultyNetLearner, loss: torch.Tensor) -> list[torch.Tensor]:
    """φ after one step of a fresh copy of the learner's optimiser on ``loss`` alone."""
    params = [p.detach().clone().requires_grad_() for p in learner.net.parameters()]
    grads = torch.autograd.grad(loss, list(learner.net.parameters()))
    for p, g in zip(params, grads, strict=True):
        p.grad = g.clone()
    options = learner.optimizer.defaults
    torch.optim.Adam(params, lr=options["lr"], weight_decay=options["weight_decay"]).step()
    return [p.detach() for p in params]


def test_driver_only_moves_phi_exactly_by_the_driver_term() -> None:
    """driver_only: φ takes the Adam step of λ·L_drv and nothing else (the meta batch is never used)."""
    learner = _learner("driver_only", driver_lambda=0.3)
    expected = _manual_adam_step(learner, 0.3 * driver_loss(learner.net(ACCURACY), ACCURACY))

    def no_meta_batch() -> tuple[torch.Tensor, torch.Tensor]:
        raise AssertionError("driver_only must not draw a meta batch")

    x, y, _, _ = _batches()
    step = learner.training_step(
        _model(), CE_BATCH, x, y, meta_batch=no_meta_batch, plan=_plan(learner), do_meta=True
    )
    assert step.stats is not None and step.stats.meta_loss is None
    assert step.stats.meta_grad_norm.item() == 0.0 and step.stats.driver_grad_norm.item() > 0
    for got, want in zip(learner.net.parameters(), expected, strict=True):
        torch.testing.assert_close(got.detach(), want)
    # …and with λ = 0 (and no decay) nothing moves φ at all.
    learner = _learner("driver_only", driver_lambda=0.0, weight_decay=0.0)
    before = _params(learner)
    _step(learner, _model())
    assert not _moved(before, learner)


def test_skipped_iteration_leaves_difficulty_net_alone() -> None:
    learner = _learner("full", driver_lambda=0.3)
    before = _params(learner)
    step = _step(learner, _model(), do_meta=False)
    x, y, _, _ = _batches()
    assert step.stats is None and step.buffers is None
    assert not _moved(before, learner)
    torch.testing.assert_close(
        step.loss.detach(), weighted_batch_loss(cross_entropy(_model()(x), y), y, learner.weights()).detach()
    )


def test_deferred_plan_keeps_the_real_loss_unweighted_while_phi_learns() -> None:
    learner = _learner("head", driver_lambda=0.3)
    before = _params(learner)
    x, y, meta_x, meta_y = _batches()
    plan = MetaStepPlan(virtual_lr=0.1, driver_lambda=0.3, apply_weights=False)
    step = learner.training_step(
        _model(), CE_BATCH, x, y, meta_batch=lambda: (meta_x, meta_y), plan=plan, do_meta=True
    )
    assert _moved(before, learner) and not torch.allclose(learner.weights(), torch.ones(C))
    torch.testing.assert_close(step.loss.detach(), cross_entropy(_model()(x), y).mean().detach())


def test_accumulation_steps_phi_once_per_k_meta_steps_on_the_mean_gradient() -> None:
    accumulating = _learner("head", driver_lambda=0.3, meta_accumulate=2)
    model = _model()
    before = _params(accumulating)
    _step(accumulating, model)
    assert not _moved(before, accumulating) and accumulating.pending == 1
    with pytest.raises(RuntimeError, match="flush"):
        accumulating.state_dict()
    _step(accumulating, model)
    assert _moved(before, accumulating) and accumulating.pending == 0
    # Same two (identical) batches at k = 1 would step twice; at k = 2 the mean of two equal gradients is
    # one gradient, so φ equals the k = 1 learner after its first step.
    single = _learner("head", driver_lambda=0.3)
    _step(single, model)
    for got, want in zip(accumulating.net.parameters(), single.net.parameters(), strict=True):
        torch.testing.assert_close(got, want)


def test_normalised_meta_gradient_does_not_scale_with_the_learning_rate() -> None:
    """∂L_meta/∂w ∝ η (spec §1.7): raw, a 10× smaller virtual lr gives a ~10× smaller φ-gradient; with
    ``normalize_meta_grad`` the φ-gradient stays the same (up to the second-order change of θ')."""

    def meta_phi_grad_norm(lr: float, normalize: bool) -> float:
        learner = _learner("head", normalize_meta_grad=normalize)
        step = _step(learner, _model(), lr=lr)
        assert step.stats is not None
        return step.stats.meta_grad_norm.item()

    raw_ratio = meta_phi_grad_norm(1e-3, False) / meta_phi_grad_norm(1e-4, False)
    normalised_ratio = meta_phi_grad_norm(1e-3, True) / meta_phi_grad_norm(1e-4, True)
    assert raw_ratio == pytest.approx(10.0, rel=0.02)
    assert normalised_ratio == pytest.approx(1.0, abs=1e-2)


def _buffers(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.named_buffers()}


def test_full_mode_virtual_step_leaves_bn_statistics_alone() -> None:
    model = _model()
    reference = copy.deepcopy(model).train()
    before = _buffers(model)
    step = _step(_learner("full"), model)
    after_meta = _buffers(model)
    assert all(torch.equal(before[k], after_meta[k]) for k in before)  # real step skipped: nothing touched
    # Committing applies exactly one training-batch forward's update, as a plain real forward would.
    assert step.buffers is not None
    commit_buffers(model, step.buffers)
    reference(_batches()[0])
    for name, buf in reference.named_buffers():
        torch.testing.assert_close(dict(model.named_buffers())[name], buf)


def test_head_mode_meta_batch_does_not_touch_bn_statistics() -> None:
    model = _model()
    reference = copy.deepcopy(model).train()
    step = _step(_learner("head"), model)
    assert step.buffers is None
    reference(_batches()[0])  # the only BN update allowed: the real forward of the training batch
    for name, buf in reference.named_buffers():
        torch.testing.assert_close(dict(model.named_buffers())[name], buf)


def _check_meta_gradient(
    meta_loss: Callable[[torch.Tensor], torch.Tensor],
    params: dict[str, torch.Tensor],
    per_sample: torch.Tensor,
    y: torch.Tensor,
    meta_ce_after: Callable[[dict[str, torch.Tensor]], torch.Tensor],
    lr: float,
) -> None:
    """Autograd's ∂L_meta/∂w against the §1.7 identity −(η/B)⟨∇_θ' CE_meta(θ'), Σ_{i: y_i = c} ∇_θ ℓ_i(θ)⟩
    (assembled from first-order gradients only) and against central finite differences on w."""
    w0 = torch.tensor([0.7, 1.3, 0.9, 1.1], dtype=torch.float64, requires_grad=True)
    (autograd_grad,) = torch.autograd.grad(meta_loss(w0), w0)

    names = list(params)
    grads = torch.autograd.grad(
        weighted_batch_loss(per_sample, y, w0.detach()), [params[n] for n in names], retain_graph=True
    )
    virtual = {n: (params[n] - lr * g).detach().requires_grad_() for n, g in zip(names, grads, strict=True)}
    v = torch.autograd.grad(meta_ce_after(virtual), [virtual[n] for n in names])
    identity: list[torch.Tensor] = []
    for c in range(C):
        class_grads = torch.autograd.grad(
            per_sample[y == c].sum(), [params[n] for n in names], retain_graph=True
        )
        inner = torch.stack([(a * b).sum() for a, b in zip(v, class_grads, strict=True)]).sum()
        identity.append(-(lr / y.numel()) * inner)
    torch.testing.assert_close(autograd_grad, torch.stack(identity), rtol=1e-6, atol=1e-10)

    eps = 1e-5
    fd = []
    for c in range(C):  # (the virtual step itself needs autograd, so no torch.no_grad here)
        e = torch.zeros(C, dtype=torch.float64)
        e[c] = eps
        fd.append((meta_loss(w0.detach() + e) - meta_loss(w0.detach() - e)).detach() / (2 * eps))
    torch.testing.assert_close(autograd_grad, torch.stack(fd), rtol=1e-4, atol=1e-9)
    assert autograd_grad.abs().max() > 1e-6


def test_full_meta_gradient_matches_identity_and_finite_differences() -> None:
    """Full mode, in float64: the virtual step over every parameter of the model."""
    model = _model().double().train()
    x, y, meta_x, meta_y = (t.double() if t.is_floating_point() else t for t in _batches())
    lr = 0.5
    params: dict[str, torch.Tensor] = dict(model.named_parameters())

    def meta_loss(w: torch.Tensor) -> torch.Tensor:
        logits = functional_call(model, (params, cloned_buffers(model)), (x,))
        return full_meta_loss(model, params, logits, y, CE_BATCH, w, meta_x, meta_y, lr)

    def meta_ce_after(virtual: dict[str, torch.Tensor]) -> torch.Tensor:
        return F.cross_entropy(functional_call(model, (virtual, cloned_buffers(model)), (meta_x,)), meta_y)

    per_sample = cross_entropy(functional_call(model, (params, cloned_buffers(model)), (x,)), y).double()
    _check_meta_gradient(meta_loss, params, per_sample, y, meta_ce_after, lr)


def test_head_meta_gradient_matches_identity_and_finite_differences() -> None:
    """Head mode: the same identity and central differences, over the head's parameters only."""
    model = _model().double().train()
    x, y, meta_x, meta_y = (t.double() if t.is_floating_point() else t for t in _batches())
    lr = 0.5
    with torch.no_grad():
        features, meta_features = model.forward_features(x), model.forward_features(meta_x)

    def meta_loss(w: torch.Tensor) -> torch.Tensor:
        return head_meta_loss(model.head, features, y, CE_BATCH, w, meta_features, meta_y, lr)

    def meta_ce_after(virtual: dict[str, torch.Tensor]) -> torch.Tensor:
        return F.cross_entropy(functional_call(model.head, virtual, (meta_features,)), meta_y)

    params = dict(model.head.named_parameters())
    _check_meta_gradient(meta_loss, params, cross_entropy(model.head(features), y), y, meta_ce_after, lr)


def test_export_state_recomputes_weights() -> None:
    learner = _learner("full")
    state = learner.export_state()
    assert state["architecture"]["hidden"] == [128, 128] and state["architecture"]["bias"] is False
    a = torch.tensor(state["accuracy_input"], dtype=torch.float64)
    h = a
    for i, layer in enumerate(state["layers"]):
        h = torch.tensor(layer["weight"], dtype=torch.float64) @ h
        h = torch.relu(h) if i < 2 else torch.sigmoid(h)
    torch.testing.assert_close(class_weights_from_difficulty(h).float(), learner.weights())


def test_learner_state_round_trip() -> None:
    learner = _learner("full", driver_lambda=0.3)
    _step(learner, _model())
    clone = DifficultyNetLearner(C, learner.config, torch.device("cpu"))
    clone.load_state_dict(learner.state_dict())
    torch.testing.assert_close(clone.weights(), learner.weights())
    assert clone.optimizer.state_dict()["state"][0]["step"] == 1
