"""Datasets, new-run and compare callbacks, called directly with a client on the fake backend."""

from __future__ import annotations

import base64
import json

import plotly.graph_objects as go
import pytest
from fake_backend import FakeBackend

from dashboard import ids, run_form
from dashboard.api_client import ApiClient
from dashboard.models import RunCreate
from dashboard.pages import compare, datasets, new_run
from difficultynet.synthetic import synthetic_records


def text_of(component: object) -> str:
    return json.dumps(component, default=lambda c: c.to_plotly_json())


def data_url(content: bytes, mime: str = "text/csv") -> str:
    return f"data:{mime};base64,{base64.b64encode(content).decode()}"


# -- datasets ---------------------------------------------------------------------------------------


def test_upload_success_shows_the_histogram_and_next_steps(backend: FakeBackend, api: ApiClient) -> None:
    shown, created = datasets.handle_upload(api, data_url(b"path,label\n"), "mini.csv", " cifar10-lt ")
    assert created
    text = text_of(shown)
    assert "Uploaded mini.csv" in text and "Imbalance factor" in text and "15.0" in text
    assert "/runs/new?dataset=" in text
    assert (
        b"cifar10-lt" in backend.requests[-1].content and b" cifar10-lt " not in backend.requests[-1].content
    )


def test_upload_422_lists_row_errors_with_the_total(backend: FakeBackend, api: ApiClient) -> None:
    errors = [{"row": i + 2, "column": "path", "reason": f"file missing {i}"} for i in range(100)]
    backend.reject_next = (
        422,
        {"detail": "manifest has 250 error(s) (line 2, column path)", "errors": errors},
    )
    shown, created = datasets.handle_upload(api, data_url(b"x"), "bad.csv")
    assert not created
    text = text_of(shown)
    assert "bad.csv was rejected" in text and "manifest has 250 error(s)" in text
    assert text.count('"Tr"') == 101  # header + the first 100 rows
    assert "file missing 99" in text


def test_a_second_upload_of_the_same_content_says_it_already_exists(
    backend: FakeBackend, api: ApiClient
) -> None:
    first, created = datasets.handle_upload(api, data_url(b"path,label\n"), "mini.csv")
    assert created and "Uploaded mini.csv" in text_of(first)
    again, created = datasets.handle_upload(api, data_url(b"path,label\n"), "mini.csv")
    text = text_of(again)
    assert not created and "Uploaded" not in text and "same content as dataset" in text


def test_a_wrong_file_type_is_refused_with_a_message(backend: FakeBackend, api: ApiClient) -> None:
    shown, created = datasets.handle_upload(api, data_url(b"hello"), "notes.txt")
    assert not created and "choose a manifest .csv" in text_of(shown) and backend.requests == []


def test_upload_of_a_corrupt_browser_payload_is_a_message(api: ApiClient) -> None:
    shown, created = datasets.handle_upload(api, "data:text/csv;base64,@@@", "x.csv")
    assert not created and "Could not read x.csv" in text_of(shown)


def test_datasets_table_lists_runs_with_links(backend: FakeBackend, api: ApiClient) -> None:
    dataset_id = backend.add_dataset(1, {"a": 200, "b": 10})
    run_id = backend.add_run(1, dataset_id, synthetic_records(2, 1))
    table, problem = datasets.load_datasets(api)
    assert problem is None
    text = text_of(table)
    assert f"/runs/{run_id}" in text and f"/runs/new?dataset={dataset_id}" in text


def test_datasets_table_when_backend_is_down(backend: FakeBackend, api: ApiClient) -> None:
    backend.down = True
    _, problem = datasets.load_datasets(api)
    assert "cannot reach the backend" in text_of(problem)


# -- new run ----------------------------------------------------------------------------------------


def form(dataset_id: str, **changes: object) -> dict[str, object]:
    values: dict[str, object] = {
        "dataset_id": dataset_id, "method": "dnet", "model": "resnet8", "epochs": 2, "batch_size": 32,
        "lr": 0.05, "seed": 0, "dnet_recipe": "default", "meta_mode": "head", "meta_every": 1,
        "device": "cpu", "baseline_run_id": None, "dnet_lr": None,
    }  # fmt: skip
    values.update(changes)
    return values


