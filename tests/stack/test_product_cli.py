"""The product's ``dnet`` (``stack.cli``): the engine's commands plus ``up``, and the console script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from stack.cli import main


@pytest.mark.parametrize("argv", [["up", "--help"], ["-v", "up", "--help"]])
def test_up_help_comes_from_the_launcher(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0 and "--api-port" in capsys.readouterr().out


def test_the_engine_commands_are_there_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo-data", str(tmp_path / "demo")]) == 0
    assert main(["validate", str(tmp_path / "demo" / "manifest.csv"), "--no-image-check"]) == 0
    assert "manifest valid" in capsys.readouterr().out


def test_the_console_script_is_the_product_cli() -> None:
    script = Path(sys.executable).parent / "dnet"
    if not script.exists():
        pytest.skip("the project is not installed in this interpreter's environment")
    proc = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=False, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert all(name in proc.stdout for name in ("validate", "train", "demo-data", "up"))
