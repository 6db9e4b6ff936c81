"""Background jobs: run a step-wise task on a worker thread, publish snapshots, obey controls.

Pure Python threading, no Streamlit (BLUEPRINT §6). The shape of it:

* A *task* is anything with ``step()`` (one unit of work, e.g. one minibatch), ``done``,
  ``divergence`` (``None`` or a sentence such as ``"diverged at step 17"``), ``steps_done``,
  ``total_steps``, ``epoch`` and ``publish()`` (a cheap, immutable view of its results so
  far). :class:`engine.trainer.Trainer` is one; :class:`StepTask` spells out the protocol.
* :class:`JobManager.submit` wraps a task (or a zero-argument factory, called on the worker so
  that building the task does not block the caller) in a :class:`Job`. At most
  ``max_running`` jobs hold a worker at once (default ``os.cpu_count()``); the rest wait in a
  FIFO queue with status ``QUEUED`` and a position.
* The worker checks a stop flag and a pause flag *between* steps (so stop takes effect within
  one step) and publishes ``publish()`` plus progress every ``publish_interval`` seconds under
  a lock. :meth:`Job.snapshot` returns a small frozen :class:`Snapshot` built from the last
  publication: no array is copied on the polling side, so polling costs the worker nothing
  but a lock acquisition every ~0.1 s.
* A job whose :meth:`Job.snapshot` nobody called for ``idle_timeout`` seconds stops itself
  (a closed browser tab does not stop a Python loop by itself, streamlit #6166).
* An exception in the task is caught; the job ends ``FAILED`` with the traceback text.

A paused job keeps its worker slot (its thread waits, using no CPU) and is still subject to
the idle timeout, so a page should keep polling (slowly) while a job is paused.
"""

from __future__ import annotations

import enum
import itertools
import os
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

DEFAULT_IDLE_TIMEOUT = 60.0
DEFAULT_PUBLISH_INTERVAL = 0.1


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


@runtime_checkable
class StepTask(Protocol):
    """What a job runs. All attributes are read on the worker thread only."""

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
        job_id, name: identity.
        status: a :class:`Status`.
        progress: fraction of ``total_steps`` done, in [0, 1].
        epoch: the task's epoch counter.
        steps_done, total_steps: step counts.
        elapsed: seconds spent running (pauses excluded).
        eta_seconds: estimated seconds left (``None`` until measurable or when finished).
        history: the task's last ``publish()`` (read-only; ``None`` before the first one).
        message: one human sentence about the status ("waiting for a free worker ...").
        error: traceback text when ``status is FAILED``, else ``None``.
        queue_position: 1-based place in the queue when ``QUEUED``, else ``None``.
        version: increases with every publication (a page can skip redrawing if unchanged).
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

    @property
    def active(self) -> bool:
        return self.status.active


