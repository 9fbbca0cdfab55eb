"""FastAPI application factory: ``uvicorn backend.main:create_app --factory`` (or ``python -m backend``)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute

from backend.api import datasets, examples, health, runs, session
from backend.api.deps import Services, require_token
from backend.errors import install_error_handlers
from backend.limits import BadTokenLimiter, BodySizeLimitMiddleware, upload_aware_limit
from backend.queue import TaskQueue
from backend.services.datasets import DatasetService
from backend.services.events import RunFeeds
from backend.services.health import HealthService
from backend.services.runs import RunService
from backend.settings import Settings
from backend.store import Store

logger = logging.getLogger(__name__)
API_PREFIX = "/api"


def _operation_id(route: APIRoute) -> str:
    """Stable ``<tag>-<name>`` operation ids (e.g. ``runs-create``) for generated clients and fuzzers."""
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


def _build_services(settings: Settings) -> Services:
    store = Store.from_url(settings.redis_url)
    queue = TaskQueue(settings)
    return Services(
        settings=settings,
        store=store,
        queue=queue,
        datasets=DatasetService(settings, store),
        runs=RunService(settings, store, queue),
        health=HealthService(store, queue),
        feeds=RunFeeds.from_url(settings.redis_url, settings.sse_block_ms),
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for folder in (settings.data_root, settings.uploads_dir, settings.runs_dir):
            folder.mkdir(parents=True, exist_ok=True)
        # Built here, not at import: the asyncio Redis client belongs to the server's event loop.
        services = _build_services(settings)
        app.state.services = services
        logger.info("API ready (redis %s, data root %s)", settings.redis_url, settings.data_root)
        try:
            yield
        finally:
            await services.feeds.close()
            await services.store.close()
            services.queue.close()

    app = FastAPI(
        title="Difficulty-Net API",
        summary="Queue Difficulty-Net training on GPU workers and follow per-class difficulties live.",
        version="1",
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
    )
    app.state.settings = settings
    app.state.bad_tokens = BadTokenLimiter(settings.max_bad_tokens_per_min)
    install_error_handlers(app)
    limit_for = upload_aware_limit(
        f"{API_PREFIX}/datasets", settings.max_upload_bytes, settings.max_json_body_kb * 1024
    )
    app.add_middleware(BodySizeLimitMiddleware, limit_for=limit_for)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
        )
    app.include_router(health.router, prefix=API_PREFIX)
    app.include_router(session.router, prefix=API_PREFIX)
    app.include_router(datasets.router, prefix=API_PREFIX, dependencies=[Depends(require_token)])
    app.include_router(runs.router, prefix=API_PREFIX)
    app.include_router(runs.browser_router, prefix=API_PREFIX)
    app.include_router(examples.router, prefix=API_PREFIX)
    return app
