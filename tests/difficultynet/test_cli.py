"""``dnet`` commands in-process (``main(argv)``) plus one real subprocess for the console entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from difficultynet.cli import main
from difficultynet.contracts.records import EpochRecord


def read_records(run_dir: Path) -> list[EpochRecord]:
    return [
        EpochRecord.model_validate_json(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()
    ]


TINY = [
    "--image-size",
    "8",
    "--channels",
    "1",
    "--num-threads",
    "1",
    "--device",
    "cpu",
    "--batch-size",
    "64",
    "-q",
]


def test_importing_the_cli_does_not_import_torch() -> None:
    code = "import sys, difficultynet.cli; assert not {'torch', 'stack'} & set(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_validate_reports_a_valid_manifest(demo_manifest: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(demo_manifest)]) == 0
    text = capsys.readouterr().out
    assert "manifest valid" in text and "imbalance factor 10" in text and "nine" in text
    assert main(["validate", str(demo_manifest), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True and report["split_counts"] == {"train": 486, "val": 100, "test": 400}


def test_validate_lists_errors_and_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("path,label,split\n../escape.png,a,train\nmissing.png,b,train\nx.png,,train\n")
    assert main(["validate", str(bad)]) == 2
    text = capsys.readouterr().out
    assert "manifest invalid" in text
    assert "line 2, column path" in text and "line 3, column path" in text and "line 4, column label" in text
    assert main(["validate", str(tmp_path / "absent.csv"), "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["ok"] is False


def test_train_writes_the_run_directory_and_guards_it(
    demo_manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    args = [
        "train",
        "--manifest",
        str(demo_manifest),
        "--out",
        str(out),
        "--method",
        "dnet",
        "--meta-mode",
        "head",
    ]
    assert main([*args, "--epochs", "1", *TINY]) == 0
    assert {p.name for p in out.iterdir()} >= {
        "metrics.jsonl",
        "weights.json",
        "checkpoint.pt",
        "config.json",
    }
    assert "balanced acc" in capsys.readouterr().out
    # Re-using the directory without --resume is refused; a changed config cannot resume.
    assert main([*args, "--epochs", "1", *TINY]) == 2
    assert "--resume" in capsys.readouterr().err
    assert main([*args, "--epochs", "2", "--resume", *TINY]) == 2
    assert "epochs" in capsys.readouterr().err
    records = [
        EpochRecord.model_validate_json(line) for line in (out / "metrics.jsonl").read_text().splitlines()
    ]
    assert [r.epoch for r in records] == [1] and records[0].run_id == "run"
    config = json.loads((out / "config.json").read_text())["config"]
    assert config["dnet"]["meta_mode"] == "head" and config["image_size"] == 8


def test_train_resume_after_ctrl_c_completes_like_an_uninterrupted_run(
    demo_manifest: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ctrl-C right after epoch 1 is on disk exits 130; ``--resume`` then finishes the run, and its records
    equal those of a run that was never interrupted (timings aside)."""
    args = ["train", "--manifest", str(demo_manifest), "--method", "dnet", "--meta-mode", "head",
            "--epochs", "2", "--run-id", "run", *TINY]  # fmt: skip
    assert main([*args, "--out", str(tmp_path / "reference")]) == 0

    import difficultynet.train

    real_fit = difficultynet.train.fit

    def ctrl_c_after_epoch_1(*fit_args: Any, **fit_kwargs: Any) -> Any:
        def reporter(record: EpochRecord) -> None:  # called once the epoch's files are on disk
            if record.epoch == 1:
                raise KeyboardInterrupt

        return real_fit(*fit_args, **fit_kwargs, reporter=reporter)

    interrupted = tmp_path / "interrupted"
    with monkeypatch.context() as patch:
        patch.setattr(difficultynet.train, "fit", ctrl_c_after_epoch_1)
        assert main([*args, "--out", str(interrupted)]) == 130
    assert "interrupted" in capsys.readouterr().err
    (epoch_1,) = read_records(interrupted)

    assert main([*args, "--out", str(interrupted), "--resume"]) == 0
    assert "epoch 2/2" in capsys.readouterr().out
    resumed, reference = read_records(interrupted), read_records(tmp_path / "reference")
    assert resumed[0] == epoch_1  # kept from the checkpoint (timings included), not trained again
    timing = {"elapsed_s", "epoch_time_s"}
    assert [r.model_dump(exclude=timing) for r in resumed] == [
        r.model_dump(exclude=timing) for r in reference
    ]
    assert json.loads((interrupted / "weights.json").read_text())["partial"] is False


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--epochs", "0"], "epochs: Input should be greater than or equal to 1"),
        (["--device", "tpu"], "device must be"),
        (["--device", "cuda:7"], "cuda:7"),
        (["--dnet-lr", "-1"], "dnet.lr"),
    ],
)
def test_train_rejects_bad_settings_in_one_line(
    demo_manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    code = main(["train", "--manifest", str(demo_manifest), "--out", str(tmp_path / "r"), "-q", *extra])
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_train_on_invalid_or_missing_manifest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("path,label\nnope.png,a\n")
    assert main(["train", "--manifest", str(bad), "--out", str(tmp_path / "r"), "-q"]) == 2
    captured = capsys.readouterr()
    assert "error: manifest has" in captured.err and "line 2, column path: file not found" in captured.out


def test_argparse_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["train", "--manifest", "m.csv", "--out", "o", "--method", "svm"])
    assert exc.value.code == 2 and "invalid choice" in capsys.readouterr().err