class Job:
    """One task on (or waiting for) a worker thread. Create through :meth:`JobManager.submit`."""

    def __init__(
        self,
        task: StepTask | Callable[[], StepTask],
        *,
        manager: JobManager,
        job_id: str,
        name: str,
        idle_timeout: float,
        publish_interval: float,
    ):
        if not idle_timeout > 0:
            raise ValueError(f"Invalid idle_timeout value: {idle_timeout} (must be > 0)")
        if not publish_interval >= 0:
            raise ValueError(f"Invalid publish_interval value: {publish_interval}")
        self.job_id = job_id
        self.name = name
        self.idle_timeout = float(idle_timeout)
        self.publish_interval = float(publish_interval)
        self._task_or_factory = task
        self._manager = manager
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._resume = threading.Event()  # set = not paused
        self._resume.set()
        self._finished = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_poll = time.monotonic()
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
        self.task: StepTask | None = None if callable(task) and not _is_task(task) else task

    # ---------------------------------------------------------------- controls (any thread)
    def pause(self) -> None:
        """Pause between two steps (no effect unless running)."""
        with self._lock:
            if self._status is Status.RUNNING:
                self._resume.clear()
                self._status = Status.PAUSED
                self._message = "paused"
                self._version += 1

    def resume(self) -> None:
        """Resume a paused job."""
        with self._lock:
            if self._status is Status.PAUSED:
                self._status = Status.RUNNING
                self._message = "running"
                self._version += 1
            self._resume.set()

    def stop(self) -> None:
        """Ask the job to stop; takes effect before its next step. Does not wait (see join)."""
        self._stop.set()
        self._resume.set()
        if self._manager._dequeue(self):
            self._finish(Status.STOPPED, "stopped before it started")

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the job has finished; True if it has (its thread is gone)."""
        if not self._finished.wait(timeout):
            return False
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def snapshot(self) -> Snapshot:
        """The last published state, as an immutable :class:`Snapshot`; also marks a poll."""
        self._last_poll = time.monotonic()
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
            )

    @property
    def status(self) -> Status:
        with self._lock:
            return self._status

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread

    # ---------------------------------------------------------------- worker side
    def _start(self) -> None:
        """Called by the manager when a worker slot is free."""
        with self._lock:
            self._status = Status.RUNNING
            self._message = "running"
            self._version += 1
        self._last_poll = time.monotonic()  # queue time does not count as idle
        self._thread = threading.Thread(target=self._run, name=f"job-{self.job_id}", daemon=True)
        self._thread.start()

    def _publish(self, task: StepTask, elapsed: float) -> None:
        history = task.publish()
        with self._lock:
            self._history = history
            self._steps_done = int(task.steps_done)
            self._total_steps = int(task.total_steps)
            self._epoch = int(task.epoch)
            self._elapsed = elapsed
            self._version += 1

    def _run(self) -> None:
        task = None
        status, message, error = Status.DONE, "finished", None
        run_time = 0.0
        try:
            task = self.task
            if task is None:
                task = self._task_or_factory()
                self.task = task
            start = last_pub = time.monotonic()
            self._publish(task, 0.0)
            interval = self.publish_interval
            stop, resume = self._stop, self._resume
            while True:
                if stop.is_set():
                    status, message = Status.STOPPED, f"stopped at step {task.steps_done}"
                    break
                if not resume.is_set():
                    run_time += time.monotonic() - start
                    idle = self._wait_while_paused()
                    start = last_pub = time.monotonic()
                    if idle:
                        status, message = Status.STOPPED, idle
                        break
                    continue
                if task.divergence is not None:
                    status, message = Status.DIVERGED, task.divergence
                    break
                if task.done:
                    message = getattr(task, "message", "") or message
                    break
                task.step()
                now = time.monotonic()
                if now - last_pub >= interval:
                    self._publish(task, run_time + now - start)
                    last_pub = now
                    if now - self._last_poll > self.idle_timeout:
                        status = Status.STOPPED
                        message = f"stopped: not polled for {self.idle_timeout:g} s"
                        break
            run_time += time.monotonic() - start
        except BaseException:  # noqa: BLE001 - everything the task raises is reported
            status, message = Status.FAILED, "the job raised an error"
            error = traceback.format_exc()
        finally:
            if task is not None:
                try:
                    self._publish(task, run_time)
                except BaseException:  # noqa: BLE001
                    if error is None:
                        status, message = Status.FAILED, "publishing the result raised an error"
                        error = traceback.format_exc()
            self._finish(status, message, error)

    def _wait_while_paused(self) -> str | None:
        """Block until resumed or stopped; a sentence if the idle timeout ran out meanwhile."""
        while not self._resume.wait(timeout=min(0.5, self.idle_timeout)):
            if time.monotonic() - self._last_poll > self.idle_timeout:
                return f"stopped while paused: not polled for {self.idle_timeout:g} s"
        return None

    def _finish(self, status: Status, message: str, error: str | None = None) -> None:
        with self._lock:
            if self._status.finished:
                return
            self._status, self._message, self._error = status, message, error
            self._version += 1
        self._finished.set()
        self._manager._on_finished(self)

    def __repr__(self) -> str:
        return f"Job({self.job_id!r}, {self.name!r}, {self.status.value})"


def _is_task(obj: Any) -> bool:
    return hasattr(obj, "step") and hasattr(obj, "publish")


class JobManager:
    """Registry of active jobs with a cap on how many run at once; the rest queue (FIFO).

    Finished jobs leave the registry (whoever holds the :class:`Job` keeps its results).
    """

    def __init__(self, max_running: int | None = None):
        self._lock = threading.Lock()
        self._max_running = self._check_cap(max_running)
        self._running: dict[str, Job] = {}
        self._queue: deque[Job] = deque()
        self._ids = itertools.count(1)

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
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        publish_interval: float = DEFAULT_PUBLISH_INTERVAL,
    ) -> Job:
        """Queue ``task`` (or a factory called on the worker) and start it when a slot is free."""
        job = Job(
            task,
            manager=self,
            job_id=f"{next(self._ids)}",
            name=name,
            idle_timeout=idle_timeout,
            publish_interval=publish_interval,
        )
        with self._lock:
            self._queue.append(job)
        self._fill()
        return job

    def jobs(self) -> list[Job]:
        """Running (and paused) jobs, then queued ones in order."""
        with self._lock:
            return [*self._running.values(), *self._queue]

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

    def stop_all(self, timeout: float | None = 5.0) -> bool:
        """Stop every job and wait for their threads; True if all have ended."""
        jobs = self.jobs()
        for job in jobs:
            job.stop()
        return all(job.join(timeout) for job in jobs)

    # ---------------------------------------------------------------- internals
    def _fill(self) -> None:
        """Start queued jobs while there are free slots (jobs start outside the lock)."""
        while True:
            with self._lock:
                if not self._queue or len(self._running) >= self._max_running:
                    return
                job = self._queue.popleft()
                self._running[job.job_id] = job
            job._start()

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
        self._fill()


_DEFAULT_MANAGER: JobManager | None = None
_DEFAULT_LOCK = threading.Lock()


def default_manager() -> JobManager:
    """The process-wide manager (cap: ``os.cpu_count()``), shared by every session."""
    global _DEFAULT_MANAGER
    with _DEFAULT_LOCK:
        if _DEFAULT_MANAGER is None:
            _DEFAULT_MANAGER = JobManager()
        return _DEFAULT_MANAGER


class JobGroup:
    """A session's jobs by slot key (e.g. ``"train"``), on top of a shared :class:`JobManager`.

    Starting a slot again stops the job it held. :meth:`close` stops them all: the Streamlit
    helper calls it when the session ends.
    """

    def __init__(self, manager: JobManager | None = None):
        self.manager = manager or default_manager()
        self._slots: dict[str, Job] = {}
        self._lock = threading.Lock()

    def start(self, key: str, task: StepTask | Callable[[], StepTask], **submit_kw) -> Job:
        """Stop the job in slot ``key`` (if any) and submit ``task`` there."""
        self.reset(key)
        job = self.manager.submit(task, **submit_kw)
        with self._lock:
            self._slots[key] = job
        return job

    def get(self, key: str) -> Job | None:
        with self._lock:
            return self._slots.get(key)

    def reset(self, key: str) -> None:
        """Stop the job in slot ``key`` and forget it."""
        with self._lock:
            job = self._slots.pop(key, None)
        if job is not None:
            job.stop()

    def close(self, timeout: float | None = 2.0) -> bool:
        """Stop every job of the group; True if all threads ended within ``timeout`` each."""
        with self._lock:
            jobs = list(self._slots.values())
            self._slots.clear()
        for job in jobs:
            job.stop()
        return all(job.join(timeout) for job in jobs)
