"""The Dash application factory: the page shell, the page registry and every callback.

Pages are registered explicitly (``pages_folder=""``) and their callbacks are bound to the app being
built, so several apps can live in one process (tests) and nothing happens at import time.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import dash
from dash import Dash, Input, Output, dcc, html

from dashboard import ids
from dashboard.api_client import ApiClient, ApiError
from dashboard.components.layout import navbar
from dashboard.pages import compare, datasets, new_run, not_found_404, run, runs
from dashboard.settings import DashboardSettings

ASSETS_DIR = Path(__file__).resolve().parent / "assets"
APP_TITLE = "Difficulty-Net"
HEALTH_INTERVAL_MS = 10_000


@dataclass(frozen=True)
class PageSpec:
    module: ModuleType
    name: str
    path: str | None = None
    path_template: str | None = None
    in_nav: bool = True
    title: str | Callable[..., str] | None = None
    layout_options: tuple[str, ...] = ()  # settings handed to the layout function as keyword arguments


def _run_title(run_id: str | None = None, **_query: Any) -> str:
    return f"Run {(run_id or '')[:8]} · {APP_TITLE}"


# "/runs/new" must come before "/runs/<run_id>": Dash matches pages in registry order.
PAGES: tuple[PageSpec, ...] = (
    PageSpec(runs, "Runs", path=runs.PATH),
    PageSpec(datasets, "Datasets", path=datasets.PATH, layout_options=("max_upload_mb",)),
    PageSpec(new_run, "New run", path=new_run.PATH),
    PageSpec(
        run,
        "Run",
        path_template=run.PATH_TEMPLATE,
        in_nav=False,
        title=_run_title,
        layout_options=("poll_interval_ms",),
    ),
    PageSpec(compare, "Compare", path=compare.PATH),
    PageSpec(not_found_404, "Not found", path="/404", in_nav=False),
)


def backend_status(api: ApiClient) -> html.Span:
    """One line for the header: is the backend up, and are workers listening?"""
    try:
        health = api.health()
    except ApiError:
        return html.Span(f"Backend unreachable ({api.base_url})", className="health health-down")
    status = str(health.get("status", "down"))
    workers = health.get("workers") or []
    if status == "ok":
        return html.Span(f"Backend online · {len(workers)} worker(s)", className="health health-ok")
    if status == "degraded":
        return html.Span(
            "Backend online · no worker answering: runs stay queued", className="health health-degraded"
        )
    return html.Span("API up, Redis unreachable", className="health health-down")


def _register_pages(settings: DashboardSettings) -> None:
    options = {"max_upload_mb": settings.max_upload_mb, "poll_interval_ms": settings.poll_interval_ms}
    for order, page in enumerate(PAGES):
        layout = functools.partial(page.module.layout, **{k: options[k] for k in page.layout_options})
        dash.register_page(
            page.module.__name__,
            path=page.path,
            path_template=page.path_template,
            name=page.name,
            title=page.title or f"{page.name} · {APP_TITLE}",
            order=order,
            layout=layout,
        )


def create_app(settings: DashboardSettings | None = None, *, api: ApiClient | None = None) -> Dash:
    """Build the dashboard; ``api`` overrides the HTTP client (tests pass one with a fake transport)."""
    settings = settings or DashboardSettings()
    if api is None:
        token = settings.api_token.get_secret_value() if settings.api_token else None
        api = ApiClient(settings.api_base, token=token, timeout_s=settings.api_timeout_s)
    app = Dash(
        __name__,
        use_pages=True,
        pages_folder="",
        assets_folder=str(ASSETS_DIR),
        title=APP_TITLE,
        update_title="",  # no "Updating…" tab title on every poll
        suppress_callback_exceptions=True,  # page components exist only while their page is shown
    )
    _register_pages(settings)
    links = [(p.name, p.path) for p in PAGES if p.in_nav and p.path]
    app.layout = html.Div(
        [
            html.A("Skip to content", href="#main", className="skip-link"),
            navbar(links, ids.APP_BACKEND_STATUS),
            dcc.Interval(id=ids.APP_HEALTH_INTERVAL, interval=HEALTH_INTERVAL_MS),
            html.Main(dash.page_container, id="main", className="page"),
        ],
        className="app",
    )

    @app.callback(Output(ids.APP_BACKEND_STATUS, "children"), Input(ids.APP_HEALTH_INTERVAL, "n_intervals"))
    def on_health(_n: int | None) -> html.Span:
        return backend_status(api)

    for page in PAGES:
        register: Callable[[Dash, ApiClient], None] | None = getattr(page.module, "register_callbacks", None)
        if register is not None:
            register(app, api)
    return app
