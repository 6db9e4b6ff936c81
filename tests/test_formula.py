"""Tests for engine.formula: allowlist and limits (hostile inputs), exact gradients (hypothesis
vs central finite differences, and per registry entry), evaluation semantics, LaTeX, and the
engine.surfaces.from_formula contract."""

from __future__ import annotations

import ast
import inspect
import math
import warnings

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

import engine.formula as formula_mod
import engine.formula_ops as ops_mod
from engine import surfaces
from engine.formula import (
    FUNCTIONS,
    MAX_DEPTH,
    MAX_EXPONENT,
    MAX_LENGTH,
    MAX_NODES,
    FormulaError,
    compile_formula,
    nonfinite_fraction,
    try_compile,
)

# (text, a fragment the message must contain): each one must be rejected, saying why.
HOSTILE = [
    ("x.__class__", "attribute access ('.__class__')"),
    ("sin(x).real", "attribute access"),
    ("x[0]", "subscripts"),
    ("x[0:1]", "subscripts"),
    ("lambda x: x", "lambda"),
    ("lambda: 0", "lambda"),
    ("[x for x in (1, 2)]", "comprehensions"),
    ("{x for x in (1, 2)}", "comprehensions"),
    ("(x for x in (1, 2))", "generator"),
    ("f'{x}'", "f-strings"),
    ("sin(x=1)", "keyword arguments"),
    ("sin(**{'x': 1})", "keyword arguments"),
    ("__import__('os')", "'__import__' is not allowed"),
    ("__builtins__", "'__builtins__' is not allowed"),
    ("9**9**9", "exponent"),
    ("(x**9)**99", "exponent"),
    ("x**1e9", "exponent"),
    ("2**-11", "exponent"),
    ("(" * 100_000 + "x" + ")" * 100_000, "characters long"),
    ("-" * 100_000 + "x", "characters long"),
    ("x+" * 150_000 + "x", "characters long"),
    ("x" * 1_000_000, "characters long"),
    ("x\x00", "U+0000"),
    ("\u0445 + y", "non-ASCII"),  # Cyrillic 'х'
    ("x + \uff11", "non-ASCII"),  # fullwidth digit 1
    ("x\u200b+y", "non-ASCII"),  # zero-width space
    ("(y := 1)", "assignment expressions"),
    ("x and y", "boolean operators"),
    ("not x", "'not'"),
    ("x < y", "comparisons"),
    ("x if y else 1", "conditional expressions"),
    ("sin(*[x])", "starred"),
    ("os", "unknown name 'os'"),
    ("open('f')", "unknown function 'open'"),
    ("exec('1')", "unknown function 'exec'"),
    ("eval('1')", "unknown function 'eval'"),
    ("foo(x)", "unknown function 'foo'; allowed: abs"),
    ("'x'", "strings"),
    ("b'x'", "strings"),
    ("1j", "complex"),
    ("x + 2j", "complex"),
    ("...", "'...'"),
    ("{x}", "sets"),
    ("[x, y]", "lists"),
    ("(x, y)", "tuples"),
    ("{x: y}", "dicts"),
    ("sin(x)(y)", "only named functions"),
    ("sin(x, y)", "sin() takes 1 argument but 2 were given"),
    ("sin()", "sin() takes 1 argument but 0 were given"),
    ("hypot(x)", "hypot() takes 2 arguments but 1 was given"),
    ("x; y", "';'"),
    ("x\ny", "one line"),
    ("x\r", "one line"),
    ("x = 1", "syntax error"),
    ("import os", "syntax error"),
    ("x +", "syntax error"),
    ("", "empty"),
    ("   ", "empty"),
    ("1e400", "too large"),
    ("1" * 40, "too large"),
    ("True", "'True'"),
    ("None", "'None'"),
    ("x // y", "floor division"),
    ("x % y", "modulo"),
    ("x ^ 2", "'^'"),
    ("x @ y", "'@'"),
    ("~x", "'~'"),
    ("sin", "'sin' is a function"),
    ("x(2)", "'x' is not a function"),
    ("-" * 40 + "x", f"more than {MAX_DEPTH} levels"),
    ("x+" * 120 + "x", f"more than {MAX_NODES} parts"),
    (None, "must be text"),
    (b"x + y", "must be text"),
]


