"""Budgets before work: what a job or a heavy computation will cost, decided before it starts.

Every piece of work a page can ask for (a training job, an at-init gradient profile, a basin
map, a tuning sweep...) gets a :class:`Cost` from its settings, before anything runs:

* ``flops``: floating-point operations done in matrix products (BLAS speed);
* ``elems``: array elements touched by element-wise NumPy work (memory speed);
* ``calls``: NumPy calls made from Python (a fixed overhead each, dominant for tiny arrays);
* ``transcendentals``: elements through ``tanh``/``exp``/``log`` (tanh and sigmoid
  activations, the softmax of the loss): 5-10x a multiply each, so priced at their own rate;
* ``peak_bytes``: the most memory the work holds at once (arrays only; the model is an upper
  bound of what :mod:`tracemalloc` measures, checked by ``tests/test_budget.py``).

Seconds come from this machine's measured :class:`Rates` (:func:`machine_rates`: a ~0.05 s
probe of a 192x192 matrix product, a 2^18-element multiply, a 2^16-element tanh and a
tiny-array call, timed once per process and cached)::

    seconds = flops / flops_per_s + elems / elems_per_s + calls * seconds_per_call
              + transcendentals / transcendentals_per_s

For a job, ``step`` is the cost of ONE step (the unit between two checks of the stop flag),
so :func:`decide` can refuse a job whose single step would take longer than the stop bound.

:func:`decide` compares an :class:`Estimate` with the :class:`Limits` (defaults in the knobs
table, :data:`engine.knobs.BUDGET_KNOBS`; a server operator overrides them with environment
variables ``BUDGET_<KEY>``, e.g. ``BUDGET_SOFT_MB=1024``):

* within the per-request budget (512 MB, 30 s): ``RUN`` (a link may start it by itself);
* over it but under the hard caps: ``ASK`` (the page shows the estimate, "about 3 min,
  1.2 GB", and waits for an explicit start);
* over a hard cap (memory, compute, or one step longer than the stop bound): ``REFUSE``, with a
  sentence naming the number and the knobs that drive it.

:func:`queue_eta` turns the estimates of the jobs ahead into an honest wait for a queued one.
New kinds of work register an estimator in :data:`ESTIMATORS` (the network race of issue 13
adds ``"netrace"``); :func:`estimate` dispatches by name.

Pure NumPy and stdlib: no Streamlit (``pages/common/budget_gate.py`` is the page side).
"""

from __future__ import annotations

import dataclasses
import enum
import heapq
import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from engine import blas
from engine.knobs import BUDGET_KNOBS

F8 = 8  # bytes per float64
MB = 1024**2
# The array model counts what the code keeps; NumPy temporaries, index arrays and small objects
# come on top: an Estimate's peak is PEAK_SLACK x the model + PEAK_FLOOR (measured against
# tracemalloc, tests/test_budget.py: the model alone came within 0.98-1.4x of the peak).
PEAK_SLACK = 1.25
PEAK_FLOOR = 8 * MB


