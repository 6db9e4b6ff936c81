"""Training-step time of the NumPy engine vs PyTorch eager on CPU, each side timed alone.

    python -m bench.nn            # add --quick for a shorter run

One step = forward + loss + backward + optimizer step (full network, one mini-batch).

* **engine, internal path**: ``forward -> LOSSES[...] -> backward(out=reused buffer) ->
  opt.step_`` on the flat parameter buffer (what engine.trainer does);
* **engine, public API**: ``MLP.value_and_grad(X, y)`` (a fresh gradient buffer each call,
  as a user of the API writes it) ``-> opt.step_``; ``MLP.loss_and_grads`` is the same call
  returning the per-layer views;
* **torch**: ``zero_grad -> forward -> loss -> backward -> step`` with ``nn.Sequential``.

Each side runs in its OWN process (``--side engine`` / ``--side torch``, started one after the
other): measured in one process, the engine's OpenBLAS threads left spinning after its blocks
slowed torch's (the 50-layer net: torch 21.8 ms/step interleaved vs 8-11 ms alone), which
inflated the ratios. Both sides get the same number of BLAS / intra-op threads (printed).
Timings are medians over repeated blocks after a warm-up; ratio > 1 means the engine is
faster. The machine is shared: the load average is printed before each side.

torch is for this comparison only (``pip install torch``); nothing else imports it.
"""

from __future__ import annotations

import ctypes
import glob
import json
import os
import statistics
import subprocess
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


def load_average() -> str:
    if not hasattr(os, "getloadavg"):
        return "n/a"
    return ", ".join(f"{x:.1f}" for x in os.getloadavg()) + f" on {os.cpu_count()} CPUs"


