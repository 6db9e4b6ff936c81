"""The Regularization lab's engine: twin runs, weight histograms, sparsity, the L1/L2 geometry.

Pure NumPy. Two ideas:

* **Twin runs** (:class:`Variant`, :class:`LabConfig`, :class:`TwinRuns`). One base
  :class:`engine.trainer.Config` (data, network, optimizer, schedule, seed) and up to
  :data:`MAX_VARIANTS` regularization variants. Every variant trains on the SAME dataset object
  with the SAME seed, so the initial weights and the batch order are identical; only the
  regularizer differs. :class:`TwinRuns` is ONE background-job task that advances all
  variants in lockstep (one minibatch each per :meth:`TwinRuns.step`), so every chart fills at
  the same pace and a variant that diverges stops alone while the others go on.
* **Histograms and sparsity** of the snapshotted weights (:func:`weight_histograms`,
  :func:`sparsity_curve`), on the ONE shared binning of :mod:`engine.diagnostics`.
* **Why L1 is sparse**: see :mod:`engine.reg_geometry` (the 2-weight picture and the
  coefficient paths).

Penalties follow the course notes (no ½): L1 = λ Σ|w|, L2 = λ Σ w² (engine.regularizers).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from engine.datasets import Dataset, make_dataset
from engine.diagnostics import Bins, Histogram, histogram, shared_bins
from engine.history import History
from engine.nn import MLP
from engine.regularizers import L1_METHODS
from engine.trainer import Config, Trainer, TrainerGroup

MAX_VARIANTS = 4
MAX_SNAPSHOTS = 100  # weight snapshots kept per variant (the histogram slider's frames)

VARIANT_KINDS: dict[str, str] = {
    "none": "no regularization",
    "l1": "L1: λ Σ|w| (sparse)",
    "l2": "L2: λ Σ w² (shrinks)",
    "elastic": "elastic net: λ1 Σ|w| + λ2 Σ w²",
    "dropout": "dropout: keep each hidden unit with probability p",
}


# ------------------------------------------------------------------------------ variants
@dataclass(frozen=True)
class Variant:
    """One regularization setting to compare.

    Attributes:
        kind: a key of :data:`VARIANT_KINDS`.
        l1: λ1 of the L1 term (``l1`` and ``elastic``).
        l2: λ2 of the L2 term (``l2`` and ``elastic``).
        method: how L1 is applied, a key of :data:`engine.regularizers.L1_METHODS`.
        keep_prob: dropout keep-probability p in (0, 1] (``dropout``).
        patience: early stopping after this many epochs without validation improvement
            (``None``: off); the best epoch's weights are restored.
    """

    kind: str = "none"
    l1: float = 0.0
    l2: float = 0.0
    method: str = "proximal"
    keep_prob: float = 1.0
    patience: int | None = None

    def __post_init__(self):
        if self.kind not in VARIANT_KINDS:
            raise ValueError(
                f"Unknown variant kind {self.kind!r}; expected one of {', '.join(VARIANT_KINDS)}"
            )
        if self.method not in L1_METHODS:
            raise ValueError(
                f"Unknown l1_method {self.method!r}; expected one of {', '.join(L1_METHODS)}"
            )
        for key in ("l1", "l2"):
            value = getattr(self, key)
            if not (_finite(value) and value >= 0):
                raise ValueError(f"Invalid {key} value: {value!r} (need a number >= 0)")
        if not (_finite(self.keep_prob) and 0.0 < self.keep_prob <= 1.0):
            raise ValueError(f"keep_prob must be in (0, 1], got {self.keep_prob!r}")
        if self.patience is not None and not (
            isinstance(self.patience, int) and self.patience >= 1
        ):
            raise ValueError(f"Invalid patience value: {self.patience!r} (need an int >= 1)")

    def canonical(self) -> Variant:
        """The same variant with the fields its kind ignores reset (equal runs compare equal)."""
        k = self.kind
        return Variant(
            kind=k,
            l1=self.l1 if k in ("l1", "elastic") else 0.0,
            l2=self.l2 if k in ("l2", "elastic") else 0.0,
            method=self.method if k in ("l1", "elastic") else "proximal",
            keep_prob=self.keep_prob if k == "dropout" else 1.0,
            patience=self.patience,
        )

    @property
    def label(self) -> str:
        """Short legend text naming the hyperparameters, e.g. ``L1 proximal λ=0.02``."""
        k = self.kind
        if k == "none":
            text = "none"
        elif k == "l1":
            text = f"L1 {self.method} λ={_g(self.l1)}"
        elif k == "l2":
            text = f"L2 λ={_g(self.l2)}"
        elif k == "elastic":
            text = f"elastic {self.method} λ1={_g(self.l1)} λ2={_g(self.l2)}"
        else:
            text = f"dropout p={_g(self.keep_prob)}"
        return text + (f" + early stop ({self.patience})" if self.patience else "")

    def apply(self, base: Config) -> Config:
        """``base`` with this variant's regularizer, dropout and early stopping."""
        v = self.canonical()
        regularizer = v.kind if v.kind in ("l1", "l2", "elastic") else "none"
        return base.replace(
            regularizer=regularizer,
            l1=v.l1,
            l2=v.l2,
            l1_method=v.method,
            keep_prob=v.keep_prob,
            patience=v.patience,
            restore_best=True,
        )