# ------------------------------------------------------------------------------- costs
@dataclass(frozen=True)
class Cost:
    """Work and memory of a computation (see the module docstring for the four fields).

    ``+`` adds work and takes the larger peak (one piece after the other, the first freed);
    :meth:`alongside` adds peaks too (both held at once); ``k * cost`` repeats the work ``k``
    times with the same peak. ``step`` is the cost of one stop-checked step (jobs only).
    """

    flops: float = 0.0
    elems: float = 0.0
    calls: float = 0.0
    peak_bytes: float = 0.0
    steps: int = 0
    step: Cost | None = None
    transcendentals: float = 0.0

    def __add__(self, other: Cost) -> Cost:
        return self._plus(other, max(self.peak_bytes, other.peak_bytes))

    def alongside(self, other: Cost) -> Cost:
        """Both held at once: work adds up and so do the peaks."""
        return self._plus(other, self.peak_bytes + other.peak_bytes)

    def _plus(self, other: Cost, peak_bytes: float) -> Cost:
        return Cost(
            self.flops + other.flops,
            self.elems + other.elems,
            self.calls + other.calls,
            peak_bytes,
            self.steps + other.steps,
            _larger_step(self.step, other.step),
            self.transcendentals + other.transcendentals,
        )

    def __rmul__(self, k: float) -> Cost:
        return self.scaled(k, k)

    def scaled(self, k: float, k_calls: float) -> Cost:
        """The array work times ``k`` and the NumPy calls times ``k_calls``; the peak, the
        steps and the step unchanged."""
        return dataclasses.replace(
            self,
            flops=self.flops * k,
            elems=self.elems * k,
            calls=self.calls * k_calls,
            transcendentals=self.transcendentals * k,
        )

    def holding(self, extra_bytes: float) -> Cost:
        """The same work with ``extra_bytes`` more held throughout (data, results)."""
        return dataclasses.replace(self, peak_bytes=self.peak_bytes + extra_bytes)

    def as_job(self, steps: int, step: Cost | None) -> Cost:
        """The same work and peak as a job of ``steps`` steps, the largest costing ``step``."""
        return dataclasses.replace(self, steps=steps, step=step)

    def _work(self) -> tuple[float, float, float, float]:
        return (self.flops, self.transcendentals, self.elems, self.calls)


def _larger_step(a: Cost | None, b: Cost | None) -> Cost | None:
    if a is None or b is None:
        return a or b
    return a if a._work() >= b._work() else b


# ------------------------------------------------------------------------------- rates
@dataclass(frozen=True)
class Rates:
    """This machine's speed: matrix-product FLOP/s, element-wise elements/s, s per NumPy call,
    and elements/s through a transcendental function (tanh)."""

    flops_per_s: float
    elems_per_s: float
    seconds_per_call: float
    transcendentals_per_s: float
    measured: bool = False

    def seconds(self, cost: Cost) -> float:
        return (
            cost.flops / self.flops_per_s
            + cost.elems / self.elems_per_s
            + cost.calls * self.seconds_per_call
            + cost.transcendentals / self.transcendentals_per_s
        )


# Conservative constants (a slow, shared core): used when BUDGET_RATES=fixed, e.g. for
# reproducible decisions in tests.
FIXED_RATES = Rates(
    flops_per_s=4e9, elems_per_s=1.5e8, seconds_per_call=4e-6, transcendentals_per_s=3e7
)
_RATES: Rates | None = None
_RATES_LOCK = threading.Lock()


def _timed(fn: Callable[[], Any], reps: int) -> float:
    """Median seconds of ``reps`` calls of ``fn`` (after one warm-up call)."""
    fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def measure_rates() -> Rates:
    """Probe the machine (~0.05 s): a 192³ product, a 2^18-element multiply, a 2^16-element
    tanh, a tiny-array call.

    The probe runs on one BLAS thread (engine.blas), as the app's jobs and page computations
    do. Each rate is the median of 5 timings, so a probe on a
    loaded machine gives the slower rates its jobs will see.
    """
    with blas.threads(1):
        return _probe()


def _probe() -> Rates:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((192, 192)), rng.standard_normal((192, 192))
    out = np.empty((192, 192))
    mm = _timed(lambda: [np.matmul(a, b, out=out) for _ in range(4)], 5) / 4
    x, y = rng.standard_normal(1 << 18), rng.standard_normal(1 << 18)
    z = np.empty_like(x)
    ew = _timed(lambda: np.multiply(x, y, out=z), 5)
    tr = _timed(lambda: np.tanh(x[: 1 << 16], out=z[: 1 << 16]), 5)
    t = np.zeros(8)
    calls = _timed(lambda: [np.add(t, 1.0, out=t) for _ in range(100)], 5) / 100
    return Rates(2 * 192**3 / mm, (1 << 18) / ew, calls, (1 << 16) / tr, measured=True)


def machine_rates() -> Rates:
    """The process's :class:`Rates`: measured once and cached (``BUDGET_RATES=fixed``: the
    documented :data:`FIXED_RATES`, for reproducible decisions)."""
    global _RATES
    with _RATES_LOCK:
        if _RATES is None:
            fixed = os.environ.get("BUDGET_RATES", "").strip().lower() == "fixed"
            _RATES = FIXED_RATES if fixed else measure_rates()
        return _RATES