def test_submit_redirects_to_the_new_run(backend: FakeBackend, api: ApiClient) -> None:
    dataset_id = backend.add_dataset(1, {"a": 200, "b": 10})
    result = new_run.submit_run(api, form(dataset_id, epochs=2.0))
    assert result.redirect is not None and result.redirect.startswith("/runs/")
    body = json.loads(backend.requests[-1].content)
    assert body["epochs"] == 2 and isinstance(body["epochs"], int) and "dnet_lr" not in body


def test_api_422_messages_land_next_to_their_fields(backend: FakeBackend, api: ApiClient) -> None:
    backend.reject_next = (422, {"detail": "epochs: too many", "errors": [
        {"row": None, "column": "epochs", "reason": "Input should be less than or equal to 1000"},
        {"row": None, "column": "dnet.lr", "reason": "must be > 0"},
        {"row": None, "column": "num_threads", "reason": "bad"},
    ]})  # fmt: skip
    result = new_run.submit_run(api, form(backend.add_dataset(1, {"a": 1}), epochs=50))
    assert result.redirect is None
    assert result.field_errors == {
        "epochs": "Input should be less than or equal to 1000",
        "dnet_lr": "must be > 0",
    }
    assert "num_threads: bad" in text_of(result.alert)


def test_fractional_epochs_are_caught_before_the_api(backend: FakeBackend, api: ApiClient) -> None:
    result = new_run.submit_run(api, form("d", epochs=2.5))
    assert result.field_errors == {"epochs": "must be a whole number"} and backend.requests == []


def test_every_invalid_number_is_refused_at_once_and_no_default_is_used(
    backend: FakeBackend, api: ApiClient
) -> None:
    """lr −1 once started a run with lr 0.1 and batch 2.5 was dropped: now each gets its own message."""
    values = form("d", lr="-1", batch_size="2.5", epochs="", seed="abc", meta_every="0", dnet_lr="2")
    result = new_run.submit_run(api, values)
    assert backend.requests == [] and result.redirect is None
    assert result.field_errors == {
        "lr": "Input should be greater than 0",
        "batch_size": "must be a whole number",
        "epochs": "required: enter a value",
        "seed": "“abc” is not a number",
        "meta_every": "Input should be greater than or equal to 1",
        "dnet_lr": "Input should be less than or equal to 1",
    }
    assert "6 highlighted fields" in text_of(result.alert) and "no run was started" in text_of(result.alert)


def test_numbers_typed_as_text_are_sent_as_typed(backend: FakeBackend, api: ApiClient) -> None:
    dataset_id = backend.add_dataset(1, {"a": 200, "b": 10})
    result = new_run.submit_run(api, form(dataset_id, lr=" 0.02 ", batch_size="64", dnet_lr=""))
    assert result.redirect is not None
    body = json.loads(backend.requests[-1].content)
    assert body["lr"] == 0.02 and body["batch_size"] == 64 and "dnet_lr" not in body


def test_form_load_preselects_the_requested_dataset(backend: FakeBackend, api: ApiClient) -> None:
    first = backend.add_dataset(1, {"a": 1})
    second = backend.add_dataset(2, {"b": 1})
    options, value, problem = new_run.load_form(api, second)
    assert [o["value"] for o in options] == [first, second] and value == second and problem is None
    _, value, problem = new_run.load_form(api, "9" * 16)
    assert value is None and "does not exist" in text_of(problem)


@pytest.mark.parametrize("preset_id", list(new_run.PRESETS))
def test_presets_set_valid_method_and_meta_mode(preset_id: str) -> None:
    preset = new_run.PRESETS[preset_id]
    assert set(preset.values) == set(new_run.PRESET_FIELDS)
    assert preset.values["meta_mode"] in ("full", "head", "driver_only")


def test_every_form_control_has_a_real_label_and_an_error_slot() -> None:
    text = text_of(new_run.layout())
    for control in (ids.NEW_RUN_DATASET, ids.NEW_RUN_METHOD, ids.NEW_RUN_EPOCHS, ids.NEW_RUN_DEVICE):
        assert f'"htmlFor": "{control}"' in text
    for field in run_form.FIELDS:
        assert ids.new_run_field_error(field) in text


def test_the_form_table_fills_every_request_field_once() -> None:
    assert sorted(run_form.FIELDS) == sorted(set(RunCreate.model_fields) - run_form.NOT_ON_THE_FORM)
    assert len({spec.control for spec in run_form.FORM_FIELDS}) == len(run_form.FORM_FIELDS)


