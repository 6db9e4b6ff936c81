"""Identical work once: canonical keys, the byte-budgeted cache, shared jobs with per-session
views (pause freezes a view, stop detaches, the last watcher stops the job), shared compute,
and the process backend: bit-identical to threads and to a synchronous run, and a killed
worker process loses nothing."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from engine import reg_lab as rl
from engine.executor import ProcessBackend, ThreadBackend
from engine.jobs import JobGroup, JobManager, Status
from engine.result_cache import (
    NotCanonical,
    ResultCache,
    canonical_key,
    nbytes,
    shared_compute,
    shared_compute_all,
)
from engine.trainer import Config, Trainer, train
from tests.conftest import ROOT
from tests.test_jobs import Counter

WAIT = 30.0
THREADS = ThreadBackend(4)


@pytest.fixture(scope="module")
def processes():
    backend = ProcessBackend(2)
    yield backend
    backend.shutdown()


def _manager(backend=THREADS, budget=64 * 2**20, cap=2):
    return JobManager(max_running=cap, backend=backend, cache=ResultCache(budget))


def _poll_until_done(view, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while not view.join(0.02):
        view.snapshot()
        assert time.monotonic() < deadline, "job did not finish"
    return view.snapshot()


# ------------------------------------------------------------------ keys, sizes, the cache
def test_canonical_key_is_stable_across_processes_and_tells_settings_apart():
    lab = rl.DEFAULT_LAB
    key = canonical_key(rl.TwinRuns, lab)
    code = "from engine import reg_lab as rl; from engine.result_cache import canonical_key;"
    code += "print(canonical_key(rl.TwinRuns, rl.DEFAULT_LAB))"
    env = dict(os.environ, PYTHONHASHSEED="123")
    other = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert other.stdout.strip() == key
    assert canonical_key(rl.TwinRuns, rl.replace_base(lab, epochs=200)) == key  # same value
    assert canonical_key(rl.TwinRuns, rl.replace_base(lab, seed=1)) != key
    tiny = rl.replace_base(lab, hparams={"lr": 0.05 + 1e-16, "momentum": 0.9})
    assert canonical_key(rl.TwinRuns, tiny) != key  # floats compare exactly
    assert canonical_key({"a": 1, "b": 2}) == canonical_key({"b": 2, "a": 1})
    with pytest.raises(NotCanonical):
        canonical_key(lambda: 1)


def test_nbytes_sums_distinct_arrays_through_containers():
    a, b = np.zeros(100), np.zeros((10, 10), dtype=np.float32)
    assert nbytes({"x": [a, (b, a)], "y": None}) == 800 + 400  # a counted once
    history = train(Config(epochs=2, snapshot_every=1, hidden=(4,)))
    assert nbytes(history) >= history.step_loss.nbytes + sum(
        s.nbytes for s in history.snapshots.values()
    )


def test_cache_evicts_least_recently_used_by_bytes():
    cache = ResultCache(budget=3000)
    for k in "abc":
        assert cache.put(k, np.zeros(100))  # 800 bytes each
    assert cache.used == 2400
    cache.get("a")  # a is now the most recent; b the least
    cache.put("d", np.zeros(100))
    assert "b" not in cache and all(k in cache for k in "acd") and cache.used == 2400
    cache.put("big", np.zeros(250))  # 2000 bytes: evicts c then a (LRU order), keeps d
    assert [k in cache for k in ("a", "c", "d", "big")] == [False, False, True, True]
    assert cache.used == 2800 and cache.evictions == 3
    assert not cache.put("huge", np.zeros(1000)) and "huge" not in cache  # over the budget
    with pytest.raises(ValueError, match="budget"):
        ResultCache(-1)


# ------------------------------------------------------------------ shared jobs and views
def test_two_sessions_asking_the_same_settings_share_one_job_then_the_cached_result():
    m = _manager()
    a, b, c = JobGroup(m), JobGroup(m), JobGroup(m)
    make = functools.partial(Trainer, Config(epochs=30, hidden=(8,)))
    key = canonical_key(make.func, make.args)
    va = a.start("train", make, key=key, chunk_seconds=0.01)
    vb = b.start("train", functools.partial(Trainer, Config(epochs=30, hidden=(8,))), key=key)
    assert va.job is vb.job and va.snapshot().watchers == 2
    sa, sb = va.snapshot(), vb.snapshot()
    assert sa.job_id == sb.job_id and sa.key == sb.key == key
    done = _poll_until_done(va)
    assert done.status is Status.DONE and vb.snapshot().history is done.history
    assert m.cache.get(key) is not None and m.find(key) is None
    vc = c.start("train", make, key=key)  # later: the finished result, no compute
    cached = vc.snapshot()
    assert vc.job is not va.job and vc.job.thread is None and cached.cached
    assert cached.status is Status.DONE and cached.history is done.history
    assert cached.job_id == done.job_id and cached.version == done.version  # same figures
    ref = train(make.args[0])
    np.testing.assert_array_equal(cached.history.val_loss, ref.val_loss)


def test_stop_detaches_a_session_and_the_last_watcher_stops_the_job():
    m = _manager()
    a, b = JobGroup(m), JobGroup(m)
    va = a.start("t", Counter(10**6, delay=0.001), key="k1", chunk_seconds=0.01)
    vb = b.start("t", Counter(1), key="k1")
    assert va.job is vb.job
    time.sleep(0.05)
    va.stop()
    frozen = va.snapshot()
    assert frozen.status is Status.STOPPED and frozen.message.startswith("stopped at step")
    assert va.join(0) and vb.job.status is Status.RUNNING  # goes on for b
    steps = vb.job.task.steps_done
    time.sleep(0.05)
    assert vb.snapshot().status is Status.RUNNING and vb.job.task.steps_done > steps
    assert va.snapshot() is frozen  # a's picture no longer moves
    b.reset("t")  # the last watcher leaves: the job stops
    assert vb.job.join(WAIT) and vb.job.status is Status.STOPPED
    assert m.cache.get("k1") is None  # a stopped run is not a result


def test_pause_freezes_only_this_view_and_the_job_pauses_when_no_view_wants_it():
    m = _manager()
    a, b = JobGroup(m), JobGroup(m)
    va = a.start("t", Counter(10**6, delay=0.001), key="k2", chunk_seconds=0.01)
    vb = b.start("t", Counter(1), key="k2")
    job = va.job
    va.pause()
    frozen = va.snapshot()
    assert frozen.status is Status.PAUSED and va.snapshot() is frozen
    time.sleep(0.05)
    assert vb.snapshot().status is Status.RUNNING and vb.snapshot().version > frozen.version
    vb.pause()
    deadline = time.monotonic() + WAIT
    while job.status is not Status.PAUSED and time.monotonic() < deadline:
        time.sleep(0.005)
    steps = job.task.steps_done
    time.sleep(0.1)
    assert job.status is Status.PAUSED and job.task.steps_done == steps  # no next chunk
    va.resume()
    assert va.snapshot().status in (Status.QUEUED, Status.RUNNING)
    time.sleep(0.05)
    va.snapshot()
    assert job.task.steps_done > steps
    a.close()
    b.close()
    assert job.join(WAIT) and job.status is Status.STOPPED


def test_closing_a_session_releases_its_jobs_but_not_shared_ones():
    m = _manager()
    a, b = JobGroup(m), JobGroup(m)
    own = a.start("own", Counter(10**6, delay=0.001))
    shared = a.start("shared", Counter(10**6, delay=0.001), key="k3")
    b.start("shared", Counter(1), key="k3")
    assert a.close(timeout=WAIT)
    assert own.job.status is Status.STOPPED and shared.job.status.active
    assert b.close(timeout=WAIT) and shared.job.status is Status.STOPPED


def test_a_stopping_job_is_not_joined_by_a_new_request():
    m = _manager()
    a = JobGroup(m)
    va = a.start("t", Counter(10**6, delay=0.001), key="k4")
    va.job._stop.set()  # stopping, not yet finished
    vb = JobGroup(m).start("t", Counter(3), key="k4")
    assert vb.job is not va.job
    a.close()
    assert _poll_until_done(vb).status is Status.DONE


calls = []


def _slow_square(x):
    calls.append(x)
    time.sleep(0.2)
    return np.full(3, x * x)


def test_shared_compute_runs_once_for_concurrent_and_later_callers():
    cache = ResultCache(2**20)
    calls.clear()
    results = []
    threads = [
        threading.Thread(
            target=lambda: results.append(
                shared_compute("sq7", _slow_square, 7, backend=THREADS, cache=cache)
            )
        )
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert calls == [7] and len(results) == 3
    assert all(r is results[0] for r in results) and results[0].tolist() == [49] * 3
    assert "sq7" in cache  # the cache passed in, though empty (len 0, falsy) when called
    assert shared_compute("sq7", _slow_square, 7, backend=THREADS, cache=cache) is results[0]
    assert shared_compute(None, _slow_square, 8, backend=THREADS, cache=cache)[0] == 64
    assert calls == [7, 8]


# ------------------------------------------------------------------ process backend
def _lab_task(epochs=8):
    return functools.partial(rl.TwinRuns, rl.replace_base(rl.DEFAULT_LAB, epochs=epochs))


def _assert_same_runs(a, b):
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.final, y.final)
        for name in ("val_loss", "train_loss", "step_loss", "penalty"):
            np.testing.assert_array_equal(getattr(x.history, name), getattr(y.history, name))
        assert x.history.snapshots.keys() == y.history.snapshots.keys()
        for e in x.history.snapshots:
            np.testing.assert_array_equal(x.history.snapshots[e], y.history.snapshots[e])


def test_threads_and_processes_give_bit_identical_results(processes):
    make = _lab_task()
    ref = make().run()
    for backend in (THREADS, processes):
        job = _manager(backend).submit(make, chunk_seconds=0.02)
        assert job.join(120) and job.status is Status.DONE, job.snapshot().error
        _assert_same_runs(job.snapshot().history, ref)


def test_gradient_flow_and_dropout_training_travel_to_processes_bit_identically(processes):
    from engine import gradflow as gf
    from engine.gradflow_presets import DataSpec, FlowConfig

    cfgs = (FlowConfig(depth=6, width=16, activation="tanh"), FlowConfig(depth=6, width=16))
    make = functools.partial(gf.FlowTraining, cfgs, DataSpec(batch=32), 12, "sgd", 0.05)
    job = _manager(processes).submit(make, chunk_seconds=0.01)
    assert job.join(120) and job.status is Status.DONE, job.snapshot().error
    ref = make()
    while not ref.done:
        ref.step()
    for h, r in zip(job.snapshot().history.histories, ref.publish().histories, strict=True):
        np.testing.assert_array_equal(h.grad_norms, r.grad_norms)
        np.testing.assert_array_equal(h.step_loss, r.step_loss)
    cfg = Config(epochs=6, keep_prob=0.8, hidden=(16, 16), record_grad_norms=True)
    job = _manager(processes).submit(functools.partial(Trainer, cfg), chunk_seconds=0.01)
    assert job.join(120) and job.status is Status.DONE
    ref = Trainer(cfg)
    ref.run()
    np.testing.assert_array_equal(job.snapshot().history.grad_norms, ref.publish().grad_norms)
    np.testing.assert_array_equal(job.task.net.params, ref.net.params)


def test_killing_a_worker_process_mid_job_loses_nothing(processes):
    # ~1 s of training in 0.05 s chunks: the kill lands while the job still has chunks to run
    # (40 epochs took 0.1 s in all, and a loaded CI machine saw the job finish before the kill)
    make = _lab_task(epochs=600)
    ref = make().run()
    job = _manager(processes).submit(make, chunk_seconds=0.05)
    deadline = time.monotonic() + 120
    while job.snapshot().steps_done == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert job.status is Status.RUNNING, "the job ended before a worker could be killed"
    victim = processes.worker_pids()[0]
    os.kill(victim, signal.SIGKILL)
    assert job.join(120), "the job did not finish after a worker was killed"
    snap = job.snapshot()
    assert snap.status is Status.DONE, snap.error
    assert victim not in processes.worker_pids()  # a new pool replaced the broken one
    _assert_same_runs(snap.history, ref)


def test_a_lambda_factory_still_runs_on_processes(processes):
    cfg = Config(epochs=3, hidden=(4,))
    job = _manager(processes).submit(lambda: Trainer(cfg), chunk_seconds=0.01)
    assert job.join(120) and job.status is Status.DONE
    np.testing.assert_array_equal(job.snapshot().history.val_loss, train(cfg).val_loss)


def test_a_task_that_raises_in_a_worker_process_fails_with_its_traceback(processes):
    job = _manager(processes).submit(
        functools.partial(Trainer, Config(optimizer="nope")), chunk_seconds=0.01
    )
    assert job.join(120)
    snap = job.snapshot()
    assert snap.status is Status.FAILED and "Unknown optimizer 'nope'" in snap.error


def test_large_at_init_profiles_go_through_the_seam_bit_identically(monkeypatch, processes):
    import dataclasses

    from engine import blas, executor
    from engine import gradflow as gf
    from engine.gradflow_presets import DataSpec, FlowConfig
    from engine.result_cache import result_cache

    monkeypatch.setattr(gf, "REMOTE_WORK", 1e5)  # "large" = this small net, for speed
    monkeypatch.setattr(executor, "_BACKEND", processes)
    big, small = FlowConfig(depth=5, width=64), FlowConfig(depth=3, width=4)
    spec = DataSpec(batch=64)
    assert gf.remote_work(big, spec) > gf.REMOTE_WORK > gf.remote_work(small, spec)
    got = gf.profiles((big, small), spec, memo=True)
    assert result_cache().get(canonical_key("gradflow.profile", big, spec)) is not None
    assert result_cache().get(canonical_key("gradflow.profile", small, spec)) is None
    with blas.threads(1):
        ref = gf.profiles((big, small), spec, memo=False)
    for a, b in zip(got, ref, strict=True):
        for f in dataclasses.fields(a):
            x, y = getattr(a, f.name), getattr(b, f.name)
            if isinstance(x, np.ndarray):
                np.testing.assert_array_equal(x, y, err_msg=f.name)


def test_heavy_sweeps_through_the_seam_match_the_local_run(processes):
    from engine import basins, surfaces, tuning
    from engine.race import Entry

    surf = surfaces.get("himmelblau")
    entries = [Entry("Momentum", "sgd", {"lr": 0.01, "momentum": 0.9}), Entry("Adam", "adam")]
    cache = ResultCache(2**24)
    sweep = functools.partial(basins.basin_maps, surf, entries, n=8, steps=100)
    got = shared_compute("basins-test", sweep, backend=processes, cache=cache)
    ref = sweep()
    for a, b in zip(got.maps, ref.maps, strict=True):
        for name in ("label", "steps", "final_dist", "diverged_at"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    tune = functools.partial(tuning.tune_entries, surf, entries[:1], (0.0, 0.0), 60)
    got = shared_compute("tune-test", tune, backend=processes, cache=cache)
    np.testing.assert_array_equal(got[0].scores, tune()[0].scores)


def test_sessions_arriving_at_the_same_instant_get_one_job():
    m = _manager()
    barrier = threading.Barrier(8)
    views = []

    def arrive():
        barrier.wait(WAIT)
        views.append(JobGroup(m).start("t", Counter(10**6, delay=0.001), key="same-instant"))

    threads = [threading.Thread(target=arrive) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert len(views) == 8 and len({id(v.job) for v in views}) == 1
    assert views[0].snapshot().watchers == 8
    for v in views:
        v.stop()
    assert views[0].job.join(WAIT) and views[0].job.status is Status.STOPPED


def test_shared_compute_all_submits_every_call_before_waiting_and_keeps_their_order():
    """The basins view asks for one map per racer in one call: the computations must run at
    once (each waits here for all three, which one after another never would), the results
    come back in order, and a failed one lets every other finish and be cached."""
    barrier = threading.Barrier(3, timeout=WAIT)

    def square(i: int) -> int:
        barrier.wait()
        return i * i

    backend, cache = ThreadBackend(3), ResultCache(2**20)
    calls = [(f"all-{i}", square, (i,), backend) for i in range(3)]
    assert shared_compute_all(calls, cache=cache) == [0, 1, 4]
    assert all(f"all-{i}" in cache for i in range(3))
    assert shared_compute_all([], cache=cache) == []

    def boom() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        shared_compute_all(
            [("bad", boom, (), backend), ("ok", _slow_square, (5,), backend)], cache=cache
        )
    assert "ok" in cache and "bad" not in cache
    backend.shutdown()


def _alive(pid: int) -> bool:
    """``pid`` exists and is not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads process states from /proc")
def test_pool_workers_exit_when_their_server_is_killed():
    # a server that never shuts its pool down: killed, as a crash or an OOM kill would
    server = "\n".join(
        [
            "import os, sys, time",
            "from engine.executor import ProcessBackend",
            "backend = ProcessBackend(2)",
            "futures = [backend.submit(time.sleep, 0.5) for _ in range(2)]",
            "[f.result() for f in futures]",
            "print(*backend.worker_pids(), flush=True)",
            "sys.stdin.read()",
        ]
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", server],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    workers = [int(pid) for pid in proc.stdout.readline().split()]
    assert len(workers) == 2 and all(_alive(pid) for pid in workers)
    proc.kill()
    proc.wait(10)
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers), "pool workers outlived their server"
