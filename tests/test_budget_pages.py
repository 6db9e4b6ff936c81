"""Budgets on the pages (AppTest): a link over budget shows the estimate and starts nothing
until the Start/Measure button is pressed; a link over a hard cap is refused.

The crafted links of issue 9 (a 9 GB at-init profile, a ~48 h lab run) are over the default
hard caps; with the caps raised by a server operator (``BUDGET_HARD_*``) the same links wait
for consent instead.
"""

from __future__ import annotations

import time

import pytest

from engine.budget import Estimate
from engine.jobs import default_manager

REG = "pages/regularization.py"
GRAD = "pages/gradients.py"
REG_LINK = {"n": "5000", "width": "256", "depth": "4", "epochs": "2000", "batch": "1"}
REG_LINK["feat"] = "512"
GRAD_LINK = {"n": "4", "batch": "1024"}
for _i in range(1, 5):
    GRAD_LINK |= {f"depth{_i}": "200", f"width{_i}": "512"}
# over the per-request budget, under the hard caps: about 40 min, ~1 GB at the fixed rates
REG_HEAVY = {"n": "5000", "width": "256", "depth": "4", "epochs": "100", "batch": "64"}
REG_HEAVY["feat"] = "512"


def _forget_session_jobs() -> None:
    from pages.common.jobs import session_jobs

    session_jobs.clear()


@pytest.fixture(autouse=True)
def _fresh(monkeypatch):
    """Reproducible decisions (the documented fixed rates) and no jobs carried over.

    AppTest resets ``PagesManager.uses_pages_directory`` before every run, so the router
    guard (pages.common.ui.ensure_router) reruns every AppTest run once, which swallows a
    button's click (its value is True on the first pass only). AppTest always runs app.py's
    router, so the guard has nothing to do here: switch it off to test the Start buttons.
    """
    from streamlit.testing.v1 import AppTest

    from pages.common import urlstate

    monkeypatch.setattr(urlstate, "ensure_router", lambda: None)

    for knob in ("SOFT_MB", "SOFT_S", "HARD_MB", "HARD_S", "STEP_S", "SESSION_JOBS"):
        monkeypatch.delenv(f"BUDGET_{knob}", raising=False)
    AppTest.from_function(_forget_session_jobs).run()
    yield
    default_manager().stop_all(timeout=5)
    AppTest.from_function(_forget_session_jobs).run()


def _texts(at, kinds=("warning", "error", "info", "caption")) -> str:
    return "\n".join(str(e.value) for kind in kinds for e in getattr(at, kind))


def _start(at, key: str):
    return next(b for b in at.button if b.key == key)


def test_crafted_lab_link_is_refused_and_starts_nothing(open_page):
    at = open_page(REG, **REG_LINK)
    assert not at.exception
    assert not default_manager().jobs()
    errors = " ".join(e.value for e in at.error)
    assert "Refused" in errors and "days" in errors and "epochs=2000" in errors
    assert _start(at, "reglab_start").disabled


def test_crafted_gradients_link_is_refused_before_measuring(open_page):
    at = open_page(GRAD, **GRAD_LINK)
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "Refused" in errors and "GB of memory" in errors and "batch=1024" in errors
    assert not at.get("plotly_chart")  # nothing was measured
    assert not default_manager().jobs()


def test_with_raised_hard_caps_the_crafted_links_wait_for_consent(open_page, monkeypatch):
    monkeypatch.setenv("BUDGET_HARD_MB", "65536")
    monkeypatch.setenv("BUDGET_HARD_S", "9000000")
    at = open_page(REG, **REG_LINK)
    assert not default_manager().jobs()
    assert "days" in _texts(at, ("warning",)) and "Press **Start**" in _texts(at, ("warning",))
    start = _start(at, "reglab_start")
    assert not start.disabled and "days" in start.label
    at = open_page(GRAD, **GRAD_LINK)
    assert "GB" in _texts(at, ("warning",))
    measure = _start(at, "gf_profiles_consent")
    assert measure.label.startswith("Measure (about") and "GB" in measure.label
    assert not at.get("plotly_chart")


def test_over_budget_lab_link_waits_and_start_starts_it(open_page):
    at = open_page(REG, **REG_HEAVY)
    assert not at.exception
    assert not default_manager().jobs(), "an over-budget link started a job by itself"
    warning = _texts(at, ("warning",))
    assert "about" in warning and "waits for you" in warning
    start = _start(at, "reglab_start")
    assert not start.disabled and start.label.startswith("Start (about")
    start.click().run()
    assert not at.exception
    assert len(default_manager().jobs()) == 1