def test_demo_data_and_console_entry_point(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "difficultynet", "demo-data", str(tmp_path / "demo")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "demo" / "manifest.csv").exists()
    proc = subprocess.run(
        [sys.executable, "-m", "difficultynet", "validate", str(tmp_path / "demo" / "missing.csv")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stdout + proc.stderr
    assert "cannot read manifest" in proc.stdout


def test_the_engine_cli_has_no_up_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["up"])
    assert exc.value.code == 2 and "invalid choice: 'up'" in capsys.readouterr().err


def test_dnet_recipe_flag_selects_the_paper_recipe_and_flags_override_it() -> None:
    from difficultynet.cli import build_config, build_parser
    from difficultynet.contracts.config import TrainConfig, paper_recipe

    base = ["train", "--manifest", "m.csv", "--out", "o"]
    parser = build_parser()
    assert build_config(parser.parse_args([*base, "--dnet-recipe", "paper"])).dnet == paper_recipe()
    args = parser.parse_args([*base, "--dnet-recipe", "paper", "--meta-mode", "head"])
    assert build_config(args).dnet == paper_recipe(meta_mode="head")
    unnamed = build_config(parser.parse_args(base))
    assert unnamed.method == "dnet-bsce" and unnamed.dnet.virtual_lr == "base"  # the default DNet recipe
    assert unnamed.dnet == TrainConfig(method="dnet-bsce").dnet
    # naming the default recipe is the same as not naming it: the base loss still picks its fields
    for method in ("dnet", "dnet-bsce"):
        named = build_config(parser.parse_args([*base, "--method", method, "--dnet-recipe", "default"]))
        assert named == build_config(parser.parse_args([*base, "--method", method]))
        assert named.dnet == TrainConfig(method=method).dnet


def test_train_shows_data_preparation_and_reuses_the_cache(
    demo_manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["train", "--manifest", str(demo_manifest), "--method", "ce", "--epochs", "1",
            "--cache-dir", str(tmp_path / "cache"), *TINY[:-1]]  # fmt: skip
    assert main([*base, "--out", str(tmp_path / "a")]) == 0
    first = capsys.readouterr()
    assert "memory: about" in first.out and "image cache" in first.out
    assert "preparing (cache miss)" in first.err and "986/986" in first.err  # tqdm writes to stderr
    assert main([*base, "--out", str(tmp_path / "b")]) == 0
    assert "preparing (cache hit)" in capsys.readouterr().err


def test_train_without_pretrained_weights_fails_at_once(
    demo_manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    base = ["train", "--manifest", str(demo_manifest), "--out", str(tmp_path / "run"), "--pretrained", *TINY]
    assert main([*base, "--model", "resnet18", "--image-size", "40"]) == 2
    err = capsys.readouterr().err
    assert "pretrained resnet18 weights are not on this machine" in err and "--weights-file" in err
    assert not (tmp_path / "run" / "checkpoint.pt").exists()
    assert main([*base, "--model", "resnet8"]) == 2
    assert "resnet8 has no pretrained weights" in capsys.readouterr().err
