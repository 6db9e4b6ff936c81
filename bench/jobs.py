"""Job throughput: a polled background training job on each backend vs the same run synchronously.

    python -m bench.jobs [--epochs 150] [--repeats 3] [--poll 0.5] [--dask] [--sessions 20]

Runs the same Config (a) synchronously on the main thread and (b) as a background job (chunks
on the thread backend, on the local process pool, and with ``--dask`` on a local two-worker
``distributed.LocalCluster``) while the main thread polls ``snapshot()`` every ``--poll``
seconds and touches the published history (as a page's fragment does), interleaved
``--repeats`` times; prints steps/s of each, the job/sync ratio per backend (best of repeats,
measured in one run: the machine is shared and noisy), the cost of one ``snapshot()`` call,
and the server process's own CPU seconds per job (the process and Dask backends compute
elsewhere: that number is what a visitor costs the server). Then ``--sessions`` sessions ask
for the same run 0.05 s apart: one job runs for all, and a later session gets the cached result.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import time

from engine.executor import Backend, DaskBackend, ProcessBackend, ThreadBackend
from engine.jobs import JobManager, Status
from engine.result_cache import ResultCache
from engine.trainer import Config, Trainer


def sync_rate(config: Config) -> float:
    trainer = Trainer(config)
    t0 = time.perf_counter()
    trainer.run()
    return trainer.steps_done / (time.perf_counter() - t0)


def job_rate(config: Config, poll: float, backend: Backend) -> tuple[float, list[float], float]:
    """steps/s of the job, per-call snapshot() costs (s), server CPU seconds spent."""
    manager = JobManager(max_running=1, backend=backend, cache=ResultCache(0))
    cpu0, t0 = time.process_time(), time.perf_counter()
    job = manager.submit(functools.partial(Trainer, config))
    costs = []
    while not job.join(poll):
        c0 = time.perf_counter()
        snap = job.snapshot()
        costs.append(time.perf_counter() - c0)
        if snap.history is not None:  # what a page reads to draw
            _ = (snap.history.val_loss[-1:], snap.history.step_loss[-1:])
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    snap = job.snapshot()
    assert snap.status is Status.DONE, snap.message
    return snap.steps_done / elapsed, costs, cpu


def shared_sessions(config: Config, n: int, backend: Backend) -> None:
    """``n`` sessions asking for the same run 0.05 s apart (a class on one link): how many jobs
    ran, the server's CPU for all of them, then a late session served from the cache."""
    from engine.jobs import JobGroup
    from engine.result_cache import canonical_key

    manager = JobManager(backend=backend, cache=ResultCache(2**28))
    make = functools.partial(Trainer, config)
    key = canonical_key(Trainer, config)
    cpu0, t0 = time.process_time(), time.perf_counter()
    views = []
    for _ in range(n):
        views.append(JobGroup(manager).start("train", make, key=key))
        time.sleep(0.05)
    while not all(v.join(0) for v in views):
        for v in views:
            v.snapshot()
        time.sleep(0.1)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    jobs = {id(v.job) for v in views}
    assert all(v.snapshot().status is Status.DONE for v in views)
    t1 = time.perf_counter()
    late = JobGroup(manager).start("train", make, key=key).snapshot()
    print(
        f"{n} sessions, same settings ({backend.name}): {len(jobs)} job(s) ran, all finished in "
        f"{wall:.2f} s, server CPU {cpu:.2f} s ({cpu / n:.3f} s per session); a later session "
        f"got the cached result ({late.status.value}, cached={late.cached}) in "
        f"{(time.perf_counter() - t1) * 1e3:.2f} ms"
    )


def _dask_backend():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    )
    client = Client(cluster, set_as_default=False)
    client.wait_for_workers(2)
    return DaskBackend(client=client), cluster


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--poll", type=float, default=0.5)
    parser.add_argument("--dask", action="store_true", help="also a local 2-worker Dask cluster")
    parser.add_argument("--sessions", type=int, default=20, help="sessions sharing one run")
    args = parser.parse_args()
    config = Config(dataset="moons", hidden=(32, 32), epochs=args.epochs, batch_size=32)
    steps = Trainer(config).total_steps
    print(f"config: moons, hidden (32, 32), {args.epochs} epochs, batch 32 -> {steps} steps")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    backends: dict[str, Backend] = {"threads": ThreadBackend(2), "processes": ProcessBackend(2)}
    backends["processes"].call(abs, 1)  # start the pool outside the timings
    cluster = None
    if args.dask:
        backends["dask"], cluster = _dask_backend()
    sync: list[float] = []
    rates: dict[str, list[float]] = {name: [] for name in backends}
    cpus: dict[str, list[float]] = {name: [] for name in backends}
    costs: list[float] = []
    for i in range(args.repeats):
        sync.append(sync_rate(config))
        line = f"  repeat {i + 1}: sync {sync[-1]:,.0f} steps/s"
        for name, backend in backends.items():
            rate, c, cpu = job_rate(config, args.poll, backend)
            rates[name].append(rate)
            cpus[name].append(cpu)
            costs += c
            line += f", {name} {rate:,.0f}"
        print(line)
    best_sync = max(sync)
    print(f"sync (best of {args.repeats}): {best_sync:,.0f} steps/s")
    for name in backends:
        best = max(rates[name])
        med = statistics.median(rates[name]) / statistics.median(sync)
        print(
            f"{name:>9} job polled every {args.poll:g} s: {best:,.0f} steps/s, ratio job/sync "
            f"{best / best_sync:.3f} (best/best), {med:.3f} (median/median); server CPU "
            f"{statistics.median(cpus[name]):.2f} s per job"
        )
    if costs:
        print(
            f"snapshot() cost: median {statistics.median(costs) * 1e6:.1f} us, "
            f"max {max(costs) * 1e6:.1f} us over {len(costs)} polls"
        )
    shared_sessions(config, args.sessions, backends["processes"])
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for backend in backends.values():
        backend.shutdown()
    if cluster is not None:
        cluster.close()


if __name__ == "__main__":
    main()
