"""The run page's decisions as plain data: what a tick fetches and draws, the slider, status lines."""

from __future__ import annotations

from dash import html

from dashboard.models import Run
from dashboard.pages.run.live import run_title
from dashboard.run_view import text
from dashboard.run_view.poll import Fetch, plan_fetch, plan_tick
from dashboard.run_view.state import RunViewState, clamp_epoch, is_run_id, slider_marks
from difficultynet.contracts.config import TrainConfig
from difficultynet.memory_estimate import run_memory_estimate
from difficultynet.synthetic import synthetic_records

RUN = "a" * 32


def drawn_state(num_classes: int, drawn: int, **changes: object) -> RunViewState:
    return RunViewState(run_id=RUN, drawn=drawn, latest=drawn, num_classes=num_classes).model_copy(
        update=changes
    )


def test_first_tick_fetches_everything_and_builds_both_figures() -> None:
    records = synthetic_records(5, 3)
    fetch = plan_fetch(RunViewState(), RUN, "difficulty", None)
    assert fetch == Fetch(after=0, rebuild=True, picks=[])
    plan = plan_tick(RunViewState(), RUN, "difficulty", fetch, records, terminal=False, slider_value=None)
    assert (plan.curves, plan.heatmap, plan.picker) == ("build", "build", "hide")
    assert list(plan.curve_records) == records and plan.health_record == records[-1]
    assert plan.slider is not None and (plan.slider.max, plan.slider.value) == (3, 3)
    assert plan.next_state == drawn_state(5, 3)


def test_a_live_tick_appends_only_the_new_epochs_and_an_idle_tick_changes_nothing() -> None:
    records = synthetic_records(5, 4)
    state = drawn_state(5, 2)
    fetch = plan_fetch(state, RUN, "difficulty", None)
    assert fetch == Fetch(after=2, rebuild=False, picks=[])
    plan = plan_tick(state, RUN, "difficulty", fetch, records[2:], terminal=False, slider_value=2)
    assert (plan.curves, plan.heatmap) == ("append", "append")
    assert [r.epoch for r in plan.curve_records] == [3, 4] == [r.epoch for r in plan.heatmap_records]
    assert plan.slider is not None and plan.slider.value == 4  # the handle was on the latest: it follows

    idle = plan_tick(
        drawn_state(5, 4), RUN, "difficulty", Fetch(4, False, []), [], terminal=False, slider_value=4
    )
    assert (idle.curves, idle.heatmap, idle.slider, idle.health_record) == ("keep", "keep", None, None)
    assert idle.next_state == drawn_state(5, 4)


def test_the_slider_stays_where_the_user_put_it() -> None:
    records = synthetic_records(4, 5)
    plan = plan_tick(drawn_state(4, 3), RUN, "difficulty", Fetch(3, False, []), records[3:], terminal=False,
                     slider_value=1)  # fmt: skip
    assert plan.slider is not None and plan.slider.max == 5 and plan.slider.value is None


def test_a_metric_change_redraws_the_curves_but_not_the_heatmap() -> None:
    records = synthetic_records(3, 3)
    state = drawn_state(3, 3)
    fetch = plan_fetch(state, RUN, "test_acc", None)
    assert fetch.rebuild and fetch.after == 0
    plan = plan_tick(state, RUN, "test_acc", fetch, records, terminal=False, slider_value=3)
    assert plan.curves == "build" and plan.heatmap == "keep" and plan.next_state.metric == "test_acc"


def test_many_classes_offer_the_picker_once_then_trim_to_the_limit() -> None:
    records = synthetic_records(120, 2)
    plan = plan_tick(RunViewState(), RUN, "difficulty", plan_fetch(RunViewState(), RUN, "difficulty", None),
                     records, terminal=False, slider_value=None)  # fmt: skip
    assert plan.picker == "offer" and plan.next_state.picks == [0, 60, 119]
    assert len(plan.picker_options) == 120 and plan.picker_options[0]["label"].endswith(")")
    state = plan.next_state
    many = list(range(20))
    fetch = plan_fetch(state, RUN, "difficulty", many)
    assert fetch.rebuild and fetch.picks == many
    trimmed = plan_tick(state, RUN, "difficulty", fetch, records, terminal=False, slider_value=2)
    assert trimmed.picker == "trim" and trimmed.next_state.picks == many[:12]
    # the same picks in another order are no change
    assert not plan_fetch(state, RUN, "difficulty", list(reversed(state.picks))).rebuild


def test_a_run_that_ended_before_its_first_epoch_says_so() -> None:
    plan = plan_tick(
        RunViewState(), RUN, "difficulty", Fetch(0, True, []), [], terminal=True, slider_value=None
    )
    assert plan.curves == plan.heatmap == "ended"
    waiting = plan_tick(RunViewState(), RUN, "difficulty", Fetch(0, True, []), [], terminal=False,
                        slider_value=None)  # fmt: skip
    assert waiting.curves == waiting.heatmap == "waiting"


