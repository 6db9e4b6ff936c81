"""Streamlit wiring for background jobs (engine.jobs): session scope, controls, live polling.

A page that trains in the background does three things::

    from pages.common import jobs as pj

    pj.job_controls("train", lambda: Trainer(config), signature=config_sig)  # buttons
    pj.live_job("train", draw)        # progress, status, error box, then draw(snapshot)

* :func:`session_jobs` is ``st.cache_resource(scope="session", on_release=...)``: one
  :class:`engine.jobs.JobGroup` (this session's views of jobs) per browser session, on the
  process-wide manager. When the session ends, Streamlit releases it: the session stops
  watching, and a job stops when its last watcher is gone. Nothing stops a job on a timer: a
  job whose pages stop polling (a hidden tab) pauses and resumes when polled again.
* Identical settings share one job across sessions: :func:`job_controls` keys a task built
  as ``functools.partial(TaskClass, config, ...)`` by its canonical settings
  (:func:`task_key`); a second session pressing Start on the same settings watches the same
  run (or gets its cached result). Pause / Stop act on this session's view only; Stop stops
  the run itself only for its last watcher.
* :func:`shared_figure` builds a figure once per (result, view options) for all sessions.
* :func:`live_job` draws inside ``@fragments.fragment(run_every=...)``, polling only while the job
  is active: every ``every`` seconds while running; while queued, the status line tells the
  place in the queue and the expected wait, polled every :func:`queued_interval` (2-5 s, a
  quarter of the wait; the charts not at all: nothing to draw; the status fragment reruns
  the page when the job starts); every ``paused_every`` seconds while this view is paused;
  not at all once finished. Polling is what keeps a job computing: a job no page polls for
  ``engine.knobs.IDLE_PAUSE_SECONDS`` pauses (no next chunk) and the next poll resumes it.
  When the job finishes, the fragment triggers one full rerun so the buttons and the rest of
  the page catch up, and polling ends.
* That full run can be lost (1 page in 7 with 5 concurrent visitors on a loaded machine: the
  page said "epoch 200/200 · 100%" but never showed its final controls). When a fragment's
  timer request reaches the server after the full run ended but before the server sent its
  "finished" message, Streamlit 1.67 starts a new script runner for the fragment and drops
  the old runner's unsent events (``AppSession.request_rerun``; upstream guards only a
  fragment that no longer exists, streamlit/streamlit#9921). The browser then never
  finishes that run (or gets only its first part) and nothing reruns the page. So both
  fragments, declared without a timer by the full run that saw the job finished, treat a
  later run of themselves from a timer (a stale poll) on a new script runner as a sign that
  the browser may have missed that full run, and ask for another one (a poll queued on the
  same runner while the run went on drops nothing; the charts fragment tells a timer from a
  view control inside it by the session's widget values, unchanged by a timer).
* Flicker: Streamlit 1.67 derives a Plotly chart's element id from its spec and the browser
  keys the chart on that id, so a figure whose data changed is a NEW chart: the old one is
  unmounted and the new one plotted from scratch (Playwright: the page's ``.js-plotly-plot``
  count swung 7 -> 10 -> 7 on every poll, three charts re-created each time; a chart with a
  fixed id does not update at all, so no page-side key can avoid it; upstream:
  streamlit/streamlit#16052). Hence the progress/status line and the charts are TWO
  fragments: the status polls every ``every`` seconds and never touches the charts; the
  charts redraw every ``redraw_every`` seconds (default: with the status), and a poll that
  finds the same snapshot rebuilds the same specs, which the browser keeps mounted. The status
  fragment always emits the same slots (progress, status line, error) so nothing below it
  moves when the job's state changes.
* The worker never calls ``st.*``; the page only reads immutable snapshots.

AppTest does not tick ``run_every``: the pure helpers (:func:`poll_interval`,
:func:`progress_text`, :func:`status_box`) are tested directly, the live update in a browser.
"""

from __future__ import annotations

import functools
import logging
import os
import pickle
import threading
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import streamlit as st