def test_every_field_is_checked_at_once_with_its_own_message(backend: FakeBackend, api: ApiClient) -> None:
    """Text and choice fields too: an empty required field is refused, never replaced by a default."""
    values = form("", method="sgd", device="gpu", meta_mode="", dnet_recipe="paper", lr="inf")
    result = new_run.submit_run(api, values)
    assert backend.requests == [] and result.redirect is None
    assert result.field_errors == {
        "dataset_id": "required: choose one",
        "method": "“sgd” is not one of the choices",
        "device": "device must be 'auto', 'cpu', 'cuda' or 'cuda:<index>'",
        "meta_mode": "required: choose one",
        "lr": "“inf” is not a finite number",
    }


def test_the_request_body_has_one_key_per_filled_field(backend: FakeBackend, api: ApiClient) -> None:
    dataset_id = backend.add_dataset(1, {"a": 200, "b": 10})
    values = form(dataset_id, dnet_recipe="paper", device=" cuda:1 ", dnet_lr="0.01")
    assert new_run.submit_run(api, values).redirect is not None
    assert json.loads(backend.requests[-1].content) == {
        "dataset_id": dataset_id, "method": "dnet", "model": "resnet8", "epochs": 2, "batch_size": 32,
        "lr": 0.05, "seed": 0, "device": "cuda:1", "dnet_recipe": "paper", "meta_mode": "head",
        "meta_every": 1, "dnet_lr": 0.01,
    }  # fmt: skip


def test_the_request_contract_checks_what_the_engine_does_not(backend: FakeBackend, api: ApiClient) -> None:
    result = new_run.submit_run(api, form("not-a-dataset-id"))
    assert backend.requests == [] and result.redirect is None
    assert list(result.field_errors) == ["dataset_id"] and "pattern" in result.field_errors["dataset_id"]


def test_the_apis_messages_find_fields_by_request_name_or_config_location() -> None:
    assert run_form.field_for_column("dnet_lr") is run_form.FIELD_BY_NAME["dnet_lr"]
    assert run_form.field_for_column("dnet.lr") is run_form.FIELD_BY_NAME["dnet_lr"]
    assert run_form.field_for_column("lr") is run_form.FIELD_BY_NAME["lr"]
    assert run_form.field_for_column("num_threads") is None and run_form.field_for_column(None) is None


# -- compare ----------------------------------------------------------------------------------------


def test_compare_draws_each_run_and_a_summary_row(backend: FakeBackend, api: ApiClient) -> None:
    dataset_id = backend.add_dataset(1, {"a": 1})
    a = backend.add_run(1, dataset_id, synthetic_records(5, 3))
    b = backend.add_run(2, dataset_id, synthetic_records(5, 2, skill=0.5), method="ce")
    balanced, per_class, table, problem = compare.compare(api, [a, b, "0" * 32])
    assert isinstance(balanced, go.Figure) and len(balanced.data) == 2 and len(per_class.data) == 2
    assert f"/runs/{a}" in text_of(table)
    assert "not found" in text_of(problem)
    options, chosen, _ = compare.load_runs(api, dataset_id, [b])
    assert chosen == [b] and len(options) == 2


def test_compare_skips_cancelled_runs_by_default_and_shows_status_and_whole_epochs(
    backend: FakeBackend, api: ApiClient
) -> None:
    dataset_id = backend.add_dataset(1, {"a": 1})
    done = backend.add_run(1, dataset_id, synthetic_records(5, 2))
    cancelled = backend.add_run(2, dataset_id, synthetic_records(5, 1), status="cancelled")
    options, chosen, _ = compare.load_runs(api, dataset_id, [])
    assert {o["value"] for o in options} == {done, cancelled} and chosen == [done]
    balanced, _, table, _ = compare.compare(api, [done, cancelled])
    text = text_of(table)
    assert "Status" in text and "status-cancelled" in text and "status-succeeded" in text
    assert balanced.layout.xaxis.dtick == 1 and balanced.layout.xaxis.tickformat == "d"
    labels = [trace.name for trace in balanced.data]
    assert [label.rsplit(" · ", 1)[1] for label in labels] == [done[:8], cancelled[:8]]
