"""Pydantic field types shared by every process's ``*Settings`` (API, worker, dashboard, launcher)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, SecretStr


def _blank_is_none(value: object) -> object:
    # `DNET_API_TOKEN=` in a .env file means "no token", not "the empty token".
    text = value.get_secret_value() if isinstance(value, SecretStr) else value
    if isinstance(text, str) and not text.strip():
        return None
    return value


OptionalToken = Annotated[SecretStr | None, BeforeValidator(_blank_is_none)]
