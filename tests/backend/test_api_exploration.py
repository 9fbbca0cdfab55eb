"""Exploration routes against a real redis-server: one epoch's confusions, one class over the epochs.

Records are written by the worker's own reporter (``worker.reporter``), as a training task would; runs
recorded before the exploration left the stream are planted the way their worker wrote them.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from difficultynet.contracts.api import ClassExploration, EpochConfusions
from difficultynet.contracts.records import EpochRecord
from difficultynet.synthetic import synthetic_record
from service_contracts import protocol
from worker.reporter import RedisReporter

TOKEN = "exploration-test-token"
CLASSES = 10


def start_run(client: TestClient, dataset_id: str, **headers: str) -> str:
    response = client.post("/api/runs", json={"dataset_id": dataset_id, "epochs": 3}, headers=headers)
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def records_of(run_id: str, epochs: range) -> list[EpochRecord]:
    return [synthetic_record(run_id, epoch, epochs_total=6, num_classes=CLASSES) for epoch in epochs]


def report(db: redis.Redis, run_id: str, epochs: range) -> list[EpochRecord]:
    reporter = RedisReporter(db, run_id)
    records = records_of(run_id, epochs)
    for record in records:
        reporter(record)
    return records


def plant_old_records(db: redis.Redis, records: list[EpochRecord]) -> None:
    """Stream entries as the reporter wrote them before exploration had hashes of its own."""
    for record in records:
        key = protocol.epochs_key(record.run_id)
        db.xadd(key, {"record": record.model_dump_json()}, id=protocol.epoch_stream_id(record.epoch))


def class_url(run_id: str, class_index: int | str) -> str:
    return f"/api/runs/{run_id}/classes/{class_index}/exploration"


def confusions_url(run_id: str, epoch: int | str) -> str:
    return f"/api/runs/{run_id}/epochs/{epoch}/confusions"


def assert_class_answer(body: dict[str, Any], records: list[EpochRecord], class_index: int) -> None:
    answer = ClassExploration.model_validate(body)
    assert answer.class_index == class_index
    assert [e.epoch for e in answer.epochs] == [r.epoch for r in records]
    for entry, record in zip(answer.epochs, records, strict=True):
        assert entry.confusions == (record.confusions or [])[class_index]
        assert entry.hardest == (record.hardest or [])[class_index]
        assert entry.values.weight == record.classes.weight[class_index]
        assert entry.median.val_acc == pytest.approx(statistics.median(record.classes.val_acc))


@pytest.fixture
def run_id(client: TestClient, dataset_id: str) -> str:
    return start_run(client, dataset_id)


@pytest.mark.parametrize("old", [False, True], ids=["stored apart", "old run: columns in the records"])
def test_one_epoch_gives_every_class_its_confusions(
    client: TestClient, db: redis.Redis, run_id: str, old: bool
) -> None:
    records = records_of(run_id, range(1, 4))
    plant_old_records(db, records) if old else report(db, run_id, range(1, 4))
    response = client.get(confusions_url(run_id, 2))
    assert response.status_code == 200, response.text
    answer = EpochConfusions.model_validate(response.json())
    assert answer.run_id == run_id and answer.epoch == 2
    assert answer.confusions == records[1].confusions


@pytest.mark.parametrize("old", [False, True], ids=["stored apart", "old run: columns in the records"])
def test_one_class_over_the_epochs(client: TestClient, db: redis.Redis, run_id: str, old: bool) -> None:
    records = records_of(run_id, range(1, 5))
    plant_old_records(db, records) if old else report(db, run_id, range(1, 5))
    assert_class_answer(client.get(class_url(run_id, 7)).json(), records, 7)
    newer = client.get(class_url(run_id, CLASSES - 1), params={"after": 2})
    assert_class_answer(newer.json(), records[2:], CLASSES - 1)
    caught_up = client.get(class_url(run_id, 0), params={"after": 4})
    assert caught_up.status_code == 200 and caught_up.json()["epochs"] == []


def test_a_run_whose_worker_was_upgraded_mid_way_reads_both_kinds_of_epoch(
    client: TestClient, db: redis.Redis, run_id: str
) -> None:
    old = records_of(run_id, range(1, 3))
    plant_old_records(db, old)
    new = report(db, run_id, range(3, 5))  # the new reporter rewrites nothing it did not see: 1-2 stay
    assert_class_answer(client.get(class_url(run_id, 4)).json(), old + new, 4)
    assert client.get(confusions_url(run_id, 1)).json()["confusions"] is not None


def test_a_run_recorded_before_exploration_existed_answers_with_none(
    client: TestClient, db: redis.Redis, run_id: str
) -> None:
    none = {"confusions": None, "hardest": None}
    bare = [r.model_copy(update=none) for r in records_of(run_id, range(1, 3))]
    plant_old_records(db, bare)
    assert client.get(confusions_url(run_id, 2)).json() == {"run_id": run_id, "epoch": 2, "confusions": None}
    assert client.get(class_url(run_id, 3)).json() == {"run_id": run_id, "class_index": 3, "epochs": []}
    assert client.get(class_url(run_id, CLASSES)).status_code == 404  # still: no such class


def test_unknown_run_epoch_and_class_are_plain_404s(client: TestClient, db: redis.Redis, run_id: str) -> None:
    unknown = "f" * 32
    for url in (confusions_url(unknown, 1), class_url(unknown, 0)):
        response = client.get(url)
        assert response.status_code == 404 and unknown in response.json()["detail"]
    no_epoch_yet = client.get(class_url(run_id, 0))
    assert no_epoch_yet.status_code == 404 and "no epoch yet" in no_epoch_yet.json()["detail"]
    report(db, run_id, range(1, 3))
    later = client.get(confusions_url(run_id, 3))
    assert later.status_code == 404 and "epoch 3" in later.json()["detail"]
    no_class = client.get(class_url(run_id, CLASSES))
    assert no_class.status_code == 404 and f"no class {CLASSES}" in no_class.json()["detail"]


@pytest.mark.parametrize(
    "url",
    [
        confusions_url("0" * 32, 0),
        confusions_url("0" * 32, -1),
        confusions_url("0" * 32, "two"),
        confusions_url("0" * 32, 10**7),
        confusions_url("not-a-run", 1),
        class_url("0" * 32, -1),
        class_url("0" * 32, "x"),
        class_url("0" * 32, 10**7),
        class_url("0" * 32, 0) + "?after=-1",
        class_url("0" * 32, 0) + "?after=1.5",
    ],
)
def test_bad_values_are_located_422s(client: TestClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 422, response.text
    assert response.json()["errors"], response.text


def test_token_rules_are_those_of_the_epochs_route(
    make_client: Callable[..., TestClient], dataset_id: str, db: redis.Redis
) -> None:
    secured = make_client(api_token=TOKEN)
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    run_id = start_run(secured, dataset_id, **bearer)
    report(db, run_id, range(1, 2))
    for url in (confusions_url(run_id, 1), class_url(run_id, 0)):
        assert secured.get(url).status_code == 401
        assert secured.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert secured.get(url, params={"token": TOKEN}).status_code == 401  # bearer only, like /epochs
        assert secured.get(url, headers=bearer).status_code == 200


def test_deleting_a_run_removes_its_exploration(client: TestClient, db: redis.Redis, run_id: str) -> None:
    report(db, run_id, range(1, 3))
    assert db.exists(protocol.epoch_confusions_key(run_id), protocol.class_exploration_key(run_id)) == 2
    db.hset(protocol.run_key(run_id), "status", "succeeded")
    assert client.delete(f"/api/runs/{run_id}").status_code == 204
    assert not db.keys(f"*{run_id}*")
    assert client.get(class_url(run_id, 0)).status_code == 404
