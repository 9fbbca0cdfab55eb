"""docker-compose.yml, Dockerfile and .env.example cross-checked against the code (no Docker engine needed).

Every command must name a real entry point, every ``DNET_*`` name must be a field of one of the Settings
classes, ports and volume paths must match the settings, the worker must reserve a GPU and Redis must
keep an append-only file.
"""

from __future__ import annotations

import fnmatch
import importlib
import importlib.metadata
import importlib.util
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
ENV_EXAMPLE = REPO / ".env.example"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())

SETTINGS_CLASSES = {
    "backend.settings": "Settings",
    "worker.settings": "WorkerSettings",
    "dashboard.settings": "DashboardSettings",
    "stack.settings": "StackSettings",
}
APP_SERVICES = ("api", "worker", "dashboard")
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-?+]([^}]*))?\}")
DNET_NAME = re.compile(r"\bDNET_[A-Z0-9_]+\b")


# ---- helpers -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = compose["services"]
    return services


def settings_classes() -> list[Any]:
    classes = []
    for module_name, class_name in SETTINGS_CLASSES.items():
        module = importlib.import_module(module_name)
        classes.append(getattr(module, class_name))
    return classes


@pytest.fixture(scope="module")
def settings_fields() -> dict[str, Any]:
    """Environment variable name → (settings class, field info), for every field of every Settings class."""
    fields: dict[str, Any] = {}
    for cls in settings_classes():
        prefix = cls.model_config.get("env_prefix", "")
        for name, info in cls.model_fields.items():
            fields[f"{prefix}{name}".upper()] = (cls, info)
    return fields