def set_rates(rates: Rates | None) -> None:
    """Use ``rates`` from now on (None: measure again on the next call). For tests/benches."""
    global _RATES
    with _RATES_LOCK:
        _RATES = rates


# ------------------------------------------------------------------------------- limits
@dataclass(frozen=True)
class Limits:
    """The per-request budget and the hard caps (see :data:`engine.knobs.BUDGET_KNOBS`)."""

    soft_mb: float = 512
    soft_s: float = 30.0
    hard_mb: float = 2048
    hard_s: float = 3600.0
    step_s: float = 0.5
    session_jobs: int = 2

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Limits:
        """Defaults from the knobs table; ``BUDGET_<KEY>`` environment variables override
        (an invalid one falls back to the default, as a URL value would)."""
        env = os.environ if env is None else env
        values = {}
        for knob in BUDGET_KNOBS:
            raw = env.get(f"BUDGET_{knob.key.upper()}")
            values[knob.key] = knob.default if raw is None else knob.coerce(raw)[0]
        return cls(**values)


def limits() -> Limits:
    """The server's :class:`Limits` (knob defaults, overridden by ``BUDGET_*`` variables)."""
    return Limits.from_env()


# ------------------------------------------------------------------------------- estimates
@dataclass(frozen=True)
class Estimate:
    """What a piece of work will cost here: ``seconds``, ``peak_bytes``, one step's seconds.

    ``what`` names the work ("training 4 variants for 2,000 epochs"); ``drivers`` names the
    settings that make it expensive (for the refusal sentence).
    """

    what: str
    seconds: float
    peak_bytes: float
    step_seconds: float = 0.0
    steps: int = 0
    drivers: str = ""
    cost: Cost = field(default_factory=Cost, compare=False, repr=False)

    @property
    def text(self) -> str:
        """``"about 3 min, 1.2 GB"`` (``"under a second, 13 MB"``: no "about" before a bound)."""
        about = "about " if self.seconds >= 1 else ""
        return f"{about}{fmt_duration(self.seconds)}, {fmt_bytes(self.peak_bytes)}"


def to_estimate(what: str, cost: Cost, drivers: str = "", rates: Rates | None = None) -> Estimate:
    """Seconds and bytes of ``cost`` at ``rates`` (default: :func:`machine_rates`)."""
    rates = rates or machine_rates()
    step = rates.seconds(cost.step) if cost.step is not None else 0.0
    peak = PEAK_SLACK * cost.peak_bytes + PEAK_FLOOR
    return Estimate(what, rates.seconds(cost), peak, step, cost.steps, drivers, cost)


def fmt_duration(seconds: float) -> str:
    """People's durations: ``"2 s"``, ``"3 min"``, ``"1.5 h"``, ``"2 days"``."""
    s = float(seconds)
    if not math.isfinite(s):
        return "forever"
    if s < 1:
        return "under a second"
    if s < 90:
        return f"{s:.0f} s"
    if s < 90 * 60:
        return f"{s / 60:.0f} min"
    if s < 48 * 3600:
        return f"{s / 3600:.1f} h".replace(".0 h", " h")
    return f"{s / 86400:.0f} days"


def fmt_bytes(n: float) -> str:
    """``"12 MB"``, ``"1.2 GB"`` (powers of 1024, as memory is sold)."""
    if n < 1024**3:
        return f"{max(n, 0) / MB:.0f} MB"
    return f"{n / 1024**3:.1f} GB"


class Verdict(enum.Enum):
    RUN = "run"  # within the per-request budget: may start by itself
    ASK = "ask"  # over budget, under the hard caps: needs an explicit start
    REFUSE = "refuse"  # over a hard cap


@dataclass(frozen=True)
class Decision:
    """:func:`decide`'s answer: the verdict, the estimate and one sentence for the page."""

    verdict: Verdict
    estimate: Estimate
    message: str

    @property
    def may_autostart(self) -> bool:
        return self.verdict is Verdict.RUN

    @property
    def allowed(self) -> bool:
        return self.verdict is not Verdict.REFUSE


