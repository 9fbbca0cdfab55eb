"""An in-memory stand-in for the backend's HTTP API, served through ``httpx.MockTransport``.

It speaks the API's JSON shapes without importing the backend: every answer is built from the shared
contract models (:mod:`difficultynet.contracts.api`, the ones the real routes declare), so the dashboard's
client, pages and callbacks are tested exactly as they talk to the real API. A field the contract does not
have makes the answer fail loudly instead of being sent (``tests/dashboard/test_fake_backend_contract.py``
also checks that the real app declares the same model for each route).
"""

from __future__ import annotations

import json
import re
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import BaseModel

from dashboard.api_client import ApiClient
from difficultynet.contracts.api import (
    ClassEpochExploration,
    ClassExploration,
    DatasetList,
    DatasetRead,
    EpochConfusions,
    EpochPage,
    ErrorBody,
    HealthRead,
    RowError,
    RunList,
    RunRead,
)
from difficultynet.contracts.config import TrainConfig
from difficultynet.contracts.exploration import CLASS_METRICS, class_entries
from difficultynet.contracts.records import EpochRecord
from difficultynet.export import build_weights_export
from difficultynet.memory_estimate import run_memory_estimate
from difficultynet.synthetic import synthetic_dataset

BASE_URL = "http://backend.test"


def run_id_for(n: int) -> str:
    return f"{n:032x}"


def dataset_id_for(n: int) -> str:
    return f"{n:016x}"


