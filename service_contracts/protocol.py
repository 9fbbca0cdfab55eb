"""Names shared by the API and the workers (and their reporter): task names, queues, Redis keys.

Dependency-free: a plain vocabulary, so the backend never has to import the worker. Run statuses are
part of the API's JSON and live with it (``difficultynet.contracts.api.RunStatus``).
"""

from __future__ import annotations

TASK_TRAIN = "worker.train"
QUEUE_GPU = "gpu"


KEY_PREFIX = "dnet"
RUNS_INDEX_KEY = f"{KEY_PREFIX}:runs"  # sorted set: run id -> created_at
DATASETS_INDEX_KEY = f"{KEY_PREFIX}:datasets"  # sorted set: dataset id -> created_at


def run_key(run_id: str) -> str:
    """Hash with the run's status, config, timestamps, progress, worker and error."""
    return f"{KEY_PREFIX}:runs:{run_id}"


def epochs_key(run_id: str) -> str:
    """Stream with one entry per finished epoch (field ``record`` = EpochRecord JSON)."""
    return f"{KEY_PREFIX}:runs:{run_id}:epochs"


def epoch_confusions_key(run_id: str) -> str:
    """Hash: field ``<epoch>`` = JSON list, per class in class-index order, of its top confusions
    ``[[predicted, rate], …]`` (the exploration views of one epoch: heatmap, most confused pairs)."""
    return f"{KEY_PREFIX}:runs:{run_id}:confusions"


def class_exploration_key(run_id: str) -> str:
    """Hash: field ``class_exploration_field(class, epoch)`` = ``ClassEpochExploration`` JSON (one class's
    confusions and hardest examples at one epoch: the class panel reads one class over every epoch)."""
    return f"{KEY_PREFIX}:runs:{run_id}:class-exploration"


def class_exploration_field(class_index: int, epoch: int) -> str:
    return f"{class_index}:{epoch}"


def cancel_key(run_id: str) -> str:
    """Present while a cooperative cancel is requested."""
    return f"{KEY_PREFIX}:runs:{run_id}:cancel"


def weights_key(run_id: str) -> str:
    """Latest ``difficulty-weights/v1`` export of the run (JSON string)."""
    return f"{KEY_PREFIX}:runs:{run_id}:weights"


def lease_key(run_id: str) -> str:
    """Owner token of the worker training the run; expires unless heartbeated (crash recovery)."""
    return f"{KEY_PREFIX}:runs:{run_id}:lease"


def lease_owner_worker(owner: str) -> str:
    """The Celery worker name in a lease owner token ``<worker name>:<pid>:<nonce>`` (``worker.lease``)."""
    return owner.rsplit(":", 2)[0]


def log_key(run_id: str) -> str:
    """List of the last log lines the workers reported for the run (kept for failure reasons)."""
    return f"{KEY_PREFIX}:runs:{run_id}:log"


WORKER_CAPACITY_INDEX_KEY = f"{KEY_PREFIX}:workers"  # sorted set: worker name -> report expiry (epoch s)


def worker_capacity_key(worker: str) -> str:
    """``WorkerCapacity`` JSON (``difficultynet.memory_estimate``) a live worker refreshes periodically."""
    return f"{KEY_PREFIX}:workers:{worker}:capacity"


def dataset_key(dataset_id: str) -> str:
    """JSON document describing an uploaded dataset (report, manifest path, data root)."""
    return f"{KEY_PREFIX}:datasets:{dataset_id}"


def epoch_stream_id(epoch: int) -> str:
    """Stream entry id for an epoch: fixed, so re-adding a replayed epoch is rejected by Redis."""
    if epoch < 1:
        raise ValueError("epochs are 1-based")
    return f"{epoch}-0"


def epoch_from_stream_id(entry_id: str | bytes) -> int:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.split("-", 1)[0])
