"""The optimizer race on a real network: the race page's racers train one small MLP each.

Pure NumPy. :class:`NetRaceConfig` names the data, the network, the schedule and the racers
(optimizer name + torch hyperparameters, exactly the race page's). :class:`NetRace` is ONE
background-job task (:class:`engine.trainer.TrainerGroup`, the lockstep the Regularization
lab's twin runs use): every racer's :class:`engine.trainer.Trainer` shares the dataset object
and the seed, so all start from the **same initial weights** and see the **same minibatch
order** (each trainer's shuffle stream is ``SeedSequence(seed)``'s, identical across racers);
one :meth:`NetRace.step` advances each racer by one minibatch.

Recorded per racer, besides the trainer's history (per-step minibatch loss, per-epoch
train/validation loss and accuracy): its parameter trajectory θ_t at ``0, k, 2k, ...`` and the
last step, ``k = ceil(steps / (max_points − 1))`` so at most ``max_points`` points are kept
(the landscape's PCA and the animation's frames use them), and at the same steps the median
per-coordinate learning rate ``lr / (√v̂ + ε)`` of optimizers that keep a second moment
(Adagrad's running sum, RMSProp's and Adam's averages): the quantity whose monotone shrink is
Adagrad's stall.

Learning rates: the race page's default rates are tuned for 2D surfaces (Rosenbrock's
SGD rate 1.5e-3 barely moves a network in 60 epochs; Adagrad's 0.5 is wild). The network view
has its own per-racer rate knobs whose defaults come from :data:`NETWORK_LRS` (per preset family,
chosen on the default moons network so every racer moves visibly); the other hyperparameters are
the sidebar racers' own.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine import budget
from engine.datasets import Dataset, make_dataset
from engine.history import Growable, History
from engine.landscape import NetShape
from engine.netrace_landscape import (  # noqa: F401  (re-exported: the view's one import)
    LANDSCAPE_MODES,
    SLICE_POINTS,
    Landscape,
    LandscapeBuild,
    LandscapeInput,
    LandscapeSpec,
    grid_chunk,
    landscape,
)
from engine.trainer import Config, Trainer, TrainerGroup

MAX_RACERS = 6
DEFAULT_MAX_POINTS = 121

# Default learning rate per optimizer preset on the network (moons, 2-16-16-2 tanh, batch 32,
# 60 epochs): each racer visibly improves, none diverges, and their order is telling.
NETWORK_LRS: dict[str, float] = {
    "SGD": 0.1,
    "Momentum": 0.02,
    "Momentum (EMA)": 0.1,
    "Momentum (notes, v0 = 0)": 0.1,
    "Nesterov": 0.02,
    "RMSProp": 3e-3,
    "Adagrad": 0.05,
    "Adam": 5e-3,
    "Adam (no bias correction)": 5e-3,
    "AdamW": 5e-3,
    "NAdam": 5e-3,
    "Adadelta": 1.0,
}


def network_lr(preset: str) -> float:
    """The network view's default rate for ``preset`` (unknown presets: 0.01)."""
    return NETWORK_LRS.get(preset, 0.01)


@dataclass(frozen=True)
class Racer:
    """One racer: legend label, optimizer registry name and hyperparameters (sorted items)."""

    label: str
    optimizer: str
    hparams: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class NetRaceConfig:
    """Everything that determines a network race (hashable: it keys caches and jobs).

    ``dataset``/``n_samples``/``noise``/``data_seed``/``data_options``: the data
    (engine.datasets); ``hidden``/``activation``: the MLP; ``epochs``/``batch_size``/``seed``:
    the schedule (``seed`` = initial weights and batch order, shared by every racer);
    ``racers``; ``max_points``: trajectory points kept per racer.
    """

    racers: tuple[Racer, ...]
    dataset: str = "moons"
    n_samples: int | None = None
    noise: float | None = None
    data_seed: int = 0
    data_options: tuple[tuple[str, Any], ...] = ()
    hidden: tuple[int, ...] = (16, 16)
    activation: str = "tanh"
    epochs: int = 60
    batch_size: int = 32
    seed: int = 0
    max_points: int = DEFAULT_MAX_POINTS

    def __post_init__(self):
        if not 1 <= len(self.racers) <= MAX_RACERS:
            raise ValueError(f"Invalid number of racers: {len(self.racers)} (1..{MAX_RACERS})")
        if not (isinstance(self.max_points, int) and self.max_points >= 2):
            raise ValueError(f"Invalid max_points value: {self.max_points!r} (need an int >= 2)")
        object.__setattr__(self, "hidden", tuple(self.hidden))

    def trainer_config(self, racer: Racer) -> Config:
        """The trainer config of one racer (evaluated every epoch, no regularization)."""
        return Config(
            dataset=self.dataset,
            n_samples=self.n_samples,
            noise=self.noise,
            data_seed=self.data_seed,
            data_options=dict(self.data_options),
            hidden=self.hidden,
            activation=self.activation,
            optimizer=racer.optimizer,
            hparams=dict(racer.hparams),
            epochs=self.epochs,
            batch_size=self.batch_size,
            seed=self.seed,
            eval_every=1,
        )

    def make_data(self) -> Dataset:
        return make_dataset(
            self.dataset, self.n_samples, self.noise, self.data_seed, 0.3, **dict(self.data_options)
        )


