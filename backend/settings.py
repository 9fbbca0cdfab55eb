"""API configuration: every value comes from a ``DNET_*`` environment variable (or ``.env``).

``.env.example`` at the repository root documents each setting; keep the two in sync
(``tests/backend/test_settings_doc.py`` checks it).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from difficultynet.manifest import DEFAULT_MAX_ROWS
from difficultynet.settings_types import OptionalToken

MIB = 1024 * 1024
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DNET_", env_file=".env", extra="ignore")

    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Redis for state, streams and Celery")
    data_root: Path = Field(
        Path("var/data"), description="datasets live here; manifest paths must stay inside"
    )
    runs_dir: Path = Field(Path("var/runs"), description="per-run checkpoints, metrics and weights")
    cache_dir: Path = Field(
        Path("var/cache"),
        description="the workers' decoded-image cache; runs whose cache cannot fit are refused",
    )
    api_token: OptionalToken = Field(None, description="when set, required as a bearer token")
    max_upload_mb: float = Field(256.0, gt=0, description="largest accepted upload (CSV or zip), MiB")
    max_manifest_rows: int = Field(DEFAULT_MAX_ROWS, ge=1)
    max_epochs: int = Field(1000, ge=1, description="per-run epoch cap (TrainConfig allows up to 1000)")
    max_active_runs: int = Field(32, ge=1, description="queued + running runs at once")
    max_zip_files: int = Field(200_000, ge=1, description="entries allowed in a zip bundle")
    max_unzipped_mb: float = Field(4096.0, gt=0, description="total uncompressed size of a zip bundle, MiB")
    max_data_gb: float = Field(100.0, gt=0, description="quota for all files under the data root, GiB")
    max_concurrent_uploads: int = Field(2, ge=1, description="uploads validated at once; more answer 429")
    max_bad_tokens_per_min: int = Field(
        30, ge=1, description="wrong API tokens one client address may send per minute before 429"
    )
    max_json_body_kb: int = Field(256, ge=1, description="cap for non-upload request bodies, KiB")
    visibility_timeout_s: int = Field(
        48 * 3600, ge=60, description="Redis broker redelivery timeout; longer than the longest run"
    )
    health_timeout_s: float = Field(1.0, gt=0, le=30, description="Celery ping timeout of /api/health")
    sse_block_ms: int = Field(1000, ge=50, le=15_000, description="XREAD BLOCK per SSE poll")
    cors_origins: list[str] = Field(default_factory=list, description="browser origins allowed (JSON list)")
    host: str = Field("127.0.0.1", description="bind address of `python -m backend`")
    port: int = Field(8000, ge=1, le=65535)
    allow_insecure_bind: bool = Field(False, description="allow a non-loopback bind without DNET_API_TOKEN")

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * MIB)

    @property
    def max_unzipped_bytes(self) -> int:
        return int(self.max_unzipped_mb * MIB)

    @property
    def max_data_bytes(self) -> int:
        return int(self.max_data_gb * 1024 * MIB)

    @property
    def uploads_dir(self) -> Path:
        """One folder per dataset id: the stored manifest copy, and the unpacked files of zip bundles."""
        return self.data_root / "uploads"


def insecure_bind_reason(settings: Settings) -> str | None:
    """Why binding ``settings.host`` would expose an unauthenticated API, or None when it is safe."""
    if settings.host in LOOPBACK_HOSTS or settings.api_token is not None or settings.allow_insecure_bind:
        return None
    return (
        f"refusing to bind {settings.host!r} without DNET_API_TOKEN: anyone on the network could start runs. "
        "Set DNET_API_TOKEN, bind 127.0.0.1, or set DNET_ALLOW_INSECURE_BIND=1 to override."
    )
