"""The dependency rules of docs/architecture.md, enforced two ways.

* At run time, in a fresh interpreter: importing a module must not load what it must not depend on
  (``sys.modules`` after the import), which also catches transitive imports.
* Statically, over every source file: no import statement anywhere (including lazy ones inside functions)
  names a forbidden package.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TORCH = ("torch", "torchvision")
SERVICE_LIBS = ("fastapi", "starlette", "celery", "kombu", "redis", "dash")
TORCH_FREE_ENGINE = (
    "config",
    "records",
    "protocol",
    "manifest",
    "export",
    "errors",
    "demo",
    "settings_types",
    "diagnostics",
)

# package -> top-level packages its source may never import (at any scope)
STATIC_RULES: dict[str, tuple[str, ...]] = {
    "difficultynet": (*SERVICE_LIBS, "backend", "worker", "dashboard"),
    "backend": (*TORCH, "worker", "dashboard"),
    "worker": ("backend", "dashboard"),
    "dashboard": (*TORCH, "backend", "worker"),
    "stack": TORCH,
}
# stack only spawns processes: it may reach the others lazily, never at module level
STACK_MODULE_LEVEL_FORBIDDEN = ("difficultynet", "backend", "worker", "dashboard")


def loaded_after_import(*modules: str) -> set[str]:
    """Top-level names in sys.modules after importing ``modules`` in a fresh interpreter."""
    code = (
        "import importlib, json, sys\n"
        f"for name in {list(modules)!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, f"importing {modules} failed:\n{result.stderr[-3000:]}"
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def module_exists(name: str) -> bool:
    parts = name.split(".")
    path = REPO.joinpath(*parts)
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def require(name: str) -> None:
    assert module_exists(name), f"{name} is part of the architecture but does not exist"


def package_modules(package: str) -> list[str]:
    """Every importable module of a package except ``__main__`` (which would start a server)."""
    names = []
    for path in sorted((REPO / package).rglob("*.py")):
        relative = path.relative_to(REPO).with_suffix("")
        parts = list(relative.parts)
        if parts[-1] == "__main__":
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(parts))
    return names


# ---- run time ------------------------------------------------------------------------------------------
def test_backend_main_loads_no_torch_worker_or_dashboard() -> None:
    require("backend.main")
    loaded = loaded_after_import("backend.main")
    assert "fastapi" in loaded  # the probe works
    assert not loaded & {*TORCH, "worker", "dashboard"}, sorted(loaded & {*TORCH, "worker", "dashboard"})


@pytest.mark.parametrize("name", TORCH_FREE_ENGINE)
def test_torch_free_engine_modules(name: str) -> None:
    require(f"difficultynet.{name}")
    loaded = loaded_after_import(f"difficultynet.{name}")
    assert "difficultynet" in loaded
    assert not loaded & set(TORCH), f"difficultynet.{name} loads {sorted(loaded & set(TORCH))}"


def test_whole_engine_loads_no_service_library() -> None:
    modules = package_modules("difficultynet")
    loaded = loaded_after_import(*modules)
    assert "torch" in loaded  # the engine's torch modules were imported too
    forbidden = loaded & {*SERVICE_LIBS, "backend", "worker", "dashboard"}
    assert not forbidden, f"importing every difficultynet module loads {sorted(forbidden)}"


def test_worker_loads_no_backend_or_dashboard() -> None:
    require("worker.celery_app")
    loaded = loaded_after_import("worker.celery_app", *package_modules("worker"))
    assert "celery" in loaded
    assert not loaded & {"backend", "dashboard"}, sorted(loaded & {"backend", "dashboard"})


def test_stack_launcher_loads_none_of_the_other_packages() -> None:
    loaded = loaded_after_import("stack.launcher", "stack.healthcheck")
    forbidden = loaded & {*STACK_MODULE_LEVEL_FORBIDDEN, *TORCH}
    assert not forbidden, sorted(forbidden)


# ---- static --------------------------------------------------------------------------------------------
def imports(tree: ast.AST, module_level_only: bool = False) -> Iterator[tuple[int, str]]:
    """(line, imported module) of absolute imports; relative imports stay inside their package."""
    nodes = tree.body if module_level_only and isinstance(tree, ast.Module) else ast.walk(tree)
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def violations(package: str, forbidden: tuple[str, ...], module_level_only: bool = False) -> list[str]:
    found = []
    for path in sorted((REPO / package).rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for line, name in imports(tree, module_level_only):
            if name.split(".")[0] in forbidden:
                found.append(f"{path.relative_to(REPO)}:{line} imports {name}")
    return found


@pytest.mark.parametrize("package", sorted(STATIC_RULES))
def test_no_forbidden_import_statement(package: str) -> None:
    assert (REPO / package / "__init__.py").exists()
    assert not violations(package, STATIC_RULES[package])


def test_stack_imports_the_others_only_lazily() -> None:
    assert not violations("stack", STACK_MODULE_LEVEL_FORBIDDEN, module_level_only=True)


def test_torch_free_engine_modules_have_no_torch_import_statement() -> None:
    found = []
    for name in TORCH_FREE_ENGINE:
        path = REPO / "difficultynet" / f"{name}.py"
        if path.exists():
            tree = ast.parse(path.read_text())
            found += [
                f"{name}.py:{line} imports {mod}" for line, mod in imports(tree) if mod.split(".")[0] in TORCH
            ]
    assert not found


def test_dashboard_uses_only_torch_free_engine_modules() -> None:
    found = []
    for path in sorted((REPO / "dashboard").rglob("*.py")):
        for line, name in imports(ast.parse(path.read_text())):
            parts = name.split(".")
            if parts[0] == "difficultynet" and (len(parts) < 2 or parts[1] not in TORCH_FREE_ENGINE):
                found.append(f"{path.relative_to(REPO)}:{line} imports {name}")
    assert not found


def test_the_static_scan_sees_violations(tmp_path: Path) -> None:
    """The scanner itself: lazy, aliased and dotted imports are all caught; relative ones are not."""
    source = (
        "import os\nfrom . import sibling\n"
        "def f():\n    import torch.nn as nn\n    from backend.settings import Settings\n"
    )
    tree = ast.parse(source)
    assert [name for _, name in imports(tree)] == ["os", "torch.nn", "backend.settings"]
    assert [name for _, name in imports(tree, module_level_only=True)] == ["os"]
