"""The fake backend the dashboard tests talk to cannot drift from the real API.

Both sides use the same contract models (``difficultynet.contracts.api``): the real app declares them as
its routes' response models (so they are its OpenAPI schema), and the fake builds every answer from them.
These tests fail when a route of the fake answers with another model than the real route declares, when a
route of the fake does not exist in the real app, or when an answer carries a field the contract lacks.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fake_backend import ROUTES, FakeBackend, dataset_id_for, run_id_for
from pydantic import BaseModel

from backend.main import create_app
from backend.settings import Settings
from difficultynet.contracts import api as contracts
from difficultynet.contracts import config, datasets, records
from difficultynet.export import validate_weights_export
from difficultynet.synthetic import synthetic_records

# every model the contracts define, by the name the OpenAPI schema gives it
CONTRACT_TYPES: dict[str, type] = {
    name: value
    for module in (contracts, config, datasets, records)
    for name, value in vars(module).items()
    if isinstance(value, type) and value.__module__ == module.__name__
}
CONTRACT_MODELS = {name: value for name, value in CONTRACT_TYPES.items() if issubclass(value, BaseModel)}
FASTAPI_OWN = ("HTTPValidationError", "ValidationError")


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    """The real app's OpenAPI document; building the app connects to nothing (that is its lifespan)."""
    return create_app(Settings(redis_url="redis://127.0.0.1:1/0")).openapi()


def same_route(path: str, pattern: str) -> bool:
    """Whether a real path (``/api/runs/{run_id}``) is a fake pattern (``/api/runs/([0-9a-f]+)``)."""
    return re.sub(r"\{[^}]+\}", "{}", path) == re.sub(r"\([^)]*\)", "{}", pattern).replace("\\.", ".")


def success_schema(openapi: dict[str, Any], method: str, pattern: str) -> Any:
    for path, operations in openapi["paths"].items():
        if same_route(path, pattern) and method.lower() in operations:
            responses = operations[method.lower()]["responses"]
            return next(
                (answer.get("content") or {}).get("application/json", {}).get("schema")
                for status, answer in responses.items()
                if status.startswith("2")
            )
    raise AssertionError(f"the fake backend answers {method} {pattern}, which the real API does not have")


@pytest.mark.parametrize(("method", "pattern", "model"), [(m, p, model) for m, p, _, model in ROUTES])
def test_each_fake_route_answers_with_the_model_the_real_route_declares(
    openapi: dict[str, Any], method: str, pattern: str, model: type[BaseModel] | None
) -> None:
    schema = success_schema(openapi, method, pattern)
    if model is None:
        assert not schema or "$ref" not in schema
    else:
        assert schema == {"$ref": f"#/components/schemas/{model.__name__}"}
        assert CONTRACT_MODELS[model.__name__] is model  # the shared contract, not a copy


def test_every_schema_of_the_real_api_is_a_contract_model(openapi: dict[str, Any]) -> None:
    """Same fields and the same required ones: a model kept apart in the backend would show up here."""
    for name, schema in openapi["components"]["schemas"].items():
        if name in FASTAPI_OWN or name.startswith("Body_"):  # FastAPI's own, and multipart form bodies
            continue
        assert name in CONTRACT_TYPES, f"the API's schema {name} is not a contract type"
        model = CONTRACT_MODELS.get(name)
        if model is None:  # a named tuple: sent as a JSON array
            assert schema["type"] == "array", name
            continue
        assert set(schema["properties"]) == set(model.model_fields), name
        required = {field for field, info in model.model_fields.items() if info.is_required()}
        assert set(schema.get("required", [])) == required, name


def test_every_fake_answer_parses_as_its_contract_and_carries_nothing_else() -> None:
    backend = FakeBackend()
    dataset = backend.add_dataset(1, {"plane": 150, "cat": 30, "ship": 5})
    run = backend.add_run(9, dataset, synthetic_records(3, 4), status="running", epochs_total=6)
    finished = backend.add_run(10, dataset, synthetic_records(3, 2))
    requests: dict[tuple[str, str], dict[str, Any]] = {
        ("GET", r"/api/datasets"): {"url": "/api/datasets"},
        ("POST", r"/api/datasets"): {"url": "/api/datasets", "files": {"file": ("a.csv", b"path,label\n")}},
        ("GET", r"/api/datasets/([0-9a-f]+)"): {"url": f"/api/datasets/{dataset}"},
        ("GET", r"/api/runs"): {"url": "/api/runs"},
        ("POST", r"/api/runs"): {"url": "/api/runs", "json": {"dataset_id": dataset, "epochs": 2}},
        ("GET", r"/api/runs/([0-9a-f]+)"): {"url": f"/api/runs/{run}"},
        ("GET", r"/api/runs/([0-9a-f]+)/epochs"): {"url": f"/api/runs/{run}/epochs"},
        ("GET", r"/api/runs/([0-9a-f]+)/epochs/(\d+)/confusions"): {
            "url": f"/api/runs/{run}/epochs/2/confusions"
        },
        ("GET", r"/api/runs/([0-9a-f]+)/classes/(\d+)/exploration"): {
            "url": f"/api/runs/{run}/classes/1/exploration"
        },
        ("POST", r"/api/runs/([0-9a-f]+)/cancel"): {"url": f"/api/runs/{run}/cancel"},
        ("GET", r"/api/runs/([0-9a-f]+)/weights\.json"): {"url": f"/api/runs/{run}/weights.json"},
        ("DELETE", r"/api/runs/([0-9a-f]+)"): {"url": f"/api/runs/{finished}"},
        ("GET", r"/api/runs/([0-9a-f]+)/examples/(\d+)"): {"url": f"/api/runs/{run}/examples/3"},
    }
    assert set(requests) == {(method, pattern) for method, pattern, _, _ in ROUTES}  # every route is tried
    with httpx.Client(transport=httpx.MockTransport(backend.handle), base_url="http://fake") as client:
        for method, pattern, _, model in ROUTES:
            response = client.request(method, **requests[(method, pattern)])
            assert response.is_success, (method, pattern, response.text)
            if model is not None:
                body = response.json()
                parsed = model.model_validate(body)
                assert parsed.model_dump(mode="json") == body, f"{method} {pattern}: not {model.__name__}"
            elif pattern.endswith("weights\\.json"):
                validate_weights_export(response.json())  # the real export document, not a look-alike


def test_an_answer_with_a_field_the_contract_lacks_fails_loudly() -> None:
    backend = FakeBackend()
    dataset = backend.add_dataset(1, {"a": 1})
    backend.datasets[dataset]["colour"] = "blue"
    with pytest.raises(AssertionError, match="colour"):
        backend.client().get_dataset(dataset)


def test_ids_have_the_contract_shapes() -> None:
    assert re.fullmatch(contracts.DATASET_ID_PATTERN, dataset_id_for(7))
    assert re.fullmatch(contracts.RUN_ID_PATTERN, run_id_for(7))