@dataclass(frozen=True)
class RacerRun:
    """What one racer has produced so far (arrays read-only).

    ``history``: the trainer's :class:`engine.history.History`; ``path_steps`` ``(T,)`` and
    ``path`` ``(T, P)``: the recorded trajectory (finite points only: a diverged racer's path
    ends at its last finite point); ``eff_lr`` ``(T,)``: median per-coordinate rate
    ``lr/(√v̂+ε)`` at those steps (NaN for optimizers without a second moment; at step 0, the
    rate of step 1); ``steps_per_epoch``; ``done``.
    """

    label: str
    optimizer: str
    history: History
    path_steps: np.ndarray
    path: np.ndarray
    eff_lr: np.ndarray
    steps_per_epoch: int
    done: bool


@dataclass(frozen=True)
class NetRaceResult:
    """A snapshot of the race: one :class:`RacerRun` per racer, the net's shape, the data,
    and (when the task was asked for one) the finished :class:`Landscape`, else None."""

    runs: tuple[RacerRun, ...]
    shape: NetShape
    data: Dataset
    total_steps: int  # per racer
    landscape: Landscape | None = None
    landscape_spec: LandscapeSpec | None = None

    @property
    def done(self) -> bool:
        return all(r.done for r in self.runs)


def median_effective_lr(opt, state: dict) -> float:
    """Median over coordinates of the per-coordinate rate ``lr / (√v̂ + ε)`` the last step used
    (the optimizer's own :meth:`~engine.optimizers.base.Optimizer.coordinate_lr`); NaN for
    optimizers that scale every coordinate alike, and before the first step."""
    if state.get("step", 0) == 0:
        return math.nan
    rates = opt.coordinate_lr(state)
    if rates is None:
        return math.nan
    with np.errstate(all="ignore"):
        return float(np.median(rates))


