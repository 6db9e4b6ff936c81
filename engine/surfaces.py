"""Analytic 2D loss surfaces for the optimizer race (BLUEPRINT §4).

Every surface is a :class:`Surface`: ``f(xy)`` and ``grad(xy)`` for points of shape ``(..., 2)``
(``f`` returns shape ``(...)``, ``grad`` returns ``(..., 2)``), plus the metadata a page needs
(domain, global minima, a default start, a LaTeX formula).

Gradients are written in the chain-rule form of their function (residuals first, then
``2·r·∂r``), never as expanded polynomials: that keeps cancellation where the expression itself
has it, so they agree with reverse-mode autograd of the same formula to ~1e-12 relative.
Far outside the domain the float64 range may overflow; ``np.errstate`` turns that into ``inf``
silently (the race engine then flags the run as diverged).

``SURFACES`` is a plain dict registry; :func:`get` looks a name up with a helpful error.
The :class:`Surface` type is generic (``f`` and ``grad`` are plain callables) so a surface built
from a user-typed formula fits the same slot.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

TWO_PI = 2.0 * np.pi

Array = np.ndarray


@dataclass(frozen=True)
class Surface:
    """A 2D objective with its analytic gradient and display metadata.

    Attributes:
        name: registry key (URL-friendly).
        title: display name.
        latex: the formula, as LaTeX for ``st.latex``.
        f: ``xy (..., 2) -> (...)``.
        grad: ``xy (..., 2) -> (..., 2)``, the exact gradient of ``f``.
        domain: ``((xmin, xmax), (ymin, ymax))``, the plotting window.
        minima: global minimizers ``[(x, y), ...]`` (empty if ``f`` is unbounded below).
        min_value: the global minimum value, ``None`` if unbounded below.
        default_start: where a race starts when the user has not picked a point.
        log_contours: whether contours read better as ``log10(f - min_value + ε)``.
        note: one sentence on what the surface demonstrates.
    """

    name: str
    title: str
    latex: str
    f: Callable[[Array], Array]
    grad: Callable[[Array], Array]
    domain: tuple[tuple[float, float], tuple[float, float]]
    minima: list[tuple[float, float]]
    min_value: float | None
    default_start: tuple[float, float]
    log_contours: bool = False
    note: str = ""

    @property
    def width(self) -> float:
        """The larger side of the domain box (the unit of the divergence radius)."""
        (x0, x1), (y0, y1) = self.domain
        return float(max(x1 - x0, y1 - y0))


def _xy(xy) -> tuple[Array, Array]:
    a = np.asarray(xy, dtype=np.float64)
    if a.shape[-1:] != (2,):
        raise ValueError(f"points must have shape (..., 2), got {a.shape}")
    return a[..., 0], a[..., 1]


def _stack(gx: Array, gy: Array) -> Array:
    """(…), (…) -> (…, 2); written by assignment (cheaper than np.stack in hot loops)."""
    sx, sy = np.shape(gx), np.shape(gy)
    out = np.empty((*(sx if sx == sy else np.broadcast_shapes(sx, sy)), 2))
    out[..., 0] = gx
    out[..., 1] = gy
    return out


# --- rosenbrock: (1-x)² + 100(y-x²)² ------------------------------------------------------------
def _rosenbrock_f(xy):
    x, y = _xy(xy)
    with np.errstate(all="ignore"):
        return (1.0 - x) ** 2 + 100.0 * (y - x * x) ** 2


def _rosenbrock_grad(xy):
    """∂f/∂x = -2(1-x) - 400·x·(y-x²),  ∂f/∂y = 200·(y-x²)."""
    x, y = _xy(xy)
    with np.errstate(all="ignore"):
        r = y - x * x
        return _stack(-2.0 * (1.0 - x) - 400.0 * x * r, 200.0 * r)


# --- beale: Σ_k (c_k - x + x·y^k)², c = (1.5, 2.25, 2.625) ------------------------------------
_BEALE_C = (1.5, 2.25, 2.625)


def _beale_f(xy):
    x, y = _xy(xy)
    with np.errstate(all="ignore"):
        return sum((c - x + x * y**k) ** 2 for k, c in enumerate(_BEALE_C, start=1))


def _beale_grad(xy):
    """With r_k = c_k - x + x·y^k: ∂f/∂x = Σ 2r_k(y^k - 1), ∂f/∂y = Σ 2r_k·k·x·y^(k-1)."""
    x, y = _xy(xy)
    with np.errstate(all="ignore"):
        gx = np.zeros(np.broadcast_shapes(x.shape, y.shape))
        gy = np.zeros_like(gx)
        for k, c in enumerate(_BEALE_C, start=1):
            r2 = 2.0 * (c - x + x * y**k)
            gx = gx + r2 * (y**k - 1.0)
            gy = gy + r2 * (k * x * y ** (k - 1))
        return _stack(gx, gy)


# --- himmelblau: (x²+y-11)² + (x+y²-7)² ---------------------------------------------------------
def _himmelblau_f(xy):
    x, y = _xy(xy)
    with np.errstate(all="ignore"):
        return (x * x + y - 11.0) ** 2 + (x + y * y - 7.0) ** 2


def _himmelblau_grad(xy):
    """With a = x²+y-11, b = x+y²-7: ∂f/∂x = 4x·a + 2b, ∂f/∂y = 2a + 4y·b."""
    x, y = _xy(xy)
    with np.errstate(all="ignore"):
        a = x * x + y - 11.0
        b = x + y * y - 7.0
        return _stack(4.0 * x * a + 2.0 * b, 2.0 * a + 4.0 * y * b)


# --- booth: (x+2y-7)² + (2x+y-5)² -------------------------------------------------------------
def _booth_f(xy):
    x, y = _xy(xy)
    with np.errstate(all="ignore"):
        return (x + 2.0 * y - 7.0) ** 2 + (2.0 * x + y - 5.0) ** 2


def _booth_grad(xy):
    """With a = x+2y-7, b = 2x+y-5: ∂f/∂x = 2a + 4b, ∂f/∂y = 4a + 2b."""
    x, y = _xy(xy)
    with np.errstate(all="ignore"):
        a = x + 2.0 * y - 7.0
        b = 2.0 * x + y - 5.0
        return _stack(2.0 * a + 4.0 * b, 4.0 * a + 2.0 * b)


# --- rastrigin: 20 + Σ (x_i² - 10 cos 2πx_i) ---------------------------------------------------
def _rastrigin_f(xy):
    x, y = _xy(xy)
    with np.errstate(all="ignore"):
        return 20.0 + (x * x - 10.0 * np.cos(TWO_PI * x)) + (y * y - 10.0 * np.cos(TWO_PI * y))


def _rastrigin_grad(xy):
    """∂f/∂x_i = 2x_i + 20π·sin(2πx_i)."""
    x, y = _xy(xy)
    with np.errstate(all="ignore"):
        k = 10.0 * TWO_PI
        return _stack(2.0 * x + k * np.sin(TWO_PI * x), 2.0 * y + k * np.sin(TWO_PI * y))


# --- ackley ------------------------------------------------------------------------------------
def _ackley_f(xy):
    """-20·exp(-0.2·s) - exp(c) + e + 20 with s = √(0.5(x²+y²)), c = ½(cos 2πx + cos 2πy).

    Evaluated as 20·(1 - e^{-0.2s}) + e·(1 - e^{c-1}) with ``expm1``: exactly 0 at the origin.
    """
    x, y = _xy(xy)
    with np.errstate(all="ignore"):
        s = np.sqrt(0.5 * (x * x + y * y))
        c = 0.5 * (np.cos(TWO_PI * x) + np.cos(TWO_PI * y))
        return -20.0 * np.expm1(-0.2 * s) - np.e * np.expm1(c - 1.0)


def _ackley_grad(xy):
    """∂f/∂x = 2·e^{-0.2s}·x/s + π·sin(2πx)·e^{c}; at the origin (s = 0) the gradient is 0.

    ``f`` has a cone-shaped tip at the origin (no gradient there); 0 is the natural choice
    (it is the minimum, and the subgradient set contains 0).
    """
    x, y = _xy(xy)
    with np.errstate(all="ignore"):
        s = np.sqrt(0.5 * (x * x + y * y))
        tip = s == 0.0
        k = 2.0 * np.exp(-0.2 * s) / np.where(tip, 1.0, s)
        ec = np.pi * np.exp(0.5 * (np.cos(TWO_PI * x) + np.cos(TWO_PI * y)))
        gx = np.where(tip, 0.0, k * x + ec * np.sin(TWO_PI * x))
        gy = np.where(tip, 0.0, k * y + ec * np.sin(TWO_PI * y))
        return _stack(gx, gy)


# --- goldstein-price ---------------------------------------------------------------------------
def _gp_parts(x, y):
    u = x + y + 1.0
    p = 19.0 - 14.0 * x + 3.0 * x * x - 14.0 * y + 6.0 * x * y + 3.0 * y * y
    v = 2.0 * x - 3.0 * y
    q = 18.0 - 32.0 * x + 12.0 * x * x + 48.0 * y - 36.0 * x * y + 27.0 * y * y
    return u, p, v, q


def _goldstein_price_f(xy):
    x, y = _xy(xy)
    with np.errstate(all="ignore"):
        u, p, v, q = _gp_parts(x, y)
        return (1.0 + u * u * p) * (30.0 + v * v * q)


def _goldstein_price_grad(xy):
    """f = A·B with A = 1 + u²p, B = 30 + v²q (u = x+y+1, v = 2x-3y); ∇f = B·∇A + A·∇B.

    ∂A/∂x = ∂A/∂y = 2u·p + u²(6x + 6y - 14);
    ∂B/∂x = 4v·q + v²(24x - 36y - 32),  ∂B/∂y = -6v·q + v²(54y - 36x + 48).
    """
    x, y = _xy(xy)
    with np.errstate(all="ignore"):
        u, p, v, q = _gp_parts(x, y)
        a = 1.0 + u * u * p
        b = 30.0 + v * v * q
        da = 2.0 * u * p + u * u * (6.0 * x + 6.0 * y - 14.0)
        dbx = 4.0 * v * q + v * v * (24.0 * x - 36.0 * y - 32.0)
        dby = -6.0 * v * q + v * v * (54.0 * y - 36.0 * x + 48.0)
        return _stack(da * b + a * dbx, da * b + a * dby)


# --- six-hump camel: (4 - 2.1x² + x⁴/3)x² + xy + (-4 + 4y²)y² -----------------------------------
def _six_hump_f(xy):
    x, y = _xy(xy)
    with np.errstate(all="ignore"):
        x2, y2 = x * x, y * y
        return (4.0 - 2.1 * x2 + x2 * x2 / 3.0) * x2 + x * y + (-4.0 + 4.0 * y2) * y2


def _six_hump_grad(xy):
    """∂f/∂x = 2x(4 - 2.1x² + x⁴/3) + x²(-4.2x + 4x³/3) + y,  ∂f/∂y = x + 2y(-4 + 4y²) + 8y³."""
    x, y = _xy(xy)
    with np.errstate(all="ignore"):
        x2, y2 = x * x, y * y
        gx = 2.0 * x * (4.0 - 2.1 * x2 + x2 * x2 / 3.0) + x2 * (-4.2 * x + 4.0 * x * x2 / 3.0) + y
        gy = x + 2.0 * y * (-4.0 + 4.0 * y2) + 8.0 * y * y2
        return _stack(gx, gy)


# --- saddle and ill-conditioned quadratic ------------------------------------------------------
def _saddle_f(xy):
    x, y = _xy(xy)
    with np.errstate(all="ignore"):
        return x * x - y * y


def _saddle_grad(xy):
    """∇f = (2x, -2y)."""
    x, y = _xy(xy)
    return _stack(2.0 * x, -2.0 * y)


ILL_CONDITION = 50.0


def _ill_f(xy):
    x, y = _xy(xy)
    with np.errstate(all="ignore"):
        return 0.5 * (x * x + ILL_CONDITION * y * y)


def _ill_grad(xy):
    """∇f = (x, 50y): Hessian diag(1, 50), condition number 50."""
    x, y = _xy(xy)
    with np.errstate(all="ignore"):
        return _stack(x, ILL_CONDITION * y)


# --- minima not known in closed form: refine the textbook values with Newton steps -------------
def _polish(grad: Callable[[Array], Array], guess: tuple[float, float], iters: int = 8):
    """Newton's method on ∇f = 0 from ``guess``, Jacobian of the analytic gradient by central
    differences (h = 1e-6). The fixed point is where the *analytic* gradient vanishes, so the
    result is accurate to ~1e-15 however rough the Jacobian."""
    p = np.array(guess, dtype=np.float64)
    h = 1e-6
    eye = np.eye(2) * h
    for _ in range(iters):
        jac = (grad(p + eye) - grad(p - eye)).T / (2.0 * h)
        p = p - np.linalg.solve(jac, grad(p))
    return float(p[0]), float(p[1])


_HIMMELBLAU_MINIMA = [
    _polish(_himmelblau_grad, g)
    for g in [(3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848126)]
]
_HIMMELBLAU_MINIMA[0] = (3.0, 2.0)  # exact
_SIX_HUMP_MINIMA = [_polish(_six_hump_grad, g) for g in [(0.0898, -0.7126), (-0.0898, 0.7126)]]


def _surface(**kw) -> Surface:
    return Surface(**kw)


SURFACES: dict[str, Surface] = {
    s.name: s
    for s in [
        _surface(
            name="rosenbrock",
            title="Rosenbrock",
            latex=r"f(x,y) = (1-x)^2 + 100\,(y-x^2)^2",
            f=_rosenbrock_f,
            grad=_rosenbrock_grad,
            domain=((-2.0, 2.0), (-1.0, 3.0)),
            minima=[(1.0, 1.0)],
            min_value=0.0,
            default_start=(-1.5, 2.0),
            log_contours=True,
            note="A long, curved, flat-bottomed valley: easy to find, slow to follow.",
        ),
        _surface(
            name="beale",
            title="Beale",
            latex=r"f(x,y) = (1.5-x+xy)^2 + (2.25-x+xy^2)^2 + (2.625-x+xy^3)^2",
            f=_beale_f,
            grad=_beale_grad,
            domain=((-4.5, 4.5), (-4.5, 4.5)),
            minima=[(3.0, 0.5)],
            min_value=0.0,
            default_start=(1.0, 1.4),
            log_contours=True,
            note="Flat plateaus next to steep walls (gradients span many orders of magnitude).",
        ),
        _surface(
            name="himmelblau",
            title="Himmelblau",
            latex=r"f(x,y) = (x^2+y-11)^2 + (x+y^2-7)^2",
            f=_himmelblau_f,
            grad=_himmelblau_grad,
            domain=((-5.0, 5.0), (-5.0, 5.0)),
            minima=_HIMMELBLAU_MINIMA,
            min_value=0.0,
            default_start=(-0.3, -0.9),
            log_contours=True,
            note="Four equal minima around a local maximum: optimizers can pick different ones.",
        ),
        _surface(
            name="booth",
            title="Booth",
            latex=r"f(x,y) = (x+2y-7)^2 + (2x+y-5)^2",
            f=_booth_f,
            grad=_booth_grad,
            domain=((-10.0, 10.0), (-10.0, 10.0)),
            minima=[(1.0, 3.0)],
            min_value=0.0,
            default_start=(-8.0, -8.0),
            log_contours=True,
            note="A plain convex quadratic (condition number 9): the easy baseline.",
        ),
        _surface(
            name="rastrigin",
            title="Rastrigin",
            latex=r"f(x,y) = 20 + \sum_{i} \left(x_i^2 - 10\cos 2\pi x_i\right)",
            f=_rastrigin_f,
            grad=_rastrigin_grad,
            domain=((-5.12, 5.12), (-5.12, 5.12)),
            minima=[(0.0, 0.0)],
            min_value=0.0,
            default_start=(2.2, -1.6),
            log_contours=False,
            note="An egg-crate of local minima: plain gradient descent stops in the nearest one.",
        ),
        _surface(
            name="ackley",
            title="Ackley",
            latex=(
                r"f(x,y) = -20\,e^{-0.2\sqrt{\frac{1}{2}(x^2+y^2)}}"
                r" - e^{\frac{1}{2}(\cos 2\pi x + \cos 2\pi y)} + e + 20"
            ),
            f=_ackley_f,
            grad=_ackley_grad,
            domain=((-5.0, 5.0), (-5.0, 5.0)),
            minima=[(0.0, 0.0)],
            min_value=0.0,
            default_start=(1.8, -1.4),
            log_contours=False,
            note="A ripple-covered funnel with a sharp (non-differentiable) tip at the minimum.",
        ),
        _surface(
            name="goldstein_price",
            title="Goldstein–Price",
            latex=(
                r"f(x,y) = \left[1+(x+y+1)^2(19-14x+3x^2-14y+6xy+3y^2)\right]"
                r"\left[30+(2x-3y)^2(18-32x+12x^2+48y-36xy+27y^2)\right]"
            ),
            f=_goldstein_price_f,
            grad=_goldstein_price_grad,
            domain=((-2.0, 2.0), (-2.0, 2.0)),
            minima=[(0.0, -1.0)],
            min_value=3.0,
            default_start=(-1.0, 1.0),
            log_contours=True,
            note="Values span six orders of magnitude, with local minima beside the global one.",
        ),
        _surface(
            name="six_hump_camel",
            title="Six-hump camel",
            latex=r"f(x,y) = \left(4-2.1x^2+\tfrac{x^4}{3}\right)x^2 + xy + (-4+4y^2)\,y^2",
            f=_six_hump_f,
            grad=_six_hump_grad,
            domain=((-3.0, 3.0), (-2.0, 2.0)),
            minima=_SIX_HUMP_MINIMA,
            min_value=float(_six_hump_f(np.array(_SIX_HUMP_MINIMA[0]))),
            default_start=(-2.0, -1.0),
            log_contours=False,
            note="Two global minima and four local ones (the six humps).",
        ),
        _surface(
            name="saddle",
            title="Saddle",
            latex=r"f(x,y) = x^2 - y^2",
            f=_saddle_f,
            grad=_saddle_grad,
            domain=((-2.0, 2.0), (-2.0, 2.0)),
            minima=[],
            min_value=None,
            default_start=(-1.8, 1e-3),
            log_contours=False,
            note="Unbounded below: who escapes the saddle point at the origin, and how fast?",
        ),
        _surface(
            name="ill_conditioned",
            title="Ill-conditioned quadratic",
            latex=r"f(x,y) = \tfrac{1}{2}\left(x^2 + 50\,y^2\right)",
            f=_ill_f,
            grad=_ill_grad,
            domain=((-10.0, 10.0), (-10.0, 10.0)),
            minima=[(0.0, 0.0)],
            min_value=0.0,
            default_start=(-9.0, 3.0),
            log_contours=True,
            note="Curvatures 1 and 50: plain SGD zig-zags, per-coordinate scaling does not.",
        ),
    ]
}

DEFAULT_SURFACE = "rosenbrock"


def get(name: str) -> Surface:
    """The registered surface called ``name``.

    Raises:
        ValueError: ``Unknown surface 'foo'; choose one of rosenbrock, beale, ...``.
    """
    try:
        return SURFACES[name]
    except (KeyError, TypeError):
        raise ValueError(f"Unknown surface {name!r}; choose one of {', '.join(SURFACES)}") from None


def from_formula(text: str, domain=((-5.0, 5.0), (-5.0, 5.0)), minimum=None) -> Surface:
    """A :class:`Surface` from a user-typed formula f(x, y), compiled by :mod:`engine.formula`
    (allowlisted ``ast`` walk, exact forward-mode gradient; never eval).

    ``domain`` is ``((xmin, xmax), (ymin, ymax))``; ``minimum`` an optional known minimizer
    ``(x, y)``. The default start is the finite grid point nearest to (20%, 80%) of the box.

    Raises:
        ValueError: a readable message if the formula, domain or minimum is rejected, or if f
        is not finite anywhere on the domain.
    """
    from engine.formula import compile_formula  # lazy: the built-ins do not need the compiler

    formula = compile_formula(text)
    try:
        (x0, x1), (y0, y1) = ((float(a), float(b)) for a, b in domain)
    except (TypeError, ValueError):
        raise ValueError(f"domain must be ((xmin, xmax), (ymin, ymax)), got {domain!r}") from None
    if not (np.isfinite([x0, x1, y0, y1]).all() and x0 < x1 and y0 < y1):
        raise ValueError(f"domain needs finite bounds with min < max, got {domain!r}")
    minima, min_value = [], None
    if minimum is not None:
        try:
            minima = [(float(minimum[0]), float(minimum[1]))]
        except (TypeError, ValueError, IndexError):
            raise ValueError(f"minimum must be a point (x, y), got {minimum!r}") from None
        min_value = float(formula.f(np.array(minima[0])))
        if not np.isfinite(min_value):
            raise ValueError(f"f is not finite at the given minimum {minima[0]}")
    gx, gy = np.meshgrid(np.linspace(x0, x1, 21), np.linspace(y0, y1, 21))
    pts = np.stack([gx.ravel(), gy.ravel()], axis=-1)
    ok = np.isfinite(formula.f(pts)) & np.isfinite(formula.grad(pts)).all(axis=-1)
    if not ok.any():
        raise ValueError("f(x, y) is not finite anywhere on the domain; check the formula")
    target = np.array([x0 + 0.2 * (x1 - x0), y0 + 0.8 * (y1 - y0)])
    start = pts[ok][np.argmin(np.hypot(*(pts[ok] - target).T))]
    return Surface(
        name="custom",
        title="Custom formula",
        latex="f(x,y) = " + formula.latex,
        f=formula.f,
        grad=formula.grad,
        domain=((x0, x1), (y0, y1)),
        minima=minima,
        min_value=min_value,
        default_start=(float(start[0]), float(start[1])),
        note=f"Your formula: `{formula.text}`",  # code span: * must not become italics
    )
