"""Training loop: minibatch epochs, history, snapshots, early stopping, divergence detection.

One :class:`Config` (a frozen dataclass) describes a run; :class:`Trainer` executes it one
minibatch step at a time, so a background job (:mod:`engine.jobs`) can pause or stop it
between steps; :func:`train` runs it to the end synchronously. Per step (``η`` = lr)::

    idx   = next batch of a permutation of the training set (reshuffled each epoch)
    L, g  = loss and flat gradient of the minibatch (dropout on, masks from the dropout rng)
    before = reg.before_step(θ)             # truncation L1 only
    g    += 2 λ2 θ  (+ λ1 sign θ unless proximal)        (weights only, engine.regularizers)
    g    *= min(1, c / (‖g‖ + 1e-6))        # if grad_clip = c
    opt.step_(θ, g, state)                  # ONE call on the flat buffer
    reg.after_step_(θ, η, mask, before)     # proximal soft-threshold / truncation

At the end of each epoch (and once before training, epoch 0) the whole train and validation
sets are evaluated without dropout: data loss, loss + penalty ("objective"), and accuracy for
classification. ``eval_every = k`` evaluates only epochs ``0, k, 2k, ...`` and the last one
(``0``: epochs 0 and last only): when an epoch is a couple of large minibatches a full pass
over the data every epoch costs about as much as the steps, and a view that plots the per-step
minibatch loss (the Gradient-flow heatmap) needs no evaluation at all. Early stopping watches
the validation data loss: an epoch improves when
``val < best - min_delta``; after ``patience`` epochs without improvement training stops;
with ``restore_best`` the best epoch's weights are put back when training ends (stopped early
or not). A non-finite minibatch loss, parameter or evaluation stops the run with
``diverged at step k`` and nothing non-finite enters the history. A run can also blow up
while every number stays finite (float64 holds 1e300): at an evaluated epoch ``k > 0``, a
train or validation loss above :data:`BLOWUP_LOSS_FACTOR` (1e3) times its epoch-0 value, or a
weight with ``|w| >`` :data:`BLOWUP_WEIGHT` (1e4), stops the run with ``exploded at epoch k``
(that epoch's row is kept, so the chart shows the blow-up); ``History.exploded_at = k``.

Randomness: ``seed`` initializes the weights (engine.nn) and, through
``SeedSequence(seed).spawn(2)``, the shuffling and dropout streams, so switching dropout on
does not change the batch order. Same config -> bitwise-identical history and weights.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine import losses as _losses
from engine.datasets import Dataset, make_dataset
from engine.history import History, Recorder
from engine.nn import MLP
from engine.optimizers import make as make_optimizer
from engine.regularizers import Regularizer, clip_grad_norm_

__all__ = ["Config", "History", "Trainer", "TrainerGroup", "train", "REG_KINDS"]

MAX_EPOCHS = 2000
MAX_DEPTH = 200
MAX_WIDTH = 512
REG_KINDS = ("none", "l1", "l2", "elastic")
BLOWUP_LOSS_FACTOR = 1e3  # a loss this many times its start (epoch 0) has blown up
BLOWUP_WEIGHT = 1e4  # a weight this large has blown up (inputs are standardized, |w| ~ 1)


@dataclass(frozen=True)
class Config:
    """Everything that determines a training run (see the module docstring).

    Data: ``dataset`` (a key of engine.datasets.DATASETS), ``n_samples``/``noise`` (None: the
    dataset's defaults), ``data_seed``, ``val_fraction``, ``data_options`` (e.g. n_features).
    Network: ``hidden`` widths, ``activation``, ``init``, ``init_scale``, ``residual``,
    ``keep_prob`` (dropout keep-probability, 1 = off), ``dtype`` ("float64"/"float32").
    Loss: ``loss`` (None: cross_entropy for classification, mse for regression).
    Optimizer: ``optimizer`` name and ``hparams`` (torch names, e.g. ``{"lr": 0.01}``).
    Regularizer: ``regularizer`` kind in REG_KINDS; ``l1``, ``l2`` (λ's as in the notes:
    λ1 Σ|w|, λ2 Σw²), ``l1_method`` ("subgradient"/"proximal"/"truncation").
    ``grad_clip``: max global gradient norm or None.
    Schedule: ``epochs``, ``batch_size`` (None: full batch), ``seed``.
    Evaluation: ``eval_every`` epochs between whole-dataset evaluations (1 = every epoch; 0 =
    none but epoch 0); the last epoch is always evaluated. Early stopping needs ``eval_every = 1``.
    Early stopping: ``patience`` (None: off), ``min_delta``, ``restore_best``.
    Recording: ``snapshot_epochs`` (epochs whose weights are kept; 0 = initial) and/or
    ``snapshot_every`` (every k-th epoch plus the last; 0 = off), ``record_grad_norms``
    (per-step per-layer ‖∂L/∂W_l‖ and ‖∂L/∂a_l‖ of the data loss, before penalty/clipping).
    """

    dataset: str = "moons"
    n_samples: int | None = None
    noise: float | None = None
    data_seed: int = 0
    val_fraction: float = 0.3
    data_options: dict = field(default_factory=dict)
    hidden: tuple[int, ...] = (16, 16)
    activation: str = "tanh"
    init: str = "xavier_normal"
    init_scale: float = 1.0
    residual: bool = False
    keep_prob: float = 1.0
    dtype: str = "float64"
    loss: str | None = None
    optimizer: str = "adam"
    hparams: dict = field(default_factory=lambda: {"lr": 0.01})
    regularizer: str = "none"
    l1: float = 0.0
    l2: float = 0.0
    l1_method: str = "subgradient"
    grad_clip: float | None = None
    epochs: int = 100
    batch_size: int | None = 32
    seed: int = 0
    eval_every: int = 1
    patience: int | None = None
    min_delta: float = 0.0
    restore_best: bool = True
    snapshot_epochs: tuple[int, ...] = ()
    snapshot_every: int = 0
    record_grad_norms: bool = False

    def __post_init__(self):
        hidden = tuple(self.hidden)
        object.__setattr__(self, "hidden", hidden)
        object.__setattr__(self, "snapshot_epochs", tuple(self.snapshot_epochs))
        if len(hidden) > MAX_DEPTH:
            raise ValueError(f"Invalid depth: {len(hidden)} hidden layers (max {MAX_DEPTH})")
        for i, w in enumerate(hidden):
            if isinstance(w, bool) or not isinstance(w, (int, np.integer)) or not w >= 1:
                raise ValueError(f"Invalid hidden width at index {i}: {w!r} (need an int >= 1)")
            if w > MAX_WIDTH:
                raise ValueError(f"Invalid hidden width at index {i}: {w} (max {MAX_WIDTH})")
        _int_in("epochs", self.epochs, 1, MAX_EPOCHS)
        if self.batch_size is not None:
            _int_in("batch_size", self.batch_size, 1, None)
        _int_in("eval_every", self.eval_every, 0, None)
        if self.patience is not None:
            _int_in("patience", self.patience, 1, None)
            if self.eval_every != 1:
                raise ValueError(
                    f"Invalid eval_every value: {self.eval_every!r} (early stopping watches "
                    "every epoch: need eval_every=1 with patience)"
                )
        _int_in("snapshot_every", self.snapshot_every, 0, None)
        if self.regularizer not in REG_KINDS:
            raise ValueError(
                f"Unknown regularizer {self.regularizer!r}; expected one of {', '.join(REG_KINDS)}"
            )
        if not (_finite(self.min_delta) and self.min_delta >= 0):
            raise ValueError(f"Invalid min_delta value: {self.min_delta!r} (need >= 0)")
        if self.grad_clip is not None and not (_finite(self.grad_clip) and self.grad_clip > 0):
            raise ValueError(f"Invalid grad_clip value: {self.grad_clip!r} (need > 0)")
        if self.dtype not in ("float64", "float32"):
            raise ValueError(f"Invalid dtype {self.dtype!r}; expected float64 or float32")
        self.regularizer_obj()  # validates λ's and the L1 method

    def regularizer_obj(self) -> Regularizer:
        """The engine.regularizers.Regularizer this config's kind and λ's describe."""
        l1 = self.l1 if self.regularizer in ("l1", "elastic") else 0.0
        l2 = self.l2 if self.regularizer in ("l2", "elastic") else 0.0
        return Regularizer(l1=l1, l2=l2, l1_method=self.l1_method)

    def replace(self, **changes: Any) -> Config:
        """A copy with ``changes`` applied (validated again)."""
        from dataclasses import replace

        return replace(self, **changes)


def _finite(x) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _int_in(name: str, value, lo: int, hi: int | None) -> None:
    ok = not isinstance(value, bool) and isinstance(value, (int, np.integer))
    if not ok or value < lo or (hi is not None and value > hi):
        rng = f">= {lo}" if hi is None else f"in {lo}..{hi}"
        raise ValueError(f"Invalid {name} value: {value!r} (need an integer {rng})")


class Trainer:
    """Runs a :class:`Config` step by step; satisfies :class:`engine.jobs.StepTask`.

    Args:
        config: the run.
        dataset: use this instead of generating ``config.dataset`` (e.g. shared by twin runs).

    Attributes:
        net: the engine.nn.MLP being trained; ``net.params`` is the flat buffer.
        data: the :class:`engine.datasets.Dataset`.
        steps_done, total_steps, epoch, steps_per_epoch: progress counters.
    """

    def __init__(self, config: Config, dataset: Dataset | None = None):
        self.config = c = config
        self.data = d = dataset or make_dataset(
            c.dataset, c.n_samples, c.noise, c.data_seed, c.val_fraction, **c.data_options
        )
        self.loss_name = c.loss or ("cross_entropy" if d.task == "classification" else "mse")
        self._loss = _losses.get(self.loss_name)
        n_out = 1 if self.loss_name == "bce" else d.n_outputs
        self._y_train, self._y_val = self._targets(d.y_train), self._targets(d.y_val)
        self.net = MLP(
            (d.n_features, *c.hidden, n_out),
            activation=c.activation,
            init=c.init,
            seed=c.seed,
            init_scale=c.init_scale,
            residual=c.residual,
            dtype=np.dtype(c.dtype),
            keep_prob=c.keep_prob,
        )
        self.opt = make_optimizer(c.optimizer, **c.hparams)
        self.opt_state = self.opt.init(self.net.params)
        self._lr = float(np.max(self.opt.hparams.get("lr", 0.0)))
        self.reg = c.regularizer_obj()
        self._mask = self.net.weight_mask
        shuffle_ss, dropout_ss = np.random.SeedSequence(c.seed).spawn(2)
        self._shuffle_rng = np.random.default_rng(shuffle_ss)
        self._dropout_rng = np.random.default_rng(dropout_ss)
        self._grads = self.net.new_gradients()
        # reduceat over every W_l / b_l start gives per-block sums of g²; _w_pos picks the W_l
        starts = [s.start for s in self.net.weight_slices + self.net.bias_slices]
        self._starts = np.sort(starts)
        self._w_pos = np.searchsorted(self._starts, starts[: self.net.n_layers])

        n = len(self._y_train)
        self.batch_size = n if c.batch_size is None else min(c.batch_size, n)
        self.steps_per_epoch = math.ceil(n / self.batch_size)
        self.total_steps = c.epochs * self.steps_per_epoch
        self.steps_done = 0
        self.epoch = 0
        self._order = np.arange(n)
        self._pos = 0
        self._snapshot_at = set(c.snapshot_epochs)
        if c.snapshot_every:
            self._snapshot_at |= set(range(0, c.epochs + 1, c.snapshot_every)) | {c.epochs}
        self._patience_left = c.patience
        self._best_params: np.ndarray | None = None
        self._start_losses = (math.inf, math.inf)  # epoch 0's (train, val) loss
        self.rec = Recorder(
            self.net.n_layers,
            classification=d.task == "classification",
            grad_norms=c.record_grad_norms,
            weight_slices=tuple(self.net.weight_slices),
            sizes=self.net.sizes,
        )
        self._end_of_epoch()  # epoch 0: the initial weights

    def __getstate__(self) -> dict:
        """Pickle (a job's chunk carries the trainer to a worker) without the gradient
        scratch buffer, whose per-layer views would come back detached from its flat array;
        every step overwrites it, so :meth:`__setstate__` allocates a fresh one."""
        state = self.__dict__.copy()
        del state["_grads"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._grads = self.net.new_gradients()

    # ---------------------------------------------------------------- StepTask protocol
    @property
    def done(self) -> bool:
        r = self.rec
        return self.steps_done >= self.total_steps or r.stopped_early or r.diverged_at is not None

    @property
    def divergence(self) -> str | None:
        return self.rec.message if self.rec.diverged_at is not None else None

    @property
    def message(self) -> str:
        """How the run ended ("finished 100 epochs", "stopped early ...", "diverged ...")."""
        return self.rec.message

    def publish(self) -> History:
        """An immutable view of the history so far (read-only prefix views, no copies)."""
        return self.rec.view(self.steps_done, self.epoch)

    def step(self) -> None:
        """One minibatch update (see the module docstring); no-op once :attr:`done`."""
        if self.done:
            return
        c, net = self.config, self.net
        if self._pos == 0:
            self._order = self._shuffle_rng.permutation(len(self._y_train))
        idx = self._order[self._pos : self._pos + self.batch_size]
        k = self.steps_done + 1
        params, grad = net.params, self._grads.flat
        with np.errstate(all="ignore"):
            loss, g = net.value_and_grad(
                self.data.X_train[idx],
                self._y_train[idx],
                self.loss_name,
                train=True,
                rng=self._dropout_rng,
                out=self._grads,
            )
            if not math.isfinite(loss):
                return self._diverge(k, "the minibatch loss is not finite")
            if c.record_grad_norms:
                w_sq = np.add.reduceat(grad * grad, self._starts)[self._w_pos]
                a_norms = [math.sqrt(np.vdot(a, a)) for a in g.activations]
                self.rec.add_step(loss, np.sqrt(w_sq), a_norms)
            else:
                self.rec.add_step(loss)
            before = self.reg.before_step(params)
            self.reg.add_grad_(grad, params, self._mask)
            if c.grad_clip is not None:
                clip_grad_norm_(grad, c.grad_clip)
            self.opt.step_(params, grad, self.opt_state)
            self.reg.after_step_(params, self._lr, self._mask, before)
            if not math.isfinite(float(np.sum(params))):
                return self._diverge(k, "the weights overflowed")
        self.steps_done = k
        self._pos += self.batch_size
        if self._pos >= len(self._y_train):
            self._pos = 0
            self.epoch += 1
            self._end_of_epoch()
        if self.done:
            self._finish()

    # ---------------------------------------------------------------- conveniences
    def run_epoch(self) -> None:
        """Steps until the current epoch ends (or the run is done)."""
        epoch = self.epoch
        while not self.done and self.epoch == epoch:
            self.step()

    def run(self, max_steps: int | None = None) -> History:
        """Steps until done (or ``max_steps`` more steps); returns :meth:`publish`."""
        target = self.total_steps if max_steps is None else self.steps_done + max_steps
        while not self.done and self.steps_done < target:
            self.step()
        return self.publish()

    def evaluate(self, X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        """``(data loss, accuracy)`` without dropout; accuracy is nan for regression."""
        with np.errstate(all="ignore"):
            out = self.net.predict(X)
            loss = self._loss.value(out, self._targets(y))
        if self.data.task != "classification":
            return loss, math.nan
        pred = (out[:, 0] > 0).astype(np.int64) if out.shape[1] == 1 else out.argmax(axis=1)
        return loss, float(np.mean(pred == y))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities ``(N, n_classes)`` (classification) or predictions ``(N, 1)``."""
        out = self.net.predict(X)
        if self.data.task != "classification":
            return out
        if out.shape[1] == 1:
            p = 1.0 / (1.0 + np.exp(-out))
            return np.hstack([1.0 - p, p])
        e = np.exp(out - out.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    # ---------------------------------------------------------------- internals
    def _targets(self, y: np.ndarray) -> np.ndarray:
        if self.loss_name in ("mse", "bce") and self.data.task == "classification":
            if self.loss_name == "bce" or self.data.n_classes == 1:
                return np.asarray(y, dtype=np.float64).reshape(-1, 1)
            return np.eye(self.data.n_classes)[y]  # one-hot targets for MSE
        return y

    def _evaluates(self, epoch: int) -> bool:
        """Whether the end of ``epoch`` gets a whole-dataset evaluation (see ``eval_every``)."""
        k = self.config.eval_every
        return epoch == 0 or epoch >= self.config.epochs or (k > 0 and epoch % k == 0)

    def _end_of_epoch(self) -> None:
        c, d = self.config, self.data
        if self._evaluates(self.epoch):
            tr_loss, tr_acc = self.evaluate(d.X_train, d.y_train)
            va_loss, va_acc = self.evaluate(d.X_val, d.y_val)
            with np.errstate(all="ignore"):
                penalty = self.reg.penalty(self.net.params, self._mask)
            if not all(map(math.isfinite, (tr_loss, va_loss, penalty))):
                why = f"the loss at the end of epoch {self.epoch} is not finite"
                return self._diverge(self.steps_done, why)
            self.rec.add_epoch(self.epoch, tr_loss, va_loss, penalty, tr_acc, va_acc)
            why = self._blowup(tr_loss, va_loss)
            if why:
                return self._explode(why)
        if self.epoch in self._snapshot_at:
            self.rec.add_snapshot(self.epoch, self.net.params)
        if c.patience is None:  # patience implies eval_every = 1: va_loss exists here
            return
        if self.rec.best_epoch is None or va_loss < self.rec.best_val_loss - c.min_delta:
            self.rec.best_epoch, self.rec.best_val_loss = self.epoch, va_loss
            self._best_params = self.net.params.copy() if c.restore_best else None
            self._patience_left = c.patience
        else:
            self._patience_left -= 1
            if self._patience_left <= 0:
                self.rec.stopped_early = True
                self.rec.message = (
                    f"stopped early at epoch {self.epoch}: no improvement for "
                    f"{c.patience} epochs (best epoch {self.rec.best_epoch})"
                )

    def _blowup(self, train_loss: float, val_loss: float) -> str | None:
        """Why this epoch's (finite) numbers count as a blow-up, or None (module docstring)."""
        if self.epoch == 0:
            self._start_losses = (train_loss, val_loss)
            return None
        for name, value, first in zip(
            ("training", "validation"), (train_loss, val_loss), self._start_losses, strict=True
        ):
            if value > BLOWUP_LOSS_FACTOR * max(first, 1e-12):
                return (
                    f"the {name} loss {value:.3g} is more than {BLOWUP_LOSS_FACTOR:g}× its "
                    f"start ({first:.3g})"
                )
        w = self.net.params[self._mask]
        biggest = float(np.max(np.abs(w))) if w.size else 0.0
        if biggest > BLOWUP_WEIGHT:
            return f"a weight reached {biggest:.3g} (bound ±{BLOWUP_WEIGHT:g})"
        return None

    def _explode(self, why: str) -> None:
        if self._snapshot_at:  # show the blown-up weights, whatever the snapshot schedule
            self.rec.add_snapshot(self.epoch, self.net.params)
        self.rec.exploded_at = self.epoch
        self.rec.diverged_at = self.steps_done
        self.rec.message = f"exploded at epoch {self.epoch}: {why}"
        self._finish()

    def _diverge(self, k: int, why: str) -> None:
        self.rec.diverged_at = k
        self.rec.message = f"diverged at step {k}: {why}"
        self._finish()

    def _finish(self) -> None:
        """Restore the best weights (early stopping with restore_best) once training ends."""
        if self._best_params is not None:
            if self._snapshot_at:  # both models for every view: the last one and the restored
                self.rec.add_snapshot(self.epoch, self.net.params)
                self.rec.add_snapshot(self.rec.best_epoch, self._best_params)
            self.net.params = self._best_params
            self.rec.restored_epoch = self.rec.best_epoch
            self._best_params = None
        if not self.rec.message:
            self.rec.message = f"finished {self.epoch} epochs"


class TrainerGroup:
    """Several trainers advanced in lockstep as ONE job task (e.g. twin runs to compare).

    Each :meth:`step` advances every unfinished trainer by one minibatch, so the variants'
    histories grow together; one that diverges stops alone and the others go on.
    ``publish()`` returns a tuple of their histories, in order.
    """

    def __init__(self, trainers: Sequence[Trainer]):
        if not trainers:
            raise ValueError("TrainerGroup needs at least one trainer")
        self.trainers = tuple(trainers)
        self.total_steps = max(t.total_steps for t in self.trainers)

    @property
    def steps_done(self) -> int:
        """Steps of ONE trainer (they advance in lockstep), not summed over trainers: the
        slowest unfinished one's count, or :attr:`total_steps` once all are done."""
        running = [t.steps_done for t in self.trainers if not t.done]
        return min(running) if running else self.total_steps

    @property
    def epoch(self) -> int:
        return max(t.epoch for t in self.trainers)

    @property
    def done(self) -> bool:
        return all(t.done for t in self.trainers)

    @property
    def divergence(self) -> str | None:
        msgs = [t.divergence for t in self.trainers]
        return "; ".join(msgs) if all(msgs) else None

    def step(self) -> None:
        for t in self.trainers:
            if not t.done:
                t.step()

    def publish(self) -> tuple[History, ...]:
        return tuple(t.publish() for t in self.trainers)


def train(config: Config, dataset: Dataset | None = None) -> History:
    """Run ``config`` to the end synchronously and return its :class:`History`."""
    return Trainer(config, dataset).run()
