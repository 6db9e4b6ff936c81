"""Benchmark engine.formula: rejection time of hostile input, compile and grid-evaluation time.

Run: ``python -m bench.formula``. Prints figures only (the machine is shared and noisy; ratios
are measured in the same run). Targets: every rejection < 50 ms; a 200x200 grid evaluates in
a small multiple of hand-written NumPy.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from engine.formula import MAX_LENGTH, FormulaError, compile_formula
from tests.test_formula import HOSTILE

# Inputs that pass the raw-string screen and stress the parser and the walk at the limits.
NEAR_LIMIT = [
    "(" * 150 + "x" + ")" * 149,  # unbalanced, deepest the parser sees
    "-" * (MAX_LENGTH - 1) + "x",
    "+".join(["x"] * (MAX_LENGTH // 2)),
    "sin(" * 59 + "x" + ")" * 59,
    "**".join(["9"] * (MAX_LENGTH // 3)),
    "(" + "x**9)**9" * 30,
    "foo(" * 60 + ")" * 60,
]

EXAMPLE = "sin(x)*y**2 + 0.1*(x**2 + y**2)"


def _example_numpy(xy):
    x, y = xy[..., 0], xy[..., 1]
    f = np.sin(x) * y**2 + 0.1 * (x**2 + y**2)
    g = np.stack([np.cos(x) * y**2 + 0.2 * x, 2 * y * np.sin(x) + 0.2 * y], axis=-1)
    return f, g


def _time(fn, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def _reject(text) -> None:
    try:
        compile_formula(text)
    except FormulaError:
        return
    raise AssertionError(f"accepted: {text!r:.40}")


def bench_rejections(repeats: int = 20) -> None:
    rows = []
    for text in [t for t, _ in HOSTILE] + NEAR_LIMIT:
        times = _time(lambda text=text: _reject(text), repeats)
        rows.append((max(times), statistics.median(times), repr(text)[:48]))
    rows.sort(reverse=True)
    print(f"rejections: {len(rows)} hostile inputs x {repeats} repeats (target < 50 ms each)")
    print(f"  worst single call: {rows[0][0] * 1e3:8.3f} ms  ({rows[0][2]})")
    print(f"  worst median:      {max(r[1] for r in rows) * 1e3:8.3f} ms")
    print("  slowest five (max / median, ms):")
    for worst, median, shown in rows[:5]:
        print(f"    {worst * 1e3:8.3f} / {median * 1e3:8.3f}  {shown}")


def bench_grid(n: int = 200, repeats: int = 20) -> None:
    gx, gy = np.meshgrid(np.linspace(-3, 3, n), np.linspace(-3, 3, n))
    xy = np.stack([gx, gy], axis=-1)
    compile_t = min(_time(lambda: compile_formula(EXAMPLE), repeats))
    formula = compile_formula(EXAMPLE)
    f_t = min(_time(lambda: formula.f(xy), repeats))
    g_t = min(_time(lambda: formula.value_and_grad(xy), repeats))
    ref_t = min(_time(lambda: _example_numpy(xy), repeats))
    print(f"grid {n}x{n}, formula {EXAMPLE!r} (best of {repeats}):")
    print(f"  compile:             {compile_t * 1e3:8.3f} ms")
    print(f"  f(xy):               {f_t * 1e3:8.3f} ms")
    print(f"  value_and_grad(xy):  {g_t * 1e3:8.3f} ms")
    print(f"  hand-written NumPy f+grad: {ref_t * 1e3:8.3f} ms  (ratio {g_t / ref_t:.2f}x)")
    big = "+".join(f"sin({k}*x - y)" for k in range(1, 23))  # ~ the node and length limits
    formula = compile_formula(big)
    big_t = min(_time(lambda: formula.value_and_grad(xy), repeats // 4 or 1))
    print(f"  near-limit formula ({len(big)} chars) value_and_grad: {big_t * 1e3:8.3f} ms")


if __name__ == "__main__":
    bench_rejections()
    bench_grid()
