"""One executor seam for the app's compute: threads, a local process pool, or Dask distributed.

Every background job (:mod:`engine.jobs`) and every heavy computation
(:func:`engine.result_cache.shared_compute`) goes through a :class:`Backend`, a thin
``concurrent.futures.Executor``-shaped object (``submit(fn, *args) -> future``, ``shutdown``):

* :class:`ProcessBackend` (the embedded default): a local ``ProcessPoolExecutor`` sized to the
  CPUs, started lazily, with the ``forkserver`` context (``spawn`` where there is none):
  forking a threaded Streamlit server is unsafe. Compute runs off the server's GIL.
* :class:`ThreadBackend`: a thread pool in the server process, for tests and tiny work. It
  is ``in_process``: a task object is shared, not copied, so a job can interrupt a chunk
  between two steps.
* :class:`DaskBackend`: ``distributed.Client(address).submit`` when a scheduler address is
  configured (``NNVIZ_DASK_SCHEDULER`` or the page layer's ``dask_scheduler`` secret), so a
  course adds worker machines instead of a bigger server. Dask reschedules a task whose worker
  died on another worker by itself; the workers must be able to ``import engine`` (same code
  on ``PYTHONPATH``).

A lost worker never loses work: :meth:`Backend.result` waits for a future and, when the pool
broke under it (a killed process: ``BrokenProcessPool``; Dask after its own retries:
``KilledWorker``), starts a fresh pool and submits the same call again. Callers pass the
*state before the call* (a job's chunk carries its task), so the retry is exact.

Configuration (:func:`configure`, else the environment): ``NNVIZ_EXECUTOR`` =
``process`` (default) | ``thread`` | ``dask``; ``NNVIZ_DASK_SCHEDULER`` = ``tcp://host:8786``
(implies ``dask``); ``NNVIZ_WORKERS`` = pool size (default: the CPU count).
"""

from __future__ import annotations

import abc
import contextlib
import multiprocessing
import os
import sys
import threading
import time
import types
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

ENV_KIND = "NNVIZ_EXECUTOR"
ENV_SCHEDULER = "NNVIZ_DASK_SCHEDULER"
ENV_WORKERS = "NNVIZ_WORKERS"
KINDS = ("process", "thread", "dask")
MAX_RETRIES = 3  # resubmissions of one call after lost workers before giving up
CHECK_SECONDS = 60.0  # a Dask cluster must run one engine task within this at start-up