def test_a_run_that_ends_after_its_last_epoch_was_drawn_keeps_its_figures() -> None:
    # the last epoch came on one tick, the terminal status on the next (no new records): nothing is redrawn
    plan = plan_tick(
        drawn_state(5, 2), RUN, "difficulty", Fetch(2, False, []), [], terminal=True, slider_value=2
    )
    assert (plan.curves, plan.heatmap, plan.health_record) == ("keep", "keep", None)
    assert plan.next_state == drawn_state(5, 2)


def test_another_run_in_the_same_store_starts_from_scratch() -> None:
    state = drawn_state(5, 4)
    fetch = plan_fetch(state, "b" * 32, "difficulty", None)
    assert fetch.after == 0 and fetch.rebuild
    records = synthetic_records(5, 2)
    plan = plan_tick(state, "b" * 32, "difficulty", fetch, records, terminal=False, slider_value=4)
    assert plan.heatmap == "build" and plan.next_state.run_id == "b" * 32 and plan.next_state.drawn == 2


def test_slider_marks_and_run_ids() -> None:
    assert slider_marks(0) == {}
    assert slider_marks(3) == {1: "1", 2: "2", 3: "3"}
    marks = slider_marks(200)
    assert len(marks) <= 11 and marks[200] == "200" and 1 in marks
    assert is_run_id("0" * 32) and not is_run_id("0" * 31) and not is_run_id("G" * 32)


def run(**fields: object) -> Run:
    config = TrainConfig(epochs=6).model_dump(mode="json")
    base = {"id": RUN, "status": "running", "dataset_id": "d" * 16, "epochs_total": 6, "config": config,
            "created_at": "2026-11-23T12:00:00Z", "epoch": 2, "progress": 2 / 6, "elapsed_s": 30.0,
            "eta_s": 60.0}  # fmt: skip
    return Run.model_validate({**base, **fields})


def test_status_lines_in_plain_words() -> None:
    assert text.progress_text(run()) == "Epoch 2 / 6 · elapsed 30 s · ETA 1 min 00 s"
    assert text.run_notice(run()) is None
    assert text.run_notice(run(status="failed", error="boom")) == ("The run failed: boom", "error")
    assert text.run_notice(run(status="cancelled"))[1] == "info"  # type: ignore[index]
    assert "stops after the current batch" in text.run_notice(run(cancel_requested=True))[0]  # type: ignore[index]
    assert "“" + "x" * 40 + "…”" in text.not_a_run_id("x" * 50)


def test_preparation_shows_on_the_progress_bar_and_line() -> None:
    decoding = {"done": 1200, "total": 5000, "rate": 410.0, "eta_s": 9.3, "cache": "miss"}
    preparing = run(epoch=0, phase="preparing", preparing=decoding)
    assert text.progress_text(preparing) == (
        "Preparing data: 1200 / 5000 images (24%) · 410 images/s · ETA 9 s · cache miss"
    )
    assert text.progress_bar(preparing) == (1200, 5000)
    hit = {"done": 5000, "total": 5000, "rate": None, "eta_s": None, "cache": "hit"}
    training = run(phase="training", preparing=hit)
    assert text.progress_bar(training) == (2, 6)
    assert text.progress_text(training).endswith("images from the cache (cache hit)")
    decoded = {"done": 5000, "total": 5000, "rate": 400.0, "eta_s": 0.0, "cache": "miss"}
    assert text.progress_text(run(phase="finished", status="succeeded", preparing=decoded)).endswith(
        "data prepared: 5000 / 5000 images (100%), cache miss"
    )
    assert text.progress_bar(run()) == (2, 6)  # an API without the phase fields


def test_the_header_states_the_memory_a_run_needs() -> None:
    config = TrainConfig(epochs=6)
    estimate = run_memory_estimate(config, 10, 12_000, []).model_dump(mode="json")
    with_estimate = run(memory_estimate=estimate)
    line = text.memory_text(with_estimate)
    assert line is not None and line.startswith("Needs about ") and "of RAM: activations " in line
    spans = [part for part in run_title(with_estimate) if isinstance(part, html.Span)]
    assert [span.children for span in spans] == [line]
    assert text.memory_text(run()) is None and len(run_title(run())) == 2  # an older run: no estimate


def test_a_typed_epoch_is_rounded_and_clamped_to_the_epochs_there_are() -> None:
    assert clamp_epoch(99, 5) == 5
    assert clamp_epoch(0, 5) == 1 and clamp_epoch(-3, 5) == 1
    assert clamp_epoch(2.6, 5) == 3 and clamp_epoch("4", 5) == 4
    for unreadable in (None, "", "four", float("nan"), float("inf"), True):
        assert clamp_epoch(unreadable, 5) is None
    assert clamp_epoch(3, 0) is None  # no epoch yet