from engine import executor
from engine.jobs import DEFAULT_IDLE_PAUSE, JobGroup, Snapshot, Status, StepTask, default_manager
from engine.result_cache import NotCanonical, canonical_key, shared_compute_all
from pages.common import budget_gate, fragments, idle

POLL_EVERY = 0.5  # seconds between fragment reruns while a job runs
QUEUED_EVERY = 2.0  # while it waits for a worker: only its place in the queue changes ...
QUEUED_MAX_EVERY = 5.0  # ... and at most this slowly, for a wait of 20 s or more
PAUSED_EVERY = 5.0  # slow heartbeat while this view is paused (picks up a Stop elsewhere)
_SIG = "_jobs_signature"  # session-state key: slot -> signature of the config it runs


SCHEDULER_SECRET = "dask_scheduler"  # .streamlit/secrets.toml: dask_scheduler = "tcp://..."


def _secret(name: str) -> str | None:
    try:
        value = st.secrets.get(name)
    except Exception:  # noqa: BLE001 - no secrets file is the normal case
        return None
    return str(value) if value else None


@st.cache_resource(show_spinner=False)
def compute_backend() -> executor.Backend:
    """The process-wide compute backend, configured once and its workers started early.

    A Dask scheduler address from ``NNVIZ_DASK_SCHEDULER`` or the ``dask_scheduler`` secret
    sends jobs and heavy computations to that cluster; an unreachable scheduler falls back to
    the embedded process pool (logged), so the app keeps working.
    """
    scheduler = os.environ.get(executor.ENV_SCHEDULER) or _secret(SCHEDULER_SECRET)
    try:
        backend = executor.configure(scheduler=scheduler) if scheduler else None
    except Exception:  # noqa: BLE001 - OSError, TimeoutError, ... from the Dask client
        logging.getLogger(__name__).exception("Dask scheduler %s unreachable", scheduler)
        backend = executor.configure("process")
    backend = backend or executor.default_backend()
    backend.warm()
    return backend


def _release(group: JobGroup) -> None:
    group.close(timeout=1.0)


@st.cache_resource(scope="session", on_release=_release, show_spinner=False)
def session_jobs() -> JobGroup:
    """This session's job views (created on first use; released when the session ends)."""
    return JobGroup(default_manager())


def task_key(make_task: Any, *extra: Any) -> str | None:
    """The canonical key of ``make_task`` (a class or ``functools.partial`` of one with
    dataclass/number/string arguments) plus ``extra``; ``None`` when it has none (a lambda),
    which means "do not share"."""
    try:
        if isinstance(make_task, functools.partial):
            return canonical_key(make_task.func, make_task.args, make_task.keywords, *extra)
        return canonical_key(make_task, *extra)
    except NotCanonical:
        return None


def start_job(slot: str, make_task: Callable[[], StepTask], *, share: bool = True, **submit_kw):
    """Watch the job for ``make_task`` in this session's slot ``slot`` (shared by settings when
    ``share`` and the task has a canonical key); returns the :class:`engine.jobs.JobView`."""
    key = task_key(make_task) if share else None
    return session_jobs().start(slot, make_task, key=key, **submit_kw)


_IN_PROCESS = executor.ThreadBackend(2)  # for calls whose arguments do not pickle


