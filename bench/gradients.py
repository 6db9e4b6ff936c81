"""Benchmark the Gradient-flow page: at-init profiles, the training heatmap, figure sizes.

Run ``python -m bench.gradients``. Prints (targets from issue 5 in brackets):

* at-init profile of 4 configurations at depth 100, width 256, batch 256 [<= 0.5 s], median
  of a few repeats: ``gf.profiles`` as the page calls it (thread pool, shared draws, BLAS on
  the free cores) against the serial reference (one configuration after the other, one BLAS
  thread, own draws: what the page did before) measured in the same run, with the
  per-configuration split and the matmul floor (3 products of (256, 256) @ (256, 256) per
  layer: forward, ∂W, and the signal below) on one core and on all cores;
* 200 training steps of a depth-50 width-64 network with per-step layer norms [<= 5 s];
* JSON size of every figure at its largest settings [<= 2 MB].

OpenBLAS runs single-threaded (``engine.blas.set_threads(1)``), as in the app; ``profiles``
raises it for its own duration only. The memo is off (``memo=False``): every repeat computes.
The machine is shared and noisy: compare the ratios printed side by side, not runs.
"""

from __future__ import annotations

import os
import statistics
import time

import numpy as np

from engine import gradflow as gf
from engine.blas import set_threads, threads
from viz import gradients as vg

CONFIGS = (
    gf.FlowConfig(100, 256, "sigmoid", "normal", 0.1),
    gf.FlowConfig(100, 256, "relu", "he_normal"),
    gf.FlowConfig(100, 256, "tanh", "xavier_normal"),
    gf.FlowConfig(100, 256, "linear", "identity", 1.5),
)
SPEC = gf.DataSpec("moons", 256, 0)


def _time(fn, repeats: int = 3) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def _matmul_floor() -> float:
    """Seconds for the 3 x 99 (256, 256) products one depth-100 profile needs at least."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(256, 256)), rng.normal(size=(256, 256))
    t = time.perf_counter()
    for _ in range(3 * 99):
        a @ b
    return time.perf_counter() - t


def main() -> None:
    set_threads(1)
    gf.profile(gf.FlowConfig(3, 8), SPEC)  # warm-up (imports, dataset)
    print("At-init profile, 4 configurations, depth 100, width 256, batch 256 [target <= 0.5 s]")

    def serial():
        return gf.profiles(CONFIGS, SPEC, parallel=False, memo=False)

    def pooled():
        return gf.profiles(CONFIGS, SPEC, memo=False)

    t_serial, t_pooled = [], []
    for _ in range(3):  # interleaved, so a burst of load hits both
        t_serial.append(_time(serial, 1)[0])
        t_pooled.append(_time(pooled, 1)[0])
    profiles = pooled()
    same = all(
        np.array_equal(a.act_grad, b.act_grad) and np.array_equal(a.weight_grad, b.weight_grad)
        for a, b in zip(serial(), profiles, strict=True)
    )
    ts, tp = statistics.median(t_serial), statistics.median(t_pooled)
    print(f"  serial reference (before)  {ts:.2f} s (median of 3)")
    print(f"  gf.profiles (after)        {tp:.2f} s (median of 3): x{ts / tp:.1f} faster")
    print(f"  same numbers bitwise: {same}")
    for cfg in CONFIGS:
        t, _ = _time(lambda c=cfg: gf.profiles((c,), SPEC, memo=False), 2)
        print(f"    alone: {cfg.label():40s} {t:.3f} s")
    floor = statistics.median(_matmul_floor() for _ in range(3))
    cores = os.cpu_count() or 1
    with threads(cores):
        floor_all = statistics.median(_matmul_floor() for _ in range(3))
    print(f"  matmul floor per config (297 products 256^3): {floor:.3f} s on 1 thread "
          f"(x4 = {4 * floor:.2f} s), {floor_all:.3f} s on {cores} BLAS threads "
          f"(x4 = {4 * floor_all:.2f} s)")  # fmt: skip
    names = [c.label() for c in CONFIGS]

    print("Training: 200 steps, depth 50, width 64 [target <= 5 s]")
    for batch in (32, 256):  # the page's training default, then the at-init batch
        spec = gf.DataSpec("moons", batch, 0)

        def run(spec=spec):
            task = gf.FlowTraining((gf.FlowConfig(50, 64, "relu", "he_normal"),), spec, 200)
            while not task.done:
                task.step()
            return task.publish()

        t, view = _time(run, 2)
        shape = view.histories[0].grad_norms.shape
        print(f"  batch {batch:3d}: {t:.2f} s ({200 / t:.0f} steps/s), history {shape}")

    print("Figure JSON sizes [target <= 2 MB]")
    sizes = {
        "hero profile (4 x depth 100)": vg.profile_figure(profiles, names),
        "activation stats (4 x depth 100)": vg.stats_figure(profiles, names),
        "histogram ridgeline": vg.ridgeline_figure(profiles[0], names[0], 0),
        "activation panel": vg.activation_panel(),
    }
    big = gf.FlowTraining(
        tuple(gf.FlowConfig(200, 8) for _ in range(4)), gf.DataSpec("moons", 8), 300
    )
    while not big.done:
        big.step()
    view = big.publish()
    sizes["heatmap (4 x 200 layers x 300 steps)"] = vg.heatmap_figure(view.histories, names)
    sizes["loss (4 x 300 steps)"] = vg.loss_figure(view.histories, names)
    for label, fig in sizes.items():
        print(f"  {label:40s} {len(fig.to_json()) / 1e6:.3f} MB")


if __name__ == "__main__":
    main()
