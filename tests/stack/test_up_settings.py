"""StackSettings and the `dnet up` argument handling: env, flags on top, refusals with exit code 2."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from stack.launcher import EXIT_USAGE, UsageError, add_up_arguments, load_settings, run_up
from stack.settings import StackSettings, is_loopback


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No DNET_* from the caller's shell and no .env from the repo leak into these tests."""
    import os

    for name in list(os.environ):
        if name.startswith("DNET_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_up_arguments(parser)
    return parser.parse_args(list(argv))


def test_defaults_put_everything_under_var(tmp_path: Path) -> None:
    settings = load_settings(parse())
    paths = settings.paths()
    assert (settings.host, settings.api_port, settings.dashboard_port) == ("127.0.0.1", 8000, 8050)
    assert settings.redis_url is None and settings.workers is None
    assert paths.var_dir == tmp_path / "var"
    assert paths.data_root == tmp_path / "var" / "data"
    assert paths.runs_dir == tmp_path / "var" / "runs"
    assert paths.cache_dir == tmp_path / "var" / "cache"
    assert paths.logs_dir == tmp_path / "var" / "logs"
    assert paths.redis_dir == tmp_path / "var" / "redis"


def test_env_is_read_and_flags_override_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DNET_API_PORT", "9001")
    monkeypatch.setenv("DNET_DASHBOARD_PORT", "9002")
    monkeypatch.setenv("DNET_DATA_ROOT", str(tmp_path / "datasets"))
    settings = load_settings(parse("--dashboard-port", "9100", "--workers", "3", "--var-dir", "state"))
    assert settings.api_port == 9001
    assert settings.dashboard_port == 9100
    assert settings.workers == 3
    assert settings.paths().var_dir == tmp_path / "state"
    assert settings.paths().data_root == tmp_path / "datasets"
    assert settings.paths().runs_dir == tmp_path / "state" / "runs"


def test_dotenv_file_is_read_and_blank_token_means_none(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DNET_API_PORT=8123\nDNET_API_TOKEN=\n")
    settings = StackSettings()
    assert settings.api_port == 8123
    assert settings.api_token is None


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--api-port", "0"], "api_port"),
        (["--api-port", "70000"], "api_port"),
        (["--workers", "0"], "workers"),
        (["--api-port", "8050"], "cannot share port 8050"),
        (["--host", "0.0.0.0"], "DNET_API_TOKEN"),
        (["--host", "192.168.1.20"], "non-loopback"),
    ],
)
def test_bad_arguments_are_usage_errors(argv: list[str], fragment: str) -> None:
    with pytest.raises(UsageError, match=fragment):
        load_settings(parse(*argv))


def test_bad_env_value_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DNET_DASHBOARD_PORT", "eighty")
    with pytest.raises(UsageError, match="dashboard_port"):
        load_settings(parse())


def test_public_bind_allowed_with_token_or_explicit_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DNET_API_TOKEN", "s3cret")
    assert load_settings(parse("--host", "0.0.0.0")).host == "0.0.0.0"
    monkeypatch.delenv("DNET_API_TOKEN")
    monkeypatch.setenv("DNET_ALLOW_INSECURE_BIND", "1")
    assert load_settings(parse("--host", "0.0.0.0")).host == "0.0.0.0"


def test_run_up_reports_usage_errors_with_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run_up(parse("--host", "0.0.0.0")) == EXIT_USAGE
    out = capsys.readouterr().out
    assert "refusing to serve on non-loopback host '0.0.0.0'" in out
    assert "Traceback" not in out
    assert not (tmp_path / "var").exists()  # nothing was created or started


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.5", False),
        ("example.org", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
