"""Why L1 is sparse: a 2-weight model's regularized optimum and coefficient paths vs λ.

Pure NumPy, exact where it can be. Penalties as in the course notes (no ½): L1 = λ Σ|w|,
L2 = λ Σ w².

* :func:`two_weight_problem` — a least-squares loss in two weights, ``½ (w - w*)ᵀ H (w - w*)``,
  whose contours are ellipses; :func:`l1_optimum` (exact, by enumerating sign patterns) and
  :func:`l2_optimum` (closed form) move the optimum as λ grows: L1's reaches an axis (a weight
  exactly 0) at a finite λ (:func:`l1_zero_lambda`), L2's only shrinks toward the origin.
* :func:`coefficient_paths` — lasso (:func:`lasso_path`, FISTA vectorized over λ) and ridge
  (:func:`ridge_path`, one eigendecomposition) paths of a linear model on the
  few-informative-features data: lasso keeps the informative columns and zeroes the rest.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from engine.datasets import Dataset


def _finite(x) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


# ------------------------------------------------------------------------------ 2-weight model
@dataclass(frozen=True)
class TwoWeightProblem:
    """Least squares with two weights, written as a quadratic around its optimum.

    Data loss ``f(w) = ½ (w - w*)ᵀ H (w - w*)`` (= ``(1/2n)‖Xw - y‖²`` up to a constant,
    with ``H = XᵀX / n`` and ``w*`` the least-squares solution). ``H`` is ``(2, 2)`` SPD.
    """

    H: np.ndarray
    w_star: np.ndarray

    def loss(self, w: np.ndarray) -> np.ndarray:
        """``f`` at ``w`` of shape ``(..., 2)`` -> ``(...)``."""
        d = np.asarray(w, dtype=np.float64) - self.w_star
        return 0.5 * np.einsum("...i,ij,...j->...", d, self.H, d)


def two_weight_problem(
    w_star: tuple[float, float] = (1.5, 0.5), angle_deg: float = 30.0, cond: float = 4.0
) -> TwoWeightProblem:
    """An elongated bowl: eigenvalues ``(1, cond)`` along axes rotated by ``angle_deg``.

    The defaults put the unregularized optimum off both axes with one weight small, so L1's
    optimum reaches the w2 = 0 axis at a moderate λ while L2's only shrinks toward 0.
    """
    if not (_finite(cond) and cond >= 1):
        raise ValueError(f"Invalid cond value: {cond!r} (need >= 1)")
    a = math.radians(float(angle_deg))
    R = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    H = R @ np.diag([1.0, float(cond)]) @ R.T
    return TwoWeightProblem(H=H, w_star=np.asarray(w_star, dtype=np.float64))


def l2_optimum(problem: TwoWeightProblem, lams: np.ndarray) -> np.ndarray:
    """argmin ``f(w) + λ Σ w²`` for each λ: ``(H + 2λI) w = H w*``. ``lams (K,)`` -> ``(K, 2)``."""
    lams = np.asarray(lams, dtype=np.float64).reshape(-1)
    A = problem.H[None] + 2.0 * lams[:, None, None] * np.eye(2)[None]
    b = np.broadcast_to(problem.H @ problem.w_star, (lams.size, 2))
    return np.linalg.solve(A, b[..., None])[..., 0]


_SIGNS = np.array(list(itertools.product((-1.0, 0.0, 1.0), repeat=2)))  # (9, 2)


def l1_optimum(problem: TwoWeightProblem, lams: np.ndarray) -> np.ndarray:
    """argmin ``f(w) + λ Σ|w|`` for each λ, exactly. ``lams (K,)`` -> ``(K, 2)``.

    The objective is convex; at its minimizer, with sign pattern s ∈ {-1, 0, 1}² (0 = that
    weight is exactly 0) and support S = {i: s_i ≠ 0}, the gradient vanishes on S:
    ``(H (w - w*))_S + λ s_S = 0`` with ``w_Z = 0``, i.e. ``H_SS w_S = (H w*)_S - λ s_S``.
    So: for all 9 patterns, solve that system, keep the candidates whose signs match s, and
    take the one with the lowest objective. Vectorized over λ; no iteration; exact zeros.
    """
    lams = np.asarray(lams, dtype=np.float64).reshape(-1)
    H, hw = problem.H, problem.H @ problem.w_star
    K = lams.size
    cands = np.zeros((K, 9, 2))
    for p, s in enumerate(_SIGNS):  # 9 patterns, each vectorized over λ
        S = s != 0
        if not S.any():
            continue
        rhs = hw[S][None, :] - lams[:, None] * s[S][None, :]  # (K, |S|)
        cands[:, p, S] = np.linalg.solve(H[np.ix_(S, S)], rhs.T).T
    valid = np.all(np.sign(cands) == _SIGNS[None], axis=2)  # (K, 9)
    objective = problem.loss(cands) + lams[:, None] * np.abs(cands).sum(axis=2)
    objective = np.where(valid, objective, np.inf)
    return cands[np.arange(K), np.argmin(objective, axis=1)]


def l1_zero_lambda(problem: TwoWeightProblem) -> float:
    """Smallest λ at which the L1 optimum has a weight exactly 0 (bisection on the exact path)."""
    lo, hi = 0.0, float(np.max(np.abs(problem.H @ problem.w_star))) + 1e-12
    if np.any(l1_optimum(problem, [lo]) == 0):
        return 0.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if np.any(l1_optimum(problem, [mid])[0] == 0) else (mid, hi)
    return hi


# ------------------------------------------------------------------------------ coefficient paths
@dataclass(frozen=True)
class CoefPaths:
    """Coefficients of a linear model ``y ≈ X w + c`` over a λ grid.

    ``lams (K,)`` increasing; ``lasso``/``ridge`` ``(K, d)``; ``informative``: the columns
    that drive the target (or None); ``converged`` (K,) whether FISTA met its tolerance.
    """

    lams: np.ndarray
    lasso: np.ndarray
    ridge: np.ndarray
    informative: np.ndarray | None
    converged: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=bool))


def _center(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return X - X.mean(axis=0), np.asarray(y, dtype=np.float64) - np.mean(y)


def ridge_path(X: np.ndarray, y: np.ndarray, lams: np.ndarray) -> np.ndarray:
    """argmin ``(1/2n)‖Xw - y‖² + λ‖w‖²`` (centred, intercept free) for every λ: ``(K, d)``.

    ``w(λ) = (XᵀX/n + 2λ I)⁻¹ Xᵀy/n = V diag(1/(s + 2λ)) Vᵀ Xᵀy/n`` with ``XᵀX/n = V diag(s) Vᵀ``:
    one eigendecomposition for the whole path.
    """
    Xc, yc = _center(X, y)
    n = len(yc)
    s, V = np.linalg.eigh(Xc.T @ Xc / n)
    proj = V.T @ (Xc.T @ yc / n)  # (d,)
    lams = np.asarray(lams, dtype=np.float64)
    return (proj[None, :] / (s[None, :] + 2.0 * lams[:, None])) @ V.T


def lasso_path(
    X: np.ndarray, y: np.ndarray, lams: np.ndarray, iters: int = 3000, tol: float = 1e-9
) -> tuple[np.ndarray, np.ndarray]:
    """argmin ``(1/2n)‖Xw - y‖² + λ‖w‖₁`` for every λ at once: ``((K, d), converged (K,))``.

    FISTA (Beck & Teboulle 2009) vectorized over λ: with ``G = XᵀX/n``, ``c = Xᵀy/n`` and step
    ``1/L`` (L = largest eigenvalue of G), ``w ← S(z - (Gz - c)/L, λ/L)`` and Nesterov
    extrapolation ``z = w + (t_{k-1} - 1)/t_k (w - w_prev)``. S is the soft-threshold, so
    coefficients are exactly 0 once λ exceeds their "usefulness" ``|c_j|``-like threshold.
    """
    Xc, yc = _center(X, y)
    n = len(yc)
    G, c = Xc.T @ Xc / n, Xc.T @ yc / n
    L = float(np.linalg.eigvalsh(G)[-1]) or 1.0
    lams = np.asarray(lams, dtype=np.float64)[:, None]  # (K, 1)
    w = np.zeros((lams.shape[0], G.shape[0]))
    z, t = w.copy(), 1.0
    done = np.zeros(lams.shape[0], dtype=bool)
    for _ in range(int(iters)):
        u = z - (z @ G - c) / L
        w_new = np.sign(u) * np.maximum(np.abs(u) - lams / L, 0.0)
        t_new = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t * t))
        change = np.max(np.abs(w_new - w), axis=1)
        z = w_new + ((t - 1.0) / t_new) * (w_new - w)
        w, t = w_new, t_new
        done = change < tol
        if done.all():
            break
    return w, done


def coefficient_paths(data: Dataset, n_lams: int = 40) -> CoefPaths:
    """Lasso and ridge paths of a linear model on ``data``'s training set, λ log-spaced.

    The λ grid runs from ``λ_max = max|Xᵀy|/n`` (lasso: every coefficient is 0 from there)
    down to ``λ_max / 1000``. A classification target is used as a 0/1 number.
    """
    X, y = data.X_train, np.asarray(data.y_train, dtype=np.float64)
    Xc, yc = _center(X, y)
    lam_max = float(np.max(np.abs(Xc.T @ yc))) / len(yc) or 1.0
    lams = np.geomspace(lam_max / 1000.0, lam_max, int(n_lams))
    lasso, converged = lasso_path(X, y, lams)
    return CoefPaths(lams, lasso, ridge_path(X, y, lams), data.informative, converged)
