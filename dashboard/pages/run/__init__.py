"""Run ("/runs/<run_id>"): live progress, difficulty curves, difficulty vs frequency, a class drill-down,
confusions, gains, weights, export.

Live updates: a ``dcc.Interval`` (≤ 1 s) asks the API for the epochs after the last one drawn and appends
them with ``dash.Patch``; figures are rebuilt only when the user changes what they show. The view state
store records what the figures currently contain, so every tick reconciles "drawn" with "available": a
dropped or pruned request never leaves a gap or a duplicate. This module holds the layout and the
callbacks only; the decisions live in :mod:`dashboard.run_view`, the work in this package's modules.
"""

from __future__ import annotations

import logging
from typing import Any

from dash import ALL, Dash, Input, Output, State, ctx, dcc, html, no_update
from dash.development.base_component import Component
from flask import Response, abort

from dashboard import ids
from dashboard.analysis.columns import METRICS, Metric
from dashboard.api_client import ApiClient, ApiError
from dashboard.components.alerts import alert
from dashboard.formatting import short_id
from dashboard.pages.run import sections
from dashboard.pages.run.baseline import baseline_choices, gains_update
from dashboard.pages.run.class_panel import THUMBNAIL_PREFIX, class_panel
from dashboard.pages.run.downloads import download
from dashboard.pages.run.epoch_views import epoch_box_sync, epoch_views_update
from dashboard.pages.run.live import poll
from dashboard.run_view.selection import CLASS_INDEX_AT, CLASS_NAME_AT, class_from_click
from dashboard.run_view.state import RunViewState, is_run_id

logger = logging.getLogger(__name__)

PATH_TEMPLATE = "/runs/<run_id>"


def layout(run_id: str = "", poll_interval_ms: int = 1000, **_query: str) -> html.Div:
    return html.Div(
        [
            dcc.Store(id=ids.RUN_ID_STORE, data=run_id),
            dcc.Store(id=ids.RUN_VIEW_STATE, data=RunViewState().model_dump()),
            dcc.Store(id=ids.RUN_SCATTER_STATE),
            dcc.Store(id=ids.RUN_GAINS_STATE),
            dcc.Store(id=ids.RUN_CLASS_SELECTED),
            dcc.Store(id=ids.RUN_CLASS_NAMES, data=[]),
            dcc.Store(id=ids.RUN_CLASS_SCROLL),
            dcc.Interval(id=ids.RUN_INTERVAL, interval=poll_interval_ms, n_intervals=0),
            html.H1(["Run ", html.Code(short_id(run_id, 12))]),
            html.P(id=ids.RUN_TITLE, className="subtitle"),
            html.Div(id=ids.RUN_ALERT),
            sections.progress_section(),
            sections.health_section(),
            sections.curves_section(),
            sections.scatter_section(),
            sections.difficulty_check_section(),
            sections.class_section(),
            sections.confusions_section(),
            sections.gains_section(),
            sections.heatmap_section(),
            sections.export_section(),
        ]
    )


