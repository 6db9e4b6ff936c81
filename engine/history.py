"""A training run's history: append-only buffers published as cheap, immutable views.

The trainer appends one row per epoch and one per step to :class:`Recorder`; ``view()``
returns a frozen :class:`History` whose arrays are READ-ONLY views of the filled prefix of
those buffers. Nothing is copied: rows below the prefix are never written again (buffers only
grow, by reallocation, which leaves earlier views pointing at the old, unchanged memory). So a
background job can publish a history every ~0.1 s at O(1) cost and a page can hold on to it
while training goes on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np


class Growable:
    """Append-only array of rows ``(n, *row_shape)`` with amortized O(1) appends."""

    def __init__(self, row_shape: tuple[int, ...] = (), dtype=np.float64, capacity: int = 64):
        self._buf = np.empty((capacity, *row_shape), dtype=dtype)
        self.n = 0

    def append(self, row) -> None:
        if self.n == len(self._buf):
            new = np.empty((2 * len(self._buf), *self._buf.shape[1:]), dtype=self._buf.dtype)
            new[: self.n] = self._buf[: self.n]
            self._buf = new
        self._buf[self.n] = row
        self.n += 1

    def view(self) -> np.ndarray:
        """Read-only view of the rows appended so far."""
        v = self._buf[: self.n]
        v.flags.writeable = False
        return v


@dataclass(frozen=True)
class History:
    """What a run recorded (all arrays read-only).

    Per evaluated epoch ``e`` (0 = before training), shape ``(E,)``: ``epochs``,
    ``train_loss``/``val_loss`` (data loss, no dropout), ``penalty`` (λ1Σ|w| + λ2Σw²),
    ``train_objective``/``val_objective`` (loss + penalty), ``train_acc``/``val_acc``
    (classification only, else None).
    Per step ``(S,)``: ``step_loss`` (the minibatch loss that step used). When recorded,
    ``grad_norms`` ``(S, L)`` = ‖∂L/∂W_l‖ and ``act_grad_norms`` ``(S, L)`` = ‖∂L/∂a_l‖ (layer
    l's output signal; the last column is ∂L/∂logits), both of the minibatch data loss.
    ``snapshots``: epoch -> flat parameter copy (see :meth:`layer_weights`).
    Early stopping: ``best_epoch``, ``best_val_loss``, ``restored_epoch`` (weights put back),
    ``stopped_early``. ``diverged_at``: the step whose loss/weights became non-finite, or at
    which the run blew up while finite; ``exploded_at``: the epoch of such a finite blow-up
    (see :mod:`engine.trainer`), else None.
    ``message``: one sentence about how the run ended (or "" while running).
    """

    epochs: np.ndarray
    train_loss: np.ndarray
    val_loss: np.ndarray
    penalty: np.ndarray
    train_objective: np.ndarray
    val_objective: np.ndarray
    train_acc: np.ndarray | None
    val_acc: np.ndarray | None
    step_loss: np.ndarray
    grad_norms: np.ndarray | None
    act_grad_norms: np.ndarray | None
    snapshots: Mapping[int, np.ndarray]
    best_epoch: int | None
    best_val_loss: float | None
    restored_epoch: int | None
    stopped_early: bool
    diverged_at: int | None
    message: str
    steps_done: int
    epochs_done: int
    weight_slices: tuple[slice, ...]
    sizes: tuple[int, ...]
    exploded_at: int | None = None

    @property
    def blew_up(self) -> bool:
        """Whether the run diverged or exploded (its numbers are not a trained model's)."""
        return self.diverged_at is not None

    def layer_weights(self, epoch: int) -> list[np.ndarray]:
        """The weight matrices ``W_l`` ``(sizes[l], sizes[l+1])`` snapshotted at ``epoch``."""
        flat = self.snapshots[epoch]
        return [
            flat[s].reshape(fi, fo)
            for s, fi, fo in zip(self.weight_slices, self.sizes[:-1], self.sizes[1:], strict=True)
        ]

    def weights(self, epoch: int) -> np.ndarray:
        """All weights (no biases) at ``epoch`` as one 1-D array (for pooled histograms)."""
        flat = self.snapshots[epoch]
        return np.concatenate([flat[s] for s in self.weight_slices])


class Recorder:
    """The trainer's mutable side of :class:`History` (single writer: the training thread)."""

    def __init__(
        self,
        n_layers: int,
        *,
        classification: bool,
        grad_norms: bool,
        weight_slices: tuple[slice, ...],
        sizes: tuple[int, ...],
    ):
        self._epoch_cols = Growable((6,))  # epoch, train, val, penalty, train_acc, val_acc
        self._step_loss = Growable()
        self._grad = Growable((n_layers,)) if grad_norms else None
        self._act = Growable((n_layers,)) if grad_norms else None
        self._snapshots: dict[int, np.ndarray] = {}
        self.classification = classification
        self.weight_slices, self.sizes = weight_slices, sizes
        self.best_epoch: int | None = None
        self.best_val_loss: float | None = None
        self.restored_epoch: int | None = None
        self.stopped_early = False
        self.diverged_at: int | None = None
        self.exploded_at: int | None = None
        self.message = ""

    def add_epoch(self, epoch, train_loss, val_loss, penalty, train_acc, val_acc) -> None:
        self._epoch_cols.append((epoch, train_loss, val_loss, penalty, train_acc, val_acc))

    def add_step(self, loss: float, grad_norms=None, act_grad_norms=None) -> None:
        self._step_loss.append(loss)
        if self._grad is not None:
            self._grad.append(grad_norms)
            self._act.append(act_grad_norms)

    def add_snapshot(self, epoch: int, params: np.ndarray) -> None:
        copy = np.array(params, dtype=np.float64)
        copy.flags.writeable = False
        self._snapshots[epoch] = copy

    def view(self, steps_done: int, epochs_done: int) -> History:
        cols = self._epoch_cols.view()
        col = list(cols.T)  # read-only (strided) column views
        train, val, pen = col[1], col[2], col[3]
        return History(
            epochs=_frozen(col[0].astype(np.int64)),
            train_loss=train,
            val_loss=val,
            penalty=pen,
            train_objective=_frozen(train + pen),
            val_objective=_frozen(val + pen),
            train_acc=col[4] if self.classification else None,
            val_acc=col[5] if self.classification else None,
            step_loss=self._step_loss.view(),
            grad_norms=None if self._grad is None else self._grad.view(),
            act_grad_norms=None if self._act is None else self._act.view(),
            snapshots=MappingProxyType(dict(self._snapshots)),
            best_epoch=self.best_epoch,
            best_val_loss=self.best_val_loss,
            restored_epoch=self.restored_epoch,
            stopped_early=self.stopped_early,
            diverged_at=self.diverged_at,
            message=self.message,
            steps_done=steps_done,
            epochs_done=epochs_done,
            weight_slices=self.weight_slices,
            sizes=self.sizes,
            exploded_at=self.exploded_at,
        )


def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a