def median_ms(step, n_steps: int, blocks: int) -> float:
    """Median milliseconds per call of ``step`` over ``blocks`` blocks of ``n_steps`` calls,
    after a warm-up block (allocator and BLAS buffers settled)."""
    for _ in range(max(2, n_steps // 4)):
        step()
    times = []
    for _ in range(blocks):
        t0 = time.perf_counter()
        for _ in range(n_steps):
            step()
        times.append((time.perf_counter() - t0) / n_steps)
    return statistics.median(times) * 1e3


def _data(sizes, batch, dtype):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(batch, sizes[0])).astype(dtype)
    y = rng.integers(0, sizes[-1], size=batch)
    return X, y


def engine_steps(sizes, act, batch, dtype, opt_name, hp) -> dict:
    """``{"internal": step, "public": step}`` on one network each (same data)."""
    X, y = _data(sizes, batch, dtype)
    loss_fn = losses.LOSSES["cross_entropy"]

    def internal_step():
        mlp = MLP(sizes, activation=act, dtype=dtype)
        opt = optimizers.make(opt_name, **hp)
        state = opt.init(mlp.params)
        grads = mlp.new_gradients()

        def step():
            out, cache = mlp.forward(X, train=True)
            _, dout = loss_fn(out, y)
            mlp.backward(cache, dout, out=grads)
            opt.step_(mlp.params, grads.flat, state)

        return step

    def public_step():
        mlp = MLP(sizes, activation=act, dtype=dtype)
        opt = optimizers.make(opt_name, **hp)
        state = opt.init(mlp.params)

        def step():
            _, g = mlp.value_and_grad(X, y, "cross_entropy")
            opt.step_(mlp.params, g.flat, state)

        return step

    def forward_backward():
        mlp = MLP(sizes, activation=act, dtype=dtype)
        grads = mlp.new_gradients()

        def internal():
            out, cache = mlp.forward(X, train=True)
            _, dout = loss_fn(out, y)
            mlp.backward(cache, dout, out=grads)

        def public():
            mlp.loss_and_grads(X, y, "cross_entropy")

        return {"fb_internal": internal, "fb_public": public}

    paths = {"internal": internal_step(), "public": public_step()}
    if opt_name == OPTS[0][0]:  # forward + backward alone: no optimizer, once per network
        paths.update(forward_backward())
    return paths


def torch_step(torch, sizes, act, batch, dtype, opt_name, hp):
    tdtype = {np.float64: torch.float64, np.float32: torch.float32}[dtype]
    layers = []
    for i, (fi, fo) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(torch.nn.Linear(fi, fo, dtype=tdtype))
        if i < len(sizes) - 2:
            layers.append({"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}[act]())
    net = torch.nn.Sequential(*layers)
    X, y = _data(sizes, batch, dtype)
    X, y = torch.tensor(X, dtype=tdtype), torch.tensor(y)
    opt = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[opt_name](net.parameters(), **hp)
    ce = torch.nn.functional.cross_entropy

    def step():
        opt.zero_grad()
        ce(net(X), y).backward()
        opt.step()

    return step


def _n_steps(sizes, dtype, quick: bool) -> int:
    n = max(5, int(20000 / (sum(sizes) + 50)) // (4 if dtype == np.float32 else 1))
    return max(3, n // 4) if quick else n


def run_side(side: str, quick: bool) -> None:
    """Time one side in this process; print one JSON line per (network, optimizer, path)."""
    blocks = 3 if quick else 7
    threads = numpy_threads()
    torch = None
    if side == "torch":
        import torch

        torch.set_num_threads(threads)
    info = {"side": side, "threads": threads, "load": load_average()}
    if torch is not None:
        info["version"] = torch.__version__
    print(json.dumps(info), flush=True)
    for label, sizes, act, batch, dtype in CONFIGS:
        n_steps = _n_steps(sizes, dtype, quick)
        for opt_name, hp in OPTS:
            if side == "engine":
                paths = engine_steps(sizes, act, batch, dtype, opt_name, hp)
            else:
                paths = {"torch": torch_step(torch, sizes, act, batch, dtype, opt_name, hp)}
            for path, step in paths.items():
                ms = median_ms(step, n_steps, blocks)
                print(json.dumps({"net": label, "opt": opt_name, "path": path, "ms": ms}))
                sys.stdout.flush()


def _side(side: str, quick: bool) -> tuple[dict, dict]:
    """Run one side in a fresh process: ``(info, {(net, opt, path): ms})``."""
    cmd = [sys.executable, "-m", "bench.nn", "--side", side] + (["--quick"] if quick else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1:]}, {}
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    info, rows = lines[0], lines[1:]
    return info, {(r["net"], r["opt"], r["path"]): r["ms"] for r in rows}


def main(argv: list[str]) -> None:
    quick = "--quick" in argv
    if "--side" in argv:
        run_side(argv[argv.index("--side") + 1], quick)
        return
    print(f"numpy {np.__version__}; each side in its own process, one after the other")
    eng_info, eng = _side("engine", quick)
    print(f"engine: BLAS threads {eng_info.get('threads')}, load average {eng_info.get('load')}")
    try:
        import torch  # noqa: F401  (only to know whether the torch side can run)

        torch_info, tor = _side("torch", quick)
        print(
            f"torch {torch_info.get('version')}: intra-op threads {torch_info.get('threads')}, "
            f"load average {torch_info.get('load')}"
        )
    except ImportError:
        tor = {}
        print("torch not importable: engine figures only")
    print()
    header = (
        f"{'network':32s} {'opt':5s} {'engine ms':>10s} {'public ms':>10s} {'public/int':>10s}"
        f" {'torch ms':>9s} {'torch/engine':>12s}"
    )
    print(header)
    print("-" * len(header))
    for label, *_ in CONFIGS:
        for opt_name, _ in OPTS:
            internal = eng.get((label, opt_name, "internal"), float("nan"))
            public = eng.get((label, opt_name, "public"), float("nan"))
            line = f"{label:32s} {opt_name:5s} {internal:10.3f} {public:10.3f} "
            line += f"{public / internal:9.2f}x"
            t = tor.get((label, opt_name, "torch"))
            if t is not None:
                line += f" {t:9.3f} {t / internal:11.2f}x"
            print(line, flush=True)
    print("\nengine = internal path (trainer); public = MLP.value_and_grad (+ opt.step_)")
    print("torch/engine > 1: the engine is faster\n")
    print(f"{'forward + backward only':32s} {'internal ms':>12s} {'loss_and_grads ms':>18s} ratio")
    for label, *_ in CONFIGS:
        a = eng.get((label, OPTS[0][0], "fb_internal"), float("nan"))
        b = eng.get((label, OPTS[0][0], "fb_public"), float("nan"))
        print(f"{label:32s} {a:12.3f} {b:18.3f} {b / a:5.2f}x")


if __name__ == "__main__":
    main(sys.argv[1:])
