"""Cost estimates (engine.budget) against measurement, in one run on this machine.

Covered: the Regularization lab's jobs, the Gradient-flow profiles and training, the race
page's network view (training + landscape) and its analyses (basins, tuning, seeds).

``python -m bench.budget`` prints, for a few configurations of every priced computation, the
estimated and measured seconds (their ratio; the stated factor: measured / estimated within
1/3..3 on an idle machine) and peak bytes (tracemalloc; the estimate must bound it, which
``tests/test_budget.py`` also asserts), then the largest job step the caps and the budget
allow (one step's estimate just under the ``step_s`` cap) and how long Stop takes on it.
The machine is shared: the load average is printed, and times drift with it.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
import tracemalloc

from engine import basins, budget, race, reg_lab, tuning
from engine import gradflow as gf
from engine import netrace as nr
from engine.gradflow_presets import DataSpec, FlowConfig
from engine.knobs import validate_all
from engine.surfaces import get as get_surface
from pages.common import reg_config

FACTOR = 3.0


def _lab(**query):
    n = int(query.get("nv", 4))
    values, _ = validate_all(reg_config.all_knobs(n), {k: str(v) for k, v in query.items()})
    return reg_config.lab_from_values(values)[0]


def _time(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _peak(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _train(task):
    while not task.done:
        task.step()


def cases():
    surface = get_surface("himmelblau")
    entries = race.default_entries("himmelblau")
    labs = {
        "reg lab, default link": _lab(),
        "reg lab, 2000 epochs": _lab(epochs=2000),
        "reg lab, n=2000 d=256 128x2, 20 ep": _lab(n=2000, feat=256, width=128, depth=2, epochs=20),
    }
    for name, lab in labs.items():
        yield name, budget.reg_lab(lab), lambda lab=lab: reg_lab.TwinRuns(lab).run()
    deep = (FlowConfig(depth=100, width=256), FlowConfig(depth=100, width=256, activation="tanh"))
    flows = {
        "at-init, page default": (gf.SLOT_DEFAULTS[:3], DataSpec()),
        "at-init, 2 x 100x256, batch 512": (deep, DataSpec(batch=512)),
    }
    for name, (configs, spec) in flows.items():
        yield (
            name,
            budget.gradflow_profiles(configs, spec),
            lambda c=configs, s=spec: gf.profiles(c, s, memo=False),
        )
    configs, spec = gf.SLOT_DEFAULTS[:3], DataSpec(batch=32)
    yield (
        "gradient training, default, 200 steps",
        budget.gradflow_training(configs, spec, 200, "sgd", 0.05),
        lambda: _train(gf.FlowTraining(configs, spec, 200, "sgd", 0.05)),
    )
    for name, config, spec in _netraces():
        yield (
            name,
            nr.budget_estimate(config, spec),
            lambda c=config, s=spec: nr.NetRace(c, landscape_spec=s).run(),
        )
    yield (
        "basin maps 5 x 60x60",
        budget.basins(5, 60, basins.BASIN_STEPS),
        lambda: basins.basin_maps(surface, entries, n=60),
    )
    yield (
        "tuning 5 racers, 500 steps",
        budget.tuning(5, 500),
        lambda: tuning.tune_entries(surface, entries, (0.0, 0.0), 500),
    )
    yield (
        "seeds 5 x 50, 500 steps",
        budget.seed_ensemble(5, 50, 500),
        lambda: [
            basins.seed_cloud(surface, e, (0.0, 0.0), 500, noise_std=0.5, n_seeds=50)
            for e in entries
        ],
    )


def _netraces():
    """The race page's network view: the default job, a wider net, a finer grid, ReLU."""
    from bench.netrace import default_config

    base = default_config()
    spec = nr.LandscapeSpec()
    yield "network race, default (5 racers, 41x41)", base, spec
    wide = dataclasses.replace(base, hidden=(64, 64), epochs=60)
    yield "network race, 64x64 net, 60 epochs", wide, spec
    yield "network race, 101x101 landscape", base, dataclasses.replace(spec, grid=101)
    relu = dataclasses.replace(base, activation="relu", dataset="spirals")
    yield "network race, ReLU on spirals", relu, spec


def largest_step() -> None:
    """The reg-lab job with the biggest full-batch step the step cap allows; Stop on it."""
    lim = budget.limits()
    best = None
    for width in (256, 192, 128, 96, 64, 48, 32):
        lab = _lab(n=5000, feat=512, width=width, depth=4, batch=3500, epochs=5)
        est = budget.reg_lab(lab)
        if budget.decide(est, lim).allowed:
            best = (width, lab, est)
            break
    if best is None:
        print("  no full-batch lab job fits the step cap")
        return
    width, lab, est = best
    task = reg_lab.TwinRuns(lab)
    stop = threading.Event()
    steps = []

    def run():
        while not stop.is_set() and not task.done:
            t = time.perf_counter()
            task.step()
            steps.append(time.perf_counter() - t)

    worker = threading.Thread(target=run)
    worker.start()
    time.sleep(max(2.0, 3 * est.step_seconds))
    t = time.perf_counter()
    stop.set()
    worker.join()
    latency = time.perf_counter() - t
    print(
        f"  full batch 3500 x (512-{width}x4): step estimated {est.step_seconds:.2f} s "
        f"(cap {lim.step_s:g} s), measured max {max(steps):.2f} s over {len(steps)} steps; "
        f"stop took {latency:.2f} s (target <= 1 s)"
    )


def main() -> None:
    rates = budget.machine_rates()
    print(
        f"rates: {rates.flops_per_s / 1e9:.1f} GFLOP/s (matmul), {rates.elems_per_s / 1e6:.0f} "
        f"M elements/s, {rates.seconds_per_call * 1e6:.1f} us/call; "
        f"load avg {os.getloadavg()[0]:.1f}"
    )
    print(f"{'computation':40s} {'est s':>8s} {'meas s':>8s} {'ratio':>6s}  {'est MB':>8s}"
          f" {'peak MB':>8s}")  # fmt: skip
    ratios = []
    for name, est, fn in cases():
        seconds = _time(fn)
        peak = _peak(fn)
        ratio = seconds / est.seconds
        ratios.append(ratio)
        flag = "" if 1 / FACTOR <= ratio <= FACTOR else "  (outside the factor)"
        bound = "" if peak <= est.peak_bytes else "  PEAK NOT BOUNDED"
        print(
            f"{name:40s} {est.seconds:8.2f} {seconds:8.2f} {ratio:6.2f}  "
            f"{est.peak_bytes / 2**20:8.1f} {peak / 2**20:8.1f}{flag}{bound}"
        )
    inside = sum(1 / FACTOR <= r <= FACTOR for r in ratios)
    print(f"measured/estimated within 1/{FACTOR:g}..{FACTOR:g}: {inside}/{len(ratios)}")
    print("largest allowed step and Stop:")
    largest_step()
    print(f"load avg at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
