"""The class panel: one class of a run — its counts and group, d/w/accuracies over epochs against the
median class and the baseline run, its top confusions over epochs, and its hardest examples at the
slider's epoch as thumbnails (served through this dashboard's server, see :func:`thumbnail_url`).

Two small reads, whatever the number of classes and epochs: the record of the chosen epoch (names, counts,
the facts) and the class's exploration over every epoch (``GET /api/runs/{id}/classes/{index}/exploration``:
its values and the median class's, its confusions and hardest examples), so opening a panel reads nothing
of the other classes' histories. Runs recorded before the entries carried values fall back to reading
every record."""

from __future__ import annotations

from collections.abc import Sequence

from dash import dcc, html
from dash.development.base_component import Component

from dashboard import ids
from dashboard.analysis.class_history import (
    ClassHistory,
    class_history,
    class_history_by_name,
    class_history_of,
)
from dashboard.analysis.columns import GROUP_LABELS
from dashboard.analysis.confusions import confusion_history
from dashboard.api_client import ApiClient, ApiError
from dashboard.components.alerts import alert
from dashboard.figures.class_panel import class_history_figure, confusion_history_figure
from dashboard.formatting import percent, short_id
from dashboard.models import ClassEpochExploration, DatasetClass, Run
from difficultynet.contracts.records import EpochRecord

THUMBNAIL_PREFIX = "/thumbnails"
NO_EXPLORATION = "This run's records hold no {what} (they were written before {what} were kept)."


def thumbnail_url(run_id: str, row: int) -> str:
    """Where the browser gets an example image: the dashboard's own server relays the API's thumbnail,
    so the API token never reaches the browser."""
    return f"{THUMBNAIL_PREFIX}/{run_id}/{row}"


def class_link(index: int, name: str, slot: str) -> html.Button:
    """A class name that opens its panel (one pattern-matching callback serves every such link).

    ``slot`` tells apart links to the same class on one page (Dash needs every id to be unique).
    """
    link_id = {"type": ids.RUN_CLASS_LINK, "index": index, "slot": slot}
    return html.Button(name, id=link_id, className="class-link", n_clicks=0)


def empty_panel() -> html.P:
    return html.P(
        "Click a class on any chart (a curve, a point, a bar or a heatmap cell), or find it by name above, "
        "to see it here.",
        className="muted",
    )


def _facts(name: str, counts: DatasetClass | None, record: EpochRecord, pos: int) -> html.Dl:
    c = record.classes
    group = counts.group if counts else c.group[pos]
    facts = [
        ("Class", f"{name} (index {c.index[pos]})"),
        ("Group", GROUP_LABELS[group]),
        ("Train images", str(counts.train if counts else c.train_count[pos])),
        ("Val images", str(counts.val) if counts else "–"),
        ("Test images", str(counts.test) if counts else "–"),
        (f"d at epoch {record.epoch}", f"{c.difficulty[pos]:.3f}"),
        ("w", f"{c.weight[pos]:.3f}"),
        ("val acc", percent(c.val_acc[pos])),
        ("test acc", percent(c.test_acc[pos])),
    ]
    return html.Dl(
        [html.Div([html.Dt(k), html.Dd(v)], className="fact") for k, v in facts], className="facts-inline"
    )


def _confusions_at(entry: ClassEpochExploration | None, epoch: int, names: Sequence[str]) -> Component:
    if entry is None:
        return html.P(NO_EXPLORATION.format(what="confusions"), className="muted")
    if not entry.confusions:
        return html.P(
            f"At epoch {epoch}, none of its images was predicted as another class.", className="muted"
        )
    rows = [
        html.Tr(
            [html.Td(class_link(e.predicted, names[e.predicted], f"panel-{i}")), html.Td(percent(e.rate))]
        )
        for i, e in enumerate(entry.confusions)
    ]
    header = html.Thead(
        html.Tr([html.Th("Predicted as", scope="col"), html.Th("Share of its images", scope="col")])
    )
    return html.Table([header, html.Tbody(rows)], className="data-table compact-table")


