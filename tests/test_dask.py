"""Jobs and shared computations on a real Dask cluster: a scheduler and two worker processes
on localhost (one module-scoped LocalCluster). Results are bit-identical to the embedded run,
pause and stop work (no next chunk), and killing a worker process mid-job loses nothing."""

from __future__ import annotations

import functools
import os
import signal
import sys
import time
import types

import numpy as np
import pytest

from engine import reg_lab as rl
from engine.executor import DaskBackend
from engine.jobs import JobGroup, JobManager, Status
from engine.result_cache import ResultCache, shared_compute
from engine.trainer import Config, Trainer, train

distributed = pytest.importorskip("distributed")

WAIT = 120.0


@pytest.fixture(scope="module")
def dask_backend():
    from distributed import Client, LocalCluster

    # Nannies spawn their workers, and spawn re-runs the parent's __main__ from its file: after
    # an AppTest that is the page script AppTest wrote (a worker would run it and die). The
    # workers need no __main__ of ours, so give them an empty one while the cluster lives.
    real_main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
    client = Client(cluster, set_as_default=False)
    client.wait_for_workers(2, timeout=60)
    yield DaskBackend(client=client)
    client.close()
    cluster.close()
    sys.modules["__main__"] = real_main


def _manager(backend):
    return JobManager(backend=backend, cache=ResultCache(2**26))


def _lab(epochs):
    return functools.partial(rl.TwinRuns, rl.replace_base(rl.DEFAULT_LAB, epochs=epochs))


def _assert_same_runs(a, b):
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.final, y.final)
        for name in ("val_loss", "train_loss", "step_loss", "penalty"):
            np.testing.assert_array_equal(getattr(x.history, name), getattr(y.history, name))
        for e in y.history.snapshots:
            np.testing.assert_array_equal(x.history.snapshots[e], y.history.snapshots[e])


def test_a_dask_job_is_bit_identical_to_the_embedded_run(dask_backend):
    assert dask_backend.capacity == 2
    make = _lab(6)
    job = _manager(dask_backend).submit(make, chunk_seconds=0.02)
    assert job.join(WAIT) and job.status is Status.DONE, job.snapshot().error
    assert job.snapshot().version > 2  # several chunks travelled
    _assert_same_runs(job.snapshot().history, make().run())


def test_pause_and_stop_a_dask_job(dask_backend):
    m = _manager(dask_backend)
    view = JobGroup(m).start("t", _lab(400), chunk_seconds=0.05)
    deadline = time.monotonic() + WAIT
    while view.snapshot().steps_done == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    job = view.job
    job.pause()  # the whole job (the view's pause would only freeze this session's picture)
    while m.n_running and time.monotonic() < deadline:  # the chunk in flight has landed and
        time.sleep(0.02)  # the paused job gave its slot back: no next chunk
    assert job.status is Status.PAUSED
    steps = view.snapshot().steps_done
    time.sleep(0.5)
    assert view.snapshot().steps_done == steps and job.status is Status.PAUSED
    job.resume()
    while view.snapshot().steps_done == steps and time.monotonic() < deadline:
        time.sleep(0.02)
    assert view.snapshot().steps_done > steps
    t0 = time.monotonic()
    view.stop()  # the only watcher: the job stops, the chunk in flight is abandoned
    while job.status is not Status.STOPPED and time.monotonic() - t0 < 5.0:
        time.sleep(0.005)
    assert job.status is Status.STOPPED and time.monotonic() - t0 < 1.0
    assert job.join(5.0)


def _square_history(epochs):
    return train(Config(epochs=epochs, hidden=(4,)))


def test_shared_compute_on_dask_is_the_embedded_result(dask_backend):
    cache = ResultCache(2**24)
    got = shared_compute(None, _square_history, 3, backend=dask_backend, cache=cache)
    np.testing.assert_array_equal(got.val_loss, _square_history(3).val_loss)
    assert shared_compute(None, _square_history, 3, backend=dask_backend, cache=cache) is got


def test_a_trainer_travels_through_dask_unchanged(dask_backend):
    cfg = Config(epochs=4, keep_prob=0.8, record_grad_norms=True)
    job = _manager(dask_backend).submit(functools.partial(Trainer, cfg), chunk_seconds=0.01)
    assert job.join(WAIT) and job.status is Status.DONE
    ref = Trainer(cfg)
    ref.run()
    np.testing.assert_array_equal(job.task.net.params, ref.net.params)
    np.testing.assert_array_equal(job.snapshot().history.grad_norms, ref.publish().grad_norms)


def test_killing_a_dask_worker_mid_job_loses_nothing(dask_backend):
    # last in the module: the cluster may run on one worker afterwards
    client = dask_backend.client
    make = _lab(60)
    job = _manager(dask_backend).submit(make, chunk_seconds=0.1)
    deadline = time.monotonic() + WAIT
    while job.snapshot().steps_done == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    pids = client.run(os.getpid)  # {worker address: pid}
    processing = client.processing()  # {worker address: keys running there}
    busy = [a for a in pids if processing.get(a)]  # the worker running the chunk, if caught
    victim = pids[(busy or list(pids))[0]]
    os.kill(victim, signal.SIGKILL)
    assert job.join(WAIT), "the job did not finish after a worker was killed"
    snap = job.snapshot()
    assert snap.status is Status.DONE, snap.error
    _assert_same_runs(snap.history, make().run())


def test_a_cluster_that_cannot_run_the_engine_is_refused_at_start(dask_backend, monkeypatch):
    """A scheduler or worker without this repository on its path accepts tasks and never runs
    them: the check at start-up turns that into an error (the app then falls back)."""
    import engine.executor as ex

    def unimportable() -> int:
        raise ModuleNotFoundError("No module named 'engine'")

    monkeypatch.setattr(ex, "_warm", unimportable)
    with pytest.raises(RuntimeError, match="PYTHONPATH"):
        dask_backend.check(timeout=WAIT)
    monkeypatch.undo()
    dask_backend.check(timeout=WAIT)  # the real cluster runs the engine's code
