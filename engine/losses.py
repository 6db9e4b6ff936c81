"""Losses on the network's output (logits), value and gradient side by side.

Registry ``LOSSES`` maps a name to a :class:`Loss`; calling it returns the pair
``(loss, dout)``: the scalar loss and its gradient with respect to the output, same shape and
dtype as the output. Each matches the torch function named below (reduction ``"mean"``), so
parity tests can compare with ``torch.autograd`` directly.

With ``out`` of shape ``(N, C)``:

* ``cross_entropy`` (``torch.nn.functional.cross_entropy``): ``y`` int class indices ``(N,)``::

      L = -(1/N) Σ_n log softmax(out_n)[y_n],        dL/dout = (softmax(out) - onehot(y)) / N

  ``y`` may also be class probabilities of shape ``(N, C)`` (torch's soft targets):
  ``L = -(1/N) Σ_n Σ_c y_nc log softmax(out_n)_c``, ``dL/dout = (softmax(out)·Σ_c y_nc - y)/N``.
* ``mse`` (``torch.nn.MSELoss``): mean over ALL ``N·C`` elements::

      L = (1/(N C)) Σ (out - y)²,                     dL/dout = 2 (out - y) / (N C)

* ``bce`` (``torch.nn.BCEWithLogitsLoss``): targets in [0, 1], mean over all elements, stable::

      L = mean( max(z, 0) - z y + log(1 + e^{-|z|}) ),   dL/dz = (σ(z) - y) / (N C)

For ``mse`` and ``bce`` a target of shape ``(N,)`` with output ``(N, 1)`` is read as ``(N, 1)``
(torch would broadcast it to ``(N, N)`` with a warning; that is never what a user means).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine.activations import sigmoid


def _log_softmax(out: np.ndarray) -> np.ndarray:
    """Row-wise ``log softmax`` of ``out`` ``(N, C)``, shifted by the row max (stable)."""
    s = out - out.max(axis=1, keepdims=True)
    s -= np.log(np.exp(s).sum(axis=1, keepdims=True))
    return s


def _check_2d(out: np.ndarray) -> None:
    if out.ndim != 2:
        raise ValueError(f"Expected output of shape (N, C), got shape {out.shape}")


def _cross_entropy(out: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    _check_2d(out)
    n, c = out.shape
    y = np.asarray(y)
    logp = _log_softmax(out)
    if y.shape == out.shape and np.issubdtype(y.dtype, np.floating):
        y = y.astype(out.dtype, copy=False)
        loss = -float(np.sum(y * logp)) / n
        dout = np.exp(logp)
        dout *= y.sum(axis=1, keepdims=True)
        dout -= y
        dout /= n
        return loss, dout
    if y.shape != (n,):
        raise ValueError(
            f"Expected target of shape ({n},) (class indices) or {out.shape} (probabilities), "
            f"got shape {y.shape}"
        )
    if y.dtype.kind not in "iub" and not np.all(np.mod(y, 1) == 0):
        raise ValueError("cross_entropy class-index targets must be whole numbers")
    y = y.astype(np.intp, copy=False)
    if n and (y.min() < 0 or y.max() >= c):
        bad = y[(y < 0) | (y >= c)][0]
        raise ValueError(f"Target {bad} is out of bounds.")
    rows = np.arange(n)
    loss = -float(logp[rows, y].sum()) / n
    dout = np.exp(logp)
    dout[rows, y] -= 1.0
    dout /= n
    return loss, dout


def _match_target(out: np.ndarray, y: np.ndarray, name: str) -> np.ndarray:
    _check_2d(out)
    y = np.asarray(y, dtype=out.dtype)
    if y.shape != out.shape and y.shape == out.shape[:1] and out.shape[1] == 1:
        y = y.reshape(out.shape)
    if y.shape != out.shape:
        raise ValueError(f"{name}: target size {y.shape} differs from output size {out.shape}")
    return y


def _mse(out: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    y = _match_target(out, y, "mse")
    diff = out - y
    loss = float(np.vdot(diff, diff)) / diff.size
    diff *= 2.0 / diff.size
    return loss, diff


def _bce(out: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    y = _match_target(out, y, "bce")
    per = np.maximum(out, 0.0) - out * y + np.log1p(np.exp(-np.abs(out)))
    loss = float(per.mean())
    dout = sigmoid(out)
    dout -= y
    dout /= out.size
    return loss, dout


@dataclass(frozen=True)
class Loss:
    """A loss: ``loss(out, y) -> (value, dL/dout)``; see the module docstring for the math.

    Attributes:
        name: registry key.
        fn: ``(out (N, C), y) -> (float, (N, C) array)``.
        torch_name: the torch function it matches.
        target: what ``y`` must be, in words (for error messages and the UI).
    """

    name: str
    fn: Callable
    torch_name: str
    target: str

    def __call__(self, out: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        return self.fn(out, y)

    def value(self, out: np.ndarray, y: np.ndarray) -> float:
        """The loss alone (the gradient is cheap next to it, so this just drops it)."""
        return self.fn(out, y)[0]


LOSSES: dict[str, Loss] = {
    "cross_entropy": Loss(
        "cross_entropy",
        _cross_entropy,
        "torch.nn.functional.cross_entropy",
        "class indices (N,) or class probabilities (N, C)",
    ),
    "mse": Loss("mse", _mse, "torch.nn.MSELoss", "values of the output's shape (N, C)"),
    "bce": Loss(
        "bce", _bce, "torch.nn.BCEWithLogitsLoss", "probabilities in [0, 1], output's shape"
    ),
}


def get(name: str) -> Loss:
    """Look ``name`` up in :data:`LOSSES`, with a clear error for unknown names."""
    try:
        return LOSSES[name]
    except (KeyError, TypeError):
        raise ValueError(f"Unknown loss {name!r}; expected one of {', '.join(LOSSES)}") from None
