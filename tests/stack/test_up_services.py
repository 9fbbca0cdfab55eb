"""What `dnet up` would start: GPU discovery without CUDA, the worker plan and each service's command."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from service_contracts.protocol import QUEUE_GPU
from stack import services
from stack.settings import StackSettings


def fake_nvidia_smi(tmp_path: Path, output: str, code: int = 0) -> str:
    script = tmp_path / "nvidia-smi"
    script.write_text(f"#!/bin/sh\ncat <<'OUT'\n{output}OUT\nexit {code}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


@pytest.mark.parametrize(
    ("visible", "expected"),
    [("0,1", ["0", "1"]), ("3", ["3"]), ("", []), ("-1", []), ("2,-1,3", ["2"]), (" 1 , 0 ", ["1", "0"])],
)
def test_cuda_visible_devices_wins_over_nvidia_smi(visible: str, expected: list[str], tmp_path: Path) -> None:
    smi = fake_nvidia_smi(tmp_path, "GPU 0: A\nGPU 1: B\nGPU 2: C\n")
    assert services.visible_gpus({"CUDA_VISIBLE_DEVICES": visible}, nvidia_smi=smi) == expected


def test_nvidia_smi_listing_counts_gpus_not_mig_lines(tmp_path: Path) -> None:
    listing = (
        "GPU 0: NVIDIA H100 (UUID: GPU-aaa)\n"
        "  MIG 3g.40gb     Device  0: (UUID: MIG-bbb)\n"
        "GPU 1: NVIDIA H100 (UUID: GPU-ccc)\n"
    )
    assert services.visible_gpus({}, nvidia_smi=fake_nvidia_smi(tmp_path, listing)) == ["0", "1"]


def test_failing_or_missing_nvidia_smi_means_cpu(tmp_path: Path) -> None:
    failing = fake_nvidia_smi(tmp_path, "NVIDIA-SMI has failed\n", code=9)
    assert services.visible_gpus({}, nvidia_smi=failing) == []
    assert services.visible_gpus({}, nvidia_smi=str(tmp_path / "absent")) == []


def test_plan_one_worker_per_gpu_and_round_robin_when_more_requested() -> None:
    assert [(s.node, s.cuda_visible_devices) for s in services.plan_workers(["0", "1"], None, 16)] == [
        ("gpu0", "0"),
        ("gpu1", "1"),
    ]
    assert [s.cuda_visible_devices for s in services.plan_workers(["4", "7"], 3, 16)] == ["4", "7", "4"]
    assert all(s.threads is None for s in services.plan_workers(["0"], None, 16))


def test_plan_cpu_workers_hide_gpus_and_share_cores() -> None:
    [single] = services.plan_workers([], None, 8)
    assert (single.node, single.cuda_visible_devices, single.threads) == ("cpu0", "", None)
    several = services.plan_workers([], 3, 8)
    assert [s.node for s in several] == ["cpu0", "cpu1", "cpu2"]
    assert {s.threads for s in several} == {2}
    assert {s.threads for s in services.plan_workers([], 4, 2)} == {1}


def test_worker_command_follows_the_gpu_worker_recipe() -> None:
    slot = services.WorkerSlot("gpu1", "1", None)
    argv = services.worker_command(slot)
    joined = " ".join(argv)
    assert argv[1:4] == ["-m", "celery", "-A"] and argv[4] == "worker.celery_app"
    recipe = (f"-Q {QUEUE_GPU}", "-P prefork", "-c 1", "--max-tasks-per-child 1", "-O fair", "-n gpu1@%h")
    for fragment in recipe:
        assert fragment in joined


def test_worker_env_pins_device_and_keeps_user_thread_settings() -> None:
    pinned = services.worker_env(services.WorkerSlot("cpu0", "", 2), {"OMP_NUM_THREADS": "5", "X": "y"})
    assert pinned == {"OMP_NUM_THREADS": "5", "MKL_NUM_THREADS": "2", "X": "y", "CUDA_VISIBLE_DEVICES": ""}
    gpu = services.worker_env(services.WorkerSlot("gpu0", "3", None), {})
    assert gpu == {"CUDA_VISIBLE_DEVICES": "3"}


def test_common_env_hands_absolute_paths_and_token_to_children(tmp_path: Path) -> None:
    settings = StackSettings(var_dir=tmp_path / "v", api_token="tok")
    env = services.common_env(settings, settings.paths(), "redis://127.0.0.1:1234/0", base={"PATH": "/bin"})
    assert env == {
        "PATH": "/bin",
        "DNET_REDIS_URL": "redis://127.0.0.1:1234/0",
        "DNET_DATA_ROOT": str(tmp_path / "v" / "data"),
        "DNET_RUNS_DIR": str(tmp_path / "v" / "runs"),
        "DNET_CACHE_DIR": str(tmp_path / "v" / "cache"),
        "DNET_API_TOKEN": "tok",
        "PYTHONUNBUFFERED": "1",
    }
    assert os.path.isabs(env["DNET_DATA_ROOT"])


def test_api_and_dashboard_commands() -> None:
    api = services.api_command("127.0.0.1", 8123)
    assert api[1:4] == ["-m", "uvicorn", "backend.main:create_app"]
    assert "--factory" in api and api[api.index("--port") + 1] == "8123"
    assert services.dashboard_command()[1:] == ["-m", "dashboard"]
    env = services.dashboard_env({"A": "b"}, "0.0.0.0", 8051, "http://127.0.0.1:8000")
    assert env == {
        "A": "b",
        "DNET_API_URL": "http://127.0.0.1:8000",
        "DNET_DASHBOARD_HOST": "0.0.0.0",
        "DNET_DASHBOARD_PORT": "8051",
    }


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:80"),
        ("0.0.0.0", "http://127.0.0.1:80"),
        ("::", "http://[::1]:80"),
        ("::1", "http://[::1]:80"),
        ("10.1.2.3", "http://10.1.2.3:80"),
    ],
)
def test_http_url_reaches_wildcard_binds_over_loopback(host: str, url: str) -> None:
    assert services.http_url(host, 80) == url