def _g(x: float) -> str:
    return f"{x:.3g}"


def _finite(x: Any) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class LabConfig:
    """The whole comparison: a base training config and the variants trained on it."""

    base: Config
    variants: tuple[Variant, ...]

    def __post_init__(self):
        variants = tuple(v.canonical() for v in self.variants)
        if not 1 <= len(variants) <= MAX_VARIANTS:
            raise ValueError(f"Invalid number of variants: {len(variants)} (1..{MAX_VARIANTS})")
        object.__setattr__(self, "variants", variants)

    def configs(self) -> list[Config]:
        """One trainer config per variant, recording ≤ :data:`MAX_SNAPSHOTS` weight snapshots."""
        base = self.base.replace(snapshot_every=snapshot_every(self.base.epochs))
        return [v.apply(base) for v in self.variants]

    def labels(self) -> list[str]:
        """Legend labels; a repeated label gets ``#i`` so every trace stays distinct."""
        raw = [v.label for v in self.variants]
        return [f"{t} #{i + 1}" if raw.count(t) > 1 else t for i, t in enumerate(raw)]


def snapshot_every(epochs: int, max_snapshots: int = MAX_SNAPSHOTS) -> int:
    """Snapshot stride ``k = ceil(epochs / (max_snapshots - 1))`` (plus epoch 0 and the last)."""
    return max(1, math.ceil(epochs / max(1, max_snapshots - 1)))


# Overfits visibly: 70 training samples, 50 features of which 5 matter, 32 hidden units.
# SGD + momentum so proximal L1 is plain ISTA (with Adam the step of a weight is ~lr whatever
# its gradient, which outruns the lr·λ threshold and leaves few exact zeros).
DEFAULT_BASE = Config(
    dataset="sparse_classification",
    n_samples=100,
    noise=0.1,
    data_seed=0,
    val_fraction=0.3,
    data_options={"n_features": 50, "n_informative": 5},
    hidden=(32,),
    activation="tanh",
    init="xavier_normal",
    optimizer="sgd",
    hparams={"lr": 0.05, "momentum": 0.9},
    epochs=200,
    batch_size=16,
    seed=0,
)
DEFAULT_VARIANTS = (
    Variant("none"),
    Variant("l1", l1=0.02, method="proximal"),
    Variant("l2", l2=0.02),
    Variant("dropout", keep_prob=0.7),
)
DEFAULT_LAB = LabConfig(DEFAULT_BASE, DEFAULT_VARIANTS)


# ------------------------------------------------------------------------------ twin runs
@dataclass(frozen=True)
class VariantRun:
    """What one variant has produced so far (immutable).

    ``history``: its :class:`engine.history.History`; ``final``: the flat parameters the run
    ended with (after early stopping's restore), ``None`` while it still trains; ``label`` and
    ``config``: which variant this is (a page showing a finished job while its settings have
    changed must label the results by the run's own config, not the widgets').
    """

    history: History
    final: np.ndarray | None
    label: str
    config: Config


