"""Worker configuration from ``DNET_*`` environment variables (see ``.env.example``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MAX_ATTEMPTS = 3


class WorkerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DNET_", env_file=".env", extra="ignore")

    redis_url: str = Field("redis://127.0.0.1:6379/0", description="broker, result backend and run state")
    runs_dir: Path = Field(Path("var/runs"), description="checkpoints; must be shared with the API host")
    cache_dir: Path | None = Field(Path("var/cache"), description="decoded-image cache (None: no cache)")
    visibility_timeout_s: int = Field(
        48 * 3600, ge=60, description="Redis redelivery timeout for unacked runs"
    )
    lease_ttl_s: float = Field(
        30.0, gt=0, description="a run whose worker stops heartbeating this long is orphaned"
    )
    heartbeat_s: float = Field(5.0, gt=0, description="lease refresh interval (< lease_ttl_s / 2)")
    recovery_interval_s: float = Field(15.0, gt=0, description="how often a worker looks for orphaned runs")
    max_attempts: int = Field(
        DEFAULT_MAX_ATTEMPTS,
        ge=1,
        description="a run whose worker dies this often in a row on the same epoch is failed",
    )
    redis_retry_s: float = Field(
        60.0, ge=0, description="how long run-state writes retry while Redis is down"
    )

    @field_validator("cache_dir", mode="before")
    @classmethod
    def _empty_means_no_cache(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _heartbeat_fits_lease(self) -> WorkerSettings:
        if self.heartbeat_s * 2 >= self.lease_ttl_s:
            raise ValueError("DNET_HEARTBEAT_S must be less than half of DNET_LEASE_TTL_S")
        return self
