"""The README stays true: its configuration table, API table, CLI table and local links match the code."""

from __future__ import annotations

import argparse
import importlib
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
SETTINGS_CLASSES = {
    "backend.settings": "Settings",
    "worker.settings": "WorkerSettings",
    "dashboard.settings": "DashboardSettings",
    "stack.settings": "StackSettings",
}
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def section(title: str) -> str:
    """Text of the ``## title`` section, up to the next second-level heading."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README, flags=re.S | re.M)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def setting_names() -> set[str]:
    names = set()
    for module_name, class_name in SETTINGS_CLASSES.items():
        cls = getattr(importlib.import_module(module_name), class_name)
        prefix = cls.model_config.get("env_prefix", "")
        names |= {f"{prefix}{field}".upper() for field in cls.model_fields}
    return names


def test_configuration_table_lists_exactly_the_settings() -> None:
    table = section("Configuration")
    documented = set(re.findall(r"^\| `(DNET_[A-Z0-9_]+)` \|", table, flags=re.M))
    actual = setting_names()
    assert not actual - documented, f"settings missing from the README table: {sorted(actual - documented)}"
    assert not documented - actual, (
        f"README documents settings that do not exist: {sorted(documented - actual)}"
    )


def test_every_dnet_name_in_the_readme_exists() -> None:
    mentioned = set(re.findall(r"\bDNET_[A-Z0-9_]*[A-Z0-9]\b", README))
    assert not mentioned - setting_names(), sorted(mentioned - setting_names())


def test_api_table_matches_the_openapi_schema() -> None:
    from backend.main import create_app

    schema = create_app().openapi()
    routes = {
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        for method in operations
        if method.upper() in HTTP_METHODS
    }
    rows = re.findall(
        r"^\| (GET|POST|PUT|PATCH|DELETE) \| `([^`?]+)(?:\?[^`]*)?` \|", section("API"), flags=re.M
    )
    documented = set(rows)
    assert not routes - documented, f"routes missing from the README: {sorted(routes - documented)}"
    assert not documented - routes, f"README lists routes that do not exist: {sorted(documented - routes)}"


def test_cli_table_names_every_subcommand() -> None:
    engine_cli = importlib.import_module("difficultynet.cli")
    product_cli = importlib.import_module("stack.cli")  # the product's `dnet`: the engine's commands + up
    parser = engine_cli.build_parser(product_cli.COMMANDS)
    subcommands = {
        name
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for name in action.choices
    }
    documented = set(re.findall(r"^\| `dnet ([a-z-]+)", section("CLI"), flags=re.M))
    assert subcommands == documented


@pytest.mark.parametrize(
    "target",
    sorted(
        {
            link.split("#")[0]
            for link in re.findall(r"\]\(([^)\s]+)\)", README)
            if not link.startswith(("http://", "https://", "#", "mailto:"))
        }
    ),
)
def test_local_links_exist(target: str) -> None:
    assert (REPO / target).exists(), f"README links to {target}, which is not in the repository"


def test_make_targets_in_the_readme_exist() -> None:
    makefile = (REPO / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, flags=re.M))
    mentioned = set(re.findall(r"`make ([a-z-]+)", README))
    assert mentioned, "the README should name its make targets"
    assert not mentioned - targets, sorted(mentioned - targets)