def decide(est: Estimate, lim: Limits | None = None) -> Decision:
    """RUN, ASK or REFUSE ``est`` under ``lim`` (default: :func:`limits`), with the reason."""
    lim = lim or limits()
    why = f" ({est.drivers})" if est.drivers else ""
    mb = est.peak_bytes / MB
    over = []
    if mb > lim.hard_mb:
        over.append(f"{fmt_bytes(est.peak_bytes)} of memory (cap {fmt_bytes(lim.hard_mb * MB)})")
    if est.seconds > lim.hard_s:
        over.append(f"{fmt_duration(est.seconds)} of compute (cap {fmt_duration(lim.hard_s)})")
    if est.step_seconds > lim.step_s:
        over.append(
            f"{est.step_seconds:.1f} s per step (cap {lim.step_s:g} s, so that Stop takes "
            "effect within a second)"
        )
    if over:
        return Decision(
            Verdict.REFUSE,
            est,
            f"Refused: {est.what} would need {' and '.join(over)}{why}: over this server's "
            "hard caps. Lower the settings in brackets.",
        )
    if mb > lim.soft_mb or est.seconds > lim.soft_s:
        return Decision(
            Verdict.ASK,
            est,
            f"{est.what[0].upper()}{est.what[1:]} would take {est.text}: over the "
            f"{fmt_duration(lim.soft_s)} / {fmt_bytes(lim.soft_mb * MB)} a link may start by "
            "itself, so it waits for you.",
        )
    return Decision(Verdict.RUN, est, f"{est.what[0].upper()}{est.what[1:]}: {est.text}.")


# ------------------------------------------------------------------------------- queue
def queue_eta(running_left: Sequence[float], ahead: Sequence[float], workers: int) -> float:
    """Seconds until a queued job starts: ``workers`` slots, the running jobs need
    ``running_left`` more seconds each, and the queued jobs ``ahead`` of it (FIFO) need their
    estimates. Each job ahead takes the slot that frees first (an event simulation, exact for
    estimates that hold)."""
    workers = max(1, int(workers))
    free = sorted(max(0.0, float(s)) for s in running_left)[:workers]
    free += [0.0] * (workers - len(free))
    heapq.heapify(free)
    for seconds in ahead:
        start = heapq.heappop(free)
        heapq.heappush(free, start + max(0.0, float(seconds)))
    return float(free[0])


# ------------------------------------------------------------------------------- networks
def _mlp_counts(sizes: Sequence[int]) -> tuple[int, int, int]:
    """``(weights, params, units)`` of an MLP with layer widths ``sizes``."""
    w = sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=False))
    units = sum(sizes[1:])
    return w, w + units, units


def mlp_pass(
    sizes: Sequence[int], batch: int, *, backward: bool = True, activation: str = "tanh"
) -> Cost:
    """One forward (and backward) pass of an MLP on ``batch`` rows, with its cache held.

    Forward: ``2·B·W`` FLOPs; backward: ``4·B·W`` more (weight and input gradients). Element-wise
    work ~``10·B·U`` (bias, activation and its derivative, products with the upstream signal).
    Transcendentals: the hidden activations when they are tanh or sigmoid
    (:data:`engine.activations.TRANSCENDENTAL`), and the loss's softmax, ``exp`` per output
    and a ``log`` per row (the backward reuses both).
    Memory: the forward cache holds ``z_l``, ``f(z_l)`` and ``h_l`` per layer (3·B·U floats), the
    backward the per-layer signals ∂L/∂h and ∂L/∂z (2·B·U), plus the input, the flat gradient
    and temporaries of two layers.
    """
    from engine.activations import TRANSCENDENTAL

    w, p, u = _mlp_counts(sizes)
    layers = len(sizes) - 1
    hidden = u - sizes[-1]
    transc = batch * ((hidden if activation in TRANSCENDENTAL else 0) + sizes[-1] + 1)
    fwd_bytes = (3 * batch * u + batch * sizes[0]) * F8
    if not backward:
        return Cost(2 * batch * w, 4 * batch * u, 6 * layers + 10, fwd_bytes, 0, None, transc)
    bwd_bytes = (2 * batch * u + p) * F8
    return Cost(
        6 * batch * w, 10 * batch * u, 16 * layers + 20, fwd_bytes + bwd_bytes, 0, None, transc
    )