class NetRace(TrainerGroup):
    """All racers of a :class:`NetRaceConfig` as ONE step-wise job task (lockstep).

    With ``landscape_spec`` (a :class:`LandscapeSpec`), once every racer has finished the task goes
    on to build that landscape one work item per :meth:`step` (a chunk of grid points or one
    racer's path losses, ~0.1 s), so the whole default view is computed off the page and a
    stop takes effect between items; ``publish()`` carries it once finished.
    """

    def __init__(
        self,
        config: NetRaceConfig,
        dataset: Dataset | None = None,
        landscape_spec: LandscapeSpec | None = None,
    ):
        self.config = config
        self.landscape_spec = landscape_spec
        self._build: LandscapeBuild | None = None
        self._landscape: Landscape | None = None
        self.data = dataset or config.make_data()
        super().__init__([Trainer(config.trainer_config(r), self.data) for r in config.racers])
        first = self.trainers[0]
        self.shape = NetShape.of(first.net)
        self.per_racer_steps = first.total_steps
        self.stride = max(1, math.ceil(self.per_racer_steps / (config.max_points - 1)))
        P = first.net.n_params
        # a path keeps at most max_points points: allocated once, never regrown
        self._paths = [Growable((P,), capacity=config.max_points) for _ in self.trainers]
        self._steps = [Growable((), dtype=np.int64) for _ in self.trainers]
        self._eff = [Growable() for _ in self.trainers]
        self._closed = [False] * len(self.trainers)
        for i in range(len(self.trainers)):
            self._record(i)
        self._train_steps = self.total_steps
        if landscape_spec is not None:
            chunk = grid_chunk(self.shape, len(self.data.y_train))
            lengths = [config.max_points] * len(self.trainers)  # exact once the build starts
            self.total_steps += landscape_spec.n_items(lengths, chunk)

    def _record(self, i: int) -> None:
        t = self.trainers[i]
        params = t.net.params
        if not np.all(np.isfinite(params)):
            return
        self._paths[i].append(params)
        self._steps[i].append(t.steps_done)
        self._eff[i].append(median_effective_lr(t.opt, t.opt_state))

    @property
    def training_done(self) -> bool:
        return all(t.done for t in self.trainers)

    @property
    def done(self) -> bool:
        if not self.training_done:
            return False
        return self.landscape_spec is None or self._landscape is not None or self._no_landscape

    @property
    def _no_landscape(self) -> bool:
        return not any(len(p.view()) > 1 for p in self._paths)  # nothing moved: nothing to draw

    @property
    def steps_done(self) -> int:
        done = min(super().steps_done, self._train_steps)
        return done + (self._build.n_done if self._build is not None else 0)

    def step(self) -> None:
        if self.training_done:
            return self._landscape_step()
        for i, t in enumerate(self.trainers):
            if self._closed[i]:
                continue
            before = t.steps_done
            t.step()
            if t.steps_done != before and (t.steps_done % self.stride == 0 or t.done):
                self._record(i)
            if t.done:
                self._closed[i] = True

    def _landscape_step(self) -> None:
        if self.done:
            return
        if self._build is None:
            self._build = LandscapeBuild(self.publish(), self.landscape_spec)
            self.total_steps = self._train_steps + self._build.total  # the exact count
            return
        self._build.step()
        if self._build.done:
            self._landscape = self._build.result_()

    @property
    def message(self) -> str:
        if self.training_done and self.landscape_spec is not None and not self.done:
            return "evaluating the loss landscape"
        return f"finished: {self.epoch} epochs"

    @property
    def divergence(self) -> str | None:
        msgs = [t.divergence for t in self.trainers]
        return "every racer diverged" if all(msgs) else None

    def run(self) -> NetRaceResult:
        """Train to the end synchronously (tests, benchmarks) and return :meth:`publish`."""
        while not self.done:
            self.step()
        return self.publish()

    def publish(self) -> NetRaceResult:
        runs = []
        for i, (t, r) in enumerate(zip(self.trainers, self.config.racers, strict=True)):
            eff = self._eff[i].view()
            if len(eff) > 1 and math.isnan(eff[0]):  # step 0 has no rate yet: show step 1's
                eff = eff.copy()
                eff[0] = eff[1]
                eff.flags.writeable = False
            runs.append(
                RacerRun(
                    label=r.label,
                    optimizer=r.optimizer,
                    history=t.publish(),
                    path_steps=self._steps[i].view(),
                    path=self._paths[i].view(),
                    eff_lr=eff,
                    steps_per_epoch=t.steps_per_epoch,
                    done=t.done,
                )
            )
        return NetRaceResult(
            tuple(runs),
            self.shape,
            self.data,
            self.per_racer_steps,
            self._landscape,
            self.landscape_spec,
        )


def run(config: NetRaceConfig) -> NetRaceResult:
    """Train every racer of ``config`` to the end synchronously."""
    return NetRace(config).run()