@pytest.mark.parametrize(("text", "why"), HOSTILE, ids=[repr(t)[:40] for t, _ in HOSTILE])
def test_hostile_input_is_rejected_with_a_reason(text, why):
    assert len(HOSTILE) >= 30
    with pytest.raises(ValueError) as info:
        compile_formula(text)
    assert isinstance(info.value, FormulaError)
    assert why in str(info.value)


def test_messages_point_at_the_column():
    cases = {"sin(x).real": 7, "x + y.imag": 6, "x % 2": 3, "x + foo(y)": 5, "(x**9)**99": 9}
    for text, column in cases.items():
        with pytest.raises(FormulaError) as info:
            compile_formula(text)
        assert info.value.column == column, text
        assert f"(at column {column})" in str(info.value)


def test_try_compile_returns_message_instead_of_raising():
    assert try_compile("x.y") == (None, "attribute access ('.y') is not allowed (at column 2)")
    formula, problem = try_compile("x + y")
    assert problem is None and formula.text == "x + y"


def test_limits_are_inclusive_boundaries():
    long_ok = "x" + " " * (MAX_LENGTH - 1)
    compile_formula(long_ok)
    with pytest.raises(FormulaError, match="characters long"):
        compile_formula(long_ok + " ")
    terms = (MAX_NODES + 1) // 2  # k terms of x+x+...+x make 2k - 1 nodes
    compile_formula("+".join(["x"] * terms))
    with pytest.raises(FormulaError, match="parts"):
        compile_formula("+".join(["x"] * (terms + 1)))
    nested = "sin(" * (MAX_DEPTH - 1) + "x" + ")" * (MAX_DEPTH - 1)  # MAX_DEPTH levels
    compile_formula(nested)
    with pytest.raises(FormulaError, match="levels"):
        compile_formula("sin(" + nested + ")")
    compile_formula(f"x**{MAX_EXPONENT:g} + x**-{MAX_EXPONENT:g}")
    with pytest.raises(FormulaError, match="exponent"):
        compile_formula(f"x**({MAX_EXPONENT:g} + 0.5)")


def test_long_left_associative_sums_do_not_count_as_deep_nesting():
    terms = 2 * MAX_DEPTH
    text = "+".join(["x"] * terms) + "-y*y/2*x"
    assert len(text) <= MAX_LENGTH
    xy = np.array([0.3, -0.7])
    assert compile_formula(text).f(xy) == pytest.approx(terms * 0.3 - 0.49 / 2 * 0.3)


def test_non_constant_exponents_are_allowed_and_big_constant_exponents_are_not_evaluated():
    formula = compile_formula("x**y + 2**x")
    xy = np.array([1.7, 2.3])
    assert formula.f(xy) == pytest.approx(1.7**2.3 + 2**1.7)
    with pytest.raises(FormulaError, match="exponent"):
        compile_formula("2**(9**9**9)")  # 9**9 in float64 only: must not hang


def test_the_compiler_never_calls_eval_exec_compile_or_import():
    forbidden = {"eval", "exec", "compile", "__import__", "sympify", "getattr", "globals"}
    for module in (formula_mod, ops_mod):
        tree = ast.parse(inspect.getsource(module))
        called = {
            node.func.id
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        }
        called |= {
            node.func.attr
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        }
        assert not called & forbidden, module.__name__


# ----------------------------------------------------------------------------- evaluation
def test_values_match_numpy_and_shapes_follow_the_batch():
    rng = np.random.default_rng(0)
    xy = rng.normal(size=(3, 4, 2))
    x, y = xy[..., 0], xy[..., 1]
    formula = compile_formula("sin(x)*y**2 + 0.1*(x**2 + y**2)")
    np.testing.assert_allclose(formula.f(xy), np.sin(x) * y**2 + 0.1 * (x**2 + y**2), rtol=1e-15)
    expected = np.stack([np.cos(x) * y**2 + 0.2 * x, 2 * y * np.sin(x) + 0.2 * y], axis=-1)
    np.testing.assert_allclose(formula.grad(xy), expected, rtol=1e-14)
    assert formula.f(xy[0, 0]).shape == ()
    assert formula.grad(xy[0, 0]).shape == (2,)
    value, grad = formula.value_and_grad(xy)
    np.testing.assert_array_equal(value, formula.f(xy))
    np.testing.assert_array_equal(grad, formula.grad(xy))


