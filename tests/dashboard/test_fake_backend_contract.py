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
from difficultynet.contracts import config, records
from difficultynet.export import validate_weights_export
from difficultynet.synthetic import synthetic_records

# every model the contracts define, by the name the OpenAPI schema gives it
CONTRACT_MODELS: dict[str, type[BaseModel]] = {
    name: value
    for module in (contracts, config, records)
    for name, value in vars(module).items()
    if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == module.__name__
}
FASTAPI_OWN = ("HTTPValidationError", "ValidationError")


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    """The real app's OpenAPI document; building the app connects to nothing (that is its lifespan)."""
    return create_app(Settings(redis_url="redis://127.0.0.1:1/0")).openapi()


def as_pattern(path: str) -> str:
    """``/api/runs/{run_id}/weights.json`` → the fake's ``/api/runs/([0-9a-f]+)/weights\\.json``."""
    parts = re.split(r"(\{[^}]+\})", path)
    return "".join("([0-9a-f]+)" if part.startswith("{") else re.escape(part) for part in parts)


def success_schema(openapi: dict[str, Any], method: str, pattern: str) -> Any:
    for path, operations in openapi["paths"].items():
        if as_pattern(path) == pattern and method.lower() in operations:
            responses = operations[method.lower()]["responses"]
            return next(
                answer.get("content", {}).get("application/json", {}).get("schema")
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
        model = CONTRACT_MODELS.get(name)
        assert model is not None, f"the API's schema {name} is not a contract model"
        assert set(schema["properties"]) == set(model.model_fields), name
        required = {field for field, info in model.model_fields.items() if info.is_required()}
        assert set(schema.get("required", [])) == required, name


def test_every_fake_answer_parses_as_its_contract_and_carries_nothing_else() -> None:
    backend = FakeBackend()
    dataset = backend.add_dataset(1, {"plane": 150, "cat": 30, "ship": 5})
    run = backend.add_run(9, dataset, synthetic_records(3, 4), status="running", epochs_total=6)
    paths = {
        r"/api/datasets": "/api/datasets",
        r"/api/datasets/([0-9a-f]+)": f"/api/datasets/{dataset}",
        r"/api/runs": "/api/runs",
        r"/api/runs/([0-9a-f]+)": f"/api/runs/{run}",
        r"/api/runs/([0-9a-f]+)/epochs": f"/api/runs/{run}/epochs",
        r"/api/runs/([0-9a-f]+)/cancel": f"/api/runs/{run}/cancel",
        r"/api/runs/([0-9a-f]+)/weights\.json": f"/api/runs/{run}/weights.json",
    }
    bodies = {
        ("POST", r"/api/runs"): {"dataset_id": dataset, "epochs": 2},
        ("POST", r"/api/datasets"): None,
    }
    with httpx.Client(transport=httpx.MockTransport(backend.handle), base_url="http://fake") as client:
        for method, pattern, _, model in ROUTES:
            if (method, pattern) == ("POST", r"/api/datasets"):
                response = client.post("/api/datasets", files={"file": ("mini.csv", b"path,label\n")})
            else:
                response = client.request(method, paths[pattern], json=bodies.get((method, pattern)))
            assert response.is_success, (method, pattern, response.text)
            body = response.json()
            if model is None:
                validate_weights_export(body)  # the real export document, not a look-alike
                continue
            parsed = model.model_validate(body)
            assert parsed.model_dump(mode="json") == body, f"{method} {pattern} differs from {model.__name__}"


def test_an_answer_with_a_field_the_contract_lacks_fails_loudly() -> None:
    backend = FakeBackend()
    dataset = backend.add_dataset(1, {"a": 1})
    backend.datasets[dataset]["colour"] = "blue"
    with pytest.raises(AssertionError, match="colour"):
        backend.client().get_dataset(dataset)


def test_ids_have_the_contract_shapes() -> None:
    assert re.fullmatch(contracts.DATASET_ID_PATTERN, dataset_id_for(7))
    assert re.fullmatch(contracts.RUN_ID_PATTERN, run_id_for(7))
