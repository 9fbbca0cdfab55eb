"""The assembled app: pages, callbacks over HTTP (as the browser calls them), settings, token hygiene."""

from __future__ import annotations

import json
import re

import pytest
from fake_backend import FakeBackend
from flask.testing import FlaskClient
from pydantic import ValidationError

from dashboard import ids
from dashboard.app import create_app
from dashboard.settings import DashboardSettings
from difficultynet.synthetic import synthetic_records

TOKEN = "tok-do-not-leak-7f3a"


@pytest.fixture
def secured() -> FakeBackend:
    return FakeBackend(token=TOKEN)


def settings() -> DashboardSettings:
    return DashboardSettings(api_url="http://backend.test", api_token=TOKEN, poll_interval_ms=500)


def test_pages_are_served_and_unknown_paths_get_the_404_page(secured: FakeBackend) -> None:
    app = create_app(settings(), api=secured.client())
    client = app.server.test_client()
    for path in ("/", "/runs/new", "/runs/" + "a" * 32, "/compare", "/nowhere"):
        assert client.get(path).status_code == 200
    layout = client.get("/_dash-layout").get_json()
    assert ids.APP_BACKEND_STATUS in json.dumps(layout)


def test_two_apps_in_one_process_both_get_their_callbacks(secured: FakeBackend) -> None:
    first = create_app(settings(), api=secured.client())
    second = create_app(settings(), api=secured.client())
    for app in (first, second):
        outputs = {c["output"] for c in app.server.test_client().get("/_dash-dependencies").get_json()}
        assert any(ids.RUN_CURVES in o for o in outputs) and any(ids.NEW_RUN_REDIRECT in o for o in outputs)


def poll_request(client: FlaskClient, run_id: str) -> dict[str, object]:
    """The JSON the browser posts for the run page's poll callback on its first tick."""
    dependencies = client.get("/_dash-dependencies").get_json()
    dep = next(d for d in dependencies if f"{ids.RUN_CURVES}.figure" in d["output"])
    values = {
        f"{ids.RUN_INTERVAL}.n_intervals": 0,
        f"{ids.RUN_METRIC}.value": "difficulty",
        f"{ids.RUN_ID_STORE}.data": run_id,
        f"{ids.RUN_VIEW_STATE}.data": {},
    }

    def spec(item: dict[str, str]) -> dict[str, object]:
        return {**item, "value": values.get(f"{item['id']}.{item['property']}")}

    # a multi-output callback is named "..id.prop...id.prop.."
    outputs = [{"id": i, "property": p} for i, p in re.findall(r"([a-z0-9-]+)\.([a-z_]+)", dep["output"])]
    return {
        "output": dep["output"],
        "outputs": outputs,
        "inputs": [spec(i) for i in dep["inputs"]],
        "state": [spec(s) for s in dep["state"]],
        "changedPropIds": [f"{ids.RUN_INTERVAL}.n_intervals"],
    }


def test_poll_callback_over_http_returns_figures_and_never_the_token(secured: FakeBackend) -> None:
    run_id = secured.add_run(1, secured.add_dataset(1, {"a": 1}), synthetic_records(4, 2), status="running",
                             epochs_total=5)  # fmt: skip
    app = create_app(settings(), api=secured.client())
    client = app.server.test_client()
    response = client.post("/_dash-update-component", json=poll_request(client, run_id))
    assert response.status_code == 200, response.data[:500]
    body = response.get_json()["response"]
    assert len(body[ids.RUN_CURVES]["figure"]["data"]) == 5  # 4 class lines + the colorbar trace
    assert body[ids.RUN_VIEW_STATE]["data"]["drawn"] == 2
    assert body[ids.RUN_INTERVAL]["disabled"] is False
    # the token went to the backend, and nowhere near the browser
    api_calls = [r for r in secured.requests if r.url.path != "/api/health"]
    assert api_calls and all(r.headers.get("Authorization") == f"Bearer {TOKEN}" for r in api_calls)
    for path in ("/", "/runs/" + run_id, "/_dash-layout", "/_dash-dependencies", "/_dash-config"):
        assert TOKEN not in client.get(path).get_data(as_text=True)
    assert TOKEN not in response.get_data(as_text=True)


def test_backend_down_is_a_message_in_the_callback_response() -> None:
    backend = FakeBackend(down=True)
    app = create_app(settings(), api=backend.client())
    client = app.server.test_client()
    response = client.post("/_dash-update-component", json=poll_request(client, "a" * 32))
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "cannot reach the backend" in text and "Traceback" not in text


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DNET_API_URL", "http://api.example:9000/")
    monkeypatch.setenv("DNET_API_TOKEN", "   ")
    monkeypatch.setenv("DNET_DASHBOARD_PORT", "8123")
    loaded = DashboardSettings(_env_file=None)
    assert loaded.api_base == "http://api.example:9000"
    assert loaded.api_token is None and loaded.dashboard_port == 8123
    monkeypatch.setenv("DNET_POLL_INTERVAL_MS", "5000")
    with pytest.raises(ValidationError, match="poll_interval_ms"):
        DashboardSettings(_env_file=None)


def test_cli_rejects_bad_configuration_with_exit_code_2(monkeypatch: pytest.MonkeyPatch) -> None:
    from dashboard.__main__ import main

    monkeypatch.setenv("DNET_API_URL", "not a url")
    assert main([]) == 2
