"""Background jobs: chains of short chunks on the executor seam, shared across sessions.

Pure Python, no Streamlit (BLUEPRINT §6). The shape of it:

* A *task* is anything with ``step()`` (one unit of work, e.g. one minibatch), ``done``,
  ``divergence`` (``None`` or a sentence such as ``"diverged at step 17"``), ``steps_done``,
  ``total_steps``, ``epoch`` and ``publish()`` (a cheap, immutable view of its results so
  far). :class:`engine.trainer.Trainer` is one; :class:`StepTask` spells out the protocol.
* A job is a **chain of chunks**: :func:`run_chunk` advances the task for about
  ``chunk_seconds`` (default ``engine.knobs.CHUNK_SECONDS``) and returns it; the task's state
  travels with the chunk, so the chunk may run on a thread, in a local worker process or on
  a Dask worker (:mod:`engine.executor`): the compute is off the server's GIL and the results
  are bit-identical on all three (same steps, same order). The job's driver thread in the
  server only waits on futures: after each chunk it publishes the task's ``publish()``; then
  it submits the next chunk, unless the job is paused or stopped (*no next chunk*). A worker
  lost mid-chunk costs nothing: the chunk is resubmitted from the state it started from.
* The task may be given as a factory (e.g. ``functools.partial(Trainer, config)``): the first
  chunk builds it on the worker. A factory that does not pickle (a lambda) is called on the
  driver thread instead, and the task it returns travels from there.
* **Identical work once.** :meth:`JobManager.submit` with a ``key`` (the canonical hash of the
  settings, :func:`engine.result_cache.canonical_key`) returns the running job of that key if
  there is one (same progress, same snapshots), or a finished job built from the process-wide
  :class:`engine.result_cache.ResultCache` (results of DONE and DIVERGED runs are
  deterministic and kept there, LRU within a byte budget).
* **Per-session views.** A session watches a job through a :class:`JobView`
  (:class:`JobGroup` holds a session's views by slot). Pausing a view freezes that session's
  picture; stopping it detaches the session, and stops the job only if no one else watches.
  The job computes while at least one view is unpaused and polled within ``idle_pause``
  seconds (default ``engine.knobs.IDLE_PAUSE_SECONDS``): a job whose pages stopped polling
  (a hidden tab throttles its timers) is **paused, not stopped**, releases its worker slot,
  and resumes when a page polls again. Nothing stops a job on a timer; the session's end does
  (the Streamlit layer releases its :class:`JobGroup`).
* At most ``max_running`` jobs hold a slot (default: the CPU count); the rest wait in a FIFO
  queue with status ``QUEUED`` and a position. A job resuming from a pause queues at the front.
* An exception in the task is caught; the job ends ``FAILED`` with the traceback text.

A job used without views (``manager.submit(...)`` directly: tests, benchmarks) is controlled
by its own :meth:`Job.pause` / :meth:`Job.resume` / :meth:`Job.stop` and runs whether polled
or not; idle pausing applies to jobs sessions watch.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import itertools
import os
import pickle
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from engine import budget, knobs
from engine.executor import Backend, default_backend, worker_setup
from engine.result_cache import ResultCache, result_cache

DEFAULT_IDLE_PAUSE = knobs.IDLE_PAUSE_SECONDS
DEFAULT_CHUNK_SECONDS = knobs.CHUNK_SECONDS
_WAIT_TICK = 0.5  # the driver re-checks its controls at least this often while waiting
MEASURED_FROM = 0.05  # a running job's own ETA counts once it is this far along (less: noise)


class Status(enum.Enum):
    """Job lifecycle: ``QUEUED -> RUNNING <-> PAUSED -> DONE/STOPPED/FAILED/DIVERGED``."""

    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    DONE = "done"
    STOPPED = "stopped"
    FAILED = "failed"
    DIVERGED = "diverged"

    @property
    def active(self) -> bool:
        """Still going (or waiting to): the page should keep polling."""
        return self in (Status.QUEUED, Status.RUNNING, Status.PAUSED)

    @property
    def finished(self) -> bool:
        return not self.active


CACHED_STATUSES = (Status.DONE, Status.DIVERGED)  # deterministic outcomes worth keeping


@runtime_checkable
class StepTask(Protocol):
    """What a job runs. Attributes are read between chunks (never during one)."""

    steps_done: int
    total_steps: int
    epoch: int

    @property
    def done(self) -> bool: ...

    @property
    def divergence(self) -> str | None: ...

    def step(self) -> None: ...

    def publish(self) -> Any: ...


@dataclass(frozen=True)
class Snapshot:
    """A consistent, immutable picture of a job at its last publication.

    Attributes:
        job_id, name: identity (sessions sharing a job see the same ``job_id``).
        status: a :class:`Status`.
        progress: fraction of ``total_steps`` done, in [0, 1].
        epoch: the task's epoch counter.
        steps_done, total_steps: step counts.
        elapsed: seconds spent computing (pauses and queueing excluded).
        eta_seconds: estimated seconds left (``None`` until measurable or when finished).
        history: the task's last ``publish()`` (read-only; ``None`` before the first one).
        message: one human sentence about the status ("waiting for a free worker ...").
        error: traceback text when ``status is FAILED``, else ``None``.
        queue_position: 1-based place in the queue when ``QUEUED``, else ``None``.
        version: increases with every publication (a page can skip redrawing if unchanged).
        key: the canonical key of the job's settings (``None``: not shared).
        watchers: how many session views watch the job.
        cached: whether this result came from the results cache (no compute).
        estimate: what the submitter estimated the job costs (``engine.budget``), or None.
    """

    job_id: str
    name: str
    status: Status
    progress: float
    epoch: int
    steps_done: int
    total_steps: int
    elapsed: float
    eta_seconds: float | None
    history: Any
    message: str
    error: str | None
    queue_position: int | None
    version: int
    key: str | None = None
    watchers: int = 0
    cached: bool = False
    estimate: Any = None

    @property
    def active(self) -> bool:
        return self.status.active


def _is_task(obj: Any) -> bool:
    return hasattr(obj, "step") and hasattr(obj, "publish")


def run_chunk(state: Any, seconds: float, interrupt: Callable[[], bool] | None = None) -> StepTask:
    """Advance a task for about ``seconds`` (at least one step) and return it.

    ``state`` is the task, or a factory that builds it (first chunk). Runs on a worker (a
    thread, a local process or a Dask worker): module-level so it pickles by reference.
    ``interrupt`` (in-process only) is checked after each step, so threads honour pause and
    stop within one step.
    """
    if interrupt is None:  # in a worker process (in-process chunks leave the server's BLAS)
        worker_setup()
    task = state if _is_task(state) else state()
    deadline = time.perf_counter() + seconds
    while not task.done and task.divergence is None:
        task.step()
        if time.perf_counter() >= deadline or (interrupt is not None and interrupt()):
            break
    return task


def _pickles(obj: Any) -> bool:
    try:
        pickle.dumps(obj)
    except Exception:  # noqa: BLE001 - any failure means "build it here instead"
        return False
    return True


class Job:
    """One computation shared by every session that asked for it. Create with
    :meth:`JobManager.submit`; sessions watch it through :class:`JobView`."""

    def __init__(
        self,
        task: StepTask | Callable[[], StepTask] | None,
        *,
        manager: JobManager,
        job_id: str,
        name: str,
        key: str | None = None,
        idle_pause: float = DEFAULT_IDLE_PAUSE,
        chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
        estimate: Any = None,
    ):
        if not idle_pause > 0:
            raise ValueError(f"Invalid idle_pause value: {idle_pause} (must be > 0)")
        if not chunk_seconds >= 0:
            raise ValueError(f"Invalid chunk_seconds value: {chunk_seconds} (must be >= 0)")
        self.job_id = job_id
        self.name = name
        self.key = key
        self.estimate = estimate
        self.idle_pause = float(idle_pause)
        self.chunk_seconds = float(chunk_seconds)
        self._state = task
        self._manager = manager
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._admitted = threading.Event()
        self._finished = threading.Event()
        self._thread: threading.Thread | None = None
        self._views: list[JobView] = []
        self._watched = False  # ever had a session view
        self._paused = False  # job-level pause (direct use, without views)
        self._idle = False  # paused because nobody polls
        self._last_poll = time.monotonic()
        self._cached: Snapshot | None = None
        # published state (read under _lock)
        self._status = Status.QUEUED
        self._message = "waiting for a free worker"
        self._error: str | None = None
        self._history: Any = None
        self._steps_done = 0
        self._total_steps = 0
        self._epoch = 0
        self._elapsed = 0.0
        self._version = 0
        self.task: StepTask | None = task if _is_task(task) else None

    @classmethod
    def from_result(cls, snap: Snapshot, manager: JobManager) -> Job:
        """A finished job holding a cached result (no thread, no compute)."""
        job = cls(None, manager=manager, job_id=snap.job_id, name=snap.name, key=snap.key)
        job._cached = dataclasses.replace(snap, cached=True, queue_position=None)
        job._status = snap.status
        job._finished.set()
        return job

    # ---------------------------------------------------------------- controls (any thread)
    def pause(self) -> None:
        """Pause after the current chunk (no next chunk); no effect unless running."""
        with self._lock:
            if self._status is Status.RUNNING:
                self._paused = True
                self._set(Status.PAUSED, "paused")
        self._wake.set()

    def resume(self) -> None:
        """Resume a paused job (it may queue for a free worker first)."""
        with self._lock:
            self._paused = False
            self._last_poll = time.monotonic()
        self._poke()

    def stop(self) -> None:
        """Stop: no next chunk. A chunk in flight on a thread ends after its current step;
        one in a worker process or on Dask is abandoned. Does not wait (see :meth:`join`)."""
        self._stop.set()
        self._wake.set()
        if self._manager._dequeue(self) and self._thread is None:
            self._finish(Status.STOPPED, "stopped before it started")

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the job has finished; True if it has (its driver thread is gone)."""
        if not self._finished.wait(timeout):
            return False
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def snapshot(self) -> Snapshot:
        """The last published state, as an immutable :class:`Snapshot`; also marks a poll."""
        self._last_poll = time.monotonic()
        self._poke()
        return self._snapshot()

    def peek(self) -> Snapshot:
        """The last published state without marking a poll: for reading a job others watch
        (a poll would keep a job alive that its own pages abandoned)."""
        return self._snapshot()

    @property
    def status(self) -> Status:
        with self._lock:
            return self._status

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread

    @property
    def watchers(self) -> int:
        with self._lock:
            return len(self._views)

    # ---------------------------------------------------------------- views
    def _attach(self, view: JobView) -> None:
        with self._lock:
            self._views.append(view)
            self._watched = True
        self._poke()

    def _detach(self, view: JobView) -> int:
        """Forget ``view``; returns how many views remain."""
        with self._lock:
            if view in self._views:
                self._views.remove(view)
            return len(self._views)

    def _wanted(self) -> bool:
        """Whether the next chunk should run: not paused and someone polls (see module doc)."""
        if self._paused:
            return False
        views = self._views
        if not views:
            return not self._watched  # used directly (no session): runs until told otherwise
        now = time.monotonic()
        return any(not v.paused and now - v.last_poll <= self.idle_pause for v in views)

    def _poke(self) -> None:
        """A poll or resume: an idle-paused job starts to resume at once (status says so)."""
        resume_as = self._manager._resume_status()  # (manager lock never inside a job lock)
        with self._lock:
            if self._status is Status.PAUSED and not self._paused and self._wanted():
                self._set(resume_as, "resuming")
        self._wake.set()

    # ---------------------------------------------------------------- published state
    def _set(self, status: Status, message: str) -> None:
        """Set status and message (caller holds ``_lock``)."""
        if self._status.finished:
            return
        self._status, self._message = status, message
        self._version += 1

    def _set_status(self, status: Status, message: str) -> None:
        with self._lock:
            self._set(status, message)

    def _snapshot(self) -> Snapshot:
        if self._cached is not None:
            return dataclasses.replace(self._cached, watchers=self.watchers)
        position = self._manager.queue_position(self)
        with self._lock:
            status = self._status
            fraction = self._steps_done / self._total_steps if self._total_steps else 0.0
            fraction = min(max(fraction, 0.0), 1.0)
            eta = None
            if status.active and self._elapsed > 0 and 0.0 < fraction < 1.0:
                eta = self._elapsed * (1.0 - fraction) / fraction
            message = self._message
            if status is Status.QUEUED and position is not None:
                message = f"waiting for a free worker (position {position} in the queue)"
            return Snapshot(
                job_id=self.job_id,
                name=self.name,
                status=status,
                progress=1.0 if status is Status.DONE else fraction,
                epoch=self._epoch,
                steps_done=self._steps_done,
                total_steps=self._total_steps,
                elapsed=self._elapsed,
                eta_seconds=eta,
                history=self._history,
                message=message,
                error=self._error,
                queue_position=position if status is Status.QUEUED else None,
                version=self._version,
                key=self.key,
                watchers=len(self._views),
                estimate=self.estimate,
            )

    def _publish(self, task: StepTask, elapsed: float) -> None:
        history = task.publish()
        with self._lock:
            self._history = history
            self._steps_done = int(task.steps_done)
            self._total_steps = int(task.total_steps)
            self._epoch = int(task.epoch)
            self._elapsed = elapsed
            self._version += 1

    # ---------------------------------------------------------------- driver (server thread)
    def _start(self) -> None:
        """Called by the manager when a worker slot is free for the first time."""
        with self._lock:
            self._set(Status.RUNNING, "running")
        self._last_poll = max(self._last_poll, time.monotonic())  # queueing is not idling
        self._thread = threading.Thread(target=self._run, name=f"job-{self.job_id}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        backend = self._manager.backend
        task = self.task
        status, message, error = Status.DONE, "finished", None
        run_time = 0.0
        try:
            state = self._state
            if task is None and not backend.in_process and not _pickles(state):
                task = self.task = state()  # a lambda factory: build here, then travel
            if task is not None:
                state = task
                self._publish(task, 0.0)
            interrupt = self._interrupted if backend.in_process else None
            while True:
                if self._stop.is_set():
                    status, message = Status.STOPPED, f"stopped at step {self._steps_done}"
                    break
                if not self._wanted():
                    if not self._wait_until_wanted():
                        status, message = Status.STOPPED, f"stopped at step {self._steps_done}"
                        break
                    continue
                if task is not None and task.divergence is not None:
                    status, message = Status.DIVERGED, task.divergence
                    break
                if task is not None and task.done:
                    message = getattr(task, "message", "") or message
                    break
                t0 = time.monotonic()
                future = backend.submit(run_chunk, state, self.chunk_seconds, interrupt)
                future.add_done_callback(lambda _f: self._wake.set())
                while not future.done():
                    self._wake.wait(_WAIT_TICK)
                    self._wake.clear()
                    if self._stop.is_set() and not backend.in_process:
                        backend.abandon(future)
                        break
                if self._stop.is_set() and not backend.in_process:
                    continue  # abandoned (maybe cancelled): the last publication stands
                task = state = self.task = backend.result(
                    future, run_chunk, state, self.chunk_seconds, interrupt
                )
                run_time += time.monotonic() - t0
                self._publish(task, run_time)
        except BaseException:  # noqa: BLE001 - everything the task raises is reported
            status, message = Status.FAILED, "the job raised an error"
            error = traceback.format_exc()
            if task is not None:
                with contextlib.suppress(BaseException):
                    self._publish(task, run_time)
        finally:
            self._finish(status, message, error)

    def _interrupted(self) -> bool:
        return self._stop.is_set() or not self._wanted()

    def _wait_until_wanted(self) -> bool:
        """Paused: give up the worker slot, wait for a resume/poll, queue for a slot again.
        False if the job was stopped meanwhile."""
        with self._lock:
            idle = not self._paused
            self._idle = idle
            if idle:
                self._set(Status.PAUSED, "paused: no one is watching; resumes when polled")
            elif self._status is not Status.PAUSED:
                self._set(Status.PAUSED, "paused")
        self._manager._release(self)
        while not self._stop.is_set() and not self._wanted():
            self._wake.wait(_WAIT_TICK)
            self._wake.clear()
        if self._stop.is_set():
            return False
        self._set_status(self._manager._resume_status(), "resuming")
        self._manager._readmit(self)
        while not self._admitted.wait(_WAIT_TICK):
            if self._stop.is_set():
                self._manager._dequeue(self)
                if not self._admitted.is_set():
                    return False
        self._idle = False
        self._set_status(Status.RUNNING, "running")
        return True

    def _finish(self, status: Status, message: str, error: str | None = None) -> None:
        with self._lock:
            if self._finished.is_set():
                return
            self._status = Status.RUNNING  # let _set through once
            self._set(status, message)
            self._error = error
        self._finished.set()
        self._manager._on_finished(self)

    def __repr__(self) -> str:
        return f"Job({self.job_id!r}, {self.name!r}, {self.status.value})"


class JobView:
    """One session's view of a (possibly shared) :class:`Job`.

    ``pause`` freezes this view at its current snapshot (the job pauses only when no view
    wants it); ``stop`` detaches the view and stops the job if it was the last watcher.
    Polling (:meth:`snapshot`) keeps the job running; a view nobody polls for the job's
    ``idle_pause`` counts as not watching.
    """

    def __init__(self, job: Job):
        self.job = job
        self.paused = False
        self.last_poll = time.monotonic()
        self._frozen: Snapshot | None = None
        self._detached = False
        job._attach(self)

    job_id = property(lambda self: self.job.job_id)
    name = property(lambda self: self.job.name)
    key = property(lambda self: self.job.key)
    task = property(lambda self: self.job.task)
    thread = property(lambda self: self.job.thread)

    @property
    def status(self) -> Status:
        return self._frozen.status if self._frozen is not None else self.job.status

    def snapshot(self) -> Snapshot:
        """This view's snapshot: the job's live one, or the frozen one while paused/stopped."""
        if self._frozen is not None:
            return self._frozen
        self.last_poll = time.monotonic()
        self.job._poke()
        return self.job._snapshot()

    def pause(self) -> None:
        """Freeze this view; the job pauses if no other view is watching."""
        snap = self.job._snapshot()
        if self._frozen is not None or not snap.status.active:
            return
        self._frozen = dataclasses.replace(
            snap, status=Status.PAUSED, message="paused", eta_seconds=None, queue_position=None
        )
        self.paused = True
        self.job._wake.set()

    def resume(self) -> None:
        """Unfreeze (the job resumes if it was paused for want of watchers)."""
        if self._detached or not self.paused:
            return
        self.paused, self._frozen = False, None
        self.last_poll = time.monotonic()
        self.job._poke()

    def stop(self) -> None:
        """Stop watching: the job stops if this was its last watcher, else it goes on for the
        others and this view keeps the picture it had, marked stopped."""
        if self._detached:
            return
        snap = self._frozen or self.job._snapshot()
        self._detached = True
        remaining = self.job._detach(self)
        if not snap.status.active:
            self._frozen = None
            return
        if remaining == 0:
            self._frozen = None
            self.job.stop()
            return
        self._frozen = dataclasses.replace(
            snap,
            status=Status.STOPPED,
            message=f"stopped at step {snap.steps_done}",
            eta_seconds=None,
            queue_position=None,
            watchers=remaining,
        )
        self.paused = False

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the job to finish (at once True for a view stopped apart from the job)."""
        if self._frozen is not None and self._frozen.status is Status.STOPPED:
            return True
        return self.job.join(timeout)

    def __repr__(self) -> str:
        return f"JobView({self.job!r}, paused={self.paused}, detached={self._detached})"


class JobManager:
    """Registry of jobs: a cap on how many compute at once (the rest queue, FIFO), shared
    jobs by key, finished results in a :class:`engine.result_cache.ResultCache`.

    Args:
        max_running: slots (default: the CPU count; a Dask backend: its worker threads).
        backend: the :class:`engine.executor.Backend` chunks run on (default: the process-wide
            one, :func:`engine.executor.default_backend`).
        cache: results cache (default: the process-wide one).
    """

    def __init__(
        self,
        max_running: int | None = None,
        *,
        backend: Backend | None = None,
        cache: ResultCache | None = None,
    ):
        self._lock = threading.Lock()
        self._submit_lock = threading.Lock()
        self._backend = backend
        if max_running is None and backend is not None:
            max_running = backend.capacity
        self._max_running = self._check_cap(max_running)
        self._running: dict[str, Job] = {}
        self._queue: deque[Job] = deque()
        self._by_key: dict[str, Job] = {}
        self._live: dict[Job, None] = {}  # every unfinished job, in submission order
        self._ids = itertools.count(1)
        self.cache = cache if cache is not None else result_cache()

    @property
    def backend(self) -> Backend:
        """The backend given, else the process-wide one at this moment (so configuring it
        after the manager was created still takes effect)."""
        return self._backend if self._backend is not None else default_backend()

    @staticmethod
    def _check_cap(max_running: int | None) -> int:
        cap = (os.cpu_count() or 1) if max_running is None else max_running
        if not isinstance(cap, int) or cap < 1:
            raise ValueError(f"Invalid max_running value: {max_running} (must be an int >= 1)")
        return cap

    @property
    def max_running(self) -> int:
        return self._max_running

    def set_max_running(self, max_running: int | None) -> None:
        """Change the cap; raising it starts queued jobs at once."""
        with self._lock:
            self._max_running = self._check_cap(max_running)
        self._fill()

    def submit(
        self,
        task: StepTask | Callable[[], StepTask],
        *,
        name: str = "",
        key: str | None = None,
        idle_pause: float = DEFAULT_IDLE_PAUSE,
        chunk_seconds: float | None = None,
        estimate: Any = None,
        publish_interval: float | None = None,
        idle_timeout: float | None = None,
    ) -> Job:
        """The job for ``task`` (or a factory of it): the running or cached one of ``key``
        when there is one, else a new job queued until a slot is free.

        ``chunk_seconds``: how long each chunk computes before publishing (``publish_interval``
        is its old name); ``idle_pause``: seconds without a poll before the job pauses
        (``idle_timeout`` is its old name; it no longer stops anything). ``estimate``: the
        submitter's cost estimate, kept on the job and its snapshots.
        """
        if chunk_seconds is None:
            chunk_seconds = DEFAULT_CHUNK_SECONDS if publish_interval is None else publish_interval
        if idle_timeout is not None:
            idle_pause = idle_timeout
        with self._submit_lock:  # two sessions asking the same key at once get one job
            if key is not None:
                with self._lock:
                    job = self._by_key.get(key)
                if job is not None and not job._stop.is_set() and job.status.active:
                    return job
                cached = self.cache.get(key)
                if cached is not None:
                    return Job.from_result(cached, self)
            job = Job(
                task,
                manager=self,
                job_id=f"{next(self._ids)}",
                name=name,
                key=key,
                idle_pause=idle_pause,
                chunk_seconds=chunk_seconds,
                estimate=estimate,
            )
            with self._lock:
                if key is not None:
                    self._by_key[key] = job
                self._live[job] = None
                self._queue.append(job)
        self._fill()
        return job

    def find(self, key: str) -> Job | None:
        """The active job computing ``key``, if any."""
        with self._lock:
            job = self._by_key.get(key)
        return job if job is not None and job.status.active else None

    def jobs(self) -> list[Job]:
        """Every unfinished job: those holding a slot, paused ones, then the queue in order."""
        with self._lock:
            queued = list(self._queue)
            others = [j for j in self._live if j not in queued]
            return [*others, *queued]

    def get(self, job_id: str) -> Job | None:
        return next((j for j in self.jobs() if j.job_id == job_id), None)

    @property
    def n_running(self) -> int:
        with self._lock:
            return len(self._running)

    @property
    def n_queued(self) -> int:
        with self._lock:
            return len(self._queue)

    def queue_position(self, job: Job) -> int | None:
        with self._lock:
            for i, queued in enumerate(self._queue):
                if queued is job:
                    return i + 1
        return None

    def queue_wait(self, job: Job, unknown_seconds: float) -> tuple[int, float] | None:
        """``(position, seconds until it starts)`` while ``job`` is queued, else None.

        Each job ahead counts with what is left of it: one holding a slot with its measured
        ETA once it is ``MEASURED_FROM`` done (its own pace on this server now), before that
        with its estimate (``Job.estimate``) less the seconds it has computed (at least a
        tenth of the estimate); a queued one with its whole estimate; a job without an
        estimate as ``unknown_seconds``. :func:`engine.budget.queue_eta` turns that into a
        wait over the slots. The jobs are only read (:meth:`Job.peek`), never polled.
        """
        position = self.queue_position(job)
        if position is None:
            return None
        running, ahead = [], []
        for other in self.jobs():
            if other is job:
                break
            seconds = unknown_seconds if other.estimate is None else other.estimate.seconds
            snap = other.peek()
            if snap.status is Status.QUEUED:
                ahead.append(seconds)
            elif snap.eta_seconds is not None and snap.progress >= MEASURED_FROM:
                running.append(snap.eta_seconds)
            else:
                running.append(max(seconds - snap.elapsed, 0.1 * seconds))
        return position, budget.queue_eta(running, ahead, self.max_running)

    def stop_all(self, timeout: float | None = 5.0) -> bool:
        """Stop every job and wait for their threads; True if all have ended."""
        jobs = self.jobs()
        for job in jobs:
            job.stop()
        return all(job.join(timeout) for job in jobs)

    # ---------------------------------------------------------------- internals
    def _fill(self) -> None:
        """Give free slots to queued jobs (first start: a driver thread; else: admit)."""
        while True:
            with self._lock:
                if not self._queue or len(self._running) >= self._max_running:
                    return
                job = self._queue.popleft()
                self._running[job.job_id] = job
            if job._thread is None:
                job._start()
            else:
                job._admitted.set()

    def _release(self, job: Job) -> None:
        """A paused job gives its slot back."""
        with self._lock:
            self._running.pop(job.job_id, None)
        self._fill()

    def _resume_status(self) -> Status:
        """What a resuming job shows until it has a slot: RUNNING if one is free, else QUEUED
        (a page that skips drawing while queued keeps its charts when nothing waits)."""
        with self._lock:
            free = len(self._running) < self._max_running and not self._queue
        return Status.RUNNING if free else Status.QUEUED

    def _readmit(self, job: Job) -> None:
        """A resuming job queues at the front for a slot."""
        job._admitted.clear()
        with self._lock:
            self._queue.appendleft(job)
        self._fill()

    def _dequeue(self, job: Job) -> bool:
        with self._lock:
            try:
                self._queue.remove(job)
            except ValueError:
                return False
            return True

    def _on_finished(self, job: Job) -> None:
        with self._lock:
            self._running.pop(job.job_id, None)
            self._live.pop(job, None)
            if job.key is not None and self._by_key.get(job.key) is job:
                del self._by_key[job.key]
        if job.key is not None and job._cached is None:
            snap = job._snapshot()
            if snap.status in CACHED_STATUSES:
                self.cache.put(job.key, dataclasses.replace(snap, watchers=0))
        self._fill()


_DEFAULT_MANAGER: JobManager | None = None
_DEFAULT_LOCK = threading.Lock()


def default_manager() -> JobManager:
    """The process-wide manager (cap: the backend's capacity), shared by every session."""
    global _DEFAULT_MANAGER
    with _DEFAULT_LOCK:
        if _DEFAULT_MANAGER is None:
            _DEFAULT_MANAGER = JobManager(default_backend().capacity)
        return _DEFAULT_MANAGER


class JobGroup:
    """A session's job views by slot key (e.g. ``"train"``), on a shared :class:`JobManager`.

    Starting a slot again stops watching what it held (the job stops if no one else watches).
    :meth:`close` does that for every slot: the Streamlit helper calls it when the session
    ends.
    """

    def __init__(self, manager: JobManager | None = None):
        self.manager = manager or default_manager()
        self._slots: dict[str, JobView] = {}
        self._lock = threading.Lock()

    def start(self, slot: str, task: StepTask | Callable[[], StepTask], **submit_kw) -> JobView:
        """Stop watching slot ``slot`` and watch the job for ``task`` there (a shared one when
        ``key=`` names settings someone already runs or has cached; see
        :meth:`JobManager.submit` for the keywords)."""
        self.reset(slot)
        view = JobView(self.manager.submit(task, **submit_kw))
        with self._lock:
            self._slots[slot] = view
        return view

    def get(self, slot: str) -> JobView | None:
        with self._lock:
            return self._slots.get(slot)

    def views(self) -> list[JobView]:
        with self._lock:
            return list(self._slots.values())

    def reset(self, slot: str) -> None:
        """Stop watching the job in slot ``slot`` and forget it."""
        with self._lock:
            view = self._slots.pop(slot, None)
        if view is not None:
            view.stop()

    def close(self, timeout: float | None = 2.0) -> bool:
        """Stop watching every slot; True if the jobs this stopped ended within ``timeout``."""
        with self._lock:
            views = list(self._slots.values())
            self._slots.clear()
        for view in views:
            view.stop()
        return all(v.job.join(timeout) for v in views if v.job._stop.is_set())
