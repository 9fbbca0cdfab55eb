"""``GET /api/health``: open to everyone (no token), so load balancers and the launcher can poll it."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from backend.api.deps import ServicesDep
from difficultynet.contracts.api import HealthRead

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=HealthRead,
    responses={503: {"model": HealthRead, "description": "Redis is unreachable"}},
    name="read",
)
async def read_health(services: ServicesDep, response: Response) -> HealthRead:
    """Redis reachability, the Celery workers that answer a ping, and component versions."""
    health = await services.health.check()
    if health.status == "down":
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return health
