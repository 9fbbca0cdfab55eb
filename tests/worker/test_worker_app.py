"""Celery app configuration, task registration, the worker command line and the CUDA-in-parent guard."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from pydantic import ValidationError

from service_contracts.protocol import QUEUE_GPU, TASK_TRAIN
from worker.celery_app import create_celery
from worker.pinning import worker_argv
from worker.settings import WorkerSettings


def test_celery_is_configured_for_long_gpu_runs(worker_settings: WorkerSettings) -> None:
    conf = create_celery(worker_settings.model_copy(update={"visibility_timeout_s": 7200})).conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1 and conf.worker_max_tasks_per_child == 1
    assert conf.broker_transport_options["visibility_timeout"] == 7200
    assert conf.worker_cancel_long_running_tasks_on_connection_loss is True
    assert conf.task_serializer == "json" and conf.accept_content == ["json"]
    assert conf.broker_url == conf.result_backend == worker_settings.redis_url
    assert conf.task_routes[TASK_TRAIN] == {"queue": QUEUE_GPU}


def test_train_task_is_registered_by_name_with_late_ack(worker_settings: WorkerSettings) -> None:
    app = create_celery(worker_settings)
    app.loader.import_default_modules()
    task = app.tasks[TASK_TRAIN]
    assert task.acks_late and task.reject_on_worker_lost


def test_heartbeat_must_fit_twice_into_the_lease() -> None:
    with pytest.raises(ValidationError, match="less than half"):
        WorkerSettings(lease_ttl_s=10, heartbeat_s=5)


def test_worker_command_line_runs_one_task_at_a_time_in_a_fresh_child() -> None:
    argv = worker_argv("gpu0", python="py")
    assert argv[:6] == ["py", "-m", "celery", "-A", "worker.celery_app", "worker"]
    assert argv[argv.index("-n") + 1] == "gpu0@%h"
    for flag, value in (
        ("-Q", "gpu"),
        ("-P", "prefork"),
        ("-c", "1"),
        ("--max-tasks-per-child", "1"),
        ("-O", "fair"),
    ):
        assert argv[argv.index(flag) + 1] == value


def test_the_worker_parent_imports_torch_but_never_initialises_cuda() -> None:
    code = (
        "import json, sys\n"
        "import worker.celery_app, worker.tasks\n"  # what the worker's main process imports at startup
        "from worker.pinning import assert_cuda_untouched\n"
        "assert_cuda_untouched()\n"
        "torch = sys.modules.get('torch')\n"
        "print(json.dumps({'torch': torch is not None, 'cuda': bool(torch and torch.cuda.is_initialized()),\n"
        "                  'backend': any(m.startswith('backend') for m in sys.modules)}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(result.stdout.splitlines()[-1]) == {"torch": True, "cuda": False, "backend": False}
