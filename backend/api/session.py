"""``/api/session``: trade the API token for a signed session cookie, for browser EventSource clients.

The cookie holds a random session id signed with the API token and a timestamp (valid for
``SESSION_MAX_AGE_S``), never the token itself.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from pydantic import SecretStr

from backend.api.deps import (
    SESSION_MAX_AGE_S,
    TOKEN_COOKIE,
    error_responses,
    guard_bad_tokens,
    new_session,
    token_matches,
)
from difficultynet.contracts.api import SessionCreate

router = APIRouter(prefix="/session", tags=["session"])


@router.post("", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(422, 429), name="create")
async def create_session(request: Request, body: SessionCreate) -> Response:
    """Set the ``dnet_token`` session cookie (signed, HttpOnly, SameSite=Strict, path /api) when the
    token is right. Wrong tokens count towards the per-address limit (429 with Retry-After)."""
    expected: SecretStr | None = request.app.state.settings.api_token
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    if expected is None:
        return response  # open server: nothing to remember
    given = body.token.get_secret_value()
    guard_bad_tokens(request, presented=bool(given), accepted=token_matches(given, expected))
    response.set_cookie(
        TOKEN_COOKIE,
        new_session(expected),
        max_age=SESSION_MAX_AGE_S,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/api",
    )
    return response


@router.delete("", status_code=status.HTTP_204_NO_CONTENT, name="delete")
async def delete_session() -> Response:
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(TOKEN_COOKIE, path="/api", httponly=True, samesite="strict")
    return response