def budget_estimate(config: NetRaceConfig, spec: LandscapeSpec | None = None) -> budget.Estimate:
    """The cost of the view's ONE job (:class:`engine.budget.Estimate`): every racer trained in
    lockstep (:func:`engine.budget.training` per racer; one job step = one minibatch of each)
    with its recorded path held, then, with ``spec``, the landscape (:func:`_landscape_cost`)."""
    configs = [config.trainer_config(r) for r in config.racers]
    first = budget.training(configs[0])
    cost = first
    for c in configs[1:]:
        cost = cost.alongside(budget.training(c, dataset_bytes=False))
    cost = cost.holding(_paths_bytes(config))
    step = len(configs) * first.step
    steps = first.steps
    if spec is not None:
        land = _landscape_cost(config, spec)
        cost = cost + land
        steps += land.steps
        step = land.step if land.step.flops > step.flops else step
    what = f"training {len(configs)} racer(s) for {config.epochs:,} epochs" + (
        f" and a {spec.grid}x{spec.grid} loss landscape" if spec is not None else ""
    )
    drivers = (
        f"epochs={config.epochs}, batch={config.batch_size}, width={config.hidden[0]}, "
        f"depth={len(config.hidden)}, racers={len(configs)}"
        + (f", grid={spec.grid}" if spec is not None else "")
    )
    return budget.to_estimate(what, cost.as_job(steps, step), drivers)


def _sizes(config: NetRaceConfig) -> tuple[tuple[int, ...], int]:
    """The net's layer widths and the training-set size, from the config's data."""
    data = config.make_data()
    return (data.n_features, *config.hidden, data.n_outputs), len(data.y_train)


def _paths_bytes(config: NetRaceConfig) -> float:
    """Every racer's recorded path (``max_points`` x P float64, allocated once), and one
    copy of them all as the job publishes them."""
    sizes, _ = _sizes(config)
    P = NetShape(sizes, config.activation, (), 0.01).n_params
    return 2 * len(config.racers) * config.max_points * P * budget.F8


def _landscape_cost(config: NetRaceConfig, spec: LandscapeSpec) -> budget.Cost:
    """The landscape build (:class:`engine.netrace_landscape.LandscapeBuild`).

    Work: per grid point, projected path point and slice point, the parameter vector
    ``θ0 + α d1 + β d2`` (``4P`` FLOPs, ``P`` elements) and one forward pass over the training
    set with its cross-entropy (:func:`engine.budget.mlp_pass`); the true path losses take the
    forward pass alone (counted alike). The arithmetic is float32, priced as float64 (an upper
    bound). Work items hold at most :func:`grid_chunk` points (each makes its own NumPy calls).
    The PCA plane (:func:`engine.landscape.pca_plane`): one stacked copy of the paths and the
    smaller Gram matrix. Memory: the paths (:func:`_paths_bytes`), the PCA, then one item's
    parameter vectors and forward cache.
    """
    sizes, n_train = _sizes(config)
    shape = NetShape(sizes, config.activation, (), 0.01)
    P = shape.n_params
    chunk = grid_chunk(shape, n_train)
    rows = n_train * chunk
    forward = budget.mlp_pass(sizes, rows, backward=False, activation=config.activation)
    # the batched forward keeps two layers alive, float32 (h, z, f(z)), then the float64 logits
    # and four (K, N) arrays of the cross-entropy
    live = rows * (3 * max(sizes[1:]) * 4 + (sizes[-1] + 4) * budget.F8)
    thetas = budget.Cost(4 * chunk * P, chunk * P, 4, 1.5 * chunk * P * budget.F8)
    item = thetas.alongside(dataclasses.replace(forward, peak_bytes=live))
    n_racers, m = len(config.racers), config.max_points
    points = spec.grid**2 + n_racers * (2 * m + SLICE_POINTS)
    items = spec.n_items([m] * n_racers, chunk)
    work = (points / chunk) * item + budget.Cost(calls=max(0, items - points / chunk) * item.calls)
    stacked = n_racers * m
    gram = min(stacked, P)  # the smaller Gram matrix and its eigendecomposition (~10 n³)
    pca = budget.Cost(
        2 * stacked * P * gram + 10 * gram**3,
        3 * stacked * P,
        20,
        (stacked * P + 3 * gram**2) * budget.F8,
    )
    return (pca + work).holding(_paths_bytes(config)).as_job(items, item)


def landscape_estimate(config: NetRaceConfig, spec: LandscapeSpec) -> budget.Estimate:
    """The cost of evaluating one more landscape of a finished race on the page."""
    return budget.to_estimate(
        f"a {spec.grid}x{spec.grid} loss landscape",
        _landscape_cost(config, spec).as_job(0, None),
        f"grid={spec.grid}",
    )


budget.register("netrace", budget_estimate)