def test_constant_and_single_variable_formulas_broadcast():
    xy = np.zeros((5, 2))
    constant = compile_formula("pi + e")
    np.testing.assert_array_equal(constant.f(xy), np.full(5, math.pi + math.e))
    np.testing.assert_array_equal(constant.grad(xy), np.zeros((5, 2)))
    only_x = compile_formula("3*x")
    np.testing.assert_array_equal(only_x.grad(xy), np.tile([3.0, 0.0], (5, 1)))


def test_bad_point_shape_is_a_value_error():
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 2\)"):
        compile_formula("x").f(np.zeros((4, 3)))


def test_non_finite_values_are_silent_and_mask_the_gradient():
    formula = compile_formula("log(x) + sqrt(y)")
    xy = np.array([[-1.0, 1.0], [1.0, 4.0], [0.0, 1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value, grad = formula.value_and_grad(xy)
    assert np.isnan(value[0]) and np.isneginf(value[2])
    assert np.isnan(grad[[0, 2]]).all()
    np.testing.assert_allclose(grad[1], [1.0, 0.25])


def test_nonfinite_fraction_counts_the_grid():
    domain = ((-1.0, 1.0), (-2.0, 2.0))
    n = 41
    gx, _ = np.meshgrid(np.linspace(-1.0, 1.0, n), np.linspace(-2.0, 2.0, n))
    formula = compile_formula("log(x) * y")
    assert nonfinite_fraction(formula.f, domain, n) == np.mean(gx <= 0)
    assert nonfinite_fraction(formula.grad, domain, n) == np.mean(gx <= 0)
    assert nonfinite_fraction(compile_formula("x*y").f, domain, n) == 0.0


def test_power_gradient_has_no_log_term_for_constant_exponents():
    xy = np.array([[-2.0, 0.5], [0.0, 0.0]])
    np.testing.assert_allclose(compile_formula("x**2 + y**3").grad(xy), [[-4, 0.75], [0, 0]])
    np.testing.assert_array_equal(compile_formula("x**0").grad(xy), np.zeros((2, 2)))


def test_kinks_select_the_active_branch():
    xy = np.array([[-1.5, 0.5], [2.0, -3.0]])
    np.testing.assert_array_equal(compile_formula("abs(x)").grad(xy), [[-1, 0], [1, 0]])
    np.testing.assert_array_equal(compile_formula("minimum(x, y)").grad(xy), [[1, 0], [0, 1]])
    np.testing.assert_array_equal(compile_formula("max(x, y)").grad(xy), [[0, 1], [1, 0]])
    np.testing.assert_array_equal(compile_formula("relu(x)").grad(xy), [[0, 0], [1, 0]])


def _central_difference(f, xy: np.ndarray, h: float) -> np.ndarray:
    steps = np.eye(2) * h
    return np.stack([(f(xy + s) - f(xy - s)) / (2 * h) for s in steps], axis=-1)


# A point inside each function's domain, well away from kinks.
_PROBE = {"arcsin": 0.3, "asin": 0.3, "arccos": -0.4, "acos": -0.4, "log1p": 0.6}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_function_derivative_matches_finite_differences(name):
    args = ("0.8*x + 0.3*y", "x - 0.5*y + 0.1")[: FUNCTIONS[name].nargs]
    formula = compile_formula(f"{name}({', '.join(args)})")
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    u = _PROBE.get(name, 1.3)
    xy = np.array([u, 0.0]) + rng.uniform(-0.05, 0.05, size=(8, 2))
    fd = _central_difference(formula.f, xy, 1e-6)
    np.testing.assert_allclose(formula.grad(xy), fd, rtol=1e-6, atol=1e-8)


# ----------------------------------------------------------------------------- hypothesis
_SMOOTH = ["sin", "cos", "tanh", "arctan", "sigmoid", "exp", "sinh", "softplus"]
_LEAVES = st.one_of(
    st.sampled_from(["x", "y", "pi", "e"]),
    st.floats(0.1, 5.0).map(lambda v: f"{v:.3g}"),
)


def _extend(children):
    one, two = children, st.tuples(children, children)
    return st.one_of(
        two.map(lambda p: f"({p[0]} + {p[1]})"),
        two.map(lambda p: f"({p[0]} - {p[1]})"),
        two.map(lambda p: f"({p[0]} * {p[1]})"),
        two.map(lambda p: f"({p[0]} / {p[1]})"),
        two.map(lambda p: f"({p[0]}) / (1.5 + sin({p[1]}))"),
        one.map(lambda a: f"-({a})"),
        st.tuples(one, st.sampled_from(["2", "3", "-1", "0.5", "1.5"])).map(
            lambda p: f"({p[0]})**{p[1]}"
        ),
        two.map(lambda p: f"(1.5 + sin({p[0]}))**({p[1]})"),
        st.tuples(st.sampled_from(_SMOOTH), one).map(lambda p: f"{p[0]}({p[1]})"),
        st.tuples(st.sampled_from(["log", "sqrt", "log10", "log2"]), one).map(
            lambda p: f"{p[0]}(2 + cos({p[1]}))"
        ),
        st.tuples(st.sampled_from(["arcsin", "arccos"]), one).map(
            lambda p: f"{p[0]}(0.9*tanh({p[1]}))"
        ),
        st.tuples(st.sampled_from(["log", "sqrt", "tan", "abs", "relu", "square"]), one).map(
            lambda p: f"{p[0]}({p[1]})"
        ),
        st.tuples(st.sampled_from(["minimum", "maximum", "hypot", "arctan2"]), two).map(
            lambda p: f"{p[0]}({p[1][0]}, {p[1][1]})"
        ),
    )


EXPRESSIONS = st.recursive(_LEAVES, _extend, max_leaves=6)


def _compile_generated(text: str):
    """Compile a generated expression; the grammar may yield a constant exponent above the
    limit or too long a text, which are rightly rejected (anything else is a bug)."""
    assume(len(text) <= MAX_LENGTH)
    formula, problem = try_compile(text)
    if problem is not None:
        assert "exponent" in problem or "parts" in problem, problem
    assume(problem is None)
    return formula


@settings(max_examples=300, deadline=None)
@given(text=EXPRESSIONS, x=st.floats(-3, 3), y=st.floats(-3, 3))
@example(text="-(arctan2(x, x))", x=2.220446049250313e-16, y=0.0)  # a jump, not a kink
def test_gradient_matches_central_differences(text, x, y):
    formula = _compile_generated(text)
    xy = np.array([x, y])
    value, grad = formula.value_and_grad(xy)
    assume(np.isfinite(value) and abs(value) < 1e6 and np.isfinite(grad).all())
    assume(np.abs(grad).max() < 1e6)
    # Skip points near kinks or singularities: the exact gradient must barely change across
    # a 1e-4 neighbourhood (a wrong but smooth derivative still fails the check below).
    delta = 1e-4
    around = formula.grad(xy + np.array([[delta, 0], [-delta, 0], [0, delta], [0, -delta]]))
    assume(np.isfinite(around).all())
    assume(np.abs(around - grad).max() <= 1e-2 * (1.0 + np.abs(grad).max()))
    # ... and f itself must be continuous there: a jump (arctan2(x, x) at x = 0 steps by pi,
    # with gradient 0 on both sides) makes any difference quotient across it meaningless.
    f_around = formula.f(xy + np.array([[delta, 0], [-delta, 0], [0, delta], [0, -delta]]))
    assume(np.abs(f_around - value).max() <= 1e3 * delta * (1.0 + np.abs(grad).max()))
    h = 1e-6
    fd = _central_difference(formula.f, xy, h)
    noise = 1e-15 * max(1.0, abs(value)) / h  # rounding error of the difference quotient
    # + h: a kink within h of xy (min/max/abs) biases the difference quotient by O(h)
    atol = 1e-5 * np.abs(grad).max() + 50 * noise + h
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=atol)


@settings(max_examples=200, deadline=None)
@given(text=EXPRESSIONS)
def test_generated_expressions_compile_and_render(text):
    formula = _compile_generated(text)
    assert formula.latex and "#" not in formula.latex
    assert formula.latex.count("{") == formula.latex.count("}")
    assert formula.latex.count(r"\left") == formula.latex.count(r"\right")
    # The checked tree round-trips: compiling the source again gives the same tree.
    assert compile_formula(formula.text).tree == formula.tree


# ----------------------------------------------------------------------------- LaTeX
@pytest.mark.parametrize(
    ("text", "latex"),
    [
        ("(x + y)*x", r"\left(x + y\right) \cdot x"),
        ("x - (y - 1)", r"x - \left(y - 1\right)"),
        ("x - y + 1", "x - y + 1"),
        ("-x**2", "-x^{2}"),
        ("(-x)**2", r"\left(-x\right)^{2}"),
        ("x / (1 + y)", r"\frac{x}{1 + y}"),
        ("sqrt(abs(x))", r"\sqrt{\left|x\right|}"),
        ("sin(x)**2", r"\left(\sin\left(x\right)\right)^{2}"),
        ("2*pi*x", r"2 \cdot \pi \cdot x"),
        ("1e-08*x", r"10^{-8} \cdot x"),
        ("x * -y", r"x \cdot \left(-y\right)"),
        ("minimum(x, y)", r"\min\left(x, y\right)"),
    ],
)
def test_latex_printer(text, latex):
    assert compile_formula(text).latex == latex


# ----------------------------------------------------------------------------- surfaces
_BUILTIN_TEXT = {
    "rosenbrock": "(1 - x)**2 + 100*(y - x**2)**2",
    "himmelblau": "(x**2 + y - 11)**2 + (x + y**2 - 7)**2",
    "booth": "(x + 2*y - 7)**2 + (2*x + y - 5)**2",
    "rastrigin": "20 + x**2 - 10*cos(2*pi*x) + y**2 - 10*cos(2*pi*y)",
    "beale": "(1.5 - x + x*y)**2 + (2.25 - x + x*y**2)**2 + (2.625 - x + x*y**3)**2",
    "saddle": "x**2 - y**2",
}


@pytest.mark.parametrize("name", sorted(_BUILTIN_TEXT))
def test_typed_formulas_agree_with_builtin_surfaces(name):
    builtin = surfaces.get(name)
    custom = surfaces.from_formula(
        _BUILTIN_TEXT[name], builtin.domain, builtin.minima[0] if builtin.minima else None
    )
    (x0, x1), (y0, y1) = builtin.domain
    rng = np.random.default_rng(7)
    xy = np.stack([rng.uniform(x0, x1, 200), rng.uniform(y0, y1, 200)], axis=-1)
    np.testing.assert_allclose(custom.f(xy), builtin.f(xy), rtol=1e-12, atol=1e-12)
    scale = np.abs(builtin.grad(xy)).max()
    np.testing.assert_allclose(custom.grad(xy), builtin.grad(xy), rtol=1e-10, atol=1e-13 * scale)
    if builtin.min_value is not None:
        assert custom.min_value == pytest.approx(builtin.min_value, abs=1e-9)


def test_from_formula_contract():
    surface = surfaces.from_formula("sin(x)*y**2 + 0.1*(x**2 + y**2)")
    assert surface.domain == ((-5.0, 5.0), (-5.0, 5.0))
    assert surface.minima == [] and surface.min_value is None
    start = np.array(surface.default_start)
    assert np.isfinite(surface.f(start)) and np.isfinite(surface.grad(start)).all()
    assert surface.latex.startswith("f(x,y) = ")
    with_min = surfaces.from_formula("x**2 + y**2", ((-1, 1), (-2, 2)), minimum=(0, 0))
    assert with_min.minima == [(0.0, 0.0)] and with_min.min_value == 0.0


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (("x.__class__",), "attribute access"),
        (("x + y", ((1, 0), (0, 1))), "min < max"),
        (("x + y", ((0, float("nan")), (0, 1))), "finite"),
        (("x + y", "abc"), "domain must be"),
        (("x + y", ((-1, 1), (-1, 1)), "a"), "minimum must be"),
        (("log(x)", ((-1, 1), (-1, 1)), (-0.5, 0)), "not finite at the given minimum"),
        (("log(-1 - x**2)",), "not finite anywhere"),
    ],
)
def test_from_formula_rejects_with_value_error(args, why):
    with pytest.raises(ValueError) as info:
        surfaces.from_formula(*args)
    assert why in str(info.value)
