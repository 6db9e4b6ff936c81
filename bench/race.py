"""Race-engine benchmarks: ``python -m bench.race`` prints figures measured in one run.

* the default race (default surface, default entries, DEFAULT_STEPS) end to end, without and
  with ``record_state=True`` (the traces the race page always records);
* all seven optimizers x 1,000 steps on rosenbrock: engine vs torch.optim (autograd, and
  analytic gradient written into ``p.grad``), when torch is importable -> speed ratio;
* one entry from a 100x100 grid of starts x 500 steps;
* ``page_figures()``: the race page's figure size and AppTest time (hook for the page owner).

Timings are the best of a few repeats (the machine is shared and noisy); ratios compare
numbers measured in this same run. Never assert timings in tests.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from engine.race import DEFAULT_STEPS, Entry, default_entries, run_race
from engine.surfaces import DEFAULT_SURFACE, get

SEVEN = [
    Entry("SGD", "sgd", {"lr": 1e-3}),
    Entry("RMSprop", "rmsprop", {"lr": 1e-3}),
    Entry("Adagrad", "adagrad", {"lr": 1e-1}),
    Entry("Adam", "adam", {"lr": 1e-2}),
    Entry("AdamW", "adamw", {"lr": 1e-2}),
    Entry("NAdam", "nadam", {"lr": 1e-2}),
    Entry("Adadelta", "adadelta", {"lr": 1.0}),
]
TORCH_CLASSES = {
    "sgd": "SGD",
    "rmsprop": "RMSprop",
    "adagrad": "Adagrad",
    "adam": "Adam",
    "adamw": "AdamW",
    "nadam": "NAdam",
    "adadelta": "Adadelta",
}


def best_of(fn: Callable[[], object], repeats: int = 3) -> float:
    """Best wall time of ``repeats`` calls, in seconds."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def default_race() -> float:
    s = get(DEFAULT_SURFACE)
    entries = default_entries(DEFAULT_SURFACE)
    sec = best_of(lambda: run_race(s, entries, s.default_start, DEFAULT_STEPS))
    traced = best_of(
        lambda: run_race(s, entries, s.default_start, DEFAULT_STEPS, record_state=True)
    )
    print(
        f"default race ({DEFAULT_SURFACE}, {len(entries)} entries x {DEFAULT_STEPS} steps): "
        f"{sec * 1e3:.1f} ms; with the inside-the-optimizer traces (as the page runs it): "
        f"{traced * 1e3:.1f} ms ({traced / sec:.2f}x)"
    )
    return sec


def seven_optimizers(steps: int = 1000) -> None:
    s = get("rosenbrock")
    start = (-1.5, 2.0)
    together = best_of(lambda: run_race(s, SEVEN, start, steps))
    apart = best_of(lambda: [run_race(s, [e], start, steps) for e in SEVEN])
    print(f"engine, 7 optimizers x {steps} steps on rosenbrock:")
    print(f"  one race of 7 entries:    {together * 1e3:8.1f} ms")
    print(f"  7 one-entry races:        {apart * 1e3:8.1f} ms")
    if importlib.util.find_spec("torch") is None:
        print("  torch not importable: no torch.optim comparison")
        return
    import torch

    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)

    def torch_run(analytic: bool) -> None:
        for e in SEVEN:
            p = torch.tensor(start, requires_grad=True)
            opt = getattr(torch.optim, TORCH_CLASSES[e.optimizer])([p], **e.hparams)
            for _ in range(steps):
                opt.zero_grad()
                if analytic:
                    with torch.no_grad():
                        x, y = p[0], p[1]
                        r = y - x * x
                        p.grad = torch.stack([-2 * (1 - x) - 400 * x * r, 200 * r])
                else:
                    x, y = p[0], p[1]
                    loss = (1 - x) ** 2 + 100 * (y - x * x) ** 2
                    loss.backward()
                opt.step()

    auto = best_of(lambda: torch_run(False), repeats=2)
    ana = best_of(lambda: torch_run(True), repeats=2)
    print(
        f"  torch.optim, autograd:    {auto * 1e3:8.1f} ms  -> engine (one race) "
        f"{auto / together:5.1f}x faster, (7 races) {auto / apart:5.1f}x"
    )
    print(
        f"  torch.optim, analytic g:  {ana * 1e3:8.1f} ms  -> engine (one race) "
        f"{ana / together:5.1f}x faster, (7 races) {ana / apart:5.1f}x"
    )


def grid(n: int = 100, steps: int = 500) -> None:
    s = get("rosenbrock")
    (x0, x1), (y0, y1) = s.domain
    gx, gy = np.meshgrid(np.linspace(x0, x1, n), np.linspace(y0, y1, n))
    starts = np.stack([gx, gy], axis=-1).reshape(-1, 2)
    entry = [Entry("Adam", "adam", {"lr": 0.05})]
    sec = best_of(lambda: run_race(s, entry, starts, steps), repeats=2)
    print(
        f"one entry (Adam), {n}x{n} grid of starts x {steps} steps: {sec:.3f} s (target <= 0.5 s)"
    )


def page_figures() -> None:
    """The race page (owner H5): the default page's hero figure JSON size (target <= 2 MB),
    the build time of that figure, and the page's AppTest run time (twice: then warm caches)."""
    root = Path(__file__).resolve().parents[1]
    try:
        from streamlit.testing.v1 import AppTest

        from viz.race import contour_figure

        surface = get(DEFAULT_SURFACE)
        result = run_race(
            surface, default_entries(surface.name), surface.default_start, DEFAULT_STEPS
        )
        t0 = time.perf_counter()
        fig = contour_figure(surface, result)
        build = time.perf_counter() - t0
        size = len(fig.to_json())
        print(
            f"race map figure (default page): {size / 1e6:.2f} MB JSON (target <= 2 MB), "
            f"{len(fig.frames)} frames, built in {build:.2f} s"
        )
        for label in ("first run", "second run"):
            t0 = time.perf_counter()
            at = AppTest.from_file(str(root / "app.py"), default_timeout=120).run()
            at.switch_page("pages/race.py").run()
            sec = time.perf_counter() - t0
            print(
                f"AppTest app.py -> pages/race.py ({label}): {sec:.2f} s, "
                f"exceptions: {len(at.exception)}"
            )
    except Exception as exc:  # a benchmark reports, it does not crash
        print(f"page figures: skipped ({type(exc).__name__}: {exc})")


def main() -> None:
    default_race()
    seven_optimizers()
    grid()
    page_figures()


if __name__ == "__main__":
    main()
