"""Training diagnostics: per-layer norms, activation health, sparsity, shared-bin histograms.

Everything takes plain arrays (a network's per-layer views, a recorded history) and returns
arrays or small frozen dataclasses, vectorized over samples and weights; the loops are over
layers only. Pages 2 and 3 and the trainer use these, so each idea has one implementation:

* :func:`layer_norms` — ‖∂L/∂W_l‖_F (or ‖W_l‖, ‖∂L/∂a_l‖) per layer, and
  :func:`update_ratio` ‖ΔW_l‖ / ‖W_l‖ (healthy training is around 1e-3 per step).
* :func:`activation_stats` — per-layer mean/std of activations, the saturated fraction
  (sigmoid/tanh near their bounds, as :mod:`engine.activations` defines it) and the dead-unit
  fraction (ReLU units that output 0 for every sample in the batch).
* :func:`sparsity` — exact-zero count and near-zero (|w| < ε) count.
* :func:`shared_bins` + :func:`histogram` — the ONE histogram binning every page uses, so runs
  compare bin for bin. The range is robust (percentiles of all runs pooled) and says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine import activations as _acts


def _norm(a: np.ndarray) -> float:
    """Frobenius norm via a dot product (faster than np.linalg.norm on views)."""
    flat = np.ravel(a)
    return float(np.sqrt(np.dot(flat, flat)))


def layer_norms(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """``(L,)`` Frobenius norms ‖A_l‖_F = sqrt(Σ A_l²) of each array (e.g. dW per layer)."""
    return np.array([_norm(a) for a in arrays], dtype=np.float64)


def update_ratio(updates: Sequence[np.ndarray], weights: Sequence[np.ndarray]) -> np.ndarray:
    """``(L,)`` ratios ‖ΔW_l‖ / ‖W_l‖; ``nan`` where ‖W_l‖ = 0 (the ratio is undefined)."""
    du, w = layer_norms(updates), layer_norms(weights)
    out = np.full_like(du, np.nan)
    np.divide(du, w, out=out, where=w > 0)
    return out


@dataclass(frozen=True)
class ActivationStats:
    """Per-layer activation health, each ``(L,)`` over hidden layers.

    ``saturated`` is ``nan`` for activations that do not saturate (relu, leaky_relu, linear);
    ``dead`` is ``nan`` for those whose units cannot die (sigmoid, tanh, linear).
    """

    mean: np.ndarray
    std: np.ndarray
    saturated: np.ndarray
    dead: np.ndarray


def activation_stats(
    activations: Sequence[np.ndarray],
    activation: str,
    pre_activations: Sequence[np.ndarray] | None = None,
    slope: float = _acts.DEFAULT_LEAKY_SLOPE,
) -> ActivationStats:
    """Statistics of hidden activations ``a_l = f(z_l)`` of shape ``(batch, width_l)``.

    * mean_l, std_l over all batch × width entries;
    * saturated_l (sigmoid, tanh) = fraction of entries the activation's own
      ``saturated(z, a)`` flags (:data:`engine.activations.SATURATION`: σ < 0.02 or > 0.98,
      |tanh| > 0.98), where f'(z) is a few percent of its maximum;
    * dead_l (relu; leaky_relu "dormant") = fraction of units (columns) with z <= 0 for every
      sample of the batch. Without ``pre_activations`` the sign of ``a`` stands in for z
      (exact for relu and leaky_relu, whose outputs keep the sign of z up to a = 0).
    """
    act = _acts.get(activation)
    kind = act.saturation_kind
    mean, std, sat, dead = [], [], [], []
    for i, a in enumerate(activations):
        a = np.asarray(a)
        z = a if pre_activations is None else np.asarray(pre_activations[i])
        mean.append(a.mean() if a.size else np.nan)
        std.append(a.std() if a.size else np.nan)
        mask = act.saturated(z, a, slope) if a.size else None
        sat.append(mask.mean() if kind == "saturated" and mask is not None else np.nan)
        if kind in ("dead", "negative side") and mask is not None:
            dead.append(np.all(mask.reshape(a.shape[0], -1), axis=0).mean())
        else:
            dead.append(np.nan)
    return ActivationStats(*(np.array(v, dtype=np.float64) for v in (mean, std, sat, dead)))


@dataclass(frozen=True)
class Sparsity:
    """How many weights are exactly zero and how many are near zero (|w| < eps)."""

    n: int
    exact_zeros: int
    near_zeros: int
    eps: float

    @property
    def exact_fraction(self) -> float:
        return self.exact_zeros / self.n if self.n else 0.0

    @property
    def near_fraction(self) -> float:
        return self.near_zeros / self.n if self.n else 0.0


def sparsity(weights: np.ndarray | Sequence[np.ndarray], eps: float = 1e-3) -> Sparsity:
    """Exact-zero and near-zero counts over ``weights`` (one array or a list of arrays).

    L1 by proximal steps produces exact zeros; L1 by subgradient only near-zeros (it
    oscillates around 0 without landing on it) — the pair makes the difference visible.
    """
    if not (np.isfinite(eps) and eps >= 0):
        raise ValueError(f"Invalid eps value: {eps} (must be finite and >= 0)")
    w = _pool(weights)
    return Sparsity(
        n=int(w.size),
        exact_zeros=int(np.count_nonzero(w == 0.0)),
        near_zeros=int(np.count_nonzero(np.abs(w) < eps)),
        eps=float(eps),
    )


def _pool(arrays: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    if isinstance(arrays, np.ndarray):
        return arrays.ravel()
    parts = [np.ravel(np.asarray(a, dtype=np.float64)) for a in arrays]
    return np.concatenate(parts) if parts else np.empty(0)


# --------------------------------------------------------------------------------------------
# shared-bin histograms


@dataclass(frozen=True)
class Bins:
    """Histogram bin edges shared by several runs, with the clipping range stated.

    Attributes:
        edges: ``(bins + 1,)`` increasing edges; ``edges[0] = lo``, ``edges[-1] = hi``.
        lo, hi: the range covered; values outside it are counted in the edge bins.
        percentile: the (low, high) percentiles of the pooled finite values that set the range
            (``(0, 100)`` means min..max: nothing clipped).
        n_below, n_above: how many pooled values fall outside [lo, hi] (clipped into an edge).
        n_total: pooled finite values across all runs.
    """

    edges: np.ndarray
    lo: float
    hi: float
    percentile: tuple[float, float]
    n_below: int
    n_above: int
    n_total: int

    @property
    def n_clipped(self) -> int:
        return self.n_below + self.n_above

    @property
    def note(self) -> str:
        """A caption for the chart: what the range is and what was clipped into the edges."""
        p_lo, p_hi = self.percentile
        rng = f"[{self.lo:.3g}, {self.hi:.3g}]"
        if self.n_clipped == 0:
            return f"Range {rng} covers every value."
        return (
            f"Range {rng} = {p_lo:g}th-{p_hi:g}th percentile of all runs; "
            f"{self.n_below} value(s) below and {self.n_above} above are counted in the edge bins."
        )

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.edges, dtype=dtype)


def shared_bins(
    arrays: Sequence[np.ndarray],
    bins: int = 50,
    percentile: tuple[float, float] = (0.5, 99.5),
    symmetric: bool = False,
) -> Bins:
    """One set of edges for all ``arrays`` (e.g. the weights of every run at one epoch).

    The range is [P_low, P_high] of the pooled finite values, so one outlier cannot squash
    every other bar into a single bin; the clipped counts are returned in :class:`Bins`.
    ``symmetric`` widens it to [-m, m], m = max(|lo|, |hi|) (weights centred at 0).
    A degenerate range (all values equal, or no values) is widened to width 1 around them.
    """
    bins = int(bins)
    if not 1 <= bins <= 10_000:
        raise ValueError(f"Invalid bins value: {bins} (must be 1..10000)")
    p_lo, p_hi = (float(p) for p in percentile)
    if not 0.0 <= p_lo < p_hi <= 100.0:
        raise ValueError(f"Invalid percentile value: {percentile} (need 0 <= low < high <= 100)")
    pooled = _pool(list(arrays))
    pooled = pooled[np.isfinite(pooled)]
    if pooled.size:
        lo, hi = (float(v) for v in np.percentile(pooled, [p_lo, p_hi]))
    else:
        lo = hi = 0.0
    if symmetric:
        m = max(abs(lo), abs(hi))
        lo, hi = -m, m
    if not hi > lo:
        lo, hi = lo - 0.5, hi + 0.5
    return Bins(
        edges=np.linspace(lo, hi, bins + 1),
        lo=lo,
        hi=hi,
        percentile=(p_lo, p_hi),
        n_below=int(np.count_nonzero(pooled < lo)),
        n_above=int(np.count_nonzero(pooled > hi)),
        n_total=int(pooled.size),
    )


@dataclass(frozen=True)
class Histogram:
    """Counts of one array on shared edges.

    Attributes:
        counts: ``(bins,)`` counts of all finite values, out-of-range ones in the edge bins
            (so ``counts.sum() == n_finite``). Exact zeros are included here too.
        edges: the edges used.
        zeros: how many values are exactly 0 (the L1 spike); a page may label or split it.
        zero_bin: index of the bin holding 0, or ``None`` if 0 is outside [lo, hi].
        n_below, n_above: values of this array clipped into the first / last bin.
        n_nonfinite: NaN/inf values, left out of ``counts``.
    """

    counts: np.ndarray
    edges: np.ndarray
    zeros: int
    zero_bin: int | None
    n_below: int
    n_above: int
    n_nonfinite: int

    @property
    def centers(self) -> np.ndarray:
        return 0.5 * (self.edges[:-1] + self.edges[1:])


def histogram(array: np.ndarray, edges: np.ndarray | Bins) -> Histogram:
    """Count ``array`` on ``edges`` (from :func:`shared_bins`), clipping into the edge bins.

    Bins are half-open [e_i, e_{i+1}) except the last, which is closed (as np.histogram).
    """
    edges = np.asarray(edges, dtype=np.float64)
    if edges.ndim != 1 or edges.size < 2 or not np.all(np.diff(edges) > 0):
        raise ValueError("edges must be a 1-D increasing array of at least 2 values")
    a = np.ravel(np.asarray(array, dtype=np.float64))
    finite = np.isfinite(a)
    a = a[finite]
    lo, hi = edges[0], edges[-1]
    n_bins = edges.size - 1
    idx = np.searchsorted(edges, np.clip(a, lo, hi), side="right") - 1
    counts = np.bincount(np.minimum(idx, n_bins - 1), minlength=n_bins)
    zero_bin = None
    if lo <= 0.0 <= hi:
        zero_bin = int(min(np.searchsorted(edges, 0.0, side="right") - 1, n_bins - 1))
    return Histogram(
        counts=counts.astype(np.int64),
        edges=edges,
        zeros=int(np.count_nonzero(a == 0.0)),
        zero_bin=zero_bin,
        n_below=int(np.count_nonzero(a < lo)),
        n_above=int(np.count_nonzero(a > hi)),
        n_nonfinite=int(np.count_nonzero(~finite)),
    )
