"""Loss landscapes of a network around optimizer trajectories (Li et al., NeurIPS 2018).

Pure NumPy. Three pieces, each a plain function:

* :func:`pca_plane`: the plane of Li et al. §7. With the final parameters of a reference run
  as origin ``θ*``, stack every recorded point of every trajectory as rows
  ``M = [θ_i − θ*]`` ``(n, P)``, centre the rows (as PCA does) and take the top two right
  singular vectors ``d1, d2`` of the centred matrix (orthonormal). Their explained variance
  ``s_k² / Σ s²`` says how much of the motion the plane shows. A point projects to
  ``(α, β) = ((θ − θ*)·d1, (θ − θ*)·d2)``; the plane point it stands for is
  ``θ* + α d1 + β d2`` (not θ itself unless the explained variance is 1).
* :func:`plane_loss`: the full-data loss at plane points ``θ* + α d1 + β d2`` for a batch of
  ``(α, β)``. Vectorized over the batch: the K parameter vectors go through ONE forward pass
  as stacked weight matrices ``(K, fan_in, fan_out)`` (``np.matmul`` broadcasts ``(N, fan_in)``
  against them), in chunks whose activations fit ``memory_budget`` bytes.
* :func:`filter_normalized`: a random Gaussian direction rescaled, neuron by neuron, to the
  norm of the same neuron's weights (Li et al. §4, "filter normalization"; for a dense layer a
  filter is one output unit's incoming weight vector, the column ``W[:, j]``): ``d_j ←
  d_j · ‖θ_j‖ / ‖d_j‖``. Bias directions are zero (the ``ignore='biasbn'`` choice of the
  authors' code), so a slice compares sharpness independently of the weights' scale.

:class:`NetShape` carries what these need to know of an :class:`engine.nn.MLP` (sizes,
activation, residual layers, parameter layout) without holding one. Only classification with
softmax cross-entropy (the trainer's default loss for classification sets) is evaluated.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine import activations as _acts
from engine.nn import MLP

DEFAULT_MEMORY_BUDGET = 64 * 2**20  # bytes of activations per chunk of the batched forward pass


@dataclass(frozen=True)
class NetShape:
    """The architecture of an MLP as plain data (picklable, hashable)."""

    sizes: tuple[int, ...]
    activation: str
    residual_layers: tuple[bool, ...]
    leaky_slope: float

    @classmethod
    def of(cls, net: MLP) -> NetShape:
        return cls(net.sizes, net.activation, tuple(net.residual_layers), net.leaky_slope)

    @property
    def n_params(self) -> int:
        return sum(fi * fo + fo for fi, fo in zip(self.sizes[:-1], self.sizes[1:], strict=True))

    def slices(self) -> tuple[list[slice], list[slice]]:
        """``(weight slices, bias slices)`` in the flat layout ``W_0, b_0, W_1, b_1, ...``."""
        ws, bs, offset = [], [], 0
        for fi, fo in zip(self.sizes[:-1], self.sizes[1:], strict=True):
            ws.append(slice(offset, offset + fi * fo))
            offset += fi * fo
            bs.append(slice(offset, offset + fo))
            offset += fo
        return ws, bs

    def flops_per_sample(self) -> int:
        """Multiply-adds of one forward pass for one sample, times two."""
        return 2 * sum(fi * fo for fi, fo in zip(self.sizes[:-1], self.sizes[1:], strict=True))


# ------------------------------------------------------------------------- batched loss
def batched_logits(shape: NetShape, thetas: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Logits ``(K, N, C)`` of the K parameter vectors ``thetas`` ``(K, P)`` on ``X`` ``(N, d)``.

    The same network as :meth:`engine.nn.MLP.forward` in evaluation mode, with a leading batch
    axis over parameter vectors: ``z_l = h_l W_l + b_l`` with ``W_l`` ``(K, fan_in, fan_out)``.
    Computed in the dtype of ``thetas``.
    """
    act = _acts.get(shape.activation).forward
    ws, bs = shape.slices()
    K = thetas.shape[0]
    h = np.asarray(X, dtype=thetas.dtype)
    L = len(ws)
    for i, (w, b) in enumerate(zip(ws, bs, strict=True)):
        fi, fo = shape.sizes[i], shape.sizes[i + 1]
        z = np.matmul(h, thetas[:, w].reshape(K, fi, fo))
        z += thetas[:, None, b]
        if i == L - 1:
            return z
        a = act(z, shape.leaky_slope)
        h = a + h if shape.residual_layers[i] else a
    raise AssertionError("unreachable")