def argv(command: str | list[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def option(args: list[str], flag: str) -> str:
    assert flag in args, f"{flag} missing from {args}"
    return args[args.index(flag) + 1]


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def resolved(value: str) -> str:
    """Compose interpolation with an empty shell environment: ``${X:-default}`` → default."""
    return INTERPOLATION.sub(lambda m: m.group(2) or "", value)


def published_ports(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(host side, container port) of each ``ports`` entry."""
    result = []
    for entry in service.get("ports", []):
        host_side, _, container = str(entry).rpartition(":")
        result.append((host_side, container))
    return result


def healthcheck_argv(service: dict[str, Any]) -> list[str]:
    test = service["healthcheck"]["test"]
    if test[0] == "CMD-SHELL":
        return shlex.split(test[1])
    assert test[0] == "CMD", test
    return [str(part) for part in test[1:]]


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]


def dockerfile_env() -> dict[str, str]:
    env = {}
    for instruction, args in dockerfile_instructions():
        if instruction == "ENV":
            for pair in shlex.split(args):
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def field_default(fields: dict[str, Any], name: str) -> Any:
    _cls, info = fields[name]
    return info.get_default(call_default_factory=True)


# ---- entry points --------------------------------------------------------------------------------------
def assert_entry_point(args: list[str]) -> None:
    """The command runs something that exists in this code base."""
    program = args[0]
    if program == "python":
        module = option(args, "-m")
        spec = importlib.util.find_spec(module)
        assert spec is not None, f"python -m {module}: no such module"
        is_package = spec.submodule_search_locations is not None  # runs its __main__ (found, not run)
        if is_package:
            assert importlib.util.find_spec(f"{module}.__main__") is not None, f"{module} has no __main__"
    elif program == "uvicorn":
        target = args[1]
        module_name, _, attribute = target.partition(":")
        factory = getattr(importlib.import_module(module_name), attribute)
        assert callable(factory)
        if "--factory" in args:
            assert factory().__class__.__name__ == "FastAPI"
    elif program == "celery":
        app_module = option(args, "-A")
        app_namespace = vars(importlib.import_module(app_module))
        from celery import Celery

        assert any(isinstance(v, Celery) for v in app_namespace.values()), f"no Celery app in {app_module}"
    else:
        assert program in PYPROJECT["project"]["scripts"], (
            f"{program} is not a console script of this project"
        )


@pytest.mark.parametrize("name", APP_SERVICES)
def test_service_commands_name_real_entry_points(services: dict[str, dict[str, Any]], name: str) -> None:
    assert_entry_point(argv(services[name]["command"]))


def test_dockerfile_default_command_and_healthcheck_are_real(services: dict[str, dict[str, Any]]) -> None:
    instructions = dict(dockerfile_instructions())
    cmd = yaml.safe_load(instructions["CMD"])
    assert_entry_point(cmd)
    assert cmd == argv(services["api"]["command"]), "the image's default role is the API, as in compose"
    health = instructions["HEALTHCHECK"]
    exec_form = yaml.safe_load(health[health.index("CMD") + 3 :].strip())
    assert exec_form[:3] == ["python", "-m", "stack.healthcheck"]
    assert exec_form[3] == "http://127.0.0.1:8000/api/health"


def test_worker_consumes_the_training_queue(services: dict[str, dict[str, Any]]) -> None:
    from service_contracts.protocol import QUEUE_GPU

    args = argv(services["worker"]["command"])
    assert args[:4] == ["celery", "-A", "worker.celery_app", "worker"]
    assert option(args, "-Q") == QUEUE_GPU
    assert option(args, "-P") == "prefork"
    assert option(args, "-c") == "1"
    assert option(args, "--max-tasks-per-child") == "1"
    assert "%h" in option(args, "-n"), "node names must differ between replicas (hostname)"


# ---- environment variable names ------------------------------------------------------------------------
def compose_dnet_names(compose: dict[str, Any]) -> set[str]:
    text = COMPOSE.read_text()
    names = {m.group(1) for m in INTERPOLATION.finditer(text) if m.group(1).startswith("DNET_")}
    for service in compose["services"].values():
        names |= {k for k in environment(service) if k.startswith("DNET_")}
    return names


def test_every_dnet_name_in_compose_and_dockerfile_is_a_setting(
    compose: dict[str, Any], settings_fields: dict[str, Any]
) -> None:
    names = compose_dnet_names(compose) | set(DNET_NAME.findall(DOCKERFILE.read_text()))
    assert names, "expected DNET_* settings in the deployment files"
    unknown = sorted(names - settings_fields.keys())
    assert not unknown, f"not a field of any Settings class: {unknown}"


def test_env_example_keys_are_settings(settings_fields: dict[str, Any]) -> None:
    keys = []
    for line in ENV_EXAMPLE.read_text().splitlines():
        line = line.strip().removeprefix("#").strip()
        match = re.match(r"^(DNET_[A-Z0-9_]+)=", line)
        if match:
            keys.append(match.group(1))
    assert keys, ".env.example documents no DNET_* setting"
    unknown = sorted(set(keys) - settings_fields.keys())
    assert not unknown, f".env.example keys that no Settings class reads: {unknown}"


def test_interpolation_defaults_equal_settings_defaults(settings_fields: dict[str, Any]) -> None:
    """The published host and ports fall back to the launcher's defaults (``${DNET_API_PORT:-8000}``)."""
    from stack.settings import StackSettings

    defaults: dict[str, set[str | None]] = {}
    for match in INTERPOLATION.finditer(COMPOSE.read_text()):
        defaults.setdefault(match.group(1), set()).add(match.group(2))
    for name in ("DNET_HOST", "DNET_API_PORT", "DNET_DASHBOARD_PORT"):
        expected = str(StackSettings.model_fields[name.removeprefix("DNET_").lower()].default)
        assert defaults.get(name) == {expected}, (
            f"{name}: compose defaults {defaults.get(name)}, not {expected}"
        )


def test_app_services_read_dotenv(services: dict[str, dict[str, Any]]) -> None:
    for name in APP_SERVICES:
        paths = [entry["path"] if isinstance(entry, dict) else entry for entry in services[name]["env_file"]]
        assert ".env" in paths, name


# ---- ports ---------------------------------------------------------------------------------------------
def test_api_port_matches_settings(
    services: dict[str, dict[str, Any]], settings_fields: dict[str, Any]
) -> None:
    api = services["api"]
    port = option(argv(api["command"]), "--port")
    assert port == str(field_default(settings_fields, "DNET_API_PORT")) == "8000"
    assert port == str(field_default(settings_fields, "DNET_PORT")), "backend's own default port"
    host_side, container = published_ports(api)[0]
    assert container == port and resolved(host_side) == f"127.0.0.1:{port}"
    assert f":{port}/" in healthcheck_argv(api)[-1]
    assert environment(services["dashboard"])["DNET_API_URL"] == f"http://api:{port}"
    assert port in dict(dockerfile_instructions())["EXPOSE"].split()


def test_dashboard_port_matches_settings(
    services: dict[str, dict[str, Any]], settings_fields: dict[str, Any]
) -> None:
    dashboard = services["dashboard"]
    port = environment(dashboard)["DNET_DASHBOARD_PORT"]
    assert port == str(field_default(settings_fields, "DNET_DASHBOARD_PORT")) == "8050"
    assert environment(dashboard)["DNET_DASHBOARD_HOST"] == "0.0.0.0", "reachable from outside its container"
    host_side, container = published_ports(dashboard)[0]
    assert container == port and resolved(host_side) == f"127.0.0.1:{port}"
    assert healthcheck_argv(dashboard)[-1] == f"http://127.0.0.1:{port}/"
    assert port in dict(dockerfile_instructions())["EXPOSE"].split()


def test_published_ports_default_to_loopback(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for host_side, _ in published_ports(service):
            assert resolved(host_side).startswith("127.0.0.1:"), (
                f"{name} publishes beyond loopback by default"
            )
    assert "ports" not in services["redis"], "Redis stays on the compose network"
    assert "ports" not in services["worker"], "a fixed host port would block --scale worker=N"


# ---- volumes -------------------------------------------------------------------------------------------
def volume_targets(service: dict[str, Any]) -> dict[str, str]:
    targets = {}
    for entry in service.get("volumes", []):
        source, _, target = str(entry).partition(":")
        targets[target.split(":")[0]] = source
    return targets


@pytest.mark.parametrize("name", ["api", "worker"])
def test_data_root_and_runs_dir_are_shared_volumes(
    compose: dict[str, Any], services: dict[str, dict[str, Any]], name: str
) -> None:
    env = environment(services[name])
    targets = volume_targets(services[name])
    image_env = dockerfile_env()
    for setting in ("DNET_DATA_ROOT", "DNET_RUNS_DIR"):
        path = env[setting]
        assert path in targets, f"{name}: {setting}={path} is not a mounted volume"
        assert targets[path] in compose["volumes"], f"{targets[path]} is not a declared named volume"
        assert image_env[setting] == path, f"Dockerfile ENV {setting} differs from compose"
    api_mounts = volume_targets(services["api"]).items()
    assert api_mounts <= volume_targets(services["worker"]).items(), "the worker must see what the API stores"


def test_worker_cache_dir_is_a_volume(compose: dict[str, Any], services: dict[str, dict[str, Any]]) -> None:
    path = environment(services["worker"])["DNET_CACHE_DIR"]
    assert volume_targets(services["worker"])[path] in compose["volumes"]
    assert dockerfile_env()["DNET_CACHE_DIR"] == path


def test_image_prepares_volume_dirs_for_the_non_root_user() -> None:
    run_lines = " ".join(args for instruction, args in dockerfile_instructions() if instruction == "RUN")
    for setting in ("DNET_DATA_ROOT", "DNET_RUNS_DIR", "DNET_CACHE_DIR"):
        assert dockerfile_env()[setting] in run_lines, f"{setting} dir not created in the image"
    assert "chown" in run_lines


# ---- worker GPU and Redis durability -------------------------------------------------------------------
def test_worker_reserves_one_gpu_and_pins_it(services: dict[str, dict[str, Any]]) -> None:
    worker = services["worker"]
    [device] = worker["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia"
    assert device["count"] == 1
    assert "gpu" in device["capabilities"]
    assert environment(worker)["CUDA_VISIBLE_DEVICES"] == "0"
    assert "container_name" not in worker, "a fixed name would block --scale worker=N"
    ping = healthcheck_argv(worker)
    assert ping[:5] == ["celery", "-A", "worker.celery_app", "inspect", "ping"]


def test_redis_keeps_an_append_only_file_on_a_volume(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    redis = services["redis"]
    assert str(redis["image"]).split(":")[0] == "redis" and str(redis["image"]).split(":")[1].startswith("7")
    command = argv(redis["command"])
    assert option(command, "--appendonly") == "yes"
    assert option(command, "--appendfsync") == "everysec"
    assert option(command, "--maxmemory-policy") == "noeviction", "Celery's broker keys must never be evicted"
    targets = volume_targets(redis)
    assert "/data" in targets and targets["/data"] in compose["volumes"]
    for name in ("api", "worker"):
        assert environment(services[name])["DNET_REDIS_URL"] == "${EXTERNAL_REDIS_URL:-redis://redis:6379/0}"


@pytest.mark.parametrize(
    ("name", "settings"),
    [
        ("api", ("DNET_REDIS_URL", "DNET_DATA_ROOT", "DNET_RUNS_DIR")),
        ("worker", ("DNET_REDIS_URL", "DNET_DATA_ROOT", "DNET_RUNS_DIR", "DNET_CACHE_DIR")),
        ("dashboard", ("DNET_API_URL", "DNET_DASHBOARD_HOST", "DNET_DASHBOARD_PORT")),
    ],
)
def test_container_values_are_not_left_to_dotenv(
    services: dict[str, dict[str, Any]], name: str, settings: tuple[str, ...]
) -> None:
    """`environment:` beats `env_file:`, so .env.example's local values (loopback, var/...) cannot leak in."""
    env = environment(services[name])
    for setting in settings:
        assert setting in env, f"{name}: {setting} would come from .env"
        assert "127.0.0.1" not in env[setting] and not env[setting].startswith("var/"), (name, setting)


def test_dependencies_wait_for_health(services: dict[str, dict[str, Any]]) -> None:
    for name in APP_SERVICES:
        depends = services[name]["depends_on"]
        assert depends, name
        for dependency, condition in depends.items():
            assert condition["condition"] == "service_healthy", f"{name} → {dependency}"
            assert "healthcheck" in services[dependency], f"{dependency} has no healthcheck"
    assert "api" in services["dashboard"]["depends_on"]
    for name, service in services.items():
        assert "healthcheck" in service, name


# ---- Dockerfile ----------------------------------------------------------------------------------------
def test_dockerfile_is_multistage_non_root_with_healthcheck() -> None:
    instructions = dockerfile_instructions()
    stages = [args for instruction, args in instructions if instruction == "FROM"]
    assert len(stages) >= 2 and all(" AS " in s.upper() for s in stages), stages
    final_stage = instructions[
        max(i for i, (instruction, _) in enumerate(instructions) if instruction == "FROM") :
    ]
    users = [args for instruction, args in final_stage if instruction == "USER"]
    assert users and users[-1] not in ("root", "0"), "the runtime stage must run as a non-root user"
    assert any(i == "COPY" and a.startswith("--from=builder") for i, a in final_stage)
    assert any(i == "HEALTHCHECK" for i, _ in final_stage)


def test_dockerfile_copies_every_package_and_the_project_metadata() -> None:
    copies = [args.split() for instruction, args in dockerfile_instructions() if instruction == "COPY"]
    sources = {parts[0] for parts in copies if not parts[0].startswith("--")}
    packages = set(PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"])
    assert {f"{p.rstrip('*')}" for p in packages} <= sources
    assert {"pyproject.toml", "README.md"} <= sources
    for source in sources:
        assert (REPO / source).exists(), f"COPY {source}: not in the repository"


@pytest.mark.parametrize("package", ["torch", "torchvision"])
def test_the_installed_torch_is_the_pinned_one(package: str) -> None:
    """pyproject pins torch exactly (images and CI install that pin); the environment running the tests
    must hold that very version, or the tests do not test what ships."""
    pins = [d for d in PYPROJECT["project"]["dependencies"] if re.match(rf"{package}\s*==", d)]
    assert len(pins) == 1, f"pyproject does not pin {package} exactly: {pins}"
    pinned = pins[0].split("==", 1)[1].strip()
    installed = importlib.metadata.version(package).split("+", 1)[0]  # local tags like +cpu / +cu130
    assert installed == pinned, f"{package} {installed} is installed, pyproject pins {pinned}"


def test_dockerignore_keeps_secrets_and_local_state_out_but_not_sources() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def ignored(path: str) -> bool:
        verdict = False
        for pattern in patterns:
            negate = pattern.startswith("!")
            if fnmatch.fnmatch(path, pattern.lstrip("!")) or path.startswith(pattern.lstrip("!") + "/"):
                verdict = not negate
        return verdict

    for path in (".env", ".venv", "var", ".git"):
        assert ignored(path), f"{path} would be sent to the Docker build"
    copies = [args.split()[0] for instruction, args in dockerfile_instructions() if instruction == "COPY"]
    for source in copies:
        if not source.startswith("--"):
            assert not ignored(source), f"COPY {source} is excluded by .dockerignore"
