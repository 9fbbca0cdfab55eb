"""The dependency rules of docs/architecture.md, enforced two ways.

* At run time, in a fresh interpreter: importing a module must not load what it must not depend on
  (``sys.modules`` after the import), which also catches transitive imports.
* Statically, over every source file: no import statement anywhere (including lazy ones inside functions)
  names a forbidden package, directly or through a chain of the project's own modules.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TORCH = ("torch", "torchvision")
SERVICE_LIBS = ("fastapi", "starlette", "celery", "kombu", "redis", "dash")
TORCH_FREE_ENGINE = (
    "contracts",
    "manifest",
    "export",
    "errors",
    "demo",
    "diagnostics",
    "files",
    "synthetic",
)

# package -> top-level packages none of its modules may import, at any scope (a lazy import inside a
# function counts) and through any chain of the project's own modules
STATIC_RULES: dict[str, tuple[str, ...]] = {
    "difficultynet": (*SERVICE_LIBS, "service_contracts", "backend", "worker", "dashboard", "stack"),
    # the services' vocabulary: plain names and pydantic field types, nothing of the engine or the services
    "service_contracts": (*TORCH, *SERVICE_LIBS, "difficultynet", "backend", "worker", "dashboard", "stack"),
    "backend": (*TORCH, "worker", "dashboard", "stack"),
    "worker": ("backend", "dashboard", "stack"),
    "dashboard": (*TORCH, "backend", "worker", "stack"),
    "stack": TORCH,
}
# module -> names it may reach despite its package's rule: the product CLI runs the engine's `train`
STATIC_ALLOWANCES: dict[str, tuple[str, ...]] = {"stack.cli": TORCH}
# stack only spawns processes: at module level it imports the engine's torch-free modules (its errors,
# its CLI to compose `dnet`) and none of the others; it reaches the rest lazily
STACK_MODULE_LEVEL_FORBIDDEN = ("backend", "worker", "dashboard")
STACK_MODULE_LEVEL_ENGINE = (*TORCH_FREE_ENGINE, "cli")


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


def package_modules(package: str, root: Path = REPO) -> list[str]:
    """Every importable module of a package except ``__main__`` (which would start a server)."""
    names = []
    for path in sorted((root / package).rglob("*.py")):
        relative = path.relative_to(root).with_suffix("")
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


def contract_modules() -> list[str]:
    return [name for name in package_modules("difficultynet") if name.startswith("difficultynet.contracts")]


def test_the_contracts_load_only_pydantic() -> None:
    """The wire contracts are read by every process: importing all of them loads neither torch nor numpy
    nor any service library."""
    modules = contract_modules()
    assert {"difficultynet.contracts.api", "difficultynet.contracts.config"} <= set(modules)
    loaded = loaded_after_import(*modules)
    assert "pydantic" in loaded  # the probe works
    forbidden = loaded & {*TORCH, "numpy", *SERVICE_LIBS, "backend", "worker", "dashboard", "stack"}
    assert not forbidden, sorted(forbidden)


def test_the_contracts_import_nothing_of_the_engine_but_each_other() -> None:
    allowed = {"pydantic", "pydantic_core", "typing_extensions", *sys.stdlib_module_names}
    found = []
    for name in contract_modules():
        for line, imported, _ in every_import(REPO, name):
            top = imported.split(".")[0]
            if imported.startswith("difficultynet.contracts") or top in allowed:
                continue
            found.append(f"{name}:{line} imports {imported}")
    assert not found


def test_the_services_vocabulary_loads_neither_the_engine_nor_a_service_library() -> None:
    loaded = loaded_after_import("service_contracts.protocol", "service_contracts.settings_types")
    assert "service_contracts" in loaded and "pydantic" in loaded  # the probe works
    forbidden = loaded & {"difficultynet", *TORCH, *SERVICE_LIBS, "backend", "worker", "dashboard", "stack"}
    assert not forbidden, sorted(forbidden)


def test_the_engine_spells_no_service_word() -> None:
    """Redis keys, the queue and the task name belong to ``service_contracts``: no engine source spells
    them (a copy would drift silently from the services' own)."""
    from service_contracts import protocol

    words = (f"{protocol.KEY_PREFIX}:", protocol.TASK_TRAIN)
    found = []
    for path in sorted((REPO / "difficultynet").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found += [
                    f"{path.relative_to(REPO)}:{node.lineno} {word!r}" for word in words if word in node.value
                ]
    assert not found


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


def test_stack_and_the_product_cli_load_none_of_the_other_packages() -> None:
    loaded = loaded_after_import("stack.cli", "stack.launcher", "stack.healthcheck")
    assert "difficultynet" in loaded  # the probe works: `dnet` composes the engine's commands
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


def module_file(root: Path, name: str) -> Path | None:
    """The source file of a project module (``a.b`` → ``a/b.py`` or ``a/b/__init__.py``), else None."""
    path = root.joinpath(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def every_import(root: Path, name: str) -> list[tuple[int, str, list[str]]]:
    """(line, module, submodules it may also load) of every import statement in module ``name``, at any
    scope (lazy ones inside functions included), with relative imports resolved; ``from pkg import a``
    may load the submodule ``pkg.a``."""
    path = module_file(root, name)
    assert path is not None, name
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.append((node.lineno, base, [f"{base}.{alias.name}" for alias in node.names]))
    return found


def modules_run_by_importing(root: Path, name: str) -> list[str]:
    """Importing ``a.b.c`` runs ``a``, ``a.b`` and ``a.b.c``: those of them that are project modules."""
    parts = name.split(".")
    prefixes = (".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return [prefix for prefix in prefixes if module_file(root, prefix) is not None]


def reachable_violations(
    root: Path, start: str, forbidden: tuple[str, ...], allowed: tuple[str, ...] = ()
) -> list[str]:
    """Forbidden imports reachable from module ``start`` by following every import statement (at any
    scope, so a lazy import inside a function counts) through the project's own modules, transitively.
    Each finding names the chain of modules that leads to it."""
    chains: dict[str, list[str]] = {start: [start]}
    queue = [start]
    found = []
    while queue:
        module = queue.pop(0)
        for line, name, submodules in every_import(root, module):
            top = name.split(".")[0]
            if top in forbidden and top not in allowed:
                where = f"{module_file(root, module).relative_to(root)}:{line}"  # type: ignore[union-attr]
                found.append(f"{' → '.join(chains[module])} imports {name} ({where})")
                continue
            for target in {
                m for imported in (name, *submodules) for m in modules_run_by_importing(root, imported)
            }:
                if target not in chains:
                    chains[target] = [*chains[module], target]
                    queue.append(target)
    return sorted(set(found))


def package_violations(
    root: Path, package: str, forbidden: tuple[str, ...], allowed: dict[str, tuple[str, ...]] | None = None
) -> list[str]:
    allowed = allowed or {}
    found: list[str] = []
    for name in package_modules(package, root):
        found += reachable_violations(root, name, forbidden, allowed.get(name, ()))
    return found


def module_level_violations(package: str, may_import: Callable[[str], bool]) -> list[str]:
    found = []
    for path in sorted((REPO / package).rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for line, name in imports(tree, module_level_only=True):
            if not may_import(name):
                found.append(f"{path.relative_to(REPO)}:{line} imports {name}")
    return found


@pytest.mark.parametrize("package", sorted(STATIC_RULES))
def test_no_forbidden_import_is_reachable(package: str) -> None:
    assert (REPO / package / "__init__.py").exists()
    assert not package_violations(REPO, package, STATIC_RULES[package], STATIC_ALLOWANCES)


def stack_may_import_at_module_level(name: str) -> bool:
    parts = name.split(".")
    if parts[0] == "difficultynet":
        return len(parts) > 1 and parts[1] in STACK_MODULE_LEVEL_ENGINE
    return parts[0] not in STACK_MODULE_LEVEL_FORBIDDEN


def test_stack_imports_the_others_only_lazily() -> None:
    assert not module_level_violations("stack", stack_may_import_at_module_level)


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


# ---- the checkers themselves -----------------------------------------------------------------------------
def test_the_static_scan_sees_violations(tmp_path: Path) -> None:
    """The scanner itself: lazy, aliased and dotted imports are all caught; relative ones are not."""
    source = (
        "import os\nfrom . import sibling\n"
        "def f():\n    import torch.nn as nn\n    from backend.settings import Settings\n"
    )
    tree = ast.parse(source)
    assert [name for _, name in imports(tree)] == ["os", "torch.nn", "backend.settings"]
    assert [name for _, name in imports(tree, module_level_only=True)] == ["os"]


def write_tree(root: Path, files: dict[str, str]) -> None:
    for relative, source in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)


def test_a_lazy_import_of_the_launcher_in_the_engine_fails_the_rule(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "difficultynet/__init__.py": "",
            "difficultynet/cli.py": "import argparse\n\ndef cmd_up(args):\n    import stack\n",
            "stack/__init__.py": "",
        },
    )
    found = package_violations(tmp_path, "difficultynet", STATIC_RULES["difficultynet"])
    assert found == ["difficultynet.cli imports stack (difficultynet/cli.py:4)"]


def test_the_rule_follows_lazy_and_relative_imports_transitively(tmp_path: Path) -> None:
    """The engine's cli lazily imports its own helper module, which lazily imports the launcher; the
    backend reaches torch only through an engine module's lazy import: both chains are reported."""
    write_tree(
        tmp_path,
        {
            "difficultynet/__init__.py": "",
            "difficultynet/cli.py": "def cmd_up(args):\n    from . import compose\n",
            "difficultynet/compose.py": "def launch():\n    from stack.launcher import run_up\n",
            "difficultynet/records.py": "def as_tensor():\n    import torch\n",
            "backend/__init__.py": "",
            "backend/api.py": "from difficultynet.records import as_tensor\n",
            "stack/__init__.py": "",
            "stack/launcher.py": "",
        },
    )
    assert package_violations(tmp_path, "difficultynet", STATIC_RULES["difficultynet"]) == [
        "difficultynet.cli → difficultynet.compose imports stack.launcher (difficultynet/compose.py:2)",
        "difficultynet.compose imports stack.launcher (difficultynet/compose.py:2)",
    ]
    assert package_violations(tmp_path, "backend", STATIC_RULES["backend"]) == [
        "backend.api → difficultynet.records imports torch (difficultynet/records.py:2)"
    ]
    # An allowance covers exactly one module and the names given.
    assert not package_violations(tmp_path, "backend", STATIC_RULES["backend"], {"backend.api": TORCH})
