"""Activation functions with their exact derivatives, side by side.

Registry ``ACTIVATIONS`` maps a name to an :class:`Activation` holding

* ``forward(z, slope)`` -> ``a = f(z)``, shape preserved, dtype preserved;
* ``derivative(z, a, slope)`` -> ``f'(z)`` (uses the cached output ``a`` where that is cheaper
  and exact, e.g. ``sigmoid' = a (1 - a)``, ``tanh' = 1 - a²``);
* ``saturated(z, a, slope)`` -> boolean mask of the entries where the unit passes (almost) no
  gradient, the notion the diagnostics page reports (see :data:`SATURATION`).

``slope`` is the leaky-ReLU negative slope ``α`` (torch's ``negative_slope``, default 0.01); the
other activations ignore it. The style follows scikit-learn's ``ACTIVATIONS`` / ``DERIVATIVES``
dicts, but keeps each function next to its derivative.

Saturation (what "saturated" means per activation; the thresholds are data, in
:data:`SATURATION`):

* sigmoid: output ``a < 0.02`` or ``a > 0.98`` (then ``σ' = a(1-a) < 0.0196``, under 8 % of its
  maximum 0.25);
* tanh: ``|a| > 0.98`` (then ``tanh' = 1 - a² < 0.0396``, under 4 % of its maximum 1);
* relu: ``z <= 0`` (derivative exactly 0). A unit that is saturated for every sample of a batch
  is *dead*;
* leaky_relu: ``z <= 0`` (derivative reduced to ``α``; never exactly dead);
* linear: never.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

SIGMOID_BOUND = 0.02  # sigmoid saturated when a < 0.02 or a > 0.98
TANH_BOUND = 0.98  # tanh saturated when |a| > 0.98
DEFAULT_LEAKY_SLOPE = 0.01  # torch.nn.LeakyReLU(negative_slope=0.01)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Numerically stable logistic ``σ(z) = 1 / (1 + e^{-z})``.

    With ``e = exp(-|z|) <= 1`` (never overflows): ``σ(z) = 1/(1+e)`` for ``z >= 0`` and
    ``e/(1+e)`` for ``z < 0``, so tiny outputs keep full relative precision.
    """
    e = np.exp(-np.abs(z))
    a = np.add(e, 1.0, dtype=e.dtype)
    np.reciprocal(a, out=a)
    np.multiply(a, e, out=a, where=z < 0)  # in place, no boolean-index gathers
    return a


def _linear(z, slope):
    return z


def _d_linear(z, a, slope):
    return np.ones_like(z)


def _sat_never(z, a, slope):
    return np.zeros(np.shape(z), dtype=bool)


def _sigmoid(z, slope):
    return sigmoid(z)


def _d_sigmoid(z, a, slope):
    return a * (1.0 - a)


def _sat_sigmoid(z, a, slope):
    return (a < SIGMOID_BOUND) | (a > 1.0 - SIGMOID_BOUND)


def _tanh(z, slope):
    return np.tanh(z)


def _d_tanh(z, a, slope):
    d = a * a
    np.subtract(1.0, d, out=d)
    return d


def _sat_tanh(z, a, slope):
    return np.abs(a) > TANH_BOUND


def _relu(z, slope):
    return np.maximum(z, 0.0)


def _d_relu(z, a, slope):
    return (z > 0).astype(z.dtype)


def _sat_nonpositive(z, a, slope):
    return z <= 0


def _leaky_relu(z, slope):
    return np.where(z > 0, z, z * slope)


def _d_leaky_relu(z, a, slope):
    return np.where(z > 0, 1.0, slope).astype(z.dtype, copy=False)


@dataclass(frozen=True)
class Activation:
    """One activation: forward, exact derivative and saturation notion, side by side.

    Attributes:
        name: registry key.
        forward: ``(z, slope) -> a``; ``z`` of any shape, e.g. ``(batch, width)``.
        derivative: ``(z, a, slope) -> f'(z)`` elementwise, same shape; ``a = forward(z)``.
        saturated: ``(z, a, slope) -> bool`` array, same shape (see module docstring).
        saturation_kind: ``"saturated"`` (sigmoid/tanh near their bounds), ``"dead"`` (relu),
            ``"negative side"`` (leaky_relu) or ``"none"`` (linear): how diagnostics label it.
        max_derivative: ``sup |f'|`` (0.25 for sigmoid), handy for the vanishing-gradient story.
    """

    name: str
    forward: Callable
    derivative: Callable
    saturated: Callable
    saturation_kind: str
    max_derivative: float


ACTIVATIONS: dict[str, Activation] = {
    "linear": Activation("linear", _linear, _d_linear, _sat_never, "none", 1.0),
    "sigmoid": Activation("sigmoid", _sigmoid, _d_sigmoid, _sat_sigmoid, "saturated", 0.25),
    "tanh": Activation("tanh", _tanh, _d_tanh, _sat_tanh, "saturated", 1.0),
    "relu": Activation("relu", _relu, _d_relu, _sat_nonpositive, "dead", 1.0),
    "leaky_relu": Activation(
        "leaky_relu", _leaky_relu, _d_leaky_relu, _sat_nonpositive, "negative side", 1.0
    ),
}

# Activations computed through tanh/exp: several times the cost of a multiply per element, so
# engine.budget prices them at the probed transcendental rate.
TRANSCENDENTAL = frozenset({"sigmoid", "tanh"})

SATURATION = {
    "sigmoid": f"output < {SIGMOID_BOUND} or > {1 - SIGMOID_BOUND}",
    "tanh": f"|output| > {TANH_BOUND}",
    "relu": "pre-activation <= 0 (zero gradient; dead if so for every sample)",
    "leaky_relu": "pre-activation <= 0 (gradient scaled by the negative slope)",
    "linear": "never",
}


def get(name: str) -> Activation:
    """Look ``name`` up in :data:`ACTIVATIONS`, with a clear error for unknown names."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown activation {name!r}; expected one of {', '.join(ACTIVATIONS)}"
        ) from None
