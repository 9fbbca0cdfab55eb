"""The typed API client against a fake transport: parsing, the bearer token, and every failure mapping."""

from __future__ import annotations

import json

import httpx
import pytest
from fake_backend import FakeBackend

from dashboard.api_client import (
    ApiAuthError,
    ApiClient,
    ApiError,
    ApiNotFound,
    ApiUnavailable,
    ApiValidationError,
)
from dashboard.models import RunCreate
from difficultynet.synthetic import synthetic_records


def client_answering(status: int, body: object | bytes) -> ApiClient:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(body, bytes):
            return httpx.Response(status, content=body)
        return httpx.Response(status, json=body)

    return ApiClient("http://x", transport=httpx.MockTransport(handler))


def test_sends_the_bearer_token_on_every_request() -> None:
    backend = FakeBackend(token="s3cret")
    backend.add_dataset(1, {"a": 200, "b": 10})
    api = backend.client()
    assert [d.name for d in api.list_datasets()] == ["mini.csv"]
    assert all(r.headers["Authorization"] == "Bearer s3cret" for r in backend.requests)


def test_a_wrong_token_is_an_auth_error_naming_the_setting() -> None:
    backend = FakeBackend(token="s3cret")
    with pytest.raises(ApiAuthError, match="DNET_API_TOKEN") as caught:
        backend.client(token="wrong").list_runs()
    assert caught.value.status_code == 401


def test_parses_datasets_runs_and_epoch_pages(backend: FakeBackend, api: ApiClient) -> None:
    dataset_id = backend.add_dataset(1, {"plane": 150, "cat": 30, "ship": 5})
    run_id = backend.add_run(7, dataset_id, synthetic_records(3, 4), status="running", epochs_total=10)
    dataset = api.get_dataset(dataset_id)
    assert [c.group for c in dataset.classes] == ["many", "medium", "few"]
    assert dataset.imbalance_factor == 30
    run = api.get_run(run_id)
    assert (run.status, run.epoch, run.epochs_total, run.config.method) == ("running", 4, 10, "dnet")
    assert not run.terminal
    page = api.epoch_page(run_id, after=2)
    assert [r.epoch for r in page.records] == [3, 4] and page.last_epoch == 4
    assert api.epoch(run_id, 3) is not None and api.epoch(run_id, 3).epoch == 3  # type: ignore[union-attr]
    assert api.epoch(run_id, 9) is None
    assert f"GET /api/runs/{run_id}/epochs?after=2&limit=1" in backend.paths()
    assert [r.id for r in api.list_runs(dataset_id=dataset_id)] == [run_id]


def test_limit_is_enforced_even_if_the_backend_ignores_it() -> None:
    records = synthetic_records(2, 3)
    page = {"run_id": "0" * 32, "status": "running", "epochs_total": 3, "last_epoch": 3,
            "records": [json.loads(r.model_dump_json()) for r in records]}  # fmt: skip
    assert [r.epoch for r in client_answering(200, page).epochs("0" * 32, after=0, limit=1)] == [1]


def test_connection_refused_is_unavailable_with_a_readable_message() -> None:
    backend = FakeBackend(down=True)
    with pytest.raises(ApiUnavailable, match=r"cannot reach the backend at http://backend\.test") as caught:
        backend.client().get_run("0" * 32)
    assert caught.value.status_code is None


def test_timeouts_are_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    api = ApiClient("http://x", transport=httpx.MockTransport(handler))
    with pytest.raises(ApiUnavailable, match="did not answer in time"):
        api.list_datasets()


def test_404_is_not_found_with_the_backends_detail() -> None:
    with pytest.raises(ApiNotFound, match="run 'abc' not found"):
        client_answering(404, {"detail": "run 'abc' not found", "errors": []}).get_run("abc")


def test_422_carries_row_errors() -> None:
    body = {"detail": "manifest has 2 error(s)", "errors": [
        {"row": 3, "column": "label", "reason": "empty label"},
        {"row": None, "column": None, "reason": "only one class"},
    ]}  # fmt: skip
    with pytest.raises(ApiValidationError) as caught:
        client_answering(422, body).upload_dataset("bad.csv", b"path,label\n")
    error = caught.value
    assert error.message == "manifest has 2 error(s)"
    assert [(e.row, e.column, e.reason) for e in error.errors] == [
        (3, "label", "empty label"),
        (None, None, "only one class"),
    ]
    assert error.errors_total == 2


def test_fastapi_default_validation_bodies_are_understood_too() -> None:
    body = {"detail": [{"loc": ["body", "epochs"], "msg": "Input should be greater than 0", "type": "x"}]}
    with pytest.raises(ApiValidationError) as caught:
        client_answering(422, body).create_run(RunCreate(dataset_id="0" * 16, epochs=1))
    assert [(e.column, e.reason) for e in caught.value.errors] == [
        ("epochs", "Input should be greater than 0")
    ]


def test_server_errors_never_leak_bodies_or_tracebacks() -> None:
    with pytest.raises(ApiError) as caught:
        client_answering(500, b"Traceback (most recent call last): ...").list_runs()
    assert caught.value.message == "Runs: the backend failed (HTTP 500); try again later"
    assert "Traceback" not in str(caught.value)


def test_an_unexpected_body_is_a_readable_error() -> None:
    with pytest.raises(ApiError, match="does not understand"):
        client_answering(200, {"something": "else"}).get_run("r")


def test_upload_is_multipart_with_the_optional_base_folder(backend: FakeBackend, api: ApiClient) -> None:
    dataset, created = api.upload_dataset("mini.csv", b"path,label\na.png,x\n", base="cifar10-lt")
    assert len(dataset.classes) == 3 and created
    request = backend.requests[-1]
    assert request.headers["content-type"].startswith("multipart/form-data")
    assert b'name="base"' in request.content and b"cifar10-lt" in request.content
    assert b'filename="mini.csv"' in request.content


def test_create_run_leaves_out_empty_fields(backend: FakeBackend, api: ApiClient) -> None:
    dataset_id = backend.add_dataset(1, {"a": 200, "b": 10})
    run = api.create_run(RunCreate(dataset_id=dataset_id, method="ce", epochs=2, dnet_lr=None))
    assert run.status == "queued" and run.config.method == "ce"
    assert json.loads(backend.requests[-1].content) == {"dataset_id": dataset_id, "method": "ce", "epochs": 2}
