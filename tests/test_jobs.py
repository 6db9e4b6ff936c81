"""engine.jobs: background jobs finish, match sync runs, pause, stop, fail, pause on idle, queue.

These run on the thread backend (in-process chunks honour pause/stop within one step);
tests/test_jobs_shared.py covers sharing, the cache and the process backend, and
tests/test_dask.py a real Dask cluster.
"""

import threading
import time

import numpy as np
import pytest

from engine.executor import Backend, ThreadBackend
from engine.jobs import JobGroup, JobManager, Status, StepTask
from engine.trainer import Config, Trainer, train

WAIT = 10.0  # generous upper bound for joins; tests normally finish far sooner
THREADS = ThreadBackend(4)


class Counter:
    """A tiny StepTask: ``n`` steps; optional hook(task) run inside each step."""

    def __init__(self, n=10, hook=None, fail_at=None, diverge_at=None, delay=0.0):
        self.steps_done, self.total_steps, self.epoch = 0, n, 0
        self.hook, self.fail_at, self.diverge_at, self.delay = hook, fail_at, diverge_at, delay
        self.values = []

    @property
    def done(self):
        return self.steps_done >= self.total_steps

    @property
    def divergence(self):
        if self.diverge_at is not None and self.steps_done >= self.diverge_at:
            return f"diverged at step {self.diverge_at}"
        return None

    def step(self):
        if self.fail_at == self.steps_done + 1:
            raise RuntimeError("boom in step")
        if self.delay:
            time.sleep(self.delay)
        self.steps_done += 1
        self.epoch = self.steps_done // 5
        self.values.append(self.steps_done)
        if self.hook:
            self.hook(self)

    def publish(self):
        return tuple(self.values)


def start(manager, task, box, **kw):
    """Submit ``task`` so that it runs only once ``box["job"]`` is set (hooks may use it)."""
    ready = threading.Event()

    def factory():
        assert ready.wait(WAIT)
        return task

    box["job"] = job = manager.submit(factory, **kw)
    ready.set()
    return job


@pytest.fixture(autouse=True)
def no_job_threads_left():
    yield
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        alive = [t for t in threading.enumerate() if t.name.startswith("job-")]
        if not alive:
            return
        time.sleep(0.01)
    pytest.fail(f"job threads still running after the test: {alive}")


@pytest.fixture
def manager():
    m = JobManager(max_running=2, backend=THREADS)
    yield m
    assert m.stop_all(timeout=WAIT)


def test_a_backend_must_implement_capacity_and_submit():
    class NoSubmit(Backend):
        capacity = 1

    with pytest.raises(TypeError, match="submit"):
        NoSubmit()
    with pytest.raises(TypeError):
        Backend()
    backend = ThreadBackend(1)
    try:
        assert backend.call(pow, 2, 10) == 1024
    finally:
        backend.shutdown()


def test_counter_is_a_step_task():
    assert isinstance(Counter(), StepTask) and isinstance(Trainer(Config(epochs=1)), StepTask)


def test_training_job_matches_the_synchronous_run_bit_for_bit(manager):
    cfg = Config(epochs=5, keep_prob=0.9, record_grad_norms=True, snapshot_every=5)
    job = manager.submit(lambda: Trainer(cfg), name="moons", publish_interval=0.0)
    assert job.join(WAIT)
    snap = job.snapshot()
    ref = train(cfg)
    assert snap.status is Status.DONE and snap.progress == 1.0 and snap.eta_seconds is None
    assert snap.steps_done == snap.total_steps and snap.epoch == 5
    h = snap.history
    for key in ("val_loss", "train_loss", "step_loss", "grad_norms", "val_acc"):
        np.testing.assert_array_equal(getattr(h, key), getattr(ref, key), err_msg=key)
    np.testing.assert_array_equal(h.snapshots[5], ref.snapshots[5])
    np.testing.assert_array_equal(job.task.net.params, h.snapshots[5])
    assert not job.thread.is_alive()


