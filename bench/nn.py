"""Training-step time of the NumPy engine vs PyTorch eager on CPU, measured in one run.

    python -m bench.nn            # add --quick for a shorter run

One step = forward + loss + backward + optimizer step (full network, one mini-batch). The
engine does ``forward -> LOSSES[...] -> backward(out=reused buffer) -> opt.step_`` on the
flat parameter buffer; torch does ``zero_grad -> forward -> loss -> backward -> step`` with
``nn.Sequential``. torch gets as many intra-op threads as NumPy's BLAS (both are printed).
Timings are medians over repeated blocks (the machine is shared and noisy); ratio > 1 means
the engine is faster. Targets: >= 1.5x on the first two networks, >= 1x on the third.

On a loaded machine, multi-threaded BLAS on these small matrices spends its time spinning
(both sides); ``OPENBLAS_NUM_THREADS=1 python -m bench.nn`` compares single-threaded.

# TODO(H4): background-job throughput section (steps/s of a job running through
# engine.jobs while the UI polls) goes below ``main``'s network table.
"""

from __future__ import annotations

import ctypes
import glob
import os
import statistics
import sys
import time

import numpy as np

from engine import losses, optimizers
from engine.nn import MLP

CONFIGS = [
    # label, sizes, activation, batch, dtype
    ("2-64-64-64-2, batch 128, f64", [2, 64, 64, 64, 2], "tanh", 128, np.float64),
    ("50 hidden x 64, batch 128, f64", [2] + [64] * 50 + [2], "tanh", 128, np.float64),
    ("784-256-128-10, batch 256, f32", [784, 256, 128, 10], "relu", 256, np.float32),
]
OPTS = [("sgd", dict(lr=0.01, momentum=0.9)), ("adam", dict(lr=1e-3))]


def numpy_threads() -> int:
    """Threads of NumPy's BLAS (scipy-openblas), else the CPU count."""
    libdir = os.path.join(os.path.dirname(np.__file__), "..", "numpy.libs")
    for path in glob.glob(os.path.join(libdir, "*openblas*")):
        lib = ctypes.CDLL(path)
        for name in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads"):
            if hasattr(lib, name):
                return int(getattr(lib, name)())
    return os.cpu_count() or 1


def _time_pair(steps, n_steps: int, blocks: int) -> list[float]:
    """Median seconds per call of each function in ``steps``.

    Blocks of ``n_steps`` calls alternate between the functions (engine, torch, engine, ...),
    so a burst of load from other processes hits both sides alike.
    """
    for step in steps:
        step()  # warm-up
    times = [[] for _ in steps]
    for _ in range(blocks):
        for step, acc in zip(steps, times, strict=True):
            t0 = time.perf_counter()
            for _ in range(n_steps):
                step()
            acc.append((time.perf_counter() - t0) / n_steps)
    return [statistics.median(t) for t in times]


def engine_step(sizes, act, batch, dtype, opt_name, hp):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(batch, sizes[0])).astype(dtype)
    y = rng.integers(0, sizes[-1], size=batch)
    mlp = MLP(sizes, activation=act, dtype=dtype)
    opt = optimizers.make(opt_name, **hp)
    state = opt.init(mlp.params)
    grads = mlp.new_gradients()
    loss_fn = losses.LOSSES["cross_entropy"]

    def step():
        out, cache = mlp.forward(X, train=True)
        _, dout = loss_fn(out, y)
        mlp.backward(cache, dout, out=grads)
        opt.step_(mlp.params, grads.flat, state)

    return step


def torch_step(torch, sizes, act, batch, dtype, opt_name, hp):
    tdtype = {np.float64: torch.float64, np.float32: torch.float32}[dtype]
    layers = []
    for i, (fi, fo) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(torch.nn.Linear(fi, fo, dtype=tdtype))
        if i < len(sizes) - 2:
            layers.append({"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}[act]())
    net = torch.nn.Sequential(*layers)
    rng = np.random.default_rng(0)
    X = torch.tensor(rng.normal(size=(batch, sizes[0])), dtype=tdtype)
    y = torch.tensor(rng.integers(0, sizes[-1], size=batch))
    opt = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[opt_name](net.parameters(), **hp)
    ce = torch.nn.functional.cross_entropy

    def step():
        opt.zero_grad()
        ce(net(X), y).backward()
        opt.step()

    return step


def main(argv: list[str]) -> None:
    quick = "--quick" in argv
    blocks = 3 if quick else 7
    try:
        import torch
    except ImportError:
        torch = None
    threads = numpy_threads()
    print(f"numpy {np.__version__}, BLAS threads: {threads}")
    if hasattr(os, "getloadavg"):
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"load average (1, 5, 15 min): {load} on {os.cpu_count()} CPUs")
    if torch is not None:
        torch.set_num_threads(threads)
        print(f"torch {torch.__version__}, intra-op threads: {torch.get_num_threads()}")
    else:
        print("torch not importable: engine figures only")
    print()
    header = f"{'network':34s} {'opt':5s} {'engine ms':>10s} {'torch ms':>10s} {'speed-up':>9s}"
    print(header)
    print("-" * len(header))
    for label, sizes, act, batch, dtype in CONFIGS:
        n_steps = max(5, int(20000 / (sum(sizes) + 50)) // (4 if dtype == np.float32 else 1))
        if quick:
            n_steps = max(3, n_steps // 4)
        for opt_name, hp in OPTS:
            steps = [engine_step(sizes, act, batch, dtype, opt_name, hp)]
            if torch is not None:
                steps.append(torch_step(torch, sizes, act, batch, dtype, opt_name, hp))
            times = _time_pair(steps, n_steps, blocks)
            line = f"{label:34s} {opt_name:5s} {times[0] * 1e3:10.3f}"
            if torch is not None:
                line += f" {times[1] * 1e3:10.3f} {times[1] / times[0]:8.2f}x"
            print(line, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