@dataclass
class FakeBackend:
    token: str | None = None
    down: bool = False
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    records: dict[str, list[EpochRecord]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    # the next POST /datasets or POST /runs answers with this (status, body) instead of succeeding
    reject_next: tuple[int, dict[str, Any]] | None = None

    # -- fixtures ------------------------------------------------------------------------------------

    def client(self, token: str | None = None) -> ApiClient:
        return ApiClient(BASE_URL, token=token or self.token, transport=httpx.MockTransport(self.handle))

    def add_dataset(self, n: int, counts: dict[str, int], name: str = "mini.csv") -> str:
        dataset_id = dataset_id_for(n)
        dataset = synthetic_dataset(counts, dataset_id=dataset_id, name=name)
        self.datasets[dataset_id] = dataset.model_dump(mode="json")
        return dataset_id

    def add_run(
        self,
        n: int,
        dataset_id: str,
        records: list[EpochRecord],
        *,
        status: str = "succeeded",
        method: str = "dnet",
        epochs_total: int | None = None,
        baseline_run_id: str | None = None,
    ) -> str:
        run_id = run_id_for(n)
        total = epochs_total or (records[-1].epochs_total if records else 2)
        config = TrainConfig(method=method, epochs=total)
        classes = self.datasets.get(dataset_id, {}).get("classes", [])
        images = sum(c["train"] + c["val"] + c["test"] for c in classes)
        self.runs[run_id] = RunRead(
            id=run_id,
            status=status,
            dataset_id=dataset_id,
            baseline_run_id=baseline_run_id,
            config=config,
            memory_estimate=run_memory_estimate(config, len(classes), images, []),  # as the API, at creation
            created_at=datetime(2026, 11, 23, 12, n % 60, tzinfo=UTC),
            epochs_total=total,
            progress=0.0,
            worker="cpu0@test",
            device="cpu",
        ).model_dump(mode="json")
        self.records[run_id] = []
        self.set_records(run_id, records)
        return run_id

    def set_records(self, run_id: str, records: list[EpochRecord]) -> None:
        self.records[run_id] = [r.model_copy(update={"run_id": run_id}) for r in records]
        run = self.runs[run_id]
        run["epoch"] = records[-1].epoch if records else 0
        run["progress"] = run["epoch"] / run["epochs_total"]
        run["elapsed_s"] = records[-1].elapsed_s if records else None
        run["eta_s"] = 12.5 * (run["epochs_total"] - run["epoch"]) if records else None
        run["top1"] = records[-1].top1 if records else None
        run["balanced_acc"] = records[-1].balanced_acc if records else None
        run["balanced_acc_history"] = [r.balanced_acc for r in records][:50]  # the API spreads 50 over more

    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.path}?{r.url.query.decode()}".rstrip("?") for r in self.requests]

    # -- HTTP ----------------------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        path = request.url.path
        if path == "/api/health":
            health = HealthRead(status="ok", redis=True, workers=["cpu0@test"], versions={})
            return _answer(200, HealthRead, health.model_dump(mode="json"))
        if self.token and request.headers.get("Authorization") != f"Bearer {self.token}":
            return _error(401, "missing or invalid API token")
        for method, pattern, route in self._routes():
            match = re.fullmatch(pattern, path)
            if match and request.method == method:
                return route(request, *match.groups())
        return _error(404, "Not Found")

    def _routes(self) -> list[tuple[str, str, Callable[..., httpx.Response]]]:
        return [(method, pattern, getattr(self, handler)) for method, pattern, handler, _ in ROUTES]

    def _list_datasets(self, _request: httpx.Request) -> httpx.Response:
        items = list(self.datasets.values())
        return _answer(200, DatasetList, {"datasets": items, "total": len(items)})

    def _read_dataset(self, _request: httpx.Request, dataset_id: str) -> httpx.Response:
        if dataset_id not in self.datasets:
            return _error(404, f"dataset {dataset_id!r} not found")
        return _answer(200, DatasetRead, self.datasets[dataset_id])

    def _upload(self, request: httpx.Request) -> httpx.Response:
        if self.reject_next:
            status, body = self.reject_next
            self.reject_next = None
            return _answer(status, ErrorBody, body)
        uploaded = getattr(self, "uploaded", {})
        self.uploaded = uploaded
        boundary = request.headers["content-type"].partition("boundary=")[2].encode()
        content = request.content.replace(boundary, b"")  # same file, same key
        if content in uploaded:  # the real API answers 200 with the earlier dataset
            return _answer(200, DatasetRead, self.datasets[uploaded[content]])
        dataset_id = self.add_dataset(len(self.datasets) + 1, {"airplane": 120, "cat": 40, "ship": 8})
        uploaded[content] = dataset_id
        return _answer(201, DatasetRead, self.datasets[dataset_id])

    def _list_runs(self, request: httpx.Request) -> httpx.Response:
        wanted = request.url.params.get("dataset_id")
        items = [r for r in self.runs.values() if not wanted or r["dataset_id"] == wanted]
        items.sort(key=lambda r: r["created_at"], reverse=True)
        return _answer(200, RunList, {"runs": items, "total": len(items)})

    def _read_run(self, _request: httpx.Request, run_id: str) -> httpx.Response:
        if run_id not in self.runs:
            return _error(404, f"run {run_id!r} not found")
        return _answer(200, RunRead, self.runs[run_id])

    def _create_run(self, request: httpx.Request) -> httpx.Response:
        if self.reject_next:
            status, body = self.reject_next
            self.reject_next = None
            return _answer(status, ErrorBody, body)
        body = json.loads(request.content)
        run_id = self.add_run(
            len(self.runs) + 1,
            body["dataset_id"],
            [],
            status="queued",
            method=body.get("method", "dnet"),
            epochs_total=body.get("epochs", 20),
        )
        return _answer(202, RunRead, self.runs[run_id])

    def _epochs(self, request: httpx.Request, run_id: str) -> httpx.Response:
        if run_id not in self.runs:
            return _error(404, f"run {run_id!r} not found")
        after = int(request.url.params.get("after", 0))
        limit = int(request.url.params.get("limit", 1000))
        # like the real API: the records' exploration columns are served by routes of their own
        records = [
            r.model_copy(update={"confusions": None, "hardest": None})
            for r in self.records[run_id]
            if r.epoch > after
        ][:limit]
        run = self.runs[run_id]
        page = EpochPage(
            run_id=run_id,
            status=run["status"],
            epochs_total=run["epochs_total"],
            last_epoch=records[-1].epoch if records else after,
            records=records,
        )
        return _answer(200, EpochPage, page.model_dump(mode="json"))

    def _epoch_confusions(self, _request: httpx.Request, run_id: str, epoch: str) -> httpx.Response:
        if run_id not in self.runs:
            return _error(404, f"run {run_id!r} not found")
        record = next((r for r in self.records[run_id] if r.epoch == int(epoch)), None)
        if record is None:
            return _error(404, f"epoch {epoch} of run {run_id!r} has not been reported (yet)")
        answer = EpochConfusions(run_id=run_id, epoch=record.epoch, confusions=record.confusions)
        return _answer(200, EpochConfusions, answer.model_dump(mode="json"))

    def _class_exploration(self, request: httpx.Request, run_id: str, index: str) -> httpx.Response:
        if run_id not in self.runs:
            return _error(404, f"run {run_id!r} not found")
        records = self.records[run_id]
        class_index, after = int(index), int(request.url.params.get("after", 0))
        if not records or class_index not in records[-1].classes.index:
            return _error(404, f"run {run_id!r} has no class {class_index}")
        epochs = [
            ClassEpochExploration.model_validate(
                class_entries(
                    r.epoch,
                    r.classes.index,
                    {metric: getattr(r.classes, metric) for metric in CLASS_METRICS},
                    r.confusions,
                    r.hardest,
                    only=class_index,
                )[class_index]
            )
            for r in records
            if r.epoch > after and (r.confusions is not None or r.hardest is not None)
        ]
        answer = ClassExploration(run_id=run_id, class_index=class_index, epochs=epochs)
        return _answer(200, ClassExploration, answer.model_dump(mode="json"))

    def _cancel(self, _request: httpx.Request, run_id: str) -> httpx.Response:
        if run_id not in self.runs:
            return _error(404, f"run {run_id!r} not found")
        self.runs[run_id]["cancel_requested"] = True
        return _answer(202, RunRead, self.runs[run_id])

    def _delete_run(self, _request: httpx.Request, run_id: str) -> httpx.Response:
        if run_id not in self.runs:
            return _error(404, f"run {run_id!r} not found")
        if self.runs[run_id]["status"] in ("queued", "running"):
            return _error(409, "the run is still going: cancel it first")
        del self.runs[run_id], self.records[run_id]
        return httpx.Response(204)

    def _example(self, _request: httpx.Request, run_id: str, row: str) -> httpx.Response:
        if run_id not in self.runs:
            return _error(404, f"run {run_id!r} not found")
        headers = {"content-type": "image/png", "cache-control": "private, max-age=86400"}
        return httpx.Response(200, content=thumbnail_png(int(row)), headers=headers)

    def _weights(self, _request: httpx.Request, run_id: str) -> httpx.Response:
        if not self.records.get(run_id):
            return _error(404, "no weights yet")
        run = self.runs[run_id]
        dataset = self.datasets.get(run["dataset_id"], {})
        doc = build_weights_export(
            self.records[run_id],
            TrainConfig.model_validate(run["config"]),
            dataset_sha256=dataset.get("manifest_sha256", "0" * 64),
            partial=run["status"] != "succeeded",
        )
        return httpx.Response(200, json=doc)