class TwinRuns(TrainerGroup):
    """All variants of a :class:`LabConfig` as ONE step-wise job task (engine.jobs.StepTask).

    A :class:`engine.trainer.TrainerGroup` (variants advance in lockstep, one minibatch each
    per :meth:`step`) over trainers that share one dataset object, generated once and
    read-only. The task counts as diverged only when every variant has; a single diverged
    variant is reported in its history. Each variant's final parameters are kept as it ends.
    """

    def __init__(self, lab: LabConfig, dataset: Dataset | None = None):
        self.lab = lab
        b = lab.base
        self.data = dataset or make_dataset(
            b.dataset, b.n_samples, b.noise, b.data_seed, b.val_fraction, **b.data_options
        )
        super().__init__([Trainer(c, self.data) for c in lab.configs()])
        self.labels = lab.labels()
        self._final: list[np.ndarray | None] = [None] * len(self.trainers)

    @property
    def divergence(self) -> str | None:
        msgs = [t.divergence for t in self.trainers]
        return "every variant diverged" if all(msgs) else None

    @property
    def message(self) -> str:
        return f"finished: {self.epoch} epochs"

    def step(self) -> None:
        super().step()
        for i, t in enumerate(self.trainers):
            if t.done and self._final[i] is None:
                final = t.net.params.astype(np.float64)  # a copy
                final.flags.writeable = False
                self._final[i] = final

    def run(self) -> tuple[VariantRun, ...]:
        """Train to the end synchronously (tests, benchmarks) and return :meth:`publish`."""
        while not self.done:
            self.step()
        return self.publish()

    def publish(self) -> tuple[VariantRun, ...]:
        return tuple(
            VariantRun(t.publish(), f, label, t.config)
            for t, f, label in zip(self.trainers, self._final, self.labels, strict=True)
        )


def rebuild(config: Config, sizes: tuple[int, ...], params: np.ndarray) -> MLP:
    """An :class:`engine.nn.MLP` of ``config``'s architecture holding ``params`` (for plots)."""
    net = MLP(
        sizes,
        activation=config.activation,
        init=config.init,
        seed=config.seed,
        residual=config.residual,
    )
    net.params = params
    return net


def boundary_grid(data: Dataset, n: int = 80, pad: float = 0.5) -> tuple[np.ndarray, ...]:
    """``(xs (n,), ys (n,), points (n*n, 2))`` covering a 2D dataset with a margin ``pad``."""
    X = np.vstack([data.X_train, data.X_val])
    lo, hi = X.min(axis=0) - pad, X.max(axis=0) + pad
    xs, ys = np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n)
    gx, gy = np.meshgrid(xs, ys)
    return xs, ys, np.stack([gx.ravel(), gy.ravel()], axis=1)


def class_probability(net: MLP, points: np.ndarray) -> np.ndarray:
    """``(N,)`` probability of the LAST class (softmax of the logits; sigmoid for one output)."""
    with np.errstate(all="ignore"):
        out = net.predict(points)
        if out.shape[1] == 1:
            return 1.0 / (1.0 + np.exp(-out[:, 0]))
        e = np.exp(out - out.max(axis=1, keepdims=True))
        return e[:, -1] / e.sum(axis=1)


# ------------------------------------------------------------------------------ histograms
def layer_values(history: History, epoch: int, layer: int | None) -> np.ndarray:
    """Weights (no biases) snapshotted at ``epoch``: of layer ``layer``, or all (``None``)."""
    flat = history.snapshots[epoch]
    if layer is None:
        return np.concatenate([flat[s] for s in history.weight_slices])
    return flat[history.weight_slices[layer]]


def shown_epoch(history: History, upto: int, restored: bool = True) -> int | None:
    """The snapshot epoch a view shows for ``history``: with ``restored``, an early-stopped
    run's restored (best) epoch, the model the run ended with; otherwise (and for runs
    without a restore) the latest snapshot ``<= upto``."""
    e = history.restored_epoch
    if restored and e is not None and e in history.snapshots:
        return e
    return last_epoch(history, upto)