def _hardest_at(
    run_id: str, entry: ClassEpochExploration | None, class_index: int, names: Sequence[str]
) -> Component:
    if entry is None:
        return html.P(NO_EXPLORATION.format(what="hardest examples"), className="muted")
    if not entry.hardest:
        return html.P("No evaluation image of this class was recorded.", className="muted")
    true_name = names[class_index]
    tiles = []
    for e in entry.hardest:
        correct = e.predicted == class_index
        verdict = "correct" if correct else f"as {names[e.predicted]}"
        tiles.append(
            html.Figure(
                [
                    html.Img(
                        src=thumbnail_url(run_id, e.row),
                        alt=f"{true_name} image (row {e.row}), predicted {names[e.predicted]}",
                        className="thumb",
                    ),
                    html.Figcaption(
                        [
                            html.Strong(verdict, className="thumb-ok" if correct else "thumb-wrong"),
                            html.Span(f" {percent(e.predicted_prob, 0)}"),
                            html.Br(),
                            html.Span(f"p({true_name}) {percent(e.true_prob, 0)}", className="muted"),
                        ]
                    ),
                ],
                className="thumb-tile",
            )
        )
    return html.Div(tiles, className="thumb-grid")


def class_panel(
    api: ApiClient, run_id: str, class_index: int | None, epoch: int | None, baseline_id: str | None
) -> Component:
    """The panel's content for ``class_index`` at ``epoch`` (the slider's), or a hint when none is chosen."""
    if class_index is None:
        return empty_panel()
    try:
        run = api.get_run(run_id)
        shown = epoch if epoch and 1 <= epoch <= run.epoch else run.epoch  # the slider's, else the latest
        at = api.epoch(run_id, shown) if shown else None
        if at is None or class_index not in at.classes.index:
            return alert(f"Class {class_index} is not in this run's records (yet).", "info")
        pos = at.classes.index.index(class_index)
        explored = api.class_exploration(run_id, class_index).epochs
        history = class_history_of(at.classes.name[pos], explored) or class_history(
            api.epochs(run_id), class_index
        )
    except ApiError as exc:
        return alert(exc.message)
    if history is None:
        return alert(f"Class {class_index} is not in this run's records (yet).", "info")
    entry = next((e for e in explored if e.epoch == at.epoch), None)
    names = [name for _, name in sorted(zip(at.classes.index, at.classes.name, strict=True))]
    counts = _dataset_class(api, run.dataset_id, class_index)
    baseline, baseline_label = None, "baseline"
    if baseline_id and baseline_id != run_id:
        try:
            baseline_run = api.get_run(baseline_id)
            baseline = _same_class_in(api, baseline_run, history.name)
            baseline_label = f"{baseline_run.config.method} run {short_id(baseline_id)}"
        except ApiError:
            baseline = None  # the panel still shows this run; the baseline may have been deleted
    return html.Div(
        [
            html.H3(history.name, className="class-panel-title"),
            _facts(history.name, counts, at, pos),
            html.P(
                "Against the run's median class"
                + (
                    f" and the same class in {baseline_label}."
                    if baseline
                    else " (pick a baseline run below to compare the same class in it)."
                ),
                className="muted",
            ),
            dcc.Graph(
                figure=class_history_figure(history, baseline, baseline_label),
                config={"displaylogo": False, "responsive": True},
                className="graph",
                style={"height": "520px"},
            ),
            html.Div(
                [
                    html.Div(
                        [
                            html.H3(f"Top confusions at epoch {at.epoch}"),
                            _confusions_at(entry, at.epoch, names),
                        ],
                        className="panel-column",
                    ),
                    html.Div(
                        dcc.Graph(
                            figure=confusion_history_figure(
                                confusion_history(explored, at.classes), history.name
                            ),
                            config={"displaylogo": False, "responsive": True},
                            className="graph",
                            style={"height": "340px"},
                        ),
                        className="panel-column panel-wide",
                    ),
                ],
                className="panel-row",
            ),
            html.H3(f"Hardest test images at epoch {at.epoch}"),
            html.P(
                f"The images of {history.name} with the lowest probability on their own class, lowest first.",
                className="muted",
            ),
            _hardest_at(run_id, entry, class_index, names),
        ],
        className="class-panel",
    )


def _same_class_in(api: ApiClient, run: Run, name: str) -> ClassHistory | None:
    """The class called ``name`` in another run (a baseline), matched by name as the gains are."""
    latest = api.latest_epoch(run)
    if latest is None or name not in latest.classes.name:
        return None
    index = latest.classes.index[latest.classes.name.index(name)]
    entries = api.class_exploration(run.id, index).epochs
    return class_history_of(name, entries) or class_history_by_name(api.epochs(run.id), name)


def _dataset_class(api: ApiClient, dataset_id: str, class_index: int) -> DatasetClass | None:
    try:
        dataset = api.get_dataset(dataset_id)
    except ApiError:  # counts are a nicety: the panel reads the rest from the records
        return None
    return next((c for c in dataset.classes if c.index == class_index), None)