def shared_call(key_parts: tuple, fn: Callable, /, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` computed once per ``key_parts`` across sessions, off the
    server's GIL (engine.result_cache.shared_compute on the process-wide backend): a caller
    with the same key while it runs waits for the same result, later ones get it from the
    results cache. ``key_parts`` must name everything the result depends on (e.g.
    ``("tune", config.key(), criterion)``). Arguments that do not pickle (a formula surface)
    compute in this process instead, still once per key."""
    return shared_calls([(key_parts, functools.partial(fn, *args, **kwargs))])[0]


def shared_calls(calls: Sequence[tuple[tuple, functools.partial]]) -> list[Any]:
    """:func:`shared_call` for several ``(key_parts, partial)`` at once, results in order:
    all are submitted before any is awaited, so the workers compute them in parallel
    (``engine.result_cache.shared_compute_all``)."""
    return shared_compute_all([_shared(key_parts, call) for key_parts, call in calls])


def _shared(key_parts: tuple, call: functools.partial) -> tuple:
    """``(key, call, (), backend)`` for :func:`shared_compute_all`: the process-wide backend,
    or this process when the call does not pickle."""
    key = canonical_key("shared_call", *key_parts)
    try:
        pickle.dumps(call)
    except Exception:  # noqa: BLE001 - any pickling failure: compute here
        return key, call, (), _IN_PROCESS
    return key, call, (), compute_backend()


@idle.releasable
@st.cache_resource(max_entries=256, show_spinner=False)
def figure_once(result: Hashable, view: Hashable, _build: Callable[[], Any]) -> Any:
    """``_build()`` once per process for ``(result, view)``: a result tag (e.g.
    :func:`result_tag`) and the view options the figure depends on."""
    return _build()


def result_tag(snap: Snapshot) -> tuple:
    """What identifies the result a snapshot shows, equal across the sessions that share it:
    its settings' key (or job id) and publication version."""
    return (snap.key or f"job-{snap.job_id}", snap.version)


def shared_figure(snap: Snapshot, view: Hashable, build: Callable[[], Any]) -> Any:
    """``build()``'s figure for the result ``snap`` shows with view options ``view``, built
    once per process and shared by every session viewing the same result (callers must not
    modify it; ``st.plotly_chart`` does not)."""
    return figure_once(result_tag(snap), view, build)


# ------------------------------------------------------------------- pure helpers (tested)
def poll_interval(
    status: Status | None,
    every: float = POLL_EVERY,
    paused_every: float = PAUSED_EVERY,
    queued_every: float | None = QUEUED_EVERY,
) -> float | None:
    """Seconds between fragment reruns for a job in ``status`` (None: do not poll).

    A queued job polls slowly (``queued_every``; None: not at all): in a class most
    sessions wait in the queue, and polling them at the running rate was most of the
    server's work (``bench.classroom``, 20 sessions on 20 seeds)."""
    if status is Status.RUNNING:
        return every
    if status is Status.QUEUED:
        return queued_every
    if status is Status.PAUSED:
        return paused_every
    return None


def queued_interval(wait_seconds: float | None) -> float:
    """Seconds between status polls of a queued job expected to start in ``wait_seconds``:
    a quarter of the wait, within ``[QUEUED_EVERY, QUEUED_MAX_EVERY]`` (``QUEUED_EVERY`` when
    the wait is unknown). Only the place in the queue changes meanwhile; the job starts on
    its own when a worker frees up (polling does not gate it), so a slower poll costs the
    page at most one interval of lateness in showing that it started."""
    if wait_seconds is None or wait_seconds != wait_seconds:
        return QUEUED_EVERY
    return min(max(wait_seconds / 4.0, QUEUED_EVERY), QUEUED_MAX_EVERY)


def fmt_seconds(seconds: float | None) -> str:
    """``"42 s"``, ``"3 min 05 s"``, ``"1 h 02 min"``; ``"—"`` when unknown."""
    if seconds is None or seconds != seconds or seconds < 0:
        return "—"
    s = int(round(seconds))
    if s < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def progress_text(snap: Snapshot, epochs: int | None = None, unit: str = "epoch") -> str:
    """One line under the progress bar: epoch (or step, ``unit="step"``: a task that counts
    steps, whose ``total_steps`` is the run's length), percentage, elapsed and ETA."""
    if unit == "step":
        epoch = f"step {snap.steps_done}/{snap.total_steps}"
    else:
        epoch = f"epoch {snap.epoch}" + (f"/{epochs}" if epochs else "")
    parts = [epoch, f"{snap.progress:.0%}", f"elapsed {fmt_seconds(snap.elapsed)}"]
    if snap.status.active and snap.status is not Status.QUEUED:
        parts.append(f"ETA {fmt_seconds(snap.eta_seconds)}")
    return " · ".join(parts)


_BOX = {
    Status.QUEUED: "info",
    Status.RUNNING: "info",
    Status.PAUSED: "warning",
    Status.DONE: "success",
    Status.STOPPED: "warning",
    Status.DIVERGED: "error",
    Status.FAILED: "error",
}


def status_box(snap: Snapshot) -> tuple[str, str]:
    """``(kind, text)`` for the status line; kind names the ``st`` call (info, error, ...)."""
    status = snap.status.value
    text = snap.message or status
    if not text.lower().startswith(status):
        text = f"{status}: {text}"
    return _BOX[snap.status], text[0].upper() + text[1:]


# ------------------------------------------------------------------- Streamlit pieces
def job_controls(
    key: str,
    make_task: Callable[[], StepTask],
    *,
    signature: Any = None,
    name: str = "",
    start_label: str = "Start",
    idle_pause: float = DEFAULT_IDLE_PAUSE,
    disabled: bool = False,
    share: bool = True,
) -> Snapshot | None:
    """Start / pause-resume / stop / reset buttons for job slot ``key``; returns its snapshot.

    ``make_task`` builds the task on a worker (e.g. ``functools.partial(Trainer, config)``:
    it pickles, and its canonical settings let sessions share the run; a lambda works too,
    built in the server and never shared).
    ``signature`` (any comparable value, e.g. the config) is remembered per run; when the
    current one differs from the running job's, the page says so and offers a restart
    instead of silently mixing configurations.
    """
    group = session_jobs()
    sigs = st.session_state.setdefault(_SIG, {})
    job = group.get(key)
    snap = job.snapshot() if job else None
    active = bool(snap and snap.status.active)
    stale = snap is not None and sigs.get(key) != signature
    cols = st.columns(4)
    label = "Restart" if snap is not None else start_label
    if cols[0].button(
        label, key=f"{key}_start", type="primary", icon=":material/play_arrow:", disabled=disabled
    ):
        start_job(key, make_task, share=share, name=name, idle_pause=idle_pause)
        sigs[key] = signature
        st.rerun()
    paused = bool(snap and snap.status is Status.PAUSED)
    if cols[1].button(
        "Resume" if paused else "Pause",
        key=f"{key}_pause",
        icon=":material/play_circle:" if paused else ":material/pause:",
        disabled=not (active and snap.status is not Status.QUEUED),
    ):
        if paused:
            job.resume()
        else:
            job.pause()
        st.rerun()
    if cols[2].button("Stop", key=f"{key}_stop", icon=":material/stop:", disabled=not active):
        job.stop()  # this session stops watching; the run stops if no one else watches
        job.join(1.0)
        st.rerun()
    if cols[3].button("Reset", key=f"{key}_reset", icon=":material/restart_alt:", disabled=not job):
        group.reset(key)
        sigs.pop(key, None)
        st.rerun()
    if stale:
        st.info(
            "The settings changed since this run started; its results are for the old "
            "settings. Press **Restart** to train with the current ones.",
            icon=":material/sync_problem:",
        )
    return snap


def live_job(
    key: str,
    draw: Callable[[Snapshot], None] | None = None,
    *,
    epochs: int | None = None,
    unit: str = "epoch",
    every: float = POLL_EVERY,
    paused_every: float = PAUSED_EVERY,
    redraw_every: float | None = None,
    empty: str = "Press **Start** to train; results appear here as they come in.",
) -> Snapshot | None:
    """Progress, status, error box and ``draw(snapshot)`` for slot ``key``, updated live.

    Two fragments (see the module docstring): the status reruns every ``every`` s and the
    drawing every ``max(every, redraw_every)`` s, only while the job is active. Returns the
    snapshot of this (full) run, or None with no job.
    """
    job = session_jobs().get(key)
    if job is None:
        st.info(empty, icon=":material/model_training:")
        return None
    status = job.status
    wait = budget_gate.queue_wait(job) if status is Status.QUEUED else None
    queued_every = queued_interval(None if wait is None else wait[1])
    interval = poll_interval(status, every, paused_every, queued_every=queued_every)
    chart_every = every if redraw_every is None else max(every, redraw_every)
    chart_interval = poll_interval(
        status, chart_every, max(paused_every, chart_every), queued_every=None
    )

    in_full_run = True  # False once this run is over: later calls are fragment reruns
    runner = threading.current_thread()  # this run's script runner (Streamlit: one thread each)

    def missed() -> bool:
        """This fragment run comes from a timer that the full run declaring it (seeing the
        job finished, so with no timer) did not cancel, and runs on a new script runner: the
        request reached the server after that run's runner had ended, so Streamlit may have
        dropped the run's unsent messages (the page's last part and "finished"), and nothing
        else would rerun the page. Ask for the full run again, at every such poll (a
        re-asked run can be lost the same way). A request that arrived while the run was
        still going is queued on the same runner, which loses nothing: no rerun for it."""
        return not in_full_run and threading.current_thread() is not runner

    @fragments.fragment(run_every=interval)
    def _status() -> None:
        snap = job.snapshot()
        queued = None
        if snap.status is Status.QUEUED:  # the full run has just worked it out: reuse it
            queued = wait if in_full_run and wait is not None else budget_gate.queue_wait(job)
        render_status(snap, epochs, unit, queued)
        started = status is Status.QUEUED and snap.status is not Status.QUEUED
        if started or (snap.status.finished and (interval is not None or missed())):
            st.rerun()  # the full run declares the polling its job needs now (or none)

    @fragments.fragment(run_every=chart_interval)
    def _charts() -> None:
        snap = job.snapshot()
        if (
            chart_interval is None
            and snap.status.finished
            and missed()
            and _scalar_state() == declared_state
        ):
            st.rerun()  # a stale chart timer, not a view control inside the drawing
        if draw is not None and snap.history is not None:
            draw(snap)

    declared_state = _scalar_state() if chart_interval is None else None
    _status()
    _charts()
    in_full_run = False
    return job.snapshot()


def _scalar_state() -> dict[str, Any]:
    """The session's scalar values, widget values among them: a fragment run that no widget
    triggered (a timer) finds them as the full run before it left them."""
    return {
        k: v
        for k, v in list(st.session_state.items())
        if v is None or isinstance(v, str | int | float | bool)
    }


def render_status(
    snap: Snapshot,
    epochs: int | None = None,
    unit: str = "epoch",
    queued: tuple[int, float] | None = None,
) -> None:
    """Progress bar with epoch/ETA, the status line, and the error box if the job failed.

    ``queued``: ``(position, seconds until it starts)`` of a queued job
    (:func:`pages.common.budget_gate.queue_wait`), told on the status line.

    Always the same three slots in the same order (an empty slot where there is nothing to
    say), so a state change (queued -> running -> done) never shifts what comes after.
    """
    bar, line, error = st.empty(), st.empty(), st.empty()
    if snap.status is Status.QUEUED and not snap.steps_done:
        bar.progress(0.0, text="queued")
    else:
        bar.progress(min(max(snap.progress, 0.0), 1.0), text=progress_text(snap, epochs, unit))
    kind, text = status_box(snap)
    if queued is not None:
        line.info(budget_gate.queue_text(*queued), icon=":material/schedule:")
    elif snap.status not in (Status.RUNNING, Status.DONE):
        getattr(line, kind)(text)
    if snap.error and shows_tracebacks():
        with error.container(), st.expander("Error details (traceback)", expanded=False):
            st.code(snap.error, language="text")


def shows_tracebacks() -> bool:
    """Whether ``client.showErrorDetails`` lets a page show a traceback (a public deployment
    sets "none": no tracebacks or file paths; the status line still names the failure)."""
    return str(st.get_option("client.showErrorDetails")).lower() in ("full", "stacktrace", "true")