def cpu_count() -> int:
    """CPUs this process may use (the affinity mask where there is one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class Backend(abc.ABC):
    """Executor-shaped compute seam (see the module docstring): a backend must say its
    ``capacity`` and ``submit``; the other methods have defaults."""

    name = "backend"
    in_process = False  #: whether submitted objects are shared with the caller (threads)

    @property
    @abc.abstractmethod
    def capacity(self) -> int:
        """How many calls run at once (the job manager's default cap)."""

    @abc.abstractmethod
    def submit(self, fn: Callable, /, *args: Any, **kwargs: Any) -> Any:
        """Schedule ``fn(*args, **kwargs)``; a future with ``result``, ``done``, ``cancel``,
        ``add_done_callback``."""

    def lost(self, exc: BaseException) -> bool:
        """Whether ``exc`` (raised by ``future.result()``) means a worker died, not the call."""
        return False

    def recover(self) -> None:
        """Make the backend usable again after a lost worker (e.g. a new process pool);
        nothing to do for a backend whose workers cannot be lost."""
        return None

    def abandon(self, future: Any) -> None:
        """Forget ``future`` without waiting (a stopped job's chunk in flight)."""
        future.cancel()

    def result(self, future: Any, fn: Callable, *args: Any, timeout: float | None = None):
        """``future.result()``; when its worker was lost, resubmit ``fn(*args)`` and wait again."""
        for attempt in range(MAX_RETRIES + 1):
            try:
                return future.result(timeout)
            except BaseException as exc:
                if attempt == MAX_RETRIES or not self.lost(exc):
                    raise
                self.recover()
                future = self.submit(fn, *args)
        raise AssertionError("unreachable")

    def call(self, fn: Callable, /, *args: Any) -> Any:
        """Run ``fn(*args)`` on the backend and wait for it (blocking on a future, not the GIL)."""
        return self.result(self.submit(fn, *args), fn, *args)

    def warm(self) -> None:
        """Start the workers now (not on the first job), without waiting for them; nothing to
        do for a backend that starts none."""
        return None

    def shutdown(self, wait: bool = True) -> None:
        """Release the workers (nothing to release by default)."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(capacity={self.capacity})"


class ThreadBackend(Backend):
    """Threads of this process: shared objects, no pickling (tests, tiny work)."""

    name = "thread"
    in_process = True

    def __init__(self, workers: int | None = None):
        self._workers = workers or max(4, cpu_count())
        self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="compute")

    @property
    def capacity(self) -> int:
        return self._workers

    def submit(self, fn, /, *args, **kwargs) -> Future:
        return self._pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=True)


def _mp_context():
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


_MAIN_LOCK = threading.Lock()


@contextlib.contextmanager
def _plain_main():
    """Start worker processes as if ``__main__`` were an empty module.

    ``spawn``/``forkserver`` children re-run the parent's ``__main__`` file; in a Streamlit
    server that is the last page script run (Streamlit installs it as ``__main__``), which a
    worker must never execute. Only the moment of ``submit`` (when the pool may start a
    process) sees the stand-in, and a script run that replaced ``__main__`` meanwhile wins.
    """
    with _MAIN_LOCK:
        real = sys.modules.get("__main__")
        stand_in = types.ModuleType("__main__")
        sys.modules["__main__"] = stand_in
        try:
            yield
        finally:
            if sys.modules.get("__main__") is stand_in and real is not None:
                sys.modules["__main__"] = real


PARENT_CHECK_SECONDS = 1.0  # how often a pool worker checks that the server is still there


def _warm(parent_pid: int | None = None) -> int:
    """Run in each worker on start: import the engine (the first chunk does not pay for it),
    use one BLAS thread (see :func:`worker_setup`) and exit with the server
    (:func:`_exit_with`, when ``parent_pid`` is given)."""
    import engine.trainer  # noqa: F401

    worker_setup()
    if parent_pid is not None:
        threading.Thread(
            target=_exit_with, args=(parent_pid,), name="exit-with-server", daemon=True
        ).start()
    return os.getpid()


def _exit_with(parent_pid: int, every: float = PARENT_CHECK_SECONDS) -> None:
    """End this worker within ``every`` seconds of the server process ``parent_pid``.

    A ``ProcessPoolExecutor`` worker waits on its call queue, whose pipe it holds both ends
    of, so it never sees its server die; its parent is the forkserver, which lives as long
    as a worker holds its pipe. A server that ends without shutting its pool down (killed,
    crashed, or stopped before its pool) would leave the forkserver and every worker behind,
    idle or finishing a chunk nobody will read: a server stopped with SIGTERM after one lab
    visit left 3 processes and 88 MB behind, for good.
    """
    while True:
        time.sleep(every)
        try:
            os.kill(parent_pid, 0)
        except (ProcessLookupError, PermissionError):  # gone, or the pid is another user's now
            os._exit(0)


_SETUP_DONE = False


def worker_setup() -> None:
    """Once per worker process: one BLAS thread. A worker runs one chunk at a time and the
    pool already has a process per core; OpenBLAS threads on top would oversubscribe the
    cores (engine/blas.py). :func:`engine.jobs.run_chunk` calls it, so Dask workers get it too."""
    global _SETUP_DONE
    if not _SETUP_DONE:
        from engine import blas

        blas.set_threads(1)
        _SETUP_DONE = True


class ProcessBackend(Backend):
    """A local process pool (forkserver/spawn), created on first use, replaced if it breaks."""

    name = "process"

    def __init__(self, workers: int | None = None):
        self._workers = workers or cpu_count()
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None

    @property
    def capacity(self) -> int:
        return self._workers

    def _get_pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    self._workers,
                    mp_context=_mp_context(),
                    initializer=_warm,
                    initargs=(os.getpid(),),
                )
            return self._pool

    def submit(self, fn, /, *args, **kwargs) -> Future:
        pool = self._get_pool()
        try:
            with _plain_main():
                return pool.submit(fn, *args, **kwargs)
        except BrokenProcessPool:
            self._replace(pool)
            with _plain_main():
                return self._get_pool().submit(fn, *args, **kwargs)

    def lost(self, exc: BaseException) -> bool:
        return isinstance(exc, BrokenProcessPool)

    def warm(self) -> None:
        for _ in range(self._workers):
            self.submit(_warm)

    def recover(self) -> None:
        with self._lock:
            pool = self._pool
        if pool is not None:
            self._replace(pool)

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        """Drop ``broken`` (if it is still the current pool): the next submit starts a new one."""
        with self._lock:
            if self._pool is broken:
                self._pool = None
        broken.shutdown(wait=False, cancel_futures=True)

    def worker_pids(self) -> list[int]:
        """Process ids of the pool's workers (tests kill one to check nothing is lost)."""
        pool = self._get_pool()
        return sorted(p.pid for p in (pool._processes or {}).values())

    def shutdown(self, wait: bool = True) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=wait, cancel_futures=True)


