"""``/api/session``: trade the API token for an HttpOnly cookie, for browser EventSource clients."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, Field, SecretStr

from backend.api.deps import TOKEN_COOKIE, error_responses, token_matches
from backend.errors import ApiError

router = APIRouter(prefix="/session", tags=["session"])


class SessionCreate(BaseModel):
    token: SecretStr = Field(max_length=4096)


@router.post("", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(422), name="create")
async def create_session(request: Request, body: SessionCreate) -> Response:
    """Set the ``dnet_token`` cookie (HttpOnly, SameSite=Strict, path /api) when the token is right."""
    expected: SecretStr | None = request.app.state.settings.api_token
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    if expected is None:
        return response  # open server: nothing to remember
    if not token_matches(body.token.get_secret_value(), expected):
        raise ApiError(401, "invalid API token", headers={"WWW-Authenticate": "Bearer"})
    response.set_cookie(
        TOKEN_COOKIE,
        expected.get_secret_value(),
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