def test_snapshot_is_an_immutable_copy_that_later_progress_does_not_change(manager):
    seen = threading.Event()
    release = threading.Event()

    def hook(task):
        if task.steps_done == 3:
            seen.set()
            release.wait(WAIT)

    job = manager.submit(Counter(6, hook=hook), publish_interval=0.0)
    assert seen.wait(WAIT)
    time.sleep(0.02)
    early = job.snapshot()
    release.set()
    assert job.join(WAIT)
    late = job.snapshot()
    assert early.history in ((1, 2), (1, 2, 3)) and late.history == (1, 2, 3, 4, 5, 6)
    assert early.status is Status.RUNNING and 0 < early.progress < 1
    with pytest.raises(AttributeError):
        early.status = Status.DONE
    assert late.version > early.version


def test_pause_and_resume(manager):
    paused_at, box = {}, {}

    def hook(task):
        if task.steps_done == 3:
            box["job"].pause()
            paused_at["n"] = task.steps_done

    job = start(manager, Counter(8, hook=hook), box, publish_interval=0.0)
    deadline = time.monotonic() + WAIT
    while job.status is not Status.PAUSED and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.05)  # give a (buggy) worker the chance to keep going
    snap = job.snapshot()
    assert snap.status is Status.PAUSED and job.task.steps_done == 3 == paused_at["n"]
    assert snap.eta_seconds is None or snap.eta_seconds >= 0
    job.resume()
    assert job.join(WAIT) and job.snapshot().status is Status.DONE
    assert job.task.steps_done == 8


def test_stop_takes_effect_within_one_step(manager):
    box = {}

    def hook(task):
        if task.steps_done == 4:
            box["job"].stop()

    job = start(manager, Counter(1000, hook=hook), box)
    assert job.join(WAIT)
    snap = job.snapshot()
    assert snap.status is Status.STOPPED and job.task.steps_done == 4
    assert snap.message == "stopped at step 4" and snap.history == (1, 2, 3, 4)


def test_stop_a_paused_job(manager):
    box = {}
    job = start(
        manager, Counter(1000, hook=lambda t: t.steps_done == 2 and box["job"].pause()), box
    )
    deadline = time.monotonic() + WAIT
    while job.status is not Status.PAUSED and time.monotonic() < deadline:
        time.sleep(0.005)
    job.stop()
    assert job.join(WAIT) and job.status is Status.STOPPED and job.task.steps_done == 2


def test_worker_exception_surfaces_with_its_traceback(manager):
    job = manager.submit(Counter(10, fail_at=3))
    assert job.join(WAIT)
    snap = job.snapshot()
    assert snap.status is Status.FAILED and snap.history == (1, 2)
    assert "RuntimeError: boom in step" in snap.error and "Traceback" in snap.error


def test_factory_exception_surfaces_too(manager):
    job = manager.submit(lambda: Trainer(Config(optimizer="nope")))
    assert job.join(WAIT)
    snap = job.snapshot()
    assert snap.status is Status.FAILED and "Unknown optimizer 'nope'" in snap.error
    assert snap.history is None


def test_divergence_is_its_own_status(manager):
    job = manager.submit(Counter(10, diverge_at=4))
    assert job.join(WAIT)
    snap = job.snapshot()
    assert snap.status is Status.DIVERGED and snap.message == "diverged at step 4"


def _wait_for(predicate, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.005)
    return predicate()


def test_an_unpolled_job_pauses_and_resumes_when_polled_again(manager):
    view = JobGroup(manager).start(
        "t", Counter(400, delay=0.001), idle_pause=0.1, chunk_seconds=0.01
    )
    job = view.job
    assert _wait_for(lambda: job.status is Status.PAUSED)
    snap = job._snapshot()  # a look that is not a poll
    assert "no one is watching" in snap.message and manager.n_running == 0  # slot given back
    steps = job.task.steps_done
    time.sleep(0.2)
    assert job.task.steps_done == steps and job.status is Status.PAUSED  # no next chunk
    assert view.snapshot().status in (Status.QUEUED, Status.RUNNING)  # a poll resumes it
    while not view.join(0.03):
        view.snapshot()
    assert view.snapshot().status is Status.DONE and job.task.steps_done == 400


def test_a_polled_job_keeps_running(manager):
    view = JobGroup(manager).start(
        "t", Counter(150, delay=0.002), idle_pause=0.1, chunk_seconds=0.01
    )
    while not view.join(0.03):
        assert view.snapshot().status is not Status.PAUSED
    assert view.snapshot().status is Status.DONE


def test_a_job_used_directly_runs_to_the_end_unpolled(manager):
    job = manager.submit(Counter(100, delay=0.002), idle_pause=0.05, chunk_seconds=0.01)
    assert job.join(WAIT) and job.status is Status.DONE


