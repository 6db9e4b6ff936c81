r"""User-typed surfaces f(x, y): a safe formula compiler with exact gradients.

Pipeline::

    text --limits--> ast.parse(text, mode="eval") --allowlist walk--> Node tree
    Node tree --> f(xy) (value closures), grad(xy) (forward-mode closures), LaTeX

The text is never handed to ``eval``/``exec``/``compile``/sympy/numexpr. Before parsing, the
raw string must be at most ``MAX_LENGTH`` characters of printable ASCII (so a 1 MB string,
NUL bytes, newlines or a Cyrillic 'х' are rejected without touching the parser, and
``ast.parse`` never sees input deep enough to exhaust the C stack). The walk accepts::

    expr := number | x | y | pi | e
          | expr (+ | - | * | / | **) expr | (+ | -) expr
          | fn(expr) | fn2(expr, expr)          fn, fn2 from FUNCTIONS (positional only)

and rejects anything else with a :class:`FormulaError` (a ``ValueError``) naming the problem
and its 1-based column. Limits (``LIMITS``): at most ``MAX_NODES`` expression nodes, nesting
depth at most ``MAX_DEPTH`` (a left-associative chain ``a + b - c + ...`` or ``a * b / c``
counts as one level, so long sums are fine), numeric literals with ``|v| <= MAX_LITERAL``.

Exponents. A *constant* exponent (a subtree without x or y) must satisfy
``|p| <= MAX_EXPONENT`` (10); it is evaluated in float64, never with Python integers, so
``9**9**9`` is rejected after computing ``9.0**9.0`` (cheap) and ``(x**9)**99`` because 99 > 10.
A *non-constant* exponent (``x**y``, ``2**x``, ``e**(-x**2)``) is allowed: float64 evaluation
costs the same whatever the magnitude, and overflow shows up as inf, which callers mask.

Gradients are exact, by forward mode over arrays (dual numbers; the rules are in
:mod:`engine.formula_ops`, each function's derivative beside it in ``FUNCTIONS``). abs uses
sign(a); minimum/maximum/relu select the active branch; all are exact away from their kinks.

Evaluation runs under ``np.errstate(all="ignore")``: domain errors give nan/inf
(``nonfinite_fraction`` reports how much of a grid is affected) and the gradient is nan
wherever the value is not finite.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine.formula_ops import FUNCTIONS, Node, constant_value, dual_fn, to_latex, value_fn

MAX_LENGTH = 300
MAX_NODES = 200
MAX_DEPTH = 32
MAX_EXPONENT = 10.0
MAX_LITERAL = 1e9
LIMITS = {
    "max_length": MAX_LENGTH,
    "max_nodes": MAX_NODES,
    "max_depth": MAX_DEPTH,
    "max_exponent": MAX_EXPONENT,
    "max_literal": MAX_LITERAL,
}

VARIABLES = {"x": 0, "y": 1}
CONSTANTS = {"pi": math.pi, "e": math.e}


class FormulaError(ValueError):
    """A rejected formula. ``column`` is 1-based (``None`` when the whole text is at fault)."""

    def __init__(self, message: str, column: int | None = None):
        where = f" (at column {column})" if column is not None else ""
        super().__init__(message + where)
        self.column = column


_BINOPS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.Pow: "pow"}
_CHAIN = {ast.Add: 1, ast.Sub: 1, ast.Mult: 2, ast.Div: 2}  # left-associative levels
_BAD_OPERATORS = {
    ast.FloorDiv: "floor division '//'",
    ast.Mod: "the modulo operator '%'",
    ast.MatMult: "matrix multiplication '@'",
    ast.LShift: "bit shifts '<<'",
    ast.RShift: "bit shifts '>>'",
    ast.BitAnd: "the bitwise operator '&'",
    ast.BitOr: "the bitwise operator '|'",
    ast.BitXor: "the bitwise operator '^' (write powers as x**2)",
    ast.Not: "'not'",
    ast.Invert: "the bitwise operator '~'",
}
_BAD_NODES = {  # complete sentences: "<what> ... not allowed"
    ast.Attribute: "attribute access is",
    ast.Subscript: "subscripts (indexing) are",
    ast.Slice: "slices are",
    ast.Lambda: "lambda is",
    ast.ListComp: "comprehensions are",
    ast.SetComp: "comprehensions are",
    ast.DictComp: "comprehensions are",
    ast.GeneratorExp: "generator expressions are",
    ast.JoinedStr: "f-strings are",
    ast.FormattedValue: "f-strings are",
    ast.NamedExpr: "assignment expressions ':=' are",
    ast.BoolOp: "boolean operators (and/or) are",
    ast.Compare: "comparisons are",
    ast.IfExp: "conditional expressions (if/else) are",
    ast.Starred: "starred arguments (*args) are",
    ast.List: "lists are",
    ast.Tuple: "tuples (a comma outside a function call) are",
    ast.Set: "sets are",
    ast.Dict: "dicts are",
    ast.Await: "await is",
    ast.Yield: "yield is",
    ast.YieldFrom: "yield is",
}


def _column(n: ast.expr | ast.keyword) -> int:
    return n.col_offset + 1


def _allowed_names() -> str:
    return ", ".join([*VARIABLES, *CONSTANTS])


class _Checker:
    """Turns an ``ast`` expression into a :class:`Node` tree, or raises FormulaError."""

    def __init__(self, text: str):
        self.text = text
        self.count = 0

    def node(self, n: ast.AST, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise FormulaError(
                f"the formula is nested more than {MAX_DEPTH} levels deep", _column(n)
            )
        self.count += 1
        if self.count > MAX_NODES:
            raise FormulaError(f"the formula has more than {MAX_NODES} parts; simplify it")
        kind = type(n)
        if kind is ast.Constant:
            return self.constant(n)
        if kind is ast.Name:
            return self.name(n)
        if kind is ast.UnaryOp:
            return self.unary(n, depth)
        if kind is ast.BinOp:
            return self.binop(n, depth)
        if kind is ast.Call:
            return self.call(n, depth)
        what = _BAD_NODES.get(kind, f"'{kind.__name__}' expressions are")
        column = _column(n)
        if kind is ast.Attribute:
            what = f"attribute access ('.{n.attr}') is"
        if kind in (ast.Attribute, ast.Subscript):  # point at the '.' or '[', not the value
            column = n.value.end_col_offset + 1
        raise FormulaError(f"{what} not allowed", column)

    def constant(self, n: ast.Constant) -> Node:
        v = n.value
        if isinstance(v, bool) or v is None:
            raise FormulaError(f"'{v}' is not allowed; use numbers", _column(n))
        if isinstance(v, complex):
            raise FormulaError("complex numbers (like 1j) are not allowed", _column(n))
        if isinstance(v, str | bytes):
            raise FormulaError("strings are not allowed", _column(n))
        if v is Ellipsis:
            raise FormulaError("'...' is not allowed", _column(n))
        if not isinstance(v, int | float):
            raise FormulaError(f"the constant {type(v).__name__} is not allowed", _column(n))
        if not abs(v) <= MAX_LITERAL:  # int compare first: no float() of a huge int; nan fails
            raise FormulaError(
                f"the number is too large: |number| <= {MAX_LITERAL:.0e}".replace("e+0", "e"),
                _column(n),
            )
        return Node("num", value=float(v))

    def name(self, n: ast.Name) -> Node:
        ident = n.id
        if ident in VARIABLES:
            return Node("var", value=VARIABLES[ident], name=ident, const=False)
        if ident in CONSTANTS:
            return Node("num", value=CONSTANTS[ident], name=ident)
        if ident.startswith("_"):
            raise FormulaError(f"'{ident}' is not allowed", _column(n))
        if ident in FUNCTIONS:
            raise FormulaError(f"'{ident}' is a function: call it, e.g. {ident}(x)", _column(n))
        raise FormulaError(f"unknown name '{ident}'; allowed: {_allowed_names()}", _column(n))

    def unary(self, n: ast.UnaryOp, depth: int) -> Node:
        if isinstance(n.op, ast.UAdd):
            return self.node(n.operand, depth + 1)
        if not isinstance(n.op, ast.USub):
            raise FormulaError(f"{_BAD_OPERATORS[type(n.op)]} is not allowed", _column(n))
        a = self.node(n.operand, depth + 1)
        return Node("neg", (a,), const=a.const)

    def binop(self, n: ast.BinOp, depth: int) -> Node:
        kind = type(n.op)
        if kind not in _BINOPS:
            raise FormulaError(f"{_BAD_OPERATORS[kind]} is not allowed", self._op_column(n))
        level = _CHAIN.get(kind)
        same = isinstance(n.left, ast.BinOp) and _CHAIN.get(type(n.left.op)) == level
        a = self.node(n.left, depth if level and same else depth + 1)
        b = self.node(n.right, depth + 1)
        op = _BINOPS[kind]
        if op == "pow" and b.const:
            p = constant_value(b)
            if not abs(p) <= MAX_EXPONENT:
                raise FormulaError(
                    f"the exponent {p:.6g} is too large: constant exponents need "
                    f"|p| <= {MAX_EXPONENT:g}",
                    _column(n.right),
                )
        return Node(op, (a, b), const=a.const and b.const)

    def call(self, n: ast.Call, depth: int) -> Node:
        if not isinstance(n.func, ast.Name):
            raise FormulaError("only named functions can be called, e.g. sin(x)", _column(n))
        name = n.func.id
        if name.startswith("_"):
            raise FormulaError(f"'{name}' is not allowed", _column(n))
        if name not in FUNCTIONS:
            if name in VARIABLES or name in CONSTANTS:
                raise FormulaError(
                    f"'{name}' is not a function (write {name}*(...) to multiply)", _column(n)
                )
            raise FormulaError(
                f"unknown function '{name}'; allowed: {', '.join(sorted(FUNCTIONS))}", _column(n)
            )
        if n.keywords:
            raise FormulaError("keyword arguments are not allowed", _column(n.keywords[0]))
        for arg in n.args:
            if isinstance(arg, ast.Starred):
                raise FormulaError("starred arguments (*args) are not allowed", _column(arg))
        fn = FUNCTIONS[name]
        if len(n.args) != fn.nargs:
            raise FormulaError(
                f"{name}() takes {fn.nargs} argument{'s' if fn.nargs > 1 else ''} "
                f"but {len(n.args)} {'was' if len(n.args) == 1 else 'were'} given",
                _column(n),
            )
        args = tuple(self.node(arg, depth + 1) for arg in n.args)
        return Node("call", args, name=name, const=all(a.const for a in args))

    def _op_column(self, n: ast.BinOp) -> int | None:
        """1-based column of the operator symbol between the two operands."""
        try:
            gap = self.text[n.left.end_col_offset : n.right.col_offset]
            return n.left.end_col_offset + len(gap) - len(gap.lstrip(" )")) + 1
        except (TypeError, AttributeError):
            return _column(n)


def _screen(text: object) -> str:
    """Limits checked on the raw string BEFORE ast.parse (cheap, O(MAX_LENGTH))."""
    if not isinstance(text, str):
        raise FormulaError(f"the formula must be text, not {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise FormulaError(f"the formula is {len(text):,} characters long; at most {MAX_LENGTH}")
    for i, ch in enumerate(text):
        if not " " <= ch <= "~":
            if ord(ch) < 128:
                why = f"control character U+{ord(ch):04X}; the formula must be one line"
            else:
                why = f"non-ASCII character '{ch}' (U+{ord(ch):04X}); type plain ASCII"
            raise FormulaError(why, i + 1)
    text = text.strip()
    if not text:
        raise FormulaError("the formula is empty; type an expression in x and y, e.g. x**2 + y**2")
    return text


def parse(text: str) -> Node:
    """Check ``text`` against the limits and the allowlist; return its :class:`Node` tree."""
    text = _screen(text)
    if ";" in text:
        raise FormulaError("';' is not allowed: type a single expression", text.index(";") + 1)
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        column = exc.offset
        if not column or column < 1 or column > len(text) + 1:
            # Python reports "unexpected end" (a trailing '+', an open '(') at offset 0:
            # the problem is where the text ends, just after its last character.
            column = len(text) + 1
        raise FormulaError(f"syntax error: {exc.msg}", column) from None
    except (ValueError, MemoryError, RecursionError) as exc:
        raise FormulaError(f"the formula cannot be parsed: {exc}") from None
    return _Checker(text).node(tree.body, 1)


# ----------------------------------------------------------------------------- public API
def _split(xy) -> tuple[np.ndarray, np.ndarray]:
    xy = np.asarray(xy, dtype=np.float64)
    if xy.ndim == 0 or xy.shape[-1] != 2:
        raise ValueError(f"xy must have shape (..., 2), got {xy.shape}")
    return xy[..., 0], xy[..., 1]


@dataclass(frozen=True)
class Formula:
    """A compiled formula f(x, y).

    Attributes:
        text: the checked source (stripped).
        latex: LaTeX rendering for the page.
        tree: the checked :class:`Node` tree.
    Call ``f(xy)`` with xy of shape (..., 2) -> (...); ``grad(xy)`` -> (..., 2);
    ``value_and_grad(xy)`` -> both from one forward-mode pass. float64 throughout.
    """

    text: str
    latex: str
    tree: Node
    _value: Callable
    _dual: Callable

    def f(self, xy) -> np.ndarray:
        x, y = _split(xy)
        with np.errstate(all="ignore"):
            return np.broadcast_to(self._value(x, y), x.shape).astype(np.float64)

    def value_and_grad(self, xy) -> tuple[np.ndarray, np.ndarray]:
        x, y = _split(xy)
        with np.errstate(all="ignore"):
            v, d = self._dual(x, y)
            v = np.broadcast_to(v, x.shape).astype(np.float64)
            g = np.zeros((*x.shape, 2))
            for axis, partial in enumerate(d):
                if partial is not None:
                    g[..., axis] = partial
        g[~np.isfinite(v)] = np.nan
        return v, g

    def grad(self, xy) -> np.ndarray:
        return self.value_and_grad(xy)[1]


def compile_formula(text: str) -> Formula:
    """Check and compile ``text``; raises :class:`FormulaError` (a ValueError) if rejected."""
    tree = parse(text)
    return Formula(text.strip(), to_latex(tree), tree, value_fn(tree), dual_fn(tree))


def try_compile(text: str) -> tuple[Formula | None, str | None]:
    """``(formula, None)`` or ``(None, message)``: for pages that show the message."""
    try:
        return compile_formula(text), None
    except FormulaError as exc:
        return None, str(exc)


def nonfinite_fraction(fn: Callable, domain, n: int = 101) -> float:
    """Fraction of an n x n grid over ``domain`` ((xmin, xmax), (ymin, ymax)) where ``fn``
    (``f`` -> (...) or ``grad`` -> (..., 2)) is not finite (any component)."""
    (x0, x1), (y0, y1) = domain
    gx, gy = np.meshgrid(np.linspace(x0, x1, n), np.linspace(y0, y1, n))
    values = np.asarray(fn(np.stack([gx, gy], axis=-1)))
    bad = ~np.isfinite(values)
    if bad.ndim == 3:
        bad = bad.any(axis=-1)
    return float(bad.mean())
