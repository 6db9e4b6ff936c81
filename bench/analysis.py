"""Race-analysis benchmarks: ``python -m bench.analysis`` prints figures measured in one run.

* basin maps: 100x100 starts x 5 entries x 500 steps (target <= 3 s) with the race's lean mode
  (``record=False``), against the full-history race + path labelling
  (:func:`engine.basins.classify`) it replaced;
* where run_race's time goes on that batch: a bare loop (gradient + in-place optimizer step
  only) vs run_race (+ loss, divergence checks, path recording, tolerance checks);
* fair race: 5 entries x 25 learning rates x 500 steps (target <= 1 s);
* sensitivity map: 25x25 x 500 steps (target <= 2 s);
* figure JSON size of each view (target <= 2 MB).

Timings are the best of ``REPEATS`` runs (the machine is shared and noisy). Never assert
timings in tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from engine import optimizers
from engine.basins import basin_maps, classify, default_basin_entries, seed_cloud, start_grid
from engine.race import default_entries, run_race
from engine.surfaces import get
from engine.tuning import sensitivity_map, tune_entries
from viz import race_maps as rm
from viz import race_seeds as rs
from viz import race_tuning as rt

REPEATS = 3
STEPS = 500


def best_of(fn: Callable[[], object], repeats: int = REPEATS) -> tuple[float, object]:
    """Best wall time of ``repeats`` calls, and the last result."""
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def bare_loop(surface, entry, starts, steps: int) -> np.ndarray:
    """The irreducible work: gradient + in-place optimizer step per step, nothing recorded."""
    opt = optimizers.make(entry.optimizer, **entry.hparams)
    p = np.array(starts, dtype=float)
    state = opt.init(p)
    with np.errstate(all="ignore"):
        for _ in range(steps):
            opt.step_(p, surface.grad(p), state)
    return p


def main() -> None:
    himmel, rosen = get("himmelblau"), get("rosenbrock")
    entries = default_basin_entries("himmelblau")
    print(f"race analysis benchmarks (best of {REPEATS}; steps = {STEPS})")

    # --- basins
    t_basin, basins = best_of(lambda: basin_maps(himmel, entries, n=100, steps=STEPS), 1)
    _, _, starts = start_grid(himmel.domain, 100)
    t_race, res = best_of(lambda: run_race(himmel, entries[:1], starts, STEPS).entries[0])
    t_lean, _ = best_of(lambda: run_race(himmel, entries[:1], starts, STEPS, record=False))
    minima = np.asarray(himmel.minima)
    t_cls, _ = best_of(lambda: classify(res.path, res.diverged_at, minima, 1e-2))
    t_bare, _ = best_of(lambda: bare_loop(himmel, entries[0], starts, STEPS))
    print(
        f"basin maps 100x100 x {len(entries)} entries x {STEPS} steps (lean race mode): "
        f"{t_basin:.2f} s (target <= 3 s)"
    )
    print(
        f"  per entry: lean run_race {t_lean:.3f} s vs full-history run_race {t_race:.3f} s "
        f"+ classify {t_cls:.3f} s (the old path): {(t_race + t_cls) / t_lean:.1f}x"
    )
    print(
        f"  bare loop (grad + step_ only, same batch): {t_bare:.3f} s -> lean run_race is "
        f"{t_lean / t_bare:.1f}x the irreducible work, full-history {t_race / t_bare:.1f}x"
    )

    # --- tuning
    rose_entries = default_entries("rosenbrock")
    t_tune, tuned = best_of(
        lambda: tune_entries(rosen, rose_entries, rosen.default_start, STEPS, criterion="dist")
    )
    print(
        f"fair race: {len(rose_entries)} entries x 25 (+1 default) lrs x {STEPS} steps: "
        f"{t_tune:.3f} s (target <= 1 s)"
    )

    # --- sensitivity
    t_sens, sens = best_of(
        lambda: sensitivity_map(rosen, rose_entries[1], rosen.default_start, STEPS, n=25)
    )
    print(f"sensitivity 25x25 x {STEPS} steps (momentum): {t_sens:.3f} s (target <= 2 s)")
    t_sens_adam, _ = best_of(
        lambda: sensitivity_map(rosen, rose_entries[4], rosen.default_start, STEPS, n=25)
    )
    print(f"sensitivity 25x25 x {STEPS} steps (adam, beta1): {t_sens_adam:.3f} s")

    # --- seeds
    t_seed, clouds = best_of(
        lambda: [
            seed_cloud(rosen, e, rosen.default_start, STEPS, noise_std=1.0, n_seeds=100)
            for e in rose_entries
        ]
    )
    print(f"seed clouds: {len(rose_entries)} entries x 100 seeds x {STEPS} steps: {t_seed:.3f} s")

    # --- figure sizes
    figs = {
        "score curves": rt.score_curves(tuned),
        "basins 100x100 x 5 (basin)": rm.basin_maps_figure(basins, mode="basin"),
        "basins 100x100 x 5 (steps)": rm.basin_maps_figure(basins, mode="steps"),
        "sensitivity 25x25": rt.sensitivity_figure(sens),
        "seed loss band": rs.seed_loss_figure(clouds, min_value=rosen.min_value),
        "seed end-point map": rs.seed_cloud_figure(rosen, clouds),
    }
    print("figure JSON sizes (target <= 2 MB):")
    for name, fig in figs.items():
        t_json, text = best_of(fig.to_json, 1)
        print(f"  {name}: {len(text) / 1e6:.3f} MB ({t_json * 1e3:.0f} ms to serialize)")


if __name__ == "__main__":
    main()