def test_a_paused_unpolled_job_stays_paused_and_is_never_stopped_by_a_timer(manager):
    box = {}
    task = Counter(100, hook=lambda t: t.steps_done == 1 and box["job"].pause())
    job = start(manager, task, box, idle_pause=0.05)
    assert _wait_for(lambda: job.status is Status.PAUSED)
    assert not job.join(0.3) and job.status is Status.PAUSED and task.steps_done == 1
    job.resume()
    assert job.join(WAIT) and job.status is Status.DONE


def test_a_paused_job_gives_its_slot_to_a_queued_one():
    m = JobManager(max_running=1, backend=THREADS)
    box = {}
    first = start(m, Counter(50, hook=lambda t: t.steps_done == 2 and box["job"].pause()), box)
    second = m.submit(Counter(5))
    assert second.join(WAIT) and second.status is Status.DONE  # ran while first was paused
    first.resume()
    assert first.join(WAIT) and first.status is Status.DONE and first.task.steps_done == 50


def test_the_cap_queues_extra_jobs_and_starts_them_in_order():
    m = JobManager(max_running=1, backend=THREADS)
    gate = threading.Event()
    first = m.submit(Counter(3, hook=lambda t: gate.wait(WAIT)))
    second = m.submit(Counter(3))
    third = m.submit(Counter(3))
    s2, s3 = second.snapshot(), third.snapshot()
    assert first.status in (Status.RUNNING, Status.PAUSED) and m.n_running == 1
    assert s2.status is Status.QUEUED and s2.queue_position == 1
    assert s3.queue_position == 2 and "waiting for a free worker (position 2" in s3.message
    assert second.thread is None
    third.stop()  # a queued job stops at once, without ever getting a thread
    assert third.join(0) and third.status is Status.STOPPED and third.thread is None
    assert second.snapshot().queue_position == 1 and m.n_queued == 1
    gate.set()
    assert first.join(WAIT) and second.join(WAIT)
    assert second.status is Status.DONE and m.n_running == m.n_queued == 0


def test_default_cap_is_the_cpu_count():
    import os

    assert JobManager(backend=None).max_running == (os.cpu_count() or 1)
    with pytest.raises(ValueError, match="Invalid max_running"):
        JobManager(max_running=0)


def test_raising_the_cap_starts_queued_jobs():
    m = JobManager(max_running=1, backend=THREADS)
    gate = threading.Event()
    a = m.submit(Counter(2, hook=lambda t: gate.wait(WAIT)))
    b = m.submit(Counter(2, hook=lambda t: gate.wait(WAIT)))
    assert b.status is Status.QUEUED
    m.set_max_running(2)
    assert b.status is not Status.QUEUED
    gate.set()
    assert a.join(WAIT) and b.join(WAIT)


def test_group_restarting_a_slot_stops_the_old_job_and_close_stops_all(manager):
    group = JobGroup(manager)
    old = group.start("train", Counter(10**9, delay=0.001))
    new = group.start("train", Counter(10**9, delay=0.001))
    assert old.join(WAIT) and old.status is Status.STOPPED and group.get("train") is new
    other = group.start("other", Counter(10**9, delay=0.001))
    assert group.close(timeout=WAIT)
    assert new.status is Status.STOPPED and other.status is Status.STOPPED
    assert group.get("train") is None


def test_bad_job_arguments(manager):
    with pytest.raises(ValueError, match="idle_pause"):
        manager.submit(Counter(), idle_pause=0)
    with pytest.raises(ValueError, match="chunk_seconds"):
        manager.submit(Counter(), chunk_seconds=-1)


# ---------------------------------------------------------------- pages/common/jobs.py helpers


def _snap(status, **kw):
    from engine.jobs import Snapshot

    base = dict(
        job_id="1",
        name="",
        status=status,
        progress=0.25,
        epoch=3,
        steps_done=25,
        total_steps=100,
        elapsed=2.0,
        eta_seconds=6.0,
        history=None,
        message=status.value,
        error=None,
        queue_position=None,
        version=1,
    )
    return Snapshot(**(base | kw))