def model_params(run: VariantRun, restored: bool = True) -> tuple[np.ndarray, int] | None:
    """``(flat parameters, epoch)`` of the model a view shows for a finished ``run``: the one
    it ended with (early stopping: the restored best epoch's), or with ``restored=False`` the
    last trained epoch's. None while the run trains."""
    if run.final is None:
        return None
    h = run.history
    if restored or h.restored_epoch is None or not h.snapshots:
        epoch = h.restored_epoch if h.restored_epoch is not None else h.epochs_done
        return run.final, int(epoch)
    last = max(h.snapshots)
    return h.snapshots[last], int(last)


def blown_up(history: History) -> bool:
    """Whether the run diverged or exploded: its weights leave the shared histogram range."""
    return history.diverged_at is not None


def last_epoch(history: History, upto: int) -> int | None:
    """The latest snapshot epoch ``<= upto`` of ``history`` (a stopped run keeps its last)."""
    eligible = [e for e in history.snapshots if e <= upto]
    return max(eligible) if eligible else None


@dataclass(frozen=True)
class HistogramSet:
    """Histograms of several runs at one epoch on shared bins.

    ``bins``: the :class:`engine.diagnostics.Bins` (range stated in ``bins.note``);
    ``hists``: one :class:`engine.diagnostics.Histogram` per run (``None`` when that run has no
    snapshot yet); ``epochs``: the snapshot epoch each histogram shows.
    """

    bins: Bins
    hists: tuple[Histogram | None, ...]
    epochs: tuple[int | None, ...]


def histogram_bins(
    histories: list[History], layer: int | None, bins: int = 60, epochs: list[int] | None = None
) -> Bins:
    """Shared, symmetric bins for every run and every snapshot epoch (so frames do not rescale).

    The range is the 0.5-99.5 percentile of |w| pooled over runs and epochs (clipped values go
    to the edge bins; :attr:`Bins.note` says so).
    """
    arrays = [
        layer_values(h, e, layer)
        for h in histories
        for e in (h.snapshots if epochs is None else [e for e in epochs if e in h.snapshots])
    ]
    if not arrays:
        arrays = [np.zeros(1)]
    return shared_bins(arrays, bins=bins, symmetric=True)


def weight_histograms(
    histories: list[History],
    epoch: int,
    layer: int | None,
    bins: Bins,
    shown: Sequence[int | None] | None = None,
) -> HistogramSet:
    """Each run's weights at ``epoch`` (or its last snapshot before) counted on ``bins``;
    ``shown`` overrides the epoch per run (e.g. :func:`shown_epoch`'s restored epochs)."""
    hists, epochs = [], []
    for i, h in enumerate(histories):
        e = last_epoch(h, epoch) if shown is None else shown[i]
        epochs.append(e)
        hists.append(None if e is None else histogram(layer_values(h, e, layer), bins))
    return HistogramSet(bins, tuple(hists), tuple(epochs))


@dataclass(frozen=True)
class SparsityCurve:
    """Sparsity of one run's weights over its snapshot epochs, shape ``(E,)`` each.

    ``exact``: fraction of weights exactly 0; ``near``: fraction with |w| < ``eps``;
    ``n``: how many weights are counted.
    """

    epochs: np.ndarray
    exact: np.ndarray
    near: np.ndarray
    eps: float
    n: int


def sparsity_curve(history: History, layer: int | None, eps: float = 1e-3) -> SparsityCurve:
    """Exact-zero and near-zero (|w| < ε) fractions at every snapshot (vectorized over epochs)."""
    if not (_finite(eps) and eps > 0):
        raise ValueError(f"Invalid eps value: {eps!r} (need a number > 0)")
    epochs = np.array(sorted(history.snapshots), dtype=np.int64)
    if epochs.size == 0:
        empty = np.empty(0)
        return SparsityCurve(epochs, empty, empty, float(eps), 0)
    W = np.stack([layer_values(history, int(e), layer) for e in epochs])  # (E, n)
    absw = np.abs(W)
    return SparsityCurve(
        epochs=epochs,
        exact=np.mean(W == 0.0, axis=1),
        near=np.mean(absw < eps, axis=1),
        eps=float(eps),
        n=int(W.shape[1]),
    )


def replace_base(lab: LabConfig, **changes: Any) -> LabConfig:
    """A copy of ``lab`` with ``changes`` applied to its base config."""
    return replace(lab, base=lab.base.replace(**changes))
