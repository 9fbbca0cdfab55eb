"""One error shape for every failure: ``{"detail": str, "errors": [{row, column, reason}]}``.

Row-level manifest problems, request validation errors, HTTP errors and infrastructure outages all go
through :func:`install_error_handlers`, so clients parse a single format and never see a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import redis.exceptions
from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from kombu.exceptions import OperationalError as BrokerError
from starlette.exceptions import HTTPException as StarletteHTTPException

from difficultynet.contracts.api import RowError

logger = logging.getLogger(__name__)


class ApiError(StarletteHTTPException):
    """An HTTP error with row/column details.

    Subclasses Starlette's ``HTTPException`` so FastAPI re-raises it untouched even from inside body
    parsing (which is where the streaming size cap fires).
    """

    def __init__(
        self,
        status_code: int,
        detail: str,
        errors: Sequence[RowError] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status_code=status_code, detail=detail, headers=headers)
        self.errors = list(errors)


class NotFound(ApiError):
    def __init__(self, what: str, ident: str) -> None:
        super().__init__(status.HTTP_404_NOT_FOUND, f"{what} {ident!r} not found")


class Conflict(ApiError):
    def __init__(self, detail: str) -> None:
        super().__init__(status.HTTP_409_CONFLICT, detail)


class PayloadTooLarge(ApiError):
    def __init__(self, detail: str) -> None:
        super().__init__(status.HTTP_413_CONTENT_TOO_LARGE, detail)


class Unprocessable(ApiError):
    def __init__(self, detail: str, errors: Sequence[RowError] = ()) -> None:
        super().__init__(status.HTTP_422_UNPROCESSABLE_CONTENT, detail, errors)


def field_error(column: str, reason: str) -> Unprocessable:
    """A 422 about one request field (``row`` is None: it is not a file line)."""
    return Unprocessable(f"{column}: {reason}", [RowError(row=None, column=column, reason=reason)])


def pydantic_errors(errors: Iterable[Any], *, skip_loc_prefix: tuple[str, ...] = ()) -> list[RowError]:
    """Map pydantic error dicts to RowErrors; ``column`` is the dotted field location."""
    rows: list[RowError] = []
    for err in errors:
        loc = [str(part) for part in err.get("loc", ())]
        while loc and loc[0] in skip_loc_prefix:
            loc.pop(0)
        rows.append(RowError(row=None, column=".".join(loc) or None, reason=str(err.get("msg", "invalid"))))
    return rows


def error_body(detail: str, errors: Sequence[RowError] = ()) -> dict[str, Any]:
    return {"detail": detail, "errors": [e.model_dump() for e in errors]}


async def _api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    errors = exc.errors if isinstance(exc, ApiError) else []
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    return JSONResponse(error_body(detail, errors), status_code=exc.status_code, headers=exc.headers)


async def _request_validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = pydantic_errors(exc.errors(), skip_loc_prefix=("body", "query", "path", "header", "cookie"))
    first = errors[0] if errors else None
    detail = f"{first.column}: {first.reason}" if first and first.column else "invalid request"
    return JSONResponse(error_body(detail, errors), status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _infrastructure_down(_: Request, exc: Exception) -> JSONResponse:
    logger.warning("backing service unavailable: %r", exc)
    what = "Redis" if isinstance(exc, redis.exceptions.RedisError) else "the task broker"
    return JSONResponse(
        error_body(f"{what} is unavailable, try again shortly"),
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": "5"},
    )


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error", exc_info=exc)
    return JSONResponse(error_body("internal error"), status_code=status.HTTP_500_INTERNAL_SERVER_ERROR)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _api_error)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(redis.exceptions.ConnectionError, _infrastructure_down)
    app.add_exception_handler(redis.exceptions.TimeoutError, _infrastructure_down)
    app.add_exception_handler(BrokerError, _infrastructure_down)
    app.add_exception_handler(Exception, _unexpected)
