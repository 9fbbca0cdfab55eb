"""``/api/runs``: create, list, read, follow (polling or SSE), cancel, export weights, delete.

Two routers: ``router`` takes the bearer token only; ``browser_router`` (read-only GETs a browser may open
directly: the event stream and the weights download) also accepts ``?token=`` or the session cookie.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Response, status

from backend.api.deps import ServicesDep, error_responses, require_token, require_token_for_browser
from backend.api.event_stream import EventStreamResponse
from backend.services import exploration
from backend.services.events import run_events
from backend.store import RunHash
from difficultynet.contracts.api import (
    DATASET_ID_PATTERN,
    RUN_ID_PATTERN,
    ClassExploration,
    EpochConfusions,
    EpochPage,
    RunCreate,
    RunList,
    RunRead,
    RunStatus,
)

router = APIRouter(prefix="/runs", tags=["runs"], dependencies=[Depends(require_token)])
browser_router = APIRouter(prefix="/runs", tags=["runs"], dependencies=[Depends(require_token_for_browser)])

RunIdPath = Annotated[str, Path(pattern=RUN_ID_PATTERN, description="run id (32 hex digits)")]
MAX_EPOCH = 1_000_000
MAX_CLASS_INDEX = 1_000_000


async def existing_run(services: ServicesDep, run_id: RunIdPath) -> RunHash:
    """Resolves the run before a streaming response starts, so an unknown id is a plain 404."""
    return await services.runs.get(run_id)


ExistingRun = Annotated[RunHash, Depends(existing_run)]


@router.post(
    "",
    response_model=RunRead,
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(422, 429, 503),
    name="create",
)
async def create_run(services: ServicesDep, body: RunCreate) -> RunRead:
    """Validate the configuration, record the run as ``queued`` and hand it to a GPU worker."""
    return await services.runs.create(body)


@router.get("", response_model=RunList, responses=error_responses(422), name="list")
async def list_runs(
    services: ServicesDep,
    dataset_id: Annotated[str | None, Query(pattern=DATASET_ID_PATTERN)] = None,
    run_status: Annotated[RunStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> RunList:
    """Runs, newest first, optionally filtered by dataset and status."""
    runs, total = await services.runs.page(
        dataset_id=dataset_id, status=run_status, limit=limit, offset=offset
    )
    return RunList(runs=runs, total=total)


@router.get("/{run_id}", response_model=RunRead, responses=error_responses(404, 422), name="read")
async def read_run(services: ServicesDep, run_id: RunIdPath) -> RunRead:
    """Status, progress, ETA, error message, and the worker and device that ran it."""
    return await services.runs.read(run_id)


@router.get(
    "/{run_id}/epochs",
    response_model=EpochPage,
    responses=error_responses(404, 422),
    name="epochs",
)
async def read_epochs(
    services: ServicesDep,
    run_id: RunIdPath,
    after: Annotated[int, Query(ge=0, le=MAX_EPOCH, description="return epochs > after")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
) -> Response:
    """Epoch records after epoch ``after`` (for polling clients: pass the last epoch you have)."""
    run, entries = await services.runs.epochs(run_id, after, limit)
    # Records are stored as validated JSON: splice them in rather than parse and re-serialise each one.
    body = (
        f'{{"run_id":{json.dumps(run.id)},"status":{json.dumps(run.status)},'
        f'"epochs_total":{run.epochs_total},"last_epoch":{entries[-1][0] if entries else after},'
        f'"records":[{",".join(raw for _, raw in entries)}]}}'
    )
    return Response(body, media_type="application/json")


@router.get(
    "/{run_id}/epochs/{epoch}/confusions",
    response_model=EpochConfusions,
    responses=error_responses(404, 422),
    name="epoch-confusions",
)
async def read_epoch_confusions(
    services: ServicesDep,
    run_id: RunIdPath,
    epoch: Annotated[int, Path(ge=1, le=MAX_EPOCH, description="1-based epoch number")],
) -> Response:
    """Every class's top confusions at one epoch (the confusion heatmap and the most confused pairs).
    404 when the run is unknown or the epoch not reported yet."""
    body = await exploration.epoch_confusions(services.runs, run_id, epoch)
    return Response(body, media_type="application/json")


@router.get(
    "/{run_id}/classes/{class_index}/exploration",
    response_model=ClassExploration,
    responses=error_responses(404, 422),
    name="class-exploration",
)
async def read_class_exploration(
    services: ServicesDep,
    run_id: RunIdPath,
    class_index: Annotated[int, Path(ge=0, le=MAX_CLASS_INDEX, description="0-based class index")],
    after: Annotated[int, Query(ge=0, le=MAX_EPOCH, description="return epochs > after")] = 0,
) -> Response:
    """One class's top confusions and hardest evaluation images at every epoch after ``after`` (the class
    panel). 404 when the run or the class is unknown, or the run has no epoch yet."""
    body = await exploration.class_exploration(services.runs, run_id, class_index, after)
    return Response(body, media_type="application/json")


@browser_router.get(
    "/{run_id}/events",
    status_code=status.HTTP_200_OK,
    response_class=EventStreamResponse,
    responses={
        200: {"description": "text/event-stream of `status` and `epoch` events"},
        **error_responses(404, 422),
    },
    name="events",
)
async def follow_run(
    services: ServicesDep,
    run: ExistingRun,
    after: Annotated[int | None, Query(ge=0, le=1_000_000, description="start after this epoch")] = None,
    last_event_id: Annotated[
        int | None, Header(alias="Last-Event-ID", ge=0, le=1_000_000, description="resume: last epoch seen")
    ] = None,
) -> EventStreamResponse:
    """Server-Sent Events: ``status`` events (RunRead JSON) and one ``epoch`` event per record (id = epoch).

    Replays the epochs after ``Last-Event-ID`` (or ``after``), then follows the run live and ends with a
    terminal ``status`` event. Authentication: bearer header, ``?token=``, or the ``dnet_token`` cookie.
    """
    cursor = last_event_id if last_event_id is not None else (after or 0)
    return EventStreamResponse(run_events(services.feeds, run.id, cursor))


@router.post(
    "/{run_id}/cancel",
    response_model=RunRead,
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(404, 409, 422),
    name="cancel",
)
async def cancel_run(services: ServicesDep, run_id: RunIdPath) -> RunRead:
    """Cooperative cancel: the worker stops within one batch and marks the run ``cancelled``.

    A queued run is cancelled (and revoked) immediately. Records already written are kept.
    """
    return await services.runs.cancel(run_id)


@browser_router.get(
    "/{run_id}/weights.json",
    responses={
        200: {"content": {"application/json": {}}, "description": "difficulty-weights/v1 document"},
        **error_responses(404, 422),
    },
    name="weights",
)
async def export_weights(services: ServicesDep, run_id: RunIdPath) -> Response:
    """The ``difficulty-weights/v1`` export; ``partial: true`` until the last epoch. 404 before epoch 1."""
    doc = await services.runs.weights(run_id)
    headers = {"Content-Disposition": f'attachment; filename="{run_id}-weights.json"'}
    return Response(doc, media_type="application/json", headers=headers)


@router.delete(
    "/{run_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(404, 409, 422),
    name="delete",
)
async def delete_run(services: ServicesDep, run_id: RunIdPath) -> Response:
    """Delete a finished run (records, weights, run folder). 409 while queued or running: cancel first."""
    await services.runs.delete(run_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
