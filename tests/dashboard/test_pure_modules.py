"""The dashboard's decision and arithmetic modules stay free of Dash and plotly, so they test as plain code"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"
PURE_PACKAGES = ("analysis", "run_view")
UI_LIBS = ("dash", "plotly", "flask")


def imported_names(path: Path) -> set[str]:
    """Top-level names of every import in a file, at any scope."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
            if node.module.split(".")[0] == "dashboard":
                names.add(node.module)
    return names


@pytest.mark.parametrize("package", PURE_PACKAGES)
def test_pure_packages_import_no_ui_library(package: str) -> None:
    files = sorted((DASHBOARD / package).glob("*.py"))
    assert files, f"dashboard/{package} has no modules"
    for path in files:
        names = imported_names(path)
        assert not names & set(UI_LIBS), f"{path.name} imports {sorted(names & set(UI_LIBS))}"
        # and no dashboard module outside the pure set (which may pull Dash in)
        allowed = (
            "dashboard.analysis",
            "dashboard.run_view",
            "dashboard.models",
            "dashboard.formatting",
            "dashboard.ids",
        )
        leaks = [n for n in names if n.startswith("dashboard.") and not n.startswith(allowed)]
        assert not leaks, f"{path.name} imports {leaks}"


def test_the_check_sees_a_dash_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from dash import html\n    import plotly.express\n")
    assert {"dash", "plotly"} <= imported_names(sample)