def batched_cross_entropy(logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Mean softmax cross-entropy ``(K,)`` of logits ``(K, N, C)`` against classes ``y`` ``(N,)``.

    ``L_k = (1/N) Σ_n [log Σ_c exp(z_knc − m_kn) + m_kn − z_kn,y_n]`` with ``m = max_c z``
    (stable); the same value as :data:`engine.losses.LOSSES` ``["cross_entropy"]`` for each k.
    The max and the sum over the few classes run as element-wise operations on ``(K, N)``
    class columns: NumPy's reductions along a short last axis cost ~15 ns per element, 6x
    the whole loss computed this way.
    """
    columns = [logits[..., c] for c in range(logits.shape[2])]
    m = functools.reduce(np.maximum, columns)
    total = np.zeros_like(m)
    for z in columns:
        total += np.exp(z - m)
    lse = np.log(total) + m
    picked = np.take_along_axis(logits, np.asarray(y)[None, :, None], axis=2)[..., 0]
    return (lse - picked).mean(axis=1)


def chunk_size(shape: NetShape, n_samples: int, memory_budget: int) -> int:
    """How many parameter vectors one forward pass may hold: ~3 activation arrays
    ``(K, N, width)`` of float64 (z, f(z), and the matmul's output) per vector."""
    per_vector = 3 * 8 * n_samples * max(shape.sizes[1:]) + 8 * shape.n_params
    return max(1, int(memory_budget // per_vector))


def losses_at(
    shape: NetShape,
    thetas: np.ndarray,
    X: np.ndarray,
    y: np.ndarray,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    dtype=np.float64,
) -> np.ndarray:
    """Full-data cross-entropy ``(K,)`` at each parameter vector of ``thetas`` ``(K, P)``.

    Chunked so no forward pass holds more than ``memory_budget`` bytes of activations;
    non-finite losses (overflow far from the trajectories) come back as ``inf``. ``dtype``:
    the arithmetic's precision (float32 is ~3-5x faster for tanh nets and exact to ~1e-6
    relative, plenty for a picture; the result is float64 either way).
    """
    thetas = np.atleast_2d(np.asarray(thetas, dtype=np.float64))
    out = np.empty(thetas.shape[0])
    step = chunk_size(shape, len(y), memory_budget)
    with np.errstate(all="ignore"):
        for start in range(0, thetas.shape[0], step):
            part = thetas[start : start + step].astype(dtype, copy=False)
            logits = batched_logits(shape, part, X).astype(np.float64, copy=False)
            out[start : start + step] = batched_cross_entropy(logits, y)
    out[~np.isfinite(out)] = np.inf
    return out


# ------------------------------------------------------------------------- the PCA plane
@dataclass(frozen=True)
class Plane:
    """A 2D plane through parameter space: ``θ(α, β) = origin + α d[0] + β d[1]``.

    ``explained``: the fraction of the trajectories' variance along ``d[0]`` and ``d[1]``
    (PCA planes), or ``None`` for random planes, where it has no meaning.
    """

    origin: np.ndarray
    directions: np.ndarray
    explained: tuple[float, float] | None = None

    def project(self, thetas: np.ndarray) -> np.ndarray:
        """``(α, β)`` coordinates ``(T, 2)`` of points ``(T, P)`` (orthonormal directions)."""
        return (np.asarray(thetas) - self.origin) @ self.directions.T

    def points(self, coords: np.ndarray) -> np.ndarray:
        """Parameter vectors ``(K, P)`` at plane coordinates ``(K, 2)``."""
        return self.origin + np.asarray(coords) @ self.directions


def pca_plane(paths: Sequence[np.ndarray], origin: np.ndarray) -> Plane:
    """The top-two PCA plane of the trajectories around ``origin`` (Li et al. §7).

    ``paths``: recorded points per run, each ``(T_i, P)``; ``origin`` ``(P,)``, usually the
    final point of a reference run. The signs of the directions are fixed so that the first
    path's first point (the shared initial weights) has non-positive coordinates: the same
    runs always give the same picture.
    """
    origin = np.asarray(origin, dtype=np.float64)
    M = np.vstack([np.asarray(p, dtype=np.float64) for p in paths])  # the one (n, P) copy
    if M.shape[0] < 2:
        raise ValueError("pca_plane needs at least two recorded points")
    first_point = M[0] - origin
    centred = M
    centred -= M.mean(axis=0)  # (the origin cancels out of the centred matrix)
    s, vt = _top_singular(centred, 2)
    total = float(np.vdot(centred, centred))
    dirs = vt.copy()
    if dirs.shape[0] < 2:  # one parameter only: pad with a zero direction
        dirs = np.vstack([dirs, np.zeros_like(dirs[0])])
    first = first_point @ dirs.T
    dirs[first > 0] *= -1.0
    ratios = (s[:2] ** 2 / total) if total > 0 else np.zeros(2)
    ratios = np.pad(ratios, (0, 2 - len(ratios)))
    return Plane(origin, dirs, (float(ratios[0]), float(ratios[1])))


def _top_singular(A: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The top ``k`` singular values ``(k,)`` and right singular vectors ``(k, P)`` of ``A``
    ``(n, P)``, from the eigendecomposition of the smaller Gram matrix (``AᵀA`` or ``AAᵀ``):
    the same as ``numpy.linalg.svd`` up to signs, at a fraction of its cost for long thin
    matrices (hundreds of points, thousands of parameters)."""
    n, P = A.shape
    k = min(k, n, P)
    if n >= P:
        w, v = np.linalg.eigh(A.T @ A)
        order = np.argsort(w)[::-1][:k]
        return np.sqrt(np.maximum(w[order], 0.0)), v[:, order].T
    w, u = np.linalg.eigh(A @ A.T)
    order = np.argsort(w)[::-1][:k]
    s = np.sqrt(np.maximum(w[order], 0.0))
    vt = (A.T @ u[:, order]).T / np.where(s > 0, s, 1.0)[:, None]
    return s, vt


def grid_axes(coords: np.ndarray, n: int, pad: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """``n`` α values and ``n`` β values spanning the points ``coords`` ``(T, 2)`` with a
    margin of ``pad`` times their extent on each side (at least ±1e-3 around a single point)."""
    lo, hi = coords.min(axis=0), coords.max(axis=0)
    span = np.maximum(hi - lo, 1e-3)
    lo, hi = lo - pad * span, hi + pad * span
    return np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n)


def plane_loss(
    shape: NetShape,
    plane: Plane,
    coords: np.ndarray,
    X: np.ndarray,
    y: np.ndarray,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    dtype=np.float64,
) -> np.ndarray:
    """Full-data loss ``(K,)`` at plane coordinates ``coords`` ``(K, 2)``.

    The contour grid and a projected path's loss both come from here, so the contour at a
    path's projected point IS the loss there (the point on the plane, not the true θ).
    """
    coords = np.asarray(coords, dtype=np.float64).reshape(-1, 2)
    budget_rows = max(1, chunk_size(shape, len(y), memory_budget))
    out = np.empty(len(coords))
    for start in range(0, len(coords), budget_rows):  # parameter vectors materialized per chunk
        part = coords[start : start + budget_rows]
        out[start : start + budget_rows] = losses_at(
            shape, plane.points(part), X, y, memory_budget, dtype
        )
    return out


def grid_loss(
    shape: NetShape,
    plane: Plane,
    alphas: np.ndarray,
    betas: np.ndarray,
    X: np.ndarray,
    y: np.ndarray,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    dtype=np.float64,
) -> np.ndarray:
    """Loss on the grid ``(len(betas), len(alphas))`` (rows = β, as a contour's z)."""
    ga, gb = np.meshgrid(alphas, betas)
    coords = np.stack([ga.ravel(), gb.ravel()], axis=1)
    return plane_loss(shape, plane, coords, X, y, memory_budget, dtype).reshape(gb.shape)


# ------------------------------------------------------------------------- filter normalization
def filter_normalized(shape: NetShape, theta: np.ndarray, raw: np.ndarray) -> np.ndarray:
    """``raw`` ``(P,)`` rescaled per neuron to ``theta``'s neuron norms; bias entries zeroed.

    For each layer's ``W`` ``(fan_in, fan_out)`` and its direction ``D``:
    ``D[:, j] ← D[:, j] · ‖W[:, j]‖ / (‖D[:, j]‖ + 1e-10)`` (Li et al. §4, eq. in §4 with
    the authors' 1e-10).
    """
    d = np.array(raw, dtype=np.float64)
    theta = np.asarray(theta, dtype=np.float64)
    ws, bs = shape.slices()
    for i, (w, b) in enumerate(zip(ws, bs, strict=True)):
        fi, fo = shape.sizes[i], shape.sizes[i + 1]
        D = d[w].reshape(fi, fo)
        W = theta[w].reshape(fi, fo)
        D *= np.linalg.norm(W, axis=0) / (np.linalg.norm(D, axis=0) + 1e-10)
        d[b] = 0.0
    return d


def random_directions(shape: NetShape, seed: int, k: int = 2) -> np.ndarray:
    """``k`` raw Gaussian directions ``(k, P)`` from ``seed`` (normalize per run afterwards)."""
    return np.random.default_rng(seed).standard_normal((k, shape.n_params))


def random_plane(shape: NetShape, theta: np.ndarray, seed: int) -> Plane:
    """Two filter-normalized random directions around ``theta`` (Li et al. §4 2D plots)."""
    raw = random_directions(shape, seed, 2)
    dirs = np.stack([filter_normalized(shape, theta, r) for r in raw])
    return Plane(np.asarray(theta, dtype=np.float64), dirs, None)


def slice_1d(
    shape: NetShape,
    theta: np.ndarray,
    raw: np.ndarray,
    ts: np.ndarray,
    X: np.ndarray,
    y: np.ndarray,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    dtype=np.float64,
) -> np.ndarray:
    """Loss ``(len(ts),)`` along ``theta + t·d`` with ``d`` = ``raw`` filter-normalized to
    ``theta`` (the same ``raw`` for every run, so the slices compare like with like)."""
    d = filter_normalized(shape, theta, raw)
    thetas = np.asarray(theta)[None, :] + np.asarray(ts)[:, None] * d[None, :]
    return losses_at(shape, thetas, X, y, memory_budget, dtype)


def sharpness(ts: np.ndarray, values: np.ndarray, radius: float = 0.25) -> float:
    """How much the loss rises within ``|t| ≤ radius`` of the centre: ``max − value at 0``.

    A scalar summary of a 1D slice (larger = sharper minimum), finite or ``inf``."""
    ts, values = np.asarray(ts), np.asarray(values)
    near = np.abs(ts) <= radius + 1e-12
    centre = values[np.argmin(np.abs(ts))]
    return float(np.max(values[near]) - centre)
