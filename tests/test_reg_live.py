"""How the Regularization lab draws its job (pages.common.reg_live): poll throttling, the
wait for a short run, metric and table texts, the per-publication figure cache."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from engine import reg_lab as rl
from engine.jobs import Snapshot, Status
from pages.common import reg_live as live
from viz import regularization as vr
from viz.common import color


# ------------------------------------------------------------------------------ poll_every
@pytest.mark.parametrize(
    ("draw", "expected"),
    [
        (None, live.POLL_FLOOR),  # not measured yet
        (math.nan, live.POLL_FLOOR),
        (-1.0, live.POLL_FLOOR),
        (0.01, live.POLL_FLOOR),  # a fast draw never polls faster than the floor
        (0.4, 0.4 * live.DRAW_FACTOR),  # a slow one: drawing is at most 1/factor of the time
        (100.0, live.POLL_CAP),  # a class's charts still move
    ],
)
def test_poll_every_is_a_multiple_of_the_draw_time_within_bounds(draw, expected):
    assert live.poll_every(draw) == pytest.approx(expected)


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_live_draws_sum_the_sessions_drawing_now():
    clock = _Clock()
    draws = live.LiveDraws(window=10.0, clock=clock)
    assert draws.load() is None
    draws.record("a", 0.06)
    draws.record("b", 0.04)
    draws.record("a", 0.05)  # a session counts once: its latest draw
    assert draws.load() == pytest.approx(0.09)
    clock.now = 8.0
    draws.record("b", 0.04)
    clock.now = 12.0  # "a" last drew 12 s ago: it left (its job ended, its tab closed)
    assert draws.load() == pytest.approx(0.04)


def test_a_class_shares_one_redraw_budget(monkeypatch):
    """One visitor redraws at the floor; twenty whose draws take 60 ms each wait
    20 * 0.06 * DRAW_FACTOR s, so together they draw at most 1/DRAW_FACTOR of the time."""
    draws = live.LiveDraws()
    monkeypatch.setattr(live, "LIVE_DRAWS", draws)
    draws.record("alone", 0.06)
    assert live.redraw_gap() == live.POLL_FLOOR
    for i in range(19):
        draws.record(f"student {i}", 0.06)
    gap = live.redraw_gap()
    assert gap == pytest.approx(20 * 0.06 * live.DRAW_FACTOR)
    assert 20 * 0.06 / gap == pytest.approx(1 / live.DRAW_FACTOR)


def test_throttled_draws_the_held_snapshot_until_the_gap_has_passed(monkeypatch):
    store = {}
    monkeypatch.setattr(live, "drawn_store", lambda: store)
    first = replace(BASE, version=1)
    assert live.throttled(first, gap=lambda: 60.0) == (first, True)
    newer = replace(BASE, version=2)
    assert live.throttled(newer, gap=lambda: 60.0) == (first, False)  # too soon: the same charts
    assert live.throttled(newer, gap=lambda: 0.0) == (newer, True)  # the gap has passed
    done = replace(BASE, version=3, status=Status.DONE)
    assert live.throttled(done, gap=lambda: 60.0) == (done, True)  # the end is drawn at once
    other = replace(BASE, job_id="k", version=1)
    assert live.throttled(other, gap=lambda: 60.0) == (other, True)  # a new run: no holding


# ------------------------------------------------------------------------------ await_job
BASE = Snapshot(
    job_id="j",
    name="",
    status=Status.RUNNING,
    progress=0.0,
    epoch=0,
    steps_done=0,
    total_steps=100,
    elapsed=0.0,
    eta_seconds=None,
    history=None,
    message="running",
    error=None,
    queue_position=None,
    version=0,
)


class ScriptedJob:
    """A job whose snapshots follow a script (the last one repeats)."""

    def __init__(self, *snaps: Snapshot):
        self.snaps = list(snaps)
        self.polls = 0

    def snapshot(self) -> Snapshot:
        self.polls += 1
        return self.snaps.pop(0) if len(self.snaps) > 1 else self.snaps[0]


def _no_sleep(_: float) -> None:
    pass


def test_await_job_waits_for_a_short_run_to_finish():
    job = ScriptedJob(
        BASE,  # nothing published yet: keep waiting
        replace(BASE, history=(), eta_seconds=0.3, progress=0.5),
        replace(BASE, history=(), eta_seconds=0.1, progress=0.8),
        replace(BASE, history=(), status=Status.DONE, progress=1.0),
    )
    assert live.await_job(job, budget=60.0, sleep=_no_sleep).status is Status.DONE


def test_await_job_returns_at_once_for_a_long_run():
    long = replace(BASE, history=(), eta_seconds=30.0, progress=0.01)
    job = ScriptedJob(long, replace(long, status=Status.DONE))
    snap = live.await_job(job, budget=5.0, sleep=_no_sleep)
    assert snap.status is Status.RUNNING and job.polls == 1  # drawn live, not waited for


@pytest.mark.parametrize("status", [Status.QUEUED, Status.PAUSED, Status.STOPPED])
def test_await_job_does_not_wait_for_a_job_that_is_not_running(status):
    job = ScriptedJob(replace(BASE, status=status), replace(BASE, status=Status.DONE))
    assert live.await_job(job, budget=60.0, sleep=_no_sleep).status is status
    assert live.await_job(None) is None


def test_await_job_gives_up_after_its_budget():
    job = ScriptedJob(BASE)  # never publishes
    assert live.await_job(job, budget=0.05).status is Status.RUNNING


# ------------------------------------------------------------------------------ texts
def test_sparsity_texts_read_as_share_exactly_zero_and_near_zero():
    assert live.sparsity_texts(0.912, 0.934, 1e-3) == (
        "91% :small[exactly zero]",
        "|w| < 0.001: 93%",
    )
    assert live.sparsity_texts(0.0, 0.0, 1e-5)[1] == "|w| < 1e-05: 0%"


def test_coloured_uses_the_variant_colour_and_keeps_brackets_out():
    text = live.coloured("L1 [odd] name", 1)
    assert color(1) in text and text.startswith(":color[**L1 (odd) name**]")


@pytest.fixture(scope="module")
def runs():
    lab = rl.LabConfig(
        rl.DEFAULT_BASE.replace(epochs=5), (rl.Variant("none"), rl.Variant("l1", l1=0.05))
    )
    return rl.TwinRuns(lab).run()


def test_summary_markdown_has_a_row_per_variant_with_its_colour(runs):
    hs, labels = [r.history for r in runs], [r.label for r in runs]
    table = vr.summary_table(hs, labels)
    text = live.summary_markdown(table, labels)
    head, rule, *rows = text.splitlines()
    assert head.startswith("| variant | epoch shown | best val loss |") and rule.startswith("|---|")
    assert len(rows) == len(labels)
    for i, (row, label) in enumerate(zip(rows, labels, strict=True)):
        assert row.startswith(f"| {live.coloured(label, i)} |")
        assert f"{table['val accuracy'][i]:.0%}" in row
    assert live.summary_markdown(table.iloc[0:0], labels) == ""


# ------------------------------------------------------------------------------ figure cache
def test_cached_figure_builds_once_per_publication_and_view(monkeypatch):
    store = {}
    monkeypatch.setattr(live, "drawn_store", lambda: store)
    built = []

    def build(name):
        built.append(name)
        return object()

    a = live.cached_figure(("job", 1), "hist", lambda: build("a"))
    assert live.cached_figure(("job", 1), "hist", lambda: build("b")) is a  # reused
    live.cached_figure(("job", 1), ("hist", 2), lambda: build("c"))  # another view
    b = live.cached_figure(("job", 2), "hist", lambda: build("d"))  # a new publication
    assert b is not a and built == ["a", "c", "d"]
    assert list(store[live._FIGS]["figs"]) == ["hist"]  # old ones dropped