def register_callbacks(app: Dash, api: ApiClient) -> None:
    @app.callback(
        output={
            "curves": Output(ids.RUN_CURVES, "figure"),
            "heatmap": Output(ids.RUN_HEATMAP, "figure"),
            "view_state": Output(ids.RUN_VIEW_STATE, "data"),
            "slider_max": Output(ids.RUN_EPOCH_SLIDER, "max"),
            "slider_marks": Output(ids.RUN_EPOCH_SLIDER, "marks"),
            "slider_value": Output(ids.RUN_EPOCH_SLIDER, "value"),
            "picker_options": Output(ids.RUN_CLASS_PICKER, "options"),
            "picker_value": Output(ids.RUN_CLASS_PICKER, "value"),
            "picker_hidden": Output(ids.RUN_CLASS_PICKER_ROW, "hidden"),
            "curves_note": Output(ids.RUN_CURVES_NOTE, "children"),
            "title": Output(ids.RUN_TITLE, "children"),
            "status": Output(ids.RUN_STATUS, "children"),
            "progress_value": Output(ids.RUN_PROGRESS, "value"),
            "progress_max": Output(ids.RUN_PROGRESS, "max"),
            "progress_text": Output(ids.RUN_PROGRESS_TEXT, "children"),
            "cancel_disabled": Output(ids.RUN_CANCEL_BUTTON, "disabled"),
            "interval_disabled": Output(ids.RUN_INTERVAL, "disabled"),
            "alert": Output(ids.RUN_ALERT, "children"),
            "dnet_health": Output(ids.RUN_DNET_HEALTH, "children"),
            "class_options": Output(ids.RUN_CLASS_SEARCH, "options"),
            "class_names": Output(ids.RUN_CLASS_NAMES, "data"),
        },
        inputs={
            "_tick": Input(ids.RUN_INTERVAL, "n_intervals"),
            "metric": Input(ids.RUN_METRIC, "value"),
            "picks": Input(ids.RUN_CLASS_PICKER, "value"),
        },
        state={
            "run_id": State(ids.RUN_ID_STORE, "data"),
            "view_state": State(ids.RUN_VIEW_STATE, "data"),
            "slider_value": State(ids.RUN_EPOCH_SLIDER, "value"),
        },
    )
    def on_tick(
        _tick: int,
        metric: Metric,
        picks: list[int] | None,
        run_id: str,
        view_state: dict[str, Any] | None,
        slider_value: int | None,
    ) -> dict[str, Any]:
        metric = metric if metric in METRICS else "difficulty"
        return poll(api, run_id, RunViewState.load(view_state), metric, picks, slider_value).as_outputs()

    # One tick at a time: the timer pauses when it fires and the tick's answer restarts it (or stops it for
    # good). Dash drops a pending answer when the same callback fires again, so a tick slower than the
    # interval (a first load at 1000 classes) would otherwise never land.
    app.clientside_callback(
        "function (_n) { return true; }",
        Output(ids.RUN_INTERVAL, "disabled", allow_duplicate=True),
        Input(ids.RUN_INTERVAL, "n_intervals"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output(ids.RUN_SCATTER, "figure"),
        Output(ids.RUN_SCATTER_STATE, "data"),
        Output(ids.RUN_CONFUSIONS, "figure"),
        Output(ids.RUN_CONFUSION_PAIRS, "children"),
        Output(ids.RUN_DIFFICULTY_CHECK, "figure"),
        Output(ids.RUN_DIFFICULTY_COUNT, "figure"),
        Output(ids.RUN_DIFFICULTY_CHECK_NOTE, "children"),
        Input(ids.RUN_EPOCH_SLIDER, "value"),
        Input(ids.RUN_TREND, "value"),
        State(ids.RUN_ID_STORE, "data"),
        State(ids.RUN_SCATTER_STATE, "data"),
        prevent_initial_call=True,
    )
    def on_epoch(
        epoch: int | None, trend: list[str] | None, run_id: str, drawn_for: str | None
    ) -> tuple[Any, ...]:
        return epoch_views_update(api, run_id, epoch, "trend" in (trend or []), drawn_for).as_outputs()

    clickable = [*CLASS_INDEX_AT, *CLASS_NAME_AT]

    @app.callback(
        Output(ids.RUN_CLASS_SELECTED, "data"),
        Output(ids.RUN_CLASS_SEARCH, "value"),
        Input(ids.RUN_CLASS_SEARCH, "value"),
        Input({"type": ids.RUN_CLASS_LINK, "index": ALL, "slot": ALL}, "n_clicks"),
        *(Input(graph_id, "clickData") for graph_id in clickable),
        State(ids.RUN_CLASS_NAMES, "data"),
        prevent_initial_call=True,
    )
    def on_class_chosen(
        searched: int | None, _links: list[int | None], *clicks_and_names: Any
    ) -> tuple[Any, Any]:
        names = clicks_and_names[-1] or []
        source = ctx.triggered_id
        if source == ids.RUN_CLASS_SEARCH:
            return searched, no_update
        if isinstance(source, dict):  # a class link: only a real click (new links start at 0 clicks)
            if not ctx.triggered[0].get("value"):
                return no_update, no_update
            chosen = source.get("index")
        else:
            chosen = class_from_click(str(source), clicks_and_names[clickable.index(source)], names)
        if not isinstance(chosen, int):
            return no_update, no_update
        return chosen, chosen

    @app.callback(
        Output(ids.RUN_CLASS_PANEL, "children"),
        Input(ids.RUN_CLASS_SELECTED, "data"),
        Input(ids.RUN_EPOCH_SLIDER, "value"),
        Input(ids.RUN_BASELINE, "value"),
        State(ids.RUN_ID_STORE, "data"),
        prevent_initial_call=True,
    )
    def on_class_panel(
        class_index: int | None, epoch: int | None, baseline_id: str | None, run_id: str
    ) -> Any:
        if class_index is None and ctx.triggered_id != ids.RUN_CLASS_SELECTED:
            return no_update  # nothing chosen: the slider moving changes nothing here
        return class_panel(api, run_id, class_index, epoch, baseline_id)

    app.clientside_callback(
        """function (chosen) {
            if (chosen !== null && chosen !== undefined) {
                const panel = document.getElementById("run-class-section");
                if (panel) { panel.scrollIntoView({behavior: "smooth", block: "start"}); }
            }
            return window.dash_clientside.no_update;
        }""",
        Output(ids.RUN_CLASS_SCROLL, "data"),
        Input(ids.RUN_CLASS_SELECTED, "data"),
        prevent_initial_call=True,
    )

    def thumbnail(run_id: str, row: int) -> Response:
        """The API's thumbnail of one example, relayed with the server-side token and its cache headers."""
        if not is_run_id(run_id):
            abort(404)
        try:
            content, content_type, cache_control = api.example_image(run_id, row)
        except ApiError as exc:
            return Response(
                exc.message,
                status=exc.status_code if exc.status_code in (404, 422) else 502,
                mimetype="text/plain",
            )
        headers = {"Cache-Control": cache_control or "private, max-age=3600"}
        return Response(content, mimetype=content_type, headers=headers)

    app.server.add_url_rule(
        f"{THUMBNAIL_PREFIX}/<run_id>/<int:row>", "run_thumbnail", thumbnail, methods=["GET"]
    )

    @app.callback(
        Output(ids.RUN_EPOCH_SLIDER, "value", allow_duplicate=True),
        Output(ids.RUN_EPOCH_INPUT, "value"),
        Input(ids.RUN_EPOCH_INPUT, "value"),
        Input(ids.RUN_EPOCH_SLIDER, "value"),
        State(ids.RUN_EPOCH_SLIDER, "max"),
        prevent_initial_call=True,
    )
    def on_epoch_box(typed: Any, slider_value: int | None, latest: int | None) -> tuple[Any, Any]:
        return epoch_box_sync(ctx.triggered_id == ids.RUN_EPOCH_INPUT, typed, slider_value, latest)

    @app.callback(
        Output(ids.RUN_BASELINE, "options"),
        Output(ids.RUN_BASELINE, "value"),
        Input(ids.RUN_ID_STORE, "data"),
    )
    def on_run(run_id: str) -> tuple[Any, Any]:
        try:
            return baseline_choices(api, run_id)
        except ApiError as exc:
            logger.info("no baseline choices: %s", exc.message)
            return [], None

    @app.callback(
        Output(ids.RUN_GAINS, "figure"),
        Output(ids.RUN_GAINS_NOTE, "children"),
        Output(ids.RUN_HEADLINES, "children"),
        Output(ids.RUN_GAINS_STATE, "data"),
        Input(ids.RUN_VIEW_STATE, "data"),
        Input(ids.RUN_BASELINE, "value"),
        State(ids.RUN_ID_STORE, "data"),
        State(ids.RUN_GAINS_STATE, "data"),
        prevent_initial_call=True,
    )
    def on_gains(
        view_state: dict[str, Any] | None, baseline_id: str | None, run_id: str, drawn_for: str | None
    ) -> tuple[Any, Any, Any, Any]:
        latest = RunViewState.load(view_state).latest
        u = gains_update(api, run_id, latest, baseline_id, drawn_for)
        return u.figure, u.note, u.headlines, u.state

    @app.callback(
        Output(ids.RUN_CANCEL_MESSAGE, "children"),
        Input(ids.RUN_CANCEL, "submit_n_clicks"),
        State(ids.RUN_ID_STORE, "data"),
        prevent_initial_call=True,
    )
    def on_cancel(_clicks: int, run_id: str) -> Component:
        try:
            api.cancel_run(run_id)
        except ApiError as exc:
            return alert(exc.message)
        return alert("Cancel requested: the run stops after the current batch.", "info")

    @app.callback(
        Output(ids.RUN_DOWNLOAD, "data"),
        Output(ids.RUN_DOWNLOAD_MESSAGE, "children"),
        Input(ids.RUN_DOWNLOAD_WEIGHTS, "n_clicks"),
        Input(ids.RUN_DOWNLOAD_JSONL, "n_clicks"),
        Input(ids.RUN_DOWNLOAD_CSV, "n_clicks"),
        State(ids.RUN_ID_STORE, "data"),
        prevent_initial_call=True,
    )
    def on_download(_w: int, _j: int, _c: int, run_id: str) -> tuple[Any, Any]:
        return download(api, run_id, str(ctx.triggered_id))
