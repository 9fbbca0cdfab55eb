"""Slow end-to-end runs (``make test-slow``; excluded from ``make test``): the real CIFAR-10-LT mini set
through the installed ``dnet train``, and the methods benchmark's ``--quick`` variant."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from difficultynet.contracts.records import EpochRecord
from difficultynet.export import validate_weights_export

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
CIFAR10_CLASSES = {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}


def dnet_script() -> str:
    script = Path(sys.executable).parent / "dnet"
    if not script.exists():
        pytest.skip("the project is not installed in this interpreter's environment (make install-test)")
    return str(script)


def test_dnet_train_on_the_cifar_mini_set_learns_and_writes_a_valid_run(
    mini_manifest: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    command = [dnet_script(), "train", "--manifest", str(mini_manifest), "--out", str(out),
               "--method", "dnet", "--epochs", "3", "--device", "cpu", "--num-threads", "2",
               "--cache-dir", str(tmp_path / "cache"), "-q"]  # fmt: skip
    proc = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "epoch 3/3" in proc.stdout

    records = [EpochRecord.model_validate_json(line) for line in (out / "metrics.jsonl").open()]
    assert [r.epoch for r in records] == [1, 2, 3]
    last = records[-1]
    assert set(last.classes.name) == CIFAR10_CLASSES and sum(last.classes.train_count) == 812
    assert last.eval_split == "test" and last.driver_loss is not None and last.meta_loss is not None
    # Learned something: chance is 10 % on the balanced 1000-image test split (this run: ≈ 17 %).
    assert last.balanced_acc > 0.13 and last.many_acc is not None and last.many_acc > 0.3
    export = json.loads((out / "weights.json").read_text())
    validate_weights_export(export)
    assert export["partial"] is False and export["difficulty_net"] is not None
    assert any((tmp_path / "cache").iterdir())  # the decoded images were cached for the next run


def test_the_methods_benchmark_quick_variant_runs_and_leaves_the_committed_table_alone(
    mini_manifest: Path,
) -> None:
    committed = REPO / "benchmarks" / "results" / "methods-cpu.md"
    before = hashlib.sha256(committed.read_bytes()).hexdigest() if committed.exists() else None
    proc = subprocess.run(
        [sys.executable, "benchmarks/methods.py", "--quick", "--threads", "2"],
        cwd=REPO, capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    after = hashlib.sha256(committed.read_bytes()).hexdigest() if committed.exists() else None
    assert after == before, "a --quick run rewrote the committed table"
    table_line = next(line for line in proc.stdout.splitlines() if line.startswith("table: "))
    table = Path(table_line.removeprefix("table: "))
    assert table.is_relative_to(REPO / "var" / "bench") and table.exists()
    text = table.read_text()
    assert "ce" in text and "dnet-head" in text
    for variant in ("ce", "dnet-head"):
        assert f"{variant} seed 0: balanced acc" in proc.stdout