@lru_cache(maxsize=64)
def _data_shape(name: str, options: tuple) -> tuple[int, int]:
    """``(n_features, n_outputs)`` of dataset ``name`` (from a tiny draw of it)."""
    from engine.datasets import make_dataset

    d = make_dataset(name, 20, None, 0, 0.3, **dict(options))
    return d.n_features, d.n_outputs


def _optimizer_passes(optimizer: str) -> int:
    """Element-wise passes over the flat parameters per optimizer step (rough, generous)."""
    return {"sgd": 4}.get(optimizer, 12)


def training(config, dataset_bytes: bool = True) -> Cost:
    """A :class:`engine.trainer.Config` trained to the end (no early stop assumed).

    Per step: :func:`mlp_pass` on the minibatch, the regularizer, clipping and the optimizer
    (~10-18 passes over the P parameters), the loss. Per evaluated epoch: forward passes over the
    training and validation sets (cache held). Memory: parameters, gradient, optimizer state
    and a best-weights copy (~6·P floats), the weight snapshots (``P`` floats each), per-step
    records (grown by doubling, 2x), the evaluation's forward cache and the dataset.
    """
    from engine.datasets import DATASETS

    c = config
    spec = DATASETS[c.dataset]
    n = spec.n_samples if c.n_samples is None else int(c.n_samples)
    d, n_out = _data_shape(c.dataset, tuple(sorted(c.data_options.items())))
    sizes = (d, *c.hidden, n_out)
    w, p, u = _mlp_counts(sizes)
    n_val = int(math.ceil(n * c.val_fraction))
    n_train = n - n_val
    batch = n_train if c.batch_size is None else min(int(c.batch_size), n_train)
    per_epoch = math.ceil(n_train / batch)
    steps = c.epochs * per_epoch
    step = mlp_pass(sizes, batch, activation=c.activation) + Cost(
        0, (_optimizer_passes(c.optimizer) + 6) * p + 4 * batch * d, 40 + 4 * len(sizes), 0
    )
    evals = 2 if c.eval_every == 0 else 1 + c.epochs // c.eval_every + 1
    evaluation = mlp_pass(sizes, n_train, backward=False, activation=c.activation) + mlp_pass(
        sizes, n_val, backward=False, activation=c.activation
    )
    snaps = len(set(c.snapshot_epochs))
    if c.snapshot_every:
        snaps += c.epochs // c.snapshot_every + 2
    per_step_record = 1 + (2 * len(sizes) if c.record_grad_norms else 0)
    held = (6 * p + snaps * p + 2 * steps * per_step_record) * F8
    work = steps * step + evals * evaluation
    data = 2 * n * (d + 1) * F8 if dataset_bytes else 0
    return work.holding(held + data).as_job(steps, step)


def reg_lab(lab) -> Estimate:
    """The Regularization lab's job (:class:`engine.reg_lab.TwinRuns`): every variant trains
    in lockstep on ONE shared dataset, so a job step is one minibatch of each variant."""
    configs = lab.configs()
    first = training(configs[0])
    cost = first
    for c in configs[1:]:
        cost = cost.alongside(training(c, dataset_bytes=False))
    step = _repeat_step(first.step, len(configs))
    b = lab.base
    what = f"training {len(configs)} variant(s) for {b.epochs:,} epochs"
    drivers = (
        f"samples n={b.n_samples}, batch={b.batch_size}, epochs={b.epochs}, "
        f"width={b.hidden[0]}, depth={len(b.hidden)}"
        + (f", features={b.data_options['n_features']}" if "n_features" in b.data_options else "")
    )
    return to_estimate(what, cost.as_job(first.steps, step), drivers)


def _repeat_step(step: Cost | None, k: int) -> Cost | None:
    return None if step is None else k * step