def thumbnail_png(row: int) -> bytes:
    """A tiny valid PNG whose grey level follows the row, so two rows give two different images."""
    level = bytes([40 + (row * 37) % 200])
    raw = b"".join(b"\x00" + level * 8 for _ in range(8))  # 8×8 greyscale, filter byte per line

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 8, 8, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _answer(status: int, model: type[BaseModel], data: dict[str, Any]) -> httpx.Response:
    """The answer ``data`` as the contract ``model`` serialises it; a field the contract lacks fails."""
    body = model.model_validate(data).model_dump(mode="json")
    unknown = set(data) - set(body)
    if unknown:
        raise AssertionError(f"the fake backend sends {sorted(unknown)}, which {model.__name__} lacks")
    return httpx.Response(status, json=body)


def _error(status: int, detail: str, errors: list[RowError] | None = None) -> httpx.Response:
    return _answer(status, ErrorBody, ErrorBody(detail=detail, errors=errors or []).model_dump(mode="json"))


# (method, path pattern, handler, the contract model of a successful answer): the real app must declare
# the same model for the same route (tests/dashboard/test_fake_backend_contract.py)
ROUTES: tuple[tuple[str, str, str, type[BaseModel] | None], ...] = (
    ("GET", r"/api/datasets", "_list_datasets", DatasetList),
    ("POST", r"/api/datasets", "_upload", DatasetRead),
    ("GET", r"/api/datasets/([0-9a-f]+)", "_read_dataset", DatasetRead),
    ("GET", r"/api/runs", "_list_runs", RunList),
    ("POST", r"/api/runs", "_create_run", RunRead),
    ("GET", r"/api/runs/([0-9a-f]+)", "_read_run", RunRead),
    ("GET", r"/api/runs/([0-9a-f]+)/epochs", "_epochs", EpochPage),
    ("GET", r"/api/runs/([0-9a-f]+)/epochs/(\d+)/confusions", "_epoch_confusions", EpochConfusions),
    ("GET", r"/api/runs/([0-9a-f]+)/classes/(\d+)/exploration", "_class_exploration", ClassExploration),
    ("POST", r"/api/runs/([0-9a-f]+)/cancel", "_cancel", RunRead),
    ("GET", r"/api/runs/([0-9a-f]+)/weights\.json", "_weights", None),  # a difficulty-weights/v1 document
    ("DELETE", r"/api/runs/([0-9a-f]+)", "_delete_run", None),  # 204, no body
    ("GET", r"/api/runs/([0-9a-f]+)/examples/(\d+)", "_example", None),  # a PNG thumbnail
)
