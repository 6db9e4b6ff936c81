r"""Forward beside backward for user formulas: the function table, the checked tree, the
value and forward-mode (dual number) compilers, and a LaTeX printer.

:mod:`engine.formula` builds :class:`Node` trees (after its allowlist checks) and calls
``value_fn`` / ``dual_fn`` / ``to_latex`` from here. Nothing here parses text.

Forward mode: ``dual_fn(node)(x, y) -> (v, (dx, dy))`` with ``dx = ∂v/∂x``, ``dy = ∂v/∂y``;
an entry is ``None`` where it is structurally zero (constants; x-only or y-only parts). Rules::

    (a ± b)' = a' ± b'      (ab)' = a'b + ab'      (a/b)' = (a' - (a/b) b') / b
    (a^b)'   = b a^{b-1} a' + a^b ln(a) b'     (a term is dropped when a' or b' is zero,
                                                so x**2 has gradient 2x also for x < 0;
                                                a**0 has gradient 0)
    fn(a)'   = fn'(a) a'    fn2(a, b)' = ∂₁fn2(a, b) a' + ∂₂fn2(a, b) b'

abs uses sign(a); minimum/maximum/relu select the active branch (exact away from the kinks).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


# ----------------------------------------------------------------------------- functions
def _sigmoid(u):
    return 0.5 * (1.0 + np.tanh(0.5 * u))  # overflow-free logistic


@dataclass(frozen=True)
class Fn:
    """One allowed function: value ``f`` beside its derivative ``d``.

    One argument: ``d(u, fu) -> f'(u)``. Two arguments: ``d(a, b, fab) -> (∂f/∂a, ∂f/∂b)``.
    ``tex`` is a LaTeX template with ``#0`` (and ``#1``) standing for the arguments.
    """

    nargs: int
    f: Callable
    d: Callable
    tex: str


def _tex(name: str) -> str:
    return name + r"\left(#0\right)"


_ARCTAN = Fn(1, np.arctan, lambda u, fu: 1.0 / (1.0 + u * u), _tex(r"\arctan"))
_ARCSIN = Fn(1, np.arcsin, lambda u, fu: 1.0 / np.sqrt(1.0 - u * u), _tex(r"\arcsin"))
_ARCCOS = Fn(1, np.arccos, lambda u, fu: -1.0 / np.sqrt(1.0 - u * u), _tex(r"\arccos"))
_LOG = Fn(1, np.log, lambda u, fu: 1.0 / u, _tex(r"\ln"))

FUNCTIONS: dict[str, Fn] = {
    "sin": Fn(1, np.sin, lambda u, fu: np.cos(u), _tex(r"\sin")),
    "cos": Fn(1, np.cos, lambda u, fu: -np.sin(u), _tex(r"\cos")),
    "tan": Fn(1, np.tan, lambda u, fu: 1.0 + fu * fu, _tex(r"\tan")),
    "exp": Fn(1, np.exp, lambda u, fu: fu, _tex(r"\exp")),
    "log": _LOG,
    "ln": _LOG,
    "log10": Fn(1, np.log10, lambda u, fu: 1.0 / (u * math.log(10.0)), _tex(r"\log_{10}")),
    "log2": Fn(1, np.log2, lambda u, fu: 1.0 / (u * math.log(2.0)), _tex(r"\log_{2}")),
    "log1p": Fn(1, np.log1p, lambda u, fu: 1.0 / (1.0 + u), _tex(r"\ln\left(1 + #0\right)")),
    "sqrt": Fn(1, np.sqrt, lambda u, fu: 0.5 / fu, r"\sqrt{#0}"),
    "cbrt": Fn(1, np.cbrt, lambda u, fu: 1.0 / (3.0 * fu * fu), r"\sqrt[3]{#0}"),
    "square": Fn(1, np.square, lambda u, fu: 2.0 * u, r"\left(#0\right)^{2}"),
    "abs": Fn(1, np.abs, lambda u, fu: np.sign(u), r"\left|#0\right|"),
    "tanh": Fn(1, np.tanh, lambda u, fu: 1.0 - fu * fu, _tex(r"\tanh")),
    "sinh": Fn(1, np.sinh, lambda u, fu: np.cosh(u), _tex(r"\sinh")),
    "cosh": Fn(1, np.cosh, lambda u, fu: np.sinh(u), _tex(r"\cosh")),
    "arctan": _ARCTAN,
    "atan": _ARCTAN,
    "arcsin": _ARCSIN,
    "asin": _ARCSIN,
    "arccos": _ARCCOS,
    "acos": _ARCCOS,
    "sigmoid": Fn(1, _sigmoid, lambda u, fu: fu * (1.0 - fu), _tex(r"\sigma")),
    "relu": Fn(
        1,
        lambda u: np.maximum(u, 0.0),
        lambda u, fu: np.where(u > 0, 1.0, 0.0),
        r"\max\left(#0, 0\right)",
    ),
    "softplus": Fn(
        1,
        lambda u: np.logaddexp(0.0, u),
        lambda u, fu: _sigmoid(u),
        _tex(r"\operatorname{softplus}"),
    ),
    "minimum": Fn(
        2,
        np.minimum,
        lambda a, b, f: (np.where(a <= b, 1.0, 0.0), np.where(a <= b, 0.0, 1.0)),
        r"\min\left(#0, #1\right)",
    ),
    "maximum": Fn(
        2,
        np.maximum,
        lambda a, b, f: (np.where(a >= b, 1.0, 0.0), np.where(a >= b, 0.0, 1.0)),
        r"\max\left(#0, #1\right)",
    ),
    "hypot": Fn(
        2,
        np.hypot,
        lambda a, b, f: (a / f, b / f),
        r"\sqrt{\left(#0\right)^{2} + \left(#1\right)^{2}}",
    ),
    "arctan2": Fn(
        2,
        np.arctan2,
        lambda a, b, f: (b / (a * a + b * b), -a / (a * a + b * b)),
        r"\operatorname{atan2}\left(#0, #1\right)",
    ),
}
FUNCTIONS["min"] = FUNCTIONS["minimum"]
FUNCTIONS["max"] = FUNCTIONS["maximum"]
FUNCTIONS["atan2"] = FUNCTIONS["arctan2"]


# ----------------------------------------------------------------------------- checked tree
@dataclass(frozen=True)
class Node:
    """One checked expression node.

    ``op`` is ``num`` (``value``; ``name`` is "pi"/"e" for constants), ``var`` (``value`` is
    0 for x, 1 for y), ``neg``, ``add``, ``sub``, ``mul``, ``div``, ``pow`` or ``call``
    (``name`` is the function). ``const`` is True when the subtree uses neither x nor y.
    """

    op: str
    args: tuple[Node, ...] = ()
    value: float = 0.0
    name: str = ""
    const: bool = True


# ----------------------------------------------------------------------------- compilation
_UFUNCS = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide, "pow": np.power}


def value_fn(node: Node) -> Callable:
    """Closure ``(x, y) -> value`` over NumPy ufuncs (x, y: arrays of one shape)."""
    op = node.op
    if op == "num":
        c = node.value
        return lambda x, y: c
    if op == "var":
        return (lambda x, y: x) if node.value == 0 else (lambda x, y: y)
    subs = [value_fn(a) for a in node.args]
    if op == "neg":
        a = subs[0]
        return lambda x, y: np.negative(a(x, y))
    if op == "call":
        f = FUNCTIONS[node.name].f
        if len(subs) == 1:
            a = subs[0]
            return lambda x, y: f(a(x, y))
        a, b = subs
        return lambda x, y: f(a(x, y), b(x, y))
    ufunc = _UFUNCS[op]
    a, b = subs
    return lambda x, y: ufunc(a(x, y), b(x, y))


def constant_value(node: Node) -> float:
    """Value of an x/y-free subtree, in float64 (never Python big integers)."""
    with np.errstate(all="ignore"):
        return float(value_fn(node)(np.float64(0.0), np.float64(0.0)))


# A derivative is a pair (∂/∂x, ∂/∂y); each entry is an array of the batch shape, a scalar,
# or None where it is structurally zero. Tracking the two partials separately skips the work
# for subexpressions of x alone or y alone (sin(x) * y**2 computes one product per partial).
ZERO = (None, None)


def _scale(d, s):
    """d * s, entry by entry (None stays None)."""
    return tuple(None if c is None else s * c for c in d)


def _plus(da, db):
    """da + db, entry by entry (None is zero)."""
    return tuple(b if a is None else a if b is None else a + b for a, b in zip(da, db, strict=True))


def _is_zero(d) -> bool:
    return d[0] is None and d[1] is None  # never `d == ZERO`: entries may be arrays


def _neg(d):
    return tuple(None if c is None else np.negative(c) for c in d)


def dual_fn(node: Node) -> Callable:
    """Closure ``(x, y) -> (value, (∂value/∂x, ∂value/∂y))``: forward mode over arrays."""
    op = node.op
    if op == "num":
        c = node.value
        return lambda x, y: (c, ZERO)
    if op == "var":
        return (
            (lambda x, y: (x, (1.0, None))) if node.value == 0 else (lambda x, y: (y, (None, 1.0)))
        )
    subs = [dual_fn(a) for a in node.args]
    if op == "neg":
        a = subs[0]

        def neg(x, y):
            v, d = a(x, y)
            return np.negative(v), _neg(d)

        return neg
    if op == "call":
        fn = FUNCTIONS[node.name]
        if fn.nargs == 1:
            a = subs[0]

            def call1(x, y):
                u, du = a(x, y)
                fu = fn.f(u)
                return fu, ZERO if _is_zero(du) else _scale(du, fn.d(u, fu))

            return call1
        a, b = subs

        def call2(x, y):
            (u, du), (w, dw) = a(x, y), b(x, y)
            fuw = fn.f(u, w)
            if _is_zero(du) and _is_zero(dw):
                return fuw, ZERO
            pu, pw = fn.d(u, w, fuw)
            return fuw, _plus(_scale(du, pu), _scale(dw, pw))

        return call2
    a, b = subs
    return _DUAL_BINARY[op](a, b)


def _d_add(a, b):
    def add(x, y):
        (u, du), (w, dw) = a(x, y), b(x, y)
        return np.add(u, w), _plus(du, dw)

    return add


def _d_sub(a, b):
    def sub(x, y):
        (u, du), (w, dw) = a(x, y), b(x, y)
        return np.subtract(u, w), _plus(du, _neg(dw))

    return sub


def _d_mul(a, b):
    def mul(x, y):
        (u, du), (w, dw) = a(x, y), b(x, y)
        return np.multiply(u, w), _plus(_scale(du, w), _scale(dw, u))

    return mul


def _d_div(a, b):
    def div(x, y):
        (u, du), (w, dw) = a(x, y), b(x, y)
        v = np.divide(u, w)
        if _is_zero(dw):
            return v, _scale(du, np.divide(1.0, w))
        return v, _scale(_plus(du, _scale(dw, np.negative(v))), np.divide(1.0, w))

    return div


def _d_pow(a, b):
    def power(x, y):
        (u, du), (w, dw) = a(x, y), b(x, y)
        v = np.power(u, w)
        if _is_zero(dw) and np.all(np.equal(w, 0.0)):
            return v, ZERO  # u**0 == 1 everywhere, even where u**-1 is inf
        d_base = ZERO if _is_zero(du) else _scale(du, w * np.power(u, np.subtract(w, 1.0)))
        d_exp = ZERO if _is_zero(dw) else _scale(dw, v * np.log(u))
        return v, _plus(d_base, d_exp)

    return power


_DUAL_BINARY = {"add": _d_add, "sub": _d_sub, "mul": _d_mul, "div": _d_div, "pow": _d_pow}


# ----------------------------------------------------------------------------- LaTeX
_PREC = {"add": 1, "sub": 1, "mul": 2, "neg": 2, "div": 3, "pow": 4, "call": 5, "var": 5}


def _num_tex(v: float) -> str:
    if v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    text = repr(v)
    if "e" in text:
        mantissa, exponent = text.split("e")
        power = f"10^{{{int(exponent)}}}"
        return power if mantissa == "1" else rf"{mantissa} \cdot {power}"
    return text


def _prec(node: Node) -> int:
    if node.op == "num":
        return 5 if node.name or "cdot" not in _num_tex(node.value) else 2
    return _PREC[node.op]


def to_latex(node: Node) -> str:
    """LaTeX for a checked tree, parenthesized by precedence (a recursive printer)."""

    def wrap(child: Node, min_prec: int) -> str:
        text = to_latex(child)
        return rf"\left({text}\right)" if _prec(child) < min_prec else text

    op, args = node.op, node.args
    if op == "num":
        return {"pi": r"\pi", "e": "e"}.get(node.name, _num_tex(node.value))
    if op == "var":
        return node.name
    if op == "neg":
        return "-" + wrap(args[0], 2)
    if op == "call":
        tex = FUNCTIONS[node.name].tex
        for i, arg in reversed(list(enumerate(args))):
            tex = tex.replace(f"#{i}", to_latex(arg))
        return tex
    a, b = args
    right_min = 3 if b.op == "neg" else None
    if op == "add":
        return f"{wrap(a, 1)} + {wrap(b, right_min or 1)}"
    if op == "sub":
        return f"{wrap(a, 1)} - {wrap(b, right_min or 2)}"
    if op == "mul":
        return rf"{wrap(a, 2)} \cdot {wrap(b, right_min or 2)}"
    if op == "div":
        return rf"\frac{{{to_latex(a)}}}{{{to_latex(b)}}}"
    base = wrap(a, 5) if a.op != "call" else rf"\left({to_latex(a)}\right)"
    return f"{base}^{{{to_latex(b)}}}"  # pow
