"""The plan of one live tick: which epochs to fetch, then what each figure and control must do.

A tick reconciles what the page has drawn (:class:`RunViewState`) with what the API has: a dropped or
pruned request never leaves a gap or a duplicate, because the plan always starts from the drawn epoch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from dashboard.analysis.columns import Metric, default_picks, frequency_order, uses_class_lines
from dashboard.run_view.state import MAX_PICKS, RunViewState, slider_marks
from difficultynet.contracts.records import EpochRecord

FigureAction = Literal["keep", "build", "append", "waiting", "ended"]
PickerAction = Literal["keep", "hide", "offer", "trim"]


@dataclass(frozen=True)
class Fetch:
    """What to ask the API for: the epochs after ``after``; ``rebuild`` redraws the curves from epoch 1."""

    after: int
    rebuild: bool
    picks: list[int]


@dataclass(frozen=True)
class SliderChange:
    max: int
    marks: dict[int, str]
    value: int | None  # None: leave the handle where the user put it


@dataclass
class TickPlan:
    next_state: RunViewState
    curves: FigureAction = "keep"
    curve_records: Sequence[EpochRecord] = ()  # every record ("build") or only the new ones ("append")
    heatmap: FigureAction = "keep"
    heatmap_records: Sequence[EpochRecord] = ()
    health_record: EpochRecord | None = None  # the record the health panel should read, if it changed
    picker: PickerAction = "keep"
    picker_options: list[dict[str, Any]] = field(default_factory=list)
    slider: SliderChange | None = None
    # the run's classes, once (first records): the class search's options and the names for clicks
    class_options: list[dict[str, Any]] | None = None
    class_names: list[str] | None = None


def plan_fetch(state: RunViewState, run_id: str, metric: Metric, picks: Sequence[int] | None) -> Fetch:
    """Epochs to fetch: all of them when the figures must be redrawn, else only those not drawn yet."""
    lines = uses_class_lines(state.num_classes) if state.num_classes else True
    wanted = sorted(picks or []) if not lines else []
    rebuild = state.run_id != run_id or state.drawn == 0 or metric != state.metric or wanted != state.picks
    return Fetch(after=0 if rebuild else state.drawn, rebuild=rebuild, picks=wanted)


def picker_options(record: EpochRecord) -> list[dict[str, Any]]:
    """Every class as ``name (train count)``, head → tail."""
    classes = record.classes
    return [
        {"label": f"{classes.name[p]} ({classes.train_count[p]})", "value": classes.index[p]}
        for p in frequency_order(classes)
    ]


def class_names(record: EpochRecord) -> list[str]:
    """Class names in class-index order."""
    return [name for _, name in sorted(zip(record.classes.index, record.classes.name, strict=True))]


def plan_tick(
    state: RunViewState,
    run_id: str,
    metric: Metric,
    fetch: Fetch,
    records: Sequence[EpochRecord],
    *,
    terminal: bool,
    slider_value: int | None,
) -> TickPlan:
    """What to draw after fetching ``records`` as planned by ``fetch`` (the run's status read first)."""
    drawn = 0 if state.run_id != run_id else state.drawn
    new = [r for r in records if r.epoch > drawn]
    latest = records[-1].epoch if records else drawn
    plan = TickPlan(
        next_state=RunViewState(
            run_id=run_id,
            drawn=latest,
            metric=metric,
            picks=state.picks,
            latest=latest,
            num_classes=state.num_classes,
        )
    )
    if not records:
        # ended with nothing drawn (e.g. cancelled while queued): say so instead of waiting forever. A run
        # whose last epoch arrived on an earlier tick than its terminal status keeps what is drawn.
        if terminal and drawn == 0:
            plan.curves = plan.heatmap = "ended"
        elif state.run_id != run_id:
            plan.curves = plan.heatmap = "waiting"
    else:
        if state.run_id != run_id or state.num_classes != records[0].num_classes:
            plan.class_options = picker_options(records[0])
            plan.class_names = class_names(records[0])
        _plan_picker(plan, state, records[0], fetch.picks)
        if fetch.rebuild:
            plan.curves, plan.curve_records = "build", records
            if drawn == 0:
                plan.heatmap, plan.heatmap_records = "build", records
            elif new:
                plan.heatmap, plan.heatmap_records = "append", new
        elif new:
            plan.curves, plan.curve_records = "append", new
            plan.heatmap, plan.heatmap_records = "append", new
        if new or fetch.rebuild:
            plan.health_record = records[-1]
    if latest != state.latest or fetch.rebuild:
        following = slider_value is None or slider_value >= state.latest
        plan.slider = SliderChange(
            max=max(latest, 1), marks=slider_marks(latest), value=latest if latest and following else None
        )
    return plan


def _plan_picker(plan: TickPlan, state: RunViewState, first: EpochRecord, wanted: list[int]) -> None:
    num_classes = first.num_classes
    plan.next_state.num_classes = num_classes
    if uses_class_lines(num_classes):
        plan.next_state.picks = []
        plan.picker = "hide"
    elif state.num_classes != num_classes:  # first records: offer the picker with head/median/tail picked
        plan.next_state.picks = sorted(default_picks(first.classes))
        plan.picker = "offer"
        plan.picker_options = picker_options(first)
    else:
        plan.next_state.picks = wanted[:MAX_PICKS]
        if len(wanted) > MAX_PICKS:
            plan.picker = "trim"
