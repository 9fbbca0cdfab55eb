"""The run page's layout, one function per section (ids in :mod:`dashboard.ids`)."""

from __future__ import annotations

from dash import dcc, html

from dashboard import ids
from dashboard.analysis.columns import METRICS
from dashboard.components.a11y import aria
from dashboard.components.cards import headline_cards
from dashboard.components.dnet_health import dnet_health_panel
from dashboard.components.layout import field as form_field
from dashboard.components.layout import section
from dashboard.figures.style import placeholder_figure
from dashboard.pages.run.class_panel import empty_panel
from dashboard.pages.run.live import status_badge
from dashboard.run_view.state import MAX_PICKS

GRAPH_CONFIG: dcc.Graph.Config = {"displaylogo": False, "responsive": True}
WAITING = "Loading…"


def graph(graph_id: str, title: str, height: int = 440, message: str = WAITING) -> dcc.Graph:
    return dcc.Graph(
        id=graph_id,
        figure=placeholder_figure(message, title),
        config=GRAPH_CONFIG,
        className="graph",
        style={"height": f"{height}px"},
    )


def progress_section() -> html.Section:
    return section(
        "Progress",
        html.Div(
            [
                html.Span(id=ids.RUN_STATUS, children=status_badge("loading")),
                html.Progress(
                    id=ids.RUN_PROGRESS,
                    value="0",
                    max="1",
                    className="progress",
                    **aria(label="Epochs finished"),
                ),
                dcc.ConfirmDialogProvider(
                    html.Button(
                        "Cancel run",
                        id=ids.RUN_CANCEL_BUTTON,
                        className="button button-danger",
                        disabled=True,
                    ),
                    id=ids.RUN_CANCEL,
                    message="Cancel this run? It stops after the current batch; finished epochs are kept.",
                ),
            ],
            className="progress-row",
        ),
        html.P(id=ids.RUN_PROGRESS_TEXT, className="progress-text", role="status", **aria(live="polite")),
        html.Div(id=ids.RUN_CANCEL_MESSAGE),
        section_id="run-progress-section",
    )


def health_section() -> html.Section:
    return section(
        "Is DNet learning?",
        html.Div(id=ids.RUN_DNET_HEALTH, children=dnet_health_panel(None)),
        section_id="run-dnet-health-section",
    )


def curves_section() -> html.Section:
    return section(
        "Difficulty curves",
        html.Div(
            [
                html.Span("Show", id="run-metric-label", className="field-label"),
                dcc.RadioItems(
                    id=ids.RUN_METRIC,
                    options=[{"label": label, "value": value} for value, label in METRICS.items()],
                    value="difficulty",
                    inline=True,
                    className="radio-inline",
                ),
            ],
            className="control-row",
            role="radiogroup",
            **aria(labelledby="run-metric-label"),
        ),
        html.Div(
            form_field(
                "Classes to draw (besides the group means)",
                ids.RUN_CLASS_PICKER,
                dcc.Dropdown(id=ids.RUN_CLASS_PICKER, multi=True, placeholder="Pick classes"),
                hint=f"up to {MAX_PICKS}",
            ),
            id=ids.RUN_CLASS_PICKER_ROW,
            hidden=True,
        ),
        html.P(id=ids.RUN_CURVES_NOTE, className="muted"),
        graph(ids.RUN_CURVES, "Difficulty per class"),
        section_id="run-curves-section",
    )


def scatter_section() -> html.Section:
    return section(
        "Difficulty vs frequency",
        html.Div(
            [
                html.Label("Epoch", htmlFor=ids.RUN_EPOCH_INPUT, className="field-label"),
                # our own box instead of the slider's (Dash 4 applies that one on blur only, unclamped):
                # this one applies on Enter or blur and is clamped to the epochs there are
                dcc.Input(
                    id=ids.RUN_EPOCH_INPUT,
                    type="number",
                    step=1,
                    debounce=True,
                    className="input epoch-input",
                ),
                html.Div(
                    dcc.Slider(
                        id=ids.RUN_EPOCH_SLIDER,
                        min=1,
                        max=1,
                        step=1,
                        value=None,
                        marks={},
                        updatemode="mouseup",
                        allow_direct_input=False,
                    ),
                    className="slider",
                ),
                dcc.Checklist(
                    id=ids.RUN_TREND,
                    options=[{"label": " trend line", "value": "trend"}],
                    value=["trend"],
                    className="checklist-inline",
                ),
            ],
            className="control-row",
        ),
        html.P(
            "The slider follows the latest epoch while the run trains; move it, or type an epoch and press "
            "Enter, to look back.",
            className="muted",
        ),
        graph(ids.RUN_SCATTER, "Difficulty vs train images"),
        section_id="run-scatter-section",
    )


