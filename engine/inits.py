"""Weight initializers: a dict registry ``INITS`` of ``(fan_in, fan_out, rng, gain, slope) -> W``.

Every initializer returns a float64 array ``W`` of shape ``(fan_in, fan_out)`` (the network's
layout: ``z = x W + b``); the network casts it to its dtype. Biases always start at 0 (the
network does that, not these functions). ``gain`` is the network's ``init_scale``:

================  ==========================================================================
name              W
================  ==========================================================================
zeros             0 (gain ignored)
normal            N(0, σ²) with σ = gain
uniform           U(-a, a) with a = gain
lecun             N(0, σ²), σ = gain · sqrt(1 / fan_in)                  (LeCun 1998)
xavier_normal     N(0, σ²), σ = gain · sqrt(2 / (fan_in + fan_out))      (Glorot & Bengio 2010)
xavier_uniform    U(-a, a), a = gain · sqrt(6 / (fan_in + fan_out))      (same variance)
he_normal         N(0, σ²), σ = gain · sqrt(2 / ((1 + α²) fan_in))       (He et al. 2015)
he_uniform        U(-a, a), a = gain · sqrt(6 / ((1 + α²) fan_in))       (same variance)
orthogonal        gain · Q, Q from the QR of a Gaussian matrix with the sign fix
                  Q ← Q · diag(sign(diag(R))) (Saxe et al. 2014; as torch.nn.init.orthogonal_)
identity          gain · np.eye(fan_in, fan_out): c·I when square; when not square, the
                  identity is truncated (fan_in > fan_out: the first fan_out rows are I) or
                  padded with zero columns (fan_in < fan_out)
================  ==========================================================================

``α`` is the leaky-ReLU negative slope; the network passes it for ``activation="leaky_relu"``
and 0 otherwise, so ``he_*`` has Var = 2/fan_in for ReLU and 2/((1+α²) fan_in) for leaky ReLU
(torch's ``kaiming_*_(a=α, mode="fan_in")``). The "uniform" variants use ``a = sqrt(3)·σ``, which
gives the same variance as their normal twins.

Orthogonal: for ``fan_in >= fan_out`` the columns of ``W`` are orthonormal (``WᵀW = gain²·I``),
otherwise the rows are (``WWᵀ = gain²·I``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np


def _zeros(fan_in: int, fan_out: int, rng: np.random.Generator, gain: float, slope: float):
    return np.zeros((fan_in, fan_out))


def _normal_std(std: float):
    def init(fan_in, fan_out, rng, gain, slope):
        return rng.normal(0.0, 1.0, size=(fan_in, fan_out)) * (gain * std(fan_in, fan_out, slope))

    return init


def _uniform_std(std: float):
    def init(fan_in, fan_out, rng, gain, slope):
        bound = math.sqrt(3.0) * gain * std(fan_in, fan_out, slope)
        return rng.uniform(-bound, bound, size=(fan_in, fan_out))

    return init


def _std_lecun(fan_in, fan_out, slope):
    return math.sqrt(1.0 / fan_in)


def _std_xavier(fan_in, fan_out, slope):
    return math.sqrt(2.0 / (fan_in + fan_out))


def _std_he(fan_in, fan_out, slope):
    return math.sqrt(2.0 / ((1.0 + slope * slope) * fan_in))


def _normal(fan_in, fan_out, rng, gain, slope):
    return rng.normal(0.0, gain, size=(fan_in, fan_out))


def _uniform(fan_in, fan_out, rng, gain, slope):
    return rng.uniform(-gain, gain, size=(fan_in, fan_out))


def _orthogonal(fan_in, fan_out, rng, gain, slope):
    """``gain·Q`` with ``Q`` from the QR of a standard Gaussian ``(max, min)`` matrix."""
    rows, cols = max(fan_in, fan_out), min(fan_in, fan_out)
    a = rng.normal(0.0, 1.0, size=(rows, cols))
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))  # sign fix: makes Q uniformly distributed (Haar)
    w = q if fan_in >= fan_out else q.T
    return gain * w


def _identity(fan_in, fan_out, rng, gain, slope):
    return np.eye(fan_in, fan_out) * gain


INITS: dict[str, Callable] = {
    "zeros": _zeros,
    "normal": _normal,
    "uniform": _uniform,
    "lecun": _normal_std(_std_lecun),
    "xavier_normal": _normal_std(_std_xavier),
    "xavier_uniform": _uniform_std(_std_xavier),
    "he_normal": _normal_std(_std_he),
    "he_uniform": _uniform_std(_std_he),
    "orthogonal": _orthogonal,
    "identity": _identity,
}

# The standard deviation each random init aims at (None: not a fixed-variance init);
# tests and the UI ("Var(W) = ...") read it from here rather than re-deriving it.
TARGET_STD: dict[str, Callable | None] = {
    "zeros": None,
    "normal": lambda fan_in, fan_out, gain, slope: gain,
    "uniform": lambda fan_in, fan_out, gain, slope: gain / math.sqrt(3.0),
    "lecun": lambda fan_in, fan_out, gain, slope: gain * _std_lecun(fan_in, fan_out, slope),
    "xavier_normal": lambda fi, fo, gain, slope: gain * _std_xavier(fi, fo, slope),
    "xavier_uniform": lambda fi, fo, gain, slope: gain * _std_xavier(fi, fo, slope),
    "he_normal": lambda fi, fo, gain, slope: gain * _std_he(fi, fo, slope),
    "he_uniform": lambda fi, fo, gain, slope: gain * _std_he(fi, fo, slope),
    "orthogonal": None,
    "identity": None,
}


def layer_rng(seed: int, layer: int) -> np.random.Generator:
    """The generator for layer ``layer``: ``default_rng(SeedSequence([seed, layer]))``.

    Deriving one generator per ``(seed, layer)`` means the same seed gives the same weights,
    and adding or removing layers at the end leaves the earlier layers' weights unchanged.
    """
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(layer)]))


def init_weight(
    name: str,
    fan_in: int,
    fan_out: int,
    seed: int,
    layer: int,
    gain: float = 1.0,
    slope: float = 0.0,
) -> np.ndarray:
    """Weight ``(fan_in, fan_out)`` float64 of layer ``layer`` drawn by initializer ``name``."""
    try:
        fn = INITS[name]
    except (KeyError, TypeError):
        raise ValueError(f"Unknown init {name!r}; expected one of {', '.join(INITS)}") from None
    return fn(fan_in, fan_out, layer_rng(seed, layer), float(gain), float(slope))