def test_polling_runs_only_while_a_job_is_active():
    from pages.common.jobs import QUEUED_EVERY, poll_interval

    assert poll_interval(Status.RUNNING, every=0.5) == 0.5
    assert poll_interval(Status.QUEUED) == QUEUED_EVERY > 0.5  # only its place changes
    assert poll_interval(Status.QUEUED, queued_every=None) is None
    assert poll_interval(Status.PAUSED, paused_every=5.0) == 5.0
    for status in (Status.DONE, Status.STOPPED, Status.FAILED, Status.DIVERGED, None):
        assert poll_interval(status) is None


def test_progress_and_status_texts():
    from pages.common.jobs import fmt_seconds, progress_text, status_box

    assert fmt_seconds(4.25) == "4.2 s" and fmt_seconds(125) == "2 min 05 s"
    assert fmt_seconds(None) == "—" and fmt_seconds(3725) == "1 h 02 min"
    text = progress_text(_snap(Status.RUNNING), epochs=12)
    assert text == "epoch 3/12 · 25% · elapsed 2.0 s · ETA 6.0 s"
    assert "ETA" not in progress_text(_snap(Status.DONE, eta_seconds=None))
    queued = _snap(Status.QUEUED, message="waiting for a free worker (position 2 in the queue)")
    assert status_box(queued) == (
        "info",
        "Queued: waiting for a free worker (position 2 in the queue)",
    )
    failed = _snap(Status.FAILED, message="the job raised an error", error="Traceback ...")
    assert status_box(failed) == ("error", "Failed: the job raised an error")
    assert status_box(_snap(Status.DIVERGED, message="diverged at step 7: x"))[1].startswith(
        "Diverged at step 7"
    )


def _job_page():
    import streamlit as st

    from engine.trainer import Config, Trainer
    from pages.common import jobs as pj

    cfg = Config(epochs=3, hidden=(4,))
    pj.job_controls("t", lambda: Trainer(cfg), signature=st.session_state.get("sig", 1))
    pj.live_job("t", lambda snap: st.markdown(f"epochs recorded: {len(snap.history.epochs)}"))


def test_controls_and_live_area_in_apptest():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_job_page, default_timeout=30).run()
    assert not at.exception
    assert "Press **Start**" in at.info[0].value
    assert at.button(key="t_pause").disabled and at.button(key="t_reset").disabled
    at.button(key="t_start").click().run()
    assert not at.exception
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        at.run()
        if any("epochs recorded: 4" in m.value for m in at.markdown):
            break
        time.sleep(0.05)
    assert any("epochs recorded: 4" in m.value for m in at.markdown)
    assert at.button(key="t_start").label == "Restart" and not at.button(key="t_reset").disabled
    assert at.button(key="t_stop").disabled  # finished: nothing to stop
    at.session_state["sig"] = 2  # settings changed after the run started
    at.run()
    assert any("settings changed" in i.value for i in at.info)
    at.button(key="t_reset").click().run()
    assert "Press **Start**" in at.info[0].value


class _FixedJob:
    """A job view whose status the test sets (live_job reads ``status`` and ``snapshot()``)."""

    def __init__(self, status: Status):
        self.status = status

    def snapshot(self):
        return _snap(self.status)


@pytest.fixture
def live_status(monkeypatch):
    """``live_job`` with a settable job: returns ``(job, full_run, fragment_run, reruns)``:
    ``full_run()`` runs the page's part, ``fragment_run(which=0, new_runner=True)`` re-runs
    the status (0) or charts (1) fragment the way a browser's timer does (after the full
    run, on a new script runner) and ``reruns`` counts the full reruns it asked for."""
    import pages.common.jobs as pj

    job = _FixedJob(Status.RUNNING)
    declared: list = []
    intervals: list = []  # run_every of the status and the charts fragment, last full run
    reruns: list[int] = []

    def fragment(**options):
        def decorate(func):
            declared.append(func)
            intervals.append(options.get("run_every"))
            return func

        return decorate

    group = type("Group", (), {"get": lambda self, key: job})()
    monkeypatch.setattr(pj, "session_jobs", lambda: group)
    monkeypatch.setattr(pj.fragments, "fragment", fragment)
    monkeypatch.setattr(pj.st, "rerun", lambda: reruns.append(1))
    monkeypatch.setattr(pj.st, "session_state", {})

    def full_run():
        declared.clear()
        intervals.clear()
        pj.live_job("t", draw=None)
        return tuple(intervals)

    def fragment_run(which: int = 0, new_runner: bool = True) -> None:
        """Streamlit runs a fragment request that arrives after a run has ended on a new
        script runner (a new thread); one that arrives during the run, on the same one."""
        if not new_runner:
            declared[which]()
            return
        worker = threading.Thread(target=declared[which])
        worker.start()
        worker.join()

    return job, full_run, fragment_run, reruns