class DaskBackend(Backend):
    """A ``distributed.Client``: tasks go to the cluster's workers (Dask's own futures).

    ``pure=False``: every submission is a new task (a job's chunks must not be merged by
    Dask's key hashing; deduplication happens above, by canonical settings).
    """

    name = "dask"

    def __init__(self, address: Any = None, *, client: Any = None):
        from distributed import Client

        self.client = client if client is not None else Client(address, set_as_default=False)
        self.address = address

    @property
    def capacity(self) -> int:
        info = self.client.nthreads()
        return max(1, sum(info.values())) if info else 1

    def submit(self, fn, /, *args, **kwargs):
        return self.client.submit(fn, *args, pure=False, **kwargs)

    def check(self, timeout: float = CHECK_SECONDS) -> None:
        """Run one engine function on the cluster and wait for it (``timeout`` seconds).

        The scheduler unpickles every task graph and the workers run it, so both need this
        repository importable. If either cannot import ``engine``, jobs would be accepted and
        never run (the scheduler logs "Error during deserialization of the task graph" and the
        page waits forever); checking once at start-up turns that into an error the caller
        handles (the app falls back to its process pool and logs why).
        """
        try:
            self.client.submit(_warm, pure=False).result(timeout=timeout)
        except Exception as exc:  # noqa: BLE001 - any failure means: not usable as configured
            raise RuntimeError(
                f"The Dask cluster at {self.address} cannot run the engine's code ({exc!r}): "
                "start the scheduler and the workers with this repository importable "
                "(PYTHONPATH=/path/to/repo)."
            ) from exc

    def abandon(self, future: Any) -> None:
        """Drop the reference only: ``Future.cancel`` is a round trip to the scheduler, and the
        chunk ends by itself within its budget (Dask forgets a result nobody holds)."""

    def lost(self, exc: BaseException) -> bool:
        from distributed.scheduler import KilledWorker

        return isinstance(exc, KilledWorker)

    def shutdown(self, wait: bool = True) -> None:
        self.client.close()


def make_backend(kind: str | None = None, *, scheduler: str | None = None, workers=None):
    """A :class:`Backend` of ``kind`` (see :data:`KINDS`); a scheduler address means Dask."""
    if scheduler:
        kind = "dask"
    kind = kind or "process"
    if kind not in KINDS:
        raise ValueError(f"Unknown executor {kind!r}; expected one of {', '.join(KINDS)}")
    if kind == "dask":
        if not scheduler:
            raise ValueError(f"The Dask executor needs a scheduler address ({ENV_SCHEDULER})")
        backend = DaskBackend(scheduler)
        backend.check()
        return backend
    return ThreadBackend(workers) if kind == "thread" else ProcessBackend(workers)


_BACKEND: Backend | None = None
_BACKEND_LOCK = threading.Lock()


def _from_env() -> Backend:
    workers = os.environ.get(ENV_WORKERS)
    return make_backend(
        os.environ.get(ENV_KIND) or None,
        scheduler=os.environ.get(ENV_SCHEDULER) or None,
        workers=int(workers) if workers else None,
    )


def default_backend() -> Backend:
    """The process-wide backend: the one :func:`configure` set, else from the environment."""
    global _BACKEND
    with _BACKEND_LOCK:
        if _BACKEND is None:
            _BACKEND = _from_env()
        return _BACKEND


def configure(kind: str | None = None, *, scheduler: str | None = None, workers=None) -> Backend:
    """Set the process-wide backend once (the page layer passes the ``dask_scheduler``
    secret). A second call with the same settings keeps the existing backend; different
    settings replace it (the old one is shut down)."""
    global _BACKEND
    if scheduler:
        kind = "dask"
    kind = kind or os.environ.get(ENV_KIND) or "process"
    with _BACKEND_LOCK:
        old = _BACKEND
        if old is not None and old.name == kind and getattr(old, "address", None) == scheduler:
            return old
        _BACKEND = make_backend(kind, scheduler=scheduler, workers=workers)
    if old is not None:
        old.shutdown(wait=False)
    return _BACKEND


def set_backend(backend: Backend | None) -> Backend | None:
    """Install ``backend`` as the process-wide one (tests); returns the previous one."""
    global _BACKEND
    with _BACKEND_LOCK:
        old, _BACKEND = _BACKEND, backend
    return old
