"""Benchmark of the race page's network view (default settings): ``python -m bench.netrace``.

Prints, in one run (the machine is shared: compare ratios, the load average is printed):

* training every default racer (5 x 540 steps, 2-16-16-2 tanh on moons) synchronously, and
  as the page runs it (ONE background job of chunks in a worker process: training, then the
  landscape in short steps): time to the first publication holding an evaluated epoch (the
  first live chart's data) and to the finished job;
* the 41x41 PCA landscape (grid, projected and true path losses, 1D slices): float32 as the
  page uses it, and the same in float64 for the ratio;
* the estimate the budget gate uses, against the measured total;
* the figures' JSON bytes (hero landscape + each secondary chart) against the 300 KB budget.
"""

from __future__ import annotations

import os
import time

import numpy as np

from engine import netrace as nr
from engine.blas import set_threads
from engine.jobs import JobManager
from engine.optimizers import PRESETS
from viz import race_network as vn

LABELS = ("SGD", "Momentum", "RMSProp", "Adagrad", "Adam")


def default_config() -> nr.NetRaceConfig:
    racers = []
    for label in LABELS:
        name, hp = PRESETS[label]
        racers.append(
            nr.Racer(label, name, tuple(sorted({**hp, "lr": nr.network_lr(label)}.items())))
        )
    return nr.NetRaceConfig(tuple(racers))


def _job(manager: JobManager, config: nr.NetRaceConfig) -> tuple[float, float]:
    """Seconds to the first publication holding an evaluated epoch, and to the end."""
    t0 = time.perf_counter()
    job = manager.submit(lambda: nr.NetRace(config, landscape_spec=nr.LandscapeSpec()))
    first = None
    while True:
        snap = job.snapshot()
        history = snap.history
        if first is None and history is not None and len(history.runs[0].history.epochs) > 1:
            first = time.perf_counter() - t0
        if snap.status.finished:
            return first, time.perf_counter() - t0
        time.sleep(0.02)


def main() -> None:
    set_threads(1)  # as the app does
    print(f"load average: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} (2 cores)")
    config = default_config()

    t0 = time.perf_counter()
    result = nr.run(config)
    train_s = time.perf_counter() - t0
    steps = len(config.racers) * result.total_steps
    print(f"training, synchronous: {train_s:.2f} s for {steps:,} steps ({steps / train_s:,.0f}/s)")

    manager = JobManager(max_running=1)
    for label in ("a fresh worker pool", "a warm pool"):
        first, job_s = _job(manager, config)
        print(
            f"the page's job (training, then the 41x41 landscape), {label}: first evaluated "
            f"epoch {first:.2f} s, everything {job_s:.2f} s"
        )

    t0 = time.perf_counter()
    land = nr.landscape(result)
    land_s = time.perf_counter() - t0
    print(f"landscape 41x41 (+ paths, slices), float32: {land_s:.2f} s")
    from engine import landscape as ls

    t0 = time.perf_counter()
    ls.grid_loss(
        result.shape, land.plane, land.alphas, land.betas, result.data.X_train, result.data.y_train
    )
    f64 = time.perf_counter() - t0
    t0 = time.perf_counter()
    ls.grid_loss(
        result.shape, land.plane, land.alphas, land.betas, result.data.X_train, result.data.y_train,
        dtype=np.float32,
    )  # fmt: skip
    f32 = time.perf_counter() - t0
    print(f"  grid alone: float64 {f64:.2f} s, float32 {f32:.2f} s (ratio {f64 / f32:.1f}x)")

    est = nr.budget_estimate(config, nr.LandscapeSpec())
    print(
        f"budget estimate {est.seconds:.2f} s, {est.peak_bytes / 2**20:.0f} MB peak, largest step "
        f"{est.step_seconds * 1000:.0f} ms (engine.budget at this machine's probed rates) vs "
        f"measured {job_s:.2f} s (the job, warm pool)"
    )

    t0 = time.perf_counter()
    figs = {
        "landscape (hero)": vn.landscape_figure(land, result),
        "loss curves": vn.curves_figure(result),
        "true vs projected": vn.path_loss_figure(land, result),
        "sharpness slices": vn.slices_figure(land, result),
    }
    sizes = {k: len(f.to_json()) for k, f in figs.items()}
    build = time.perf_counter() - t0
    print(f"figures built + serialized in {build:.2f} s; JSON bytes:")
    for k, v in sizes.items():
        print(f"  {k:20s} {v / 1000:7.1f} KB")
    worst = sizes["landscape (hero)"] + max(v for k, v in sizes.items() if k != "landscape (hero)")
    print(f"per rerun (hero + one secondary chart): {worst / 1000:.1f} KB (budget 300 KB)")


if __name__ == "__main__":
    main()