# ------------------------------------------------------------------------------- gradient flow
def gradflow_profiles(configs: Sequence, spec, workers: int | None = None) -> Estimate:
    """At-init profiles (:func:`engine.gradflow.profiles`): one forward/backward pass per
    configuration with every layer's activations and gradients held, the weights (and a
    sigmoid net's Gram matrices for the spectral bound), statistics and histograms.

    Up to ``workers`` (default: the CPU count) configurations are measured at once, so the peak
    is the sum of the largest ``workers`` ones.
    """
    workers = workers or os.cpu_count() or 1
    d, n_out = _data_shape(spec.dataset, ())
    n = max(_dataset_n(spec.dataset), math.ceil(spec.batch / 0.7) + 1)
    batch = min(spec.batch, n - math.ceil(n * 0.3))
    costs = []
    for cfg in dict.fromkeys(configs):
        sizes = (d, *([cfg.width] * (cfg.depth - 1)), n_out)
        w, p, u = _mlp_counts(sizes)
        # held: the weights (and the shared draws)
        one = mlp_pass(sizes, batch, activation=cfg.activation).holding(2 * p * F8)
        # statistics, norms and histograms: a few passes over the cached arrays
        one = one + Cost(0, 12 * batch * u, 30 * len(sizes), 0)
        if cfg.activation == "sigmoid" and not cfg.residual and cfg.depth > 2:
            gram = (cfg.depth - 2) * cfg.width**2
            one = one.alongside(Cost(2 * gram * cfg.width + 10 * cfg.width**3, 0, 0, gram * F8))
        costs.append(one)
    peaks = sorted((c.peak_bytes for c in costs), reverse=True)
    work = Cost()
    for c in costs:
        work = work + c
    peak = sum(peaks[:workers]) + 2 * n * (d + 1) * F8
    seconds_scale = 1.0 / min(workers, max(1, len(costs)))
    total = work.scaled(seconds_scale, 1.0).as_job(0, None)
    total = dataclasses.replace(total, peak_bytes=peak)
    deepest = max(configs, key=lambda c: c.depth * c.width)
    what = f"measuring {len(costs)} network(s) at initialization"
    drivers = f"batch={spec.batch}, depth up to {deepest.depth}, width up to {deepest.width}"
    return to_estimate(what, total, drivers)


def _dataset_n(name: str) -> int:
    from engine.datasets import DATASETS

    return DATASETS[name].n_samples


def gradflow_training(configs: Sequence, spec, steps: int, optimizer: str, lr: float) -> Estimate:
    """The Gradient-flow training job (:class:`engine.gradflow.FlowTraining`): every
    configuration trains ``steps`` minibatch steps in lockstep, one step each per job step."""
    from engine.gradflow_training import train_config

    configs = list(configs)
    trainings = [training(train_config(c, spec, steps, optimizer, lr)) for c in configs]
    cost = trainings[0]
    for t in trainings[1:]:
        cost = cost.alongside(t)
    # a lockstep job step is one minibatch of every configuration
    step = trainings[0].step
    for t in trainings[1:]:
        step = step + t.step
    deepest = max(configs, key=lambda c: c.depth * c.width)
    what = f"training {len(configs)} network(s) for {steps:,} steps"
    drivers = (
        f"training batch={spec.batch}, steps={steps}, depth up to {deepest.depth}, "
        f"width up to {deepest.width}"
    )
    return to_estimate(what, cost.as_job(steps, step), drivers)


# ------------------------------------------------------------------------------- race
# Element-wise work per start per step: the surface's f and gradient (a few dozen operations),
# the optimizer update, divergence and settling checks; calls per entry per step.
_RACE_ELEMS = 120
_RACE_CALLS = 60
_RACE_RECORD_FLOATS = 12  # path (2), loss, grad norm, and the inside-the-optimizer traces


def race(n_entries: int, n_starts: int, steps: int, *, record: bool = True) -> Cost:
    """``n_entries`` racers from ``n_starts`` starts for ``steps`` steps (engine.race.run_race).

    Memory: with ``record`` the histories (``steps+1`` rows of ~12 floats per start), else
    O(starts) state; plus ~30 floats of working arrays per start.
    """
    per = Cost(0, _RACE_ELEMS * n_starts, _RACE_CALLS, 0)
    held = 30 * n_starts * F8
    if record:
        held += (steps + 1) * n_starts * _RACE_RECORD_FLOATS * F8
    total = (n_entries * steps) * per
    return total.holding(held)


