"""Typed HTTP client for the backend API; the only place in the dashboard that speaks HTTP.

Every failure becomes an :class:`ApiError` whose message can be shown to a user as is: callbacks catch it
and render an alert instead of a stack trace. The bearer token lives in this server-side client only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from dashboard.models import (
    ClassExploration,
    Dataset,
    DatasetList,
    EpochConfusions,
    EpochPage,
    FieldError,
    Run,
    RunCreate,
    RunList,
)
from difficultynet.contracts.records import EpochRecord

logger = logging.getLogger(__name__)

_ModelT = TypeVar("_ModelT", bound=BaseModel)
SplitSettings = Mapping[str, int | float | None]  # val_per_class, test_fraction, seed of image folders

UPLOAD_TIMEOUT_S = 300.0  # zip bundles are unpacked and every image is checked before the API answers

RUN_LIST_LIMIT = 500  # the dashboard lists at most this many runs per query (newest first)


class ApiError(Exception):
    """A backend call failed; ``message`` is readable by users, ``errors`` locates field/row problems."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        errors: list[FieldError] | None = None,
        errors_total: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.errors = errors or []
        self.errors_total = errors_total if errors_total is not None else len(self.errors)


class ApiUnavailable(ApiError):
    """The backend could not be reached (refused, DNS, timeout)."""


class ApiNotFound(ApiError):
    """404: the dataset or run does not exist (or was deleted)."""


class ApiValidationError(ApiError):
    """422 (or 400/413): the request or upload was rejected; see ``errors``."""


class ApiAuthError(ApiError):
    """401/403: the dashboard's token is missing or wrong."""


def _field_errors(raw: Any) -> list[FieldError]:
    """Our ``errors`` list, or FastAPI's default ``detail`` list of ``{loc, msg}``."""
    if not isinstance(raw, list):
        return []
    errors = []
    for item in raw:
        if not isinstance(item, Mapping):
            continue
        if "reason" in item:
            errors.append(FieldError.model_validate(item))
        elif "msg" in item:
            loc = [str(part) for part in item.get("loc", []) if part not in ("body", "query", "path")]
            errors.append(FieldError(column=".".join(loc) or None, reason=str(item["msg"])))
    return errors


def _error_from_response(response: httpx.Response, what: str) -> ApiError:
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    detail: str | None = None
    errors: list[FieldError] = []
    errors_total: int | None = None
    if isinstance(body, Mapping):
        raw_detail = body.get("detail")
        if isinstance(raw_detail, str):
            detail = raw_detail
        else:
            errors = _field_errors(raw_detail)
        errors = _field_errors(body.get("errors")) or errors
        if isinstance(body.get("errors_total"), int):
            errors_total = body["errors_total"]
    if status == 404:
        return ApiNotFound(detail or f"{what}: not found (it may have been deleted)", status_code=status)
    if status in (401, 403):
        return ApiAuthError(
            f"{what}: the backend rejected the dashboard's credentials (check DNET_API_TOKEN)",
            status_code=status,
        )
    if status in (400, 409, 413, 422):
        message = detail or (f"{what}: the request was rejected" if not errors else f"{what}: invalid input")
        return ApiValidationError(message, status_code=status, errors=errors, errors_total=errors_total)
    if status >= 500:
        return ApiError(f"{what}: the backend failed (HTTP {status}); try again later", status_code=status)
    return ApiError(
        f"{what}: unexpected HTTP {status}" + (f": {detail}" if detail else ""), status_code=status
    )


