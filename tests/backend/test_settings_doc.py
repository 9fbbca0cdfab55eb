"""``.env.example`` documents every API and worker setting, with the real defaults."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from backend.settings import Settings
from worker.settings import WorkerSettings

ENV_EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"
ASSIGNMENT = re.compile(r"^(DNET_[A-Z0-9_]+)=(.*)$", re.M)


def documented() -> dict[str, str]:
    return dict(ASSIGNMENT.findall(ENV_EXAMPLE.read_text()))


@pytest.mark.parametrize("settings_class", [Settings, WorkerSettings])
def test_every_setting_is_documented(settings_class: type[BaseSettings]) -> None:
    names = {f"DNET_{field.upper()}" for field in settings_class.model_fields}
    missing = names - set(documented())
    assert not missing, f".env.example lacks {sorted(missing)}"


def test_nothing_undocumented_or_stale() -> None:
    known = {f"DNET_{field.upper()}" for cls in (Settings, WorkerSettings) for field in cls.model_fields}
    assert not set(documented()) - known


@pytest.mark.parametrize("settings_class", [Settings, WorkerSettings])
def test_the_example_values_are_the_defaults(
    settings_class: type[BaseSettings], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("DNET_"):
            monkeypatch.delenv(name)
    from_example = settings_class(_env_file=ENV_EXAMPLE)
    defaults = settings_class(_env_file=None)
    assert from_example.model_dump() == defaults.model_dump()


def test_blank_cache_dir_disables_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DNET_CACHE_DIR", "")
    assert WorkerSettings(_env_file=None).cache_dir is None
