"""The methods benchmark names every stored run after today's recipes, from its stored config alone."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from difficultynet.contracts.config import DNetConfig, TrainConfig, paper_recipe

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import methods


def resolved(method: str, dnet: DNetConfig) -> dict[str, Any]:
    """A DNet config as a run stores it: resolved by TrainConfig (e.g. the driver target per base loss)."""
    return TrainConfig(method=method, dnet=dnet).dnet.model_dump()  # type: ignore[arg-type]


def run(method: str, dnet: dict[str, Any], **fields: Any) -> dict[str, Any]:
    config = TrainConfig.model_validate({"method": method, **fields}).model_dump(mode="json")
    config["dnet"] = dnet
    return {"variant": "whatever", "method": method, "config": config}


def test_default_and_paper_recipes_get_their_names() -> None:
    assert methods.canonical_variant(run("dnet", resolved("dnet", DNetConfig()))) == "dnet"
    assert methods.canonical_variant(run("dnet-bsce", resolved("dnet-bsce", DNetConfig()))) == "dnet-bsce"
    # runs made before the driver target followed the base loss used the code's target on CE too
    share = DNetConfig(driver_target="share").model_dump()
    assert methods.canonical_variant(run("dnet", share)) == "dnet[driver_target=share]"
    # dnet-bsce's recipe changed (difficulty from the loss's logits, weights in the adjustment, floor 0.5):
    # a run of the former recipe, stored without the new fields, is named after what it differs in
    former = {
        k: v
        for k, v in share.items()
        if k not in ("accuracy_logits", "error_target_floor", "weights_in_adjustment")
    }
    assert methods.canonical_variant(run("dnet-bsce", former)) == (
        "dnet-bsce[driver_target=share,error_target_floor=0.1,accuracy_logits=prediction,weights_in_adjustment=False]"
    )
    legacy = run(
        "dnet-bsce", former | {"driver_target": "error", "accuracy_logits": "loss", "error_target_floor": 0.5}
    )
    legacy["config"]["bsce_consistent_weights"] = True  # the option's first home, in TrainConfig
    assert methods.canonical_variant(legacy) == "dnet-bsce"
    paper_head = paper_recipe(meta_mode="head").model_dump()
    assert methods.canonical_variant(run("dnet", paper_head)) == "dnet-paper-head"


def test_overrides_and_runs_older_than_the_options() -> None:
    changed = resolved("dnet", DNetConfig(driver_schedule="to_zero_at_lr_drop"))
    assert methods.canonical_variant(run("dnet", changed)) == "dnet[driver_schedule=to_zero_at_lr_drop]"
    # A run stored before the issue-F options existed behaved like the paper recipe.
    old = {"meta_mode": "full", "meta_every": 1, "hidden": 128, "bias": False, "lr": 0.01,
           "weight_decay": 1e-4, "driver_lambda": 0.3, "meta_batch_size": 100}  # fmt: skip
    assert methods.canonical_variant(run("dnet", old)) == "dnet-paper-full[lr=0.01]"
    assert methods.canonical_variant(run("cdb", {}, cdb_tau="dynamic_code")) == "cdb[cdb_tau=dynamic_code]"


def _with_final_epoch(test_acc: list[float], counts: list[int], seed: int = 0) -> dict[str, Any]:
    classes = {"test_acc": test_acc, "train_count": counts}
    return {"seed": seed, "balanced_acc": sum(test_acc) / len(test_acc), "records": [{"classes": classes}]}


def test_the_error_frequency_table_is_recomputed_from_the_records() -> None:
    counts = [500, 100, 20, 5]
    frequency_ordered = _with_final_epoch([0.9, 0.7, 0.5, 0.2], counts)  # the rarer, the worse
    semantic = _with_final_epoch([0.6, 0.9, 0.4, 0.7], counts, seed=1)
    assert methods.error_follows_count(frequency_ordered) == -1.0
    assert methods.error_follows_count(semantic) == 0.0
    assert methods.error_follows_count({"seed": 2}) is None  # an old run without records
    lines = methods.render_error_frequency({("ce", 20): [semantic, frequency_ordered, {"seed": 2}]})
    assert lines[-1] == "| ce | 20 | s0 57.5, s1 65.0 | s0 -1.00, s1 +0.00 |"