def test_over_budget_profile_measures_after_the_click(open_page, monkeypatch):
    monkeypatch.setenv("BUDGET_SOFT_MB", "16")  # the default profile (~30 MB) is now over
    at = open_page(GRAD)
    assert not at.exception
    assert not at.get("plotly_chart")
    assert "this link has started nothing" in _texts(at, ("caption",))
    _start(at, "gf_profiles_consent").click().run()
    assert not at.exception
    assert at.get("plotly_chart")  # measured and drawn
    # and the question is gone with the click (not left on screen beside its answer)
    assert not [b for b in at.button if b.key == "gf_profiles_consent"]
    assert "this link has started nothing" not in _texts(at, ("caption",))
    at.run()  # the consent holds for the same settings
    assert at.get("plotly_chart")


def test_within_budget_the_default_lab_link_starts_by_itself(open_page):
    at = open_page(REG)
    assert not at.exception
    assert "Estimated cost: about" in _texts(at, ("caption",))
    assert not any(e.value.startswith("Refused") for e in at.error)


def test_session_job_limit_disables_start(open_page, monkeypatch):
    monkeypatch.setenv("BUDGET_SESSION_JOBS", "1")
    at = open_page(REG, **REG_HEAVY)
    _start(at, "reglab_start").click().run()  # a long run: still going below
    assert len(default_manager().jobs()) == 1
    at.switch_page(GRAD)
    at.session_state["tab"] = "Training (live)"  # only the open tab is built (its Start too)
    at.run()
    assert not at.exception
    assert "already runs 1 background job" in _texts(at, ("info",))
    assert _start(at, "gradflow_start").disabled


class _Slow:
    """A job task that never finishes by itself (0.02 s per step)."""

    steps_done, total_steps, epoch = 0, 10**9, 0
    done, divergence = False, None

    def step(self) -> None:
        time.sleep(0.02)
        self.steps_done += 1

    def publish(self):
        return self.steps_done


def test_queue_wait_counts_the_estimates_of_the_jobs_ahead():
    from engine.jobs import JobManager
    from pages.common import budget_gate as gate

    manager = JobManager(max_running=1)
    jobs = [manager.submit(_Slow(), name=f"job {i}") for i in range(3)]
    try:
        for job, seconds in zip(jobs[:2], (100.0, 40.0), strict=True):
            job.estimate = Estimate("work", seconds, 0.0)
        position, wait = gate.queue_wait(jobs[2])
        assert position == 2
        # the running job is not yet 5% done: what is left of its 100 s, then the 40 s
        assert 130.0 <= wait <= 140.0
        assert "position 2" in gate.queue_text(position, wait)
        assert gate.queue_wait(jobs[0]) is None  # running: no wait
    finally:
        manager.stop_all(timeout=5)


class _Paced(_Slow):
    """Finishes after 100 steps of 0.02 s (about 2 s)."""

    total_steps = 100

    @property
    def done(self) -> bool:
        return self.steps_done >= self.total_steps


def test_queue_wait_goes_by_a_running_jobs_own_pace_once_measured():
    from engine.jobs import JobManager
    from pages.common import budget_gate as gate

    manager = JobManager(max_running=1)
    running = manager.submit(_Paced(), name="running", chunk_seconds=0.05)
    queued = manager.submit(_Slow(), name="queued")
    try:
        running.estimate = Estimate("work", 1000.0, 0.0)  # far off: the pace decides
        deadline = time.monotonic() + 30
        while running.peek().progress < 0.2 and time.monotonic() < deadline:
            time.sleep(0.02)
        snap = running.peek()
        assert 0.2 <= snap.progress < 1.0, snap
        position, wait = gate.queue_wait(queued)
        assert position == 1
        assert wait < 30.0  # about the 2 s the job takes, not the 1000 s estimate
        assert "starts in about" in gate.queue_text(position, wait) or wait < 1.0
    finally:
        manager.stop_all(timeout=5)


def test_queue_text_says_under_a_second_without_about():
    from pages.common import budget_gate as gate

    assert "starts in under a second (" in gate.queue_text(1, 0.3)
    assert "starts in about 40 s (" in gate.queue_text(3, 40.0)
