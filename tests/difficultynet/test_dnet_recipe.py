"""The default Difficulty-Net recipe on a small long-tailed problem (demo digits, IF 10, 8×8, seconds on CPU).

These tests fail when the learned weights stay uniform or when the meta-signal dies with the LR drop, the
two defects of the paper recipe on short schedules (issue F).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from difficultynet.contracts.api import RunCreate
from difficultynet.contracts.config import RECOMMENDED_DNET_METHOD, DNetConfig, TrainConfig, paper_recipe
from difficultynet.contracts.records import EpochRecord
from difficultynet.manifest import Manifest, load_manifest
from difficultynet.train import fit

EPOCHS = 6  # LR drop (×0.01) at epoch 5 (80 %), so the last two epochs run at the fine-tuning lr


@pytest.fixture(scope="module")
def digits(demo_manifest: Path) -> Manifest:
    return load_manifest(demo_manifest)


def _run(manifest: Manifest, out_dir: Path, dnet: DNetConfig, method: str = "dnet") -> list[EpochRecord]:
    config = TrainConfig(
        method=method,  # type: ignore[arg-type]
        model="resnet8",
        image_size=8,
        channels=1,
        batch_size=32,
        epochs=EPOCHS,
        device="cpu",
        num_threads=1,
        dnet=dnet,
    )
    return fit(config, manifest, run_id=out_dir.name, out_dir=out_dir).records


@pytest.fixture(scope="module", params=["dnet", "dnet-bsce"])
def default_run(
    digits: Manifest, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> list[EpochRecord]:
    """The default recipe over each base loss (on Balanced Softmax: the recommended one)."""
    return _run(digits, tmp_path_factory.mktemp(request.param), DNetConfig(), request.param)


@pytest.fixture(scope="module")
def ce_default_run(digits: Manifest, tmp_path_factory: pytest.TempPathFactory) -> list[EpochRecord]:
    return _run(digits, tmp_path_factory.mktemp("ce-default"), DNetConfig())


@pytest.fixture(scope="module")
def paper_run(digits: Manifest, tmp_path_factory: pytest.TempPathFactory) -> list[EpochRecord]:
    return _run(digits, tmp_path_factory.mktemp("paper"), paper_recipe(meta_mode="head", meta_batch_size=20))


def test_default_recipe_weights_favour_the_rare_classes(default_run: list[EpochRecord]) -> None:
    last = default_run[-1]
    assert last.dnet is not None
    weights, counts = last.classes.weight, last.classes.train_count
    assert max(weights) / min(weights) >= 1.5, weights
    assert last.dnet.spearman_weight_count is not None and last.dnet.spearman_weight_count <= -0.6
    # The rarest half of the classes gets more weight on average than the most frequent half.
    order = sorted(range(len(counts)), key=lambda c: counts[c])
    half = len(order) // 2
    rare = sum(weights[c] for c in order[:half]) / half
    frequent = sum(weights[c] for c in order[-half:]) / half
    assert rare > 1.1 * frequent


def test_default_recipe_never_falls_back_to_uniform_weights(default_run: list[EpochRecord]) -> None:
    for record in default_run[2:]:  # epoch 1 is uniform by construction (a = 0), epoch 2 has one refresh
        assert any(abs(w - 1.0) > 0.05 for w in record.classes.weight), (record.epoch, record.classes.weight)


def test_meta_signal_survives_the_lr_drop_only_in_the_default_recipe(
    ce_default_run: list[EpochRecord], paper_run: list[EpochRecord]
) -> None:
    """On CE, the paper recipe's base loss. Paper recipe: ∂L_meta/∂w ∝ η_t, so after the ×0.01 drop its
    meta-gradient is ~100× smaller and the driver term (unchanged) takes over; the default recipe's virtual
    step keeps the base lr."""
    default_after, paper_after = ce_default_run[-1].dnet, paper_run[-1].dnet
    default_before, paper_before = ce_default_run[2].dnet, paper_run[2].dnet
    assert default_after and paper_after and default_before and paper_before
    assert paper_after.meta_grad_norm is not None and paper_before.meta_grad_norm is not None
    assert default_after.meta_grad_norm is not None and default_before.meta_grad_norm is not None
    assert paper_after.driver_grad_norm is not None and default_after.driver_grad_norm is not None
    assert paper_after.meta_grad_norm < 0.05 * paper_before.meta_grad_norm
    assert paper_after.meta_grad_norm < 0.05 * paper_after.driver_grad_norm
    assert default_after.meta_grad_norm > 0.1 * default_before.meta_grad_norm
    assert default_after.meta_grad_norm > 0.1 * default_after.driver_grad_norm


def test_a_run_that_names_no_method_gets_the_default_dnet_recipe() -> None:
    """Issue F chose DNet over Balanced Softmax as the default recipe: the engine, the API and the CLI run it
    when no method is named (the dashboard's first preset names it)."""
    assert TrainConfig().method == RECOMMENDED_DNET_METHOD == "dnet-bsce"
    assert TrainConfig().dnet == TrainConfig(method="dnet-bsce").dnet
    assert RunCreate(dataset_id="0" * 16).method == RECOMMENDED_DNET_METHOD


def test_the_base_loss_picks_the_recipe_fields_a_config_does_not_set() -> None:
    on_bsce = TrainConfig(method="dnet-bsce").dnet
    assert (on_bsce.driver_target, on_bsce.error_target_floor) == ("error", 0.5)
    assert on_bsce.accuracy_logits == "loss" and on_bsce.weights_in_adjustment
    on_ce = TrainConfig(method="dnet").dnet
    assert (on_ce.driver_target, on_ce.error_target_floor, on_ce.accuracy_logits) == (
        "error",
        0.1,
        "prediction",
    )
    assert not on_ce.weights_in_adjustment
    given = TrainConfig(
        method="dnet-bsce", dnet=DNetConfig(driver_target="share", accuracy_logits="prediction")
    ).dnet
    assert (given.driver_target, given.accuracy_logits, given.weights_in_adjustment) == (
        "share",
        "prediction",
        True,
    )
    # the paper recipe sets every field itself, so the base loss changes none of them
    assert TrainConfig(method="dnet-bsce", dnet=paper_recipe()).dnet == paper_recipe()
    # a stored config read back is not re-resolved
    stored = TrainConfig(method="dnet-bsce", dnet=DNetConfig(driver_target="share"))
    assert TrainConfig.model_validate(stored.model_dump()) == stored


def test_lambda_schedule_reaches_zero_at_the_lr_drop(digits: Manifest, tmp_path: Path) -> None:
    records = _run(digits, tmp_path, DNetConfig(driver_schedule="to_zero_at_lr_drop"))
    last = records[-1].dnet
    assert last is not None and last.driver_grad_norm == 0.0 and last.meta_grad_norm