def gains_section() -> html.Section:
    return section(
        "Gains over a baseline",
        form_field(
            "Baseline run",
            ids.RUN_BASELINE,
            dcc.Dropdown(id=ids.RUN_BASELINE, placeholder="Pick a baseline run on the same dataset"),
        ),
        html.Div(id=ids.RUN_HEADLINES, children=headline_cards(None)),
        html.P(id=ids.RUN_GAINS_NOTE, className="muted", role="status", **aria(live="polite")),
        graph(ids.RUN_GAINS, "Per-class test accuracy gain"),
        section_id="run-gains-section",
    )


def heatmap_section() -> html.Section:
    return section(
        "Loss weights",
        graph(ids.RUN_HEATMAP, "Loss weights per class and epoch", height=480),
        section_id="run-heatmap-section",
    )


def export_section() -> html.Section:
    return section(
        "Export",
        html.Div(
            [
                html.Button(
                    "Download weights JSON", id=ids.RUN_DOWNLOAD_WEIGHTS, n_clicks=0, className="button"
                ),
                html.Button(
                    "Download metrics (JSONL)",
                    id=ids.RUN_DOWNLOAD_JSONL,
                    n_clicks=0,
                    className="button button-secondary",
                ),
                html.Button(
                    "Download metrics (CSV)",
                    id=ids.RUN_DOWNLOAD_CSV,
                    n_clicks=0,
                    className="button button-secondary",
                ),
            ],
            className="button-row",
        ),
        html.P(
            [
                "Weights use the ",
                html.Code("difficulty-weights/v1"),
                " schema; they are partial while the run trains.",
            ],
            className="muted",
        ),
        dcc.Download(id=ids.RUN_DOWNLOAD),
        html.Div(id=ids.RUN_DOWNLOAD_MESSAGE),
        section_id="run-export-section",
    )


def difficulty_check_section() -> html.Section:
    return section(
        "Is the difficulty right?",
        html.P(id=ids.RUN_DIFFICULTY_CHECK_NOTE, className="muted"),
        html.Div(
            [
                html.Div(
                    graph(ids.RUN_DIFFICULTY_CHECK, "vs observed error", height=400), className="panel-column"
                ),
                html.Div(
                    graph(ids.RUN_DIFFICULTY_COUNT, "vs train images", height=400), className="panel-column"
                ),
            ],
            className="panel-row",
        ),
        section_id="run-difficulty-check-section",
    )


def class_section() -> html.Section:
    return section(
        "Class drill-down",
        form_field(
            "Find a class",
            ids.RUN_CLASS_SEARCH,
            dcc.Dropdown(
                id=ids.RUN_CLASS_SEARCH,
                options=[],
                searchable=True,
                clearable=True,
                placeholder="Type a class name…",
                optionHeight=32,
                maxHeight=320,
            ),
            hint="or click a class on any chart",
        ),
        html.Div(id=ids.RUN_CLASS_PANEL, children=empty_panel(), **aria(live="polite")),
        section_id="run-class-section",
    )


def confusions_section() -> html.Section:
    return section(
        "Confusions",
        html.P(
            "Which classes the evaluation images are predicted as, at the slider's epoch (each class's "
            "top 5). Click a class name or a cell to open that class.",
            className="muted",
        ),
        graph(ids.RUN_CONFUSIONS, "Confusions", height=560),
        html.Div(id=ids.RUN_CONFUSION_PAIRS),
        section_id="run-confusions-section",
    )
