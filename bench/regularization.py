"""Benchmark the Regularization lab's default comparison: `python -m bench.regularization`.

Prints (medians of a few repeats, measured in this run on this machine):

* the whole default comparison (4 variants, 200 epochs) trained synchronously;
* the same as a background job (engine.jobs, as the page runs it): time to the first
  publication with a trained epoch, time to the first chart (that publication plus building
  the histogram figure from it) and time to finish;
* the page's figures for the finished run: build time and JSON size of each and in total
  (what one live poll of the page draws and sends).

Targets (the issue): first chart <= 1 s, whole comparison <= 10 s, figure JSON <= 2 MB.
"""

from __future__ import annotations

import statistics
import time

from engine import reg_geometry as rg
from engine import reg_lab as rl
from engine.blas import set_threads
from engine.jobs import JobManager, Status
from viz import regularization as vr

REPEATS = 3


def _sync() -> float:
    t = time.perf_counter()
    rl.TwinRuns(rl.DEFAULT_LAB).run()
    return time.perf_counter() - t


def _job() -> tuple[float, float, float]:
    """(first trained publication, first chart, finished) in seconds after submit."""
    manager = JobManager(max_running=1)
    start = time.perf_counter()
    job = manager.submit(lambda: rl.TwinRuns(rl.DEFAULT_LAB), name="bench")
    first = chart = None
    while True:
        snap = job.snapshot()
        runs = snap.history
        if first is None and runs and all(r.history.epochs_done >= 1 for r in runs):
            first = time.perf_counter() - start
            hs = [r.history for r in runs]
            vr.histogram_figure(hs, [r.label for r in runs], 0, 200).to_json()
            chart = time.perf_counter() - start
        if snap.status.finished:
            assert snap.status is Status.DONE, snap.message
            return first, chart, time.perf_counter() - start
        time.sleep(0.02)


def _figures() -> dict[str, tuple[float, int]]:
    default = rl.TwinRuns(rl.DEFAULT_LAB)
    runs, sparse = default.run(), default.data
    hs, labels = [r.history for r in runs], [r.label for r in runs]
    curves = [rl.sparsity_curve(h, 0) for h in hs]
    task = rl.TwinRuns(
        rl.LabConfig(
            rl.DEFAULT_BASE.replace(dataset="moons", data_options={}, epochs=5), rl.DEFAULT_VARIANTS
        )
    )
    moons = task.run()
    xs, ys, pts = rl.boundary_grid(task.data)
    builders = {
        "histogram (animated)": lambda: vr.histogram_figure(hs, labels, 0, 200),
        "loss curves": lambda: vr.loss_figure(hs, labels),
        "sparsity": lambda: vr.sparsity_figure(curves, labels, "layer 1"),
        "decision regions (moons)": lambda: vr.boundary_figure(
            xs,
            ys,
            [
                rl.class_probability(rl.rebuild(r.config, r.history.sizes, r.final), pts)
                for r in moons
            ],
            labels,
            task.data.X_train,
            task.data.y_train,
        ),
        "2-weight geometry": lambda: vr.geometry_figure(rg.two_weight_problem(), 0.8),
        "coefficient paths": lambda: vr.paths_figure(rg.coefficient_paths(sparse)),
    }
    out = {}
    for name, build in builders.items():
        t = time.perf_counter()
        size = len(build().to_json())
        out[name] = (time.perf_counter() - t, size)
    return out


def main() -> None:
    threads = set_threads(1)
    print(f"OpenBLAS single-threaded: {threads}")
    lab = rl.DEFAULT_LAB
    steps = rl.TwinRuns(lab).total_steps
    print(
        f"default comparison: {len(lab.variants)} variants x {lab.base.epochs} epochs "
        f"({steps:,} minibatch steps in all)"
    )
    sync = [_sync() for _ in range(REPEATS)]
    print(
        f"  synchronous, whole comparison : {statistics.median(sync):6.2f} s (min {min(sync):.2f})"
    )
    jobs = [_job() for _ in range(REPEATS)]
    first, chart, done = (statistics.median(x) for x in zip(*jobs, strict=True))
    print(f"  background job, first epoch in: {first:6.2f} s")
    print(f"  background job, first chart   : {chart:6.2f} s   (target <= 1 s)")
    print(f"  background job, finished      : {done:6.2f} s   (target <= 10 s)")
    figs = _figures()
    total_t = sum(t for t, _ in figs.values())
    total_b = sum(b for _, b in figs.values())
    print("page figures (finished default run):")
    for name, (t, b) in figs.items():
        print(f"  {name:26s} {t * 1000:7.1f} ms {b / 1e6:7.3f} MB")
    print(f"  {'total':26s} {total_t * 1000:7.1f} ms {total_b / 1e6:7.3f} MB   (target <= 2 MB)")


if __name__ == "__main__":
    main()