def race_estimate(n_entries: int, steps: int, n_starts: int = 1) -> Estimate:
    """The race itself (recorded paths)."""
    return to_estimate(
        f"racing {n_entries} optimizer(s) for {steps:,} steps",
        race(n_entries, n_starts, steps),
        f"steps={steps}",
    )


def basins(n_entries: int, grid: int, steps: int) -> Estimate:
    """Basin maps (engine.basins.basin_maps): each entry from a ``grid x grid`` start grid, in
    the race's lean mode, one entry after the other (peak: one entry's batch + the maps)."""
    cost = race(1, grid * grid, steps, record=False)
    cost = n_entries * cost
    cost = cost.holding(n_entries * grid * grid * 5 * F8)
    return to_estimate(
        f"basin maps of {n_entries} optimizer(s) on a {grid}x{grid} grid",
        cost,
        f"grid={grid}, steps={steps}, racers={n_entries}",
    )


def tuning(n_entries: int, steps: int, n_rates: int = 26, *, record: bool = False) -> Estimate:
    """Fair-race tuning (engine.tuning.tune_entries): per entry, ``n_rates`` candidates in
    one batch (recorded only for the area-under-curve criterion)."""
    cost = n_entries * race(1, n_rates, steps, record=record)
    return to_estimate(
        f"tuning {n_entries} learning rate(s)",
        cost,
        f"steps={steps}, racers={n_entries}",
    )


def sensitivity(steps: int, n: int = 25, *, record: bool = False) -> Estimate:
    """A sensitivity map (engine.tuning.sensitivity_map): ``n x n`` settings in one batch."""
    return to_estimate(
        f"a {n}x{n} sensitivity map",
        race(1, n * n, steps, record=record),
        f"steps={steps}",
    )


def seed_ensemble(n_entries: int, n_seeds: int, steps: int) -> Estimate:
    """Noisy seed clouds (engine.basins.seed_cloud): ``n_seeds`` recorded runs per entry."""
    cost = n_entries * race(1, n_seeds, steps, record=True)
    return to_estimate(
        f"{n_seeds} noisy runs of {n_entries} optimizer(s)",
        cost,
        f"seeds={n_seeds}, steps={steps}, racers={n_entries}",
    )


# ------------------------------------------------------------------------------- registry
ESTIMATORS: dict[str, Callable[..., Estimate]] = {
    "reg_lab": reg_lab,
    "gradflow_profiles": gradflow_profiles,
    "gradflow_training": gradflow_training,
    "race": race_estimate,
    "basins": basins,
    "tuning": tuning,
    "sensitivity": sensitivity,
    "seeds": seed_ensemble,
}


def register(kind: str, estimator: Callable[..., Estimate]) -> None:
    """Add an estimator (e.g. ``"netrace"``, the network race of issue 13: its cost is
    :func:`training` per racer, or :func:`mlp_pass` x steps for a custom loop)."""
    ESTIMATORS[kind] = estimator


def estimate(kind: str, *args: Any, **kw: Any) -> Estimate:
    """``ESTIMATORS[kind](*args, **kw)``: the one entry point pages and jobs use."""
    try:
        fn = ESTIMATORS[kind]
    except KeyError:
        raise ValueError(
            f"No cost estimator for {kind!r}; known: {', '.join(ESTIMATORS)}"
        ) from None
    return fn(*args, **kw)


def total_seconds(estimates: Iterable[Estimate]) -> float:
    return float(sum(e.seconds for e in estimates))


__all__ = [
    "Cost", "Rates", "Limits", "Estimate", "Verdict", "Decision", "FIXED_RATES",
    "machine_rates", "measure_rates", "set_rates", "limits", "decide", "queue_eta",
    "to_estimate", "fmt_duration", "fmt_bytes", "mlp_pass", "training", "reg_lab",
    "gradflow_profiles", "gradflow_training", "race", "race_estimate", "basins", "tuning",
    "sensitivity", "seed_ensemble", "ESTIMATORS", "register", "estimate",
]  # fmt: skip
