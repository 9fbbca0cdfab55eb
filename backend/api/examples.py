"""``/api/runs/{run_id}/examples/{row}``: a thumbnail of one row of the run's own dataset.

Rows, never paths, go over the wire (the hardest examples of an epoch record name manifest rows). A
browser ``<img>`` cannot send headers, so like the event stream this route also accepts ``?token=`` or
the session cookie. Thumbnails are immutable for a given dataset row and size: long-lived private
caching, a strong ETag, and 304 on ``If-None-Match``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Response, status
from starlette.concurrency import run_in_threadpool

from backend.api.deps import ServicesDep, error_responses, require_token_for_browser
from backend.api.runs import RunIdPath
from backend.services import thumbnails

router = APIRouter(prefix="/runs", tags=["runs"], dependencies=[Depends(require_token_for_browser)])

MAX_ROW = 100_000_000


@router.get(
    "/{run_id}/examples/{row}",
    response_class=Response,
    responses={
        200: {"content": {thumbnails.MEDIA_TYPE: {}}, "description": "JPEG thumbnail of the row's image"},
        304: {"description": "unchanged (If-None-Match matched the ETag)"},
        **error_responses(404, 422),
    },
    name="example",
)
async def example_thumbnail(
    services: ServicesDep,
    run_id: RunIdPath,
    row: Annotated[int, Path(ge=0, le=MAX_ROW, description="0-based data row of the run's manifest")],
    size: Annotated[
        int,
        Query(ge=thumbnails.MIN_SIZE, le=thumbnails.MAX_SIZE, description="longer side of the thumbnail, px"),
    ] = thumbnails.DEFAULT_SIZE,
    if_none_match: Annotated[str | None, Header(max_length=2048)] = None,
) -> Response:
    """A JPEG thumbnail (longer side ``size`` px) of manifest row ``row`` of the dataset the run trained
    on. 404 in plain words when the run is unknown, the row is not in its dataset, or the image is gone."""
    run = await services.runs.get(run_id)
    source = await run_in_threadpool(thumbnails.locate, services.settings, run, row, size)
    headers = {"ETag": source.etag, "Cache-Control": thumbnails.CACHE_CONTROL}
    if thumbnails.etag_matches(if_none_match, source.etag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    body = await run_in_threadpool(thumbnails.render, source, row, size)
    return Response(body, media_type=thumbnails.MEDIA_TYPE, headers=headers)