class ApiClient:
    """Synchronous client for ``<base_url>/api``; share one per process (httpx pools connections)."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=f"{self.base_url}/api", headers=headers, timeout=timeout_s, transport=transport
        )

    def close(self) -> None:
        self._http.close()

    def _request(
        self,
        method: str,
        path: str,
        what: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        data: Mapping[str, str] | None = None,
        timeout: float | None = None,
        answers: tuple[int, ...] = (),
    ) -> httpx.Response:
        """``answers``: error statuses whose body is a real answer (returned, not raised)."""
        kwargs: dict[str, Any] = {"params": params, "json": json, "files": files, "data": data}
        if timeout is not None:
            kwargs["timeout"] = timeout
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            logger.warning("%s %s timed out: %s", method, path, exc)
            raise ApiUnavailable(f"{what}: the backend at {self.base_url} did not answer in time") from exc
        except httpx.HTTPError as exc:
            logger.warning("%s %s failed: %s", method, path, exc)
            raise ApiUnavailable(f"{what}: cannot reach the backend at {self.base_url}") from exc
        if response.is_error and response.status_code not in answers:
            error = _error_from_response(response, what)
            logger.info("%s %s -> %d: %s", method, path, response.status_code, error.message)
            raise error
        return response

    def _parse(self, model: type[_ModelT], response: httpx.Response, what: str) -> _ModelT:
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            logger.error("unexpected response to %s: %s", what, exc)
            raise ApiError(f"{what}: the backend sent a response the dashboard does not understand") from exc

    # -- health -------------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """The API's health report; a 503 is a report too (the API is up, Redis is not)."""
        response = self._request("GET", "/health", "Backend health", answers=(503,))
        try:
            body = response.json()
        except ValueError:  # a 503 from a proxy in front of the API, not from the API itself
            raise ApiUnavailable(f"Backend health: the backend at {self.base_url} is unavailable") from None
        return body if isinstance(body, dict) else {}

    # -- datasets -----------------------------------------------------------------------------------

    def list_datasets(self) -> list[Dataset]:
        response = self._request("GET", "/datasets", "Datasets")
        return self._parse(DatasetList, response, "Datasets").datasets

    def get_dataset(self, dataset_id: str) -> Dataset:
        what = f"Dataset {dataset_id[:8]}"
        return self._parse(Dataset, self._request("GET", f"/datasets/{dataset_id}", what), what)

    def upload_dataset(
        self, filename: str, content: bytes, *, base: str = "", split: SplitSettings | None = None
    ) -> tuple[Dataset, bool]:
        """Upload a manifest CSV (paths relative to ``base`` under the data root), a zip bundle, or a zip
        of image folders (``split``: val_per_class / test_fraction / seed; omitted ones keep the defaults).

        Returns the dataset and whether it is new (201) rather than an identical earlier upload (200).
        """
        what = f"Upload of {filename}"
        mime = "application/zip" if filename.lower().endswith(".zip") else "text/csv"
        fields = {"base": base} if base else {}
        fields |= {key: str(value) for key, value in (split or {}).items() if value is not None}
        response = self._request(
            "POST",
            "/datasets",
            what,
            files={"file": (filename, content, mime)},
            data=fields or None,
            timeout=UPLOAD_TIMEOUT_S,
        )
        return self._parse(Dataset, response, what), response.status_code == 201

    def register_folder(self, folder: str, *, split: SplitSettings | None = None) -> tuple[Dataset, bool]:
        """Image folders under the server's data root as a dataset (the API generates the manifest)."""
        what = f"Registering folder {folder}"
        body = {"folder": folder} | {key: value for key, value in (split or {}).items() if value is not None}
        response = self._request("POST", "/datasets/folders", what, json=body, timeout=UPLOAD_TIMEOUT_S)
        return self._parse(Dataset, response, what), response.status_code == 201

    def manifest_csv(self, dataset_id: str) -> bytes:
        """The dataset's manifest CSV (uploaded, or generated for image folders), byte for byte."""
        what = f"Manifest of dataset {dataset_id[:8]}"
        return self._request("GET", f"/datasets/{dataset_id}/manifest.csv", what).content

    def delete_dataset(self, dataset_id: str) -> None:
        self._request("DELETE", f"/datasets/{dataset_id}", f"Deleting dataset {dataset_id[:8]}")

    # -- runs ---------------------------------------------------------------------------------------

    def list_runs(self, *, dataset_id: str | None = None, status: str | None = None) -> list[Run]:
        params: dict[str, str | int] = {"limit": RUN_LIST_LIMIT}
        if dataset_id:
            params["dataset_id"] = dataset_id
        if status:
            params["status"] = status
        return self._parse(RunList, self._request("GET", "/runs", "Runs", params=params), "Runs").runs

    def get_run(self, run_id: str) -> Run:
        what = f"Run {run_id[:8]}"
        return self._parse(Run, self._request("GET", f"/runs/{run_id}", what), what)

    def create_run(self, request: RunCreate) -> Run:
        """Start a run with the fields the caller set (left-out ones take the API's defaults)."""
        body = request.model_dump(mode="json", exclude_unset=True, exclude_none=True)
        what = "Starting the run"
        return self._parse(Run, self._request("POST", "/runs", what, json=body), what)

    def cancel_run(self, run_id: str) -> Run:
        what = f"Cancelling run {run_id[:8]}"
        return self._parse(Run, self._request("POST", f"/runs/{run_id}/cancel", what), what)

    def delete_run(self, run_id: str) -> None:
        self._request("DELETE", f"/runs/{run_id}", f"Deleting run {run_id[:8]}")

    def epoch_page(self, run_id: str, *, after: int = 0, limit: int | None = None) -> EpochPage:
        """Records of the epochs after ``after`` (1-based), oldest first; at most ``limit`` of them.

        Records carry no exploration columns (the API serves them apart: :meth:`epoch_confusions`,
        :meth:`class_exploration`), except those of runs recorded before that, which still parse.
        """
        params: dict[str, int] = {"after": after}
        if limit is not None:
            params["limit"] = limit
        what = f"Epochs of run {run_id[:8]}"
        response = self._request("GET", f"/runs/{run_id}/epochs", what, params=params)
        page = self._parse(EpochPage, response, what)
        if limit is not None and len(page.records) > limit:  # a backend without `limit` sends everything
            return page.model_copy(update={"records": page.records[:limit]})
        return page

    def epochs(self, run_id: str, *, after: int = 0, limit: int | None = None) -> list[EpochRecord]:
        return self.epoch_page(run_id, after=after, limit=limit).records

    def epoch_confusions(self, run_id: str, epoch: int) -> EpochConfusions:
        """Every class's top confusions at ``epoch`` (``confusions`` is None for a run that kept none)."""
        what = f"Confusions of run {run_id[:8]} at epoch {epoch}"
        response = self._request("GET", f"/runs/{run_id}/epochs/{epoch}/confusions", what)
        return self._parse(EpochConfusions, response, what)

    def class_exploration(self, run_id: str, class_index: int, *, after: int = 0) -> ClassExploration:
        """One class's top confusions and hardest examples at each epoch after ``after``, oldest first."""
        what = f"Class {class_index} of run {run_id[:8]}"
        response = self._request(
            "GET", f"/runs/{run_id}/classes/{class_index}/exploration", what, params={"after": after}
        )
        return self._parse(ClassExploration, response, what)

    def epoch(self, run_id: str, epoch: int) -> EpochRecord | None:
        """The record of one epoch, or None when it is not there (yet)."""
        found = self.epochs(run_id, after=epoch - 1, limit=1)
        return found[0] if found and found[0].epoch == epoch else None

    def latest_epoch(self, run: Run) -> EpochRecord | None:
        return self.epoch(run.id, run.epoch) if run.epoch >= 1 else None

    def example_image(self, run_id: str, row: int) -> tuple[bytes, str, str | None]:
        """Thumbnail of one evaluation image of a run's dataset (by manifest row): bytes, content type and
        the API's ``Cache-Control`` (the dashboard's server relays it to the browser)."""
        response = self._request("GET", f"/runs/{run_id}/examples/{row}", f"Image {row} of run {run_id[:8]}")
        content_type = response.headers.get("content-type", "application/octet-stream")
        return response.content, content_type, response.headers.get("cache-control")

    def weights_json(self, run_id: str) -> bytes:
        """The run's ``difficulty-weights/v1`` export, byte for byte as the backend serves it."""
        return self._request("GET", f"/runs/{run_id}/weights.json", f"Weights of run {run_id[:8]}").content
