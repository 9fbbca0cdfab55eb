"""Settings of the local launcher (``dnet up``), read from ``DNET_*`` environment variables and ``.env``.

The paths given here are handed to every child process as absolute ``DNET_*`` variables, so the API, the
workers and the dashboard always agree on where data, runs and Redis live.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LOOPBACK_NAMES = frozenset({"localhost", "ip6-localhost", "ip6-loopback"})


def is_loopback(host: str) -> bool:
    """True when ``host`` only accepts connections from this machine."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class StackSettings(BaseSettings):
    """Local-mode stack: where its state lives and which ports it serves on."""

    model_config = SettingsConfigDict(env_prefix="DNET_", env_file=".env", extra="ignore")

    redis_url: str | None = Field(
        None, description="use this Redis instead of an embedded redis-server on a free loopback port"
    )
    var_dir: Path = Field(Path("var"), description="local state: redis data, logs, datasets, runs, pid file")
    data_root: Path | None = Field(None, description="where datasets live (default: <var_dir>/data)")
    runs_dir: Path | None = Field(None, description="checkpoints, metrics, weights (default: <var_dir>/runs)")
    cache_dir: Path | None = Field(None, description="decoded-image cache of the workers (<var_dir>/cache)")
    api_token: SecretStr | None = Field(None, description="bearer token required by the API when set")
    allow_insecure_bind: bool = Field(False, description="allow a non-loopback --host without an API token")
    host: str = Field("127.0.0.1", description="interface the API and dashboard bind to")
    api_port: int = Field(8000, ge=1, le=65535, description="API port")
    dashboard_port: int = Field(8050, ge=1, le=65535, description="dashboard port")
    workers: int | None = Field(
        None, ge=1, le=64, description="worker processes (default: one per visible GPU, else one CPU worker)"
    )
    startup_timeout_s: float = Field(180.0, gt=0, description="how long to wait for every service to be up")
    stop_grace_s: float = Field(10.0, gt=0, description="SIGTERM → SIGKILL grace period on shutdown")

    @field_validator("api_token")
    @classmethod
    def _blank_token_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        # `DNET_API_TOKEN=` in a .env file means "no token", as
        # `service_contracts.settings_types.OptionalToken` does for the services; the launcher keeps its
        # own copy because it imports no project package.
        if value is not None and not value.get_secret_value().strip():
            return None
        return value

    def paths(self) -> StackPaths:
        var_dir = self.var_dir.expanduser().resolve()
        return StackPaths(
            var_dir=var_dir,
            data_root=(self.data_root or var_dir / "data").expanduser().resolve(),
            runs_dir=(self.runs_dir or var_dir / "runs").expanduser().resolve(),
            cache_dir=(self.cache_dir or var_dir / "cache").expanduser().resolve(),
        )


@dataclass(frozen=True)
class StackPaths:
    """Absolute locations derived from the settings."""

    var_dir: Path
    data_root: Path
    runs_dir: Path
    cache_dir: Path

    @property
    def logs_dir(self) -> Path:
        return self.var_dir / "logs"

    @property
    def redis_dir(self) -> Path:
        return self.var_dir / "redis"

    @property
    def lock_file(self) -> Path:
        return self.var_dir / "stack.lock"

    @property
    def state_file(self) -> Path:
        return self.var_dir / "stack.json"

    @property
    def demo_dir(self) -> Path:
        return self.data_root / "demo"
