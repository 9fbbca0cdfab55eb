"""Property-based fuzzing of every operation in the OpenAPI schema: bad input never yields a 5xx.

Schemathesis generates requests from the schema (valid and edge-case values, multipart uploads with
arbitrary bytes) against the app served by a real uvicorn and a real redis-server. Bounded so the whole
module takes well under a minute.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings

from backend.main import create_app
from backend.settings import Settings

MAX_EXAMPLES = 12


# The schema is the app's own (built without any backing service); requests go to a live server.
schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi())


@pytest.fixture
def fuzz_target(live_api: str, upload_tiny: Any) -> str:
    upload_tiny()  # a real dataset in Redis, so some generated requests reach past the 404s
    return live_api


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_no_input_causes_a_server_error(case: Any, fuzz_target: str) -> None:
    response = case.call(base_url=fuzz_target, timeout=15)
    assert response.status_code < 500, f"{case.method} {case.formatted_path} -> {response.status_code}"
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body.get("detail"), str) and isinstance(body.get("errors"), list), body
