"""Dashboard process settings, read once at the entry point from ``DNET_*`` variables and ``.env``."""

from __future__ import annotations

from pydantic import AnyHttpUrl, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from service_contracts.settings_types import OptionalToken


class DashboardSettings(BaseSettings):
    """Where the backend is, how to authenticate to it, and where the dashboard itself listens."""

    model_config = SettingsConfigDict(env_prefix="DNET_", env_file=".env", extra="ignore")

    api_url: AnyHttpUrl = Field(
        AnyHttpUrl("http://127.0.0.1:8000"), description="backend base URL (the client adds the /api prefix)"
    )
    api_token: OptionalToken = Field(
        None, description="bearer token for the backend; sent by the dashboard server only, never to browsers"
    )
    api_timeout_s: float = Field(10.0, gt=0, le=300, description="timeout of one backend request")
    poll_interval_ms: int = Field(
        1000, ge=100, le=1000, description="how often a live run page polls for new epochs (≤ 1 s)"
    )
    dashboard_host: str = Field("127.0.0.1", description="interface the dashboard binds to")
    dashboard_port: int = Field(8050, ge=1, le=65535)
    dashboard_threads: int = Field(8, ge=1, le=64, description="request threads of the WSGI server")
    # Same variable as the API's cap, so the form refuses exactly what the API would refuse.
    max_upload_mb: float = Field(
        256.0, gt=0, le=10_000, description="largest manifest or zip accepted by the form"
    )

    @property
    def api_base(self) -> str:
        return str(self.api_url).rstrip("/")