def test_finished_job_asks_once_for_the_full_run_that_stops_polling(live_status):
    job, full_run, status_fragment_run, reruns = live_status
    full_run()  # running: the fragment polls, nothing to rerun
    status_fragment_run()
    assert reruns == []
    job.status = Status.DONE
    status_fragment_run()  # a poll finds it finished: one full run to catch the page up
    assert len(reruns) == 1
    full_run()  # that full run sees it finished and declares no timer
    assert len(reruns) == 1


def test_every_stale_status_poll_after_the_finished_full_run_asks_for_it_again(live_status):
    """The browser may have missed the full run that saw the job finished: a timer request
    that reached the server after that run ended but before its messages were sent made
    Streamlit drop them. Any run of the status fragment, declared without a timer, comes from
    such a stale timer, however soon after the run, and asks again (the re-asked run may be
    lost too)."""
    job, full_run, fragment_run, reruns = live_status
    job.status = Status.DONE
    full_run()
    assert reruns == []
    fragment_run()
    fragment_run()
    assert len(reruns) == 2


def test_a_poll_queued_during_the_finished_full_run_does_not_ask(live_status):
    """A timer request that reached the server while the full run was still going runs
    after it on the same script runner, which drops nothing: no extra full run."""
    job, full_run, fragment_run, reruns = live_status
    job.status = Status.DONE
    full_run()
    fragment_run(0, new_runner=False)
    fragment_run(1, new_runner=False)
    assert reruns == []


def test_a_stale_chart_poll_asks_again_but_a_view_control_does_not(live_status):
    """The charts fragment's timer can drop the finished full run just the same; a run of it
    that a view control inside the drawing triggered (a widget value changed) only redraws."""
    import pages.common.jobs as pj

    job, full_run, fragment_run, reruns = live_status
    job.status = Status.DONE
    pj.st.session_state["layer"] = 0
    full_run()
    fragment_run(1)  # the charts fragment, from a stale timer: every widget as it was
    assert len(reruns) == 1
    pj.st.session_state["layer"] = 1  # the visitor picked another layer in the drawing
    fragment_run(1)
    assert len(reruns) == 1


def test_a_queued_job_polls_slowly_and_reruns_the_page_when_it_starts(live_status):
    from pages.common.jobs import POLL_EVERY, QUEUED_EVERY

    job, full_run, status_fragment_run, reruns = live_status
    job.status = Status.QUEUED
    assert full_run() == (QUEUED_EVERY, None)  # the progress line only; no charts to draw
    status_fragment_run()
    assert reruns == []
    job.status = Status.RUNNING
    status_fragment_run()  # it left the queue: the full run declares the running rate
    assert len(reruns) == 1
    assert full_run() == (POLL_EVERY, POLL_EVERY)


def test_a_queued_job_polls_at_a_quarter_of_its_wait_within_bounds():
    from pages.common.jobs import QUEUED_EVERY, QUEUED_MAX_EVERY, queued_interval

    assert queued_interval(None) == QUEUED_EVERY  # no estimate: the fast rate
    assert queued_interval(float("nan")) == QUEUED_EVERY
    assert queued_interval(4.0) == QUEUED_EVERY
    assert queued_interval(14.0) == 3.5
    assert queued_interval(600.0) == QUEUED_MAX_EVERY


def test_a_queued_job_declares_the_poll_rate_of_its_expected_wait(live_status, monkeypatch):
    import pages.common.jobs as pj

    job, full_run, status_fragment_run, reruns = live_status
    job.status = Status.QUEUED
    monkeypatch.setattr(pj.budget_gate, "queue_wait", lambda job: (3, 14.0))
    assert full_run() == (3.5, None)
    monkeypatch.setattr(pj.budget_gate, "queue_wait", lambda job: (9, 300.0))
    assert full_run() == (pj.QUEUED_MAX_EVERY, None)
    status_fragment_run()
    assert reruns == []
