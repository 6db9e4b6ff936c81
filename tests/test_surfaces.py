"""engine.surfaces: analytic gradients, minima, shapes, metadata, and the registry contract."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine import surfaces
from engine.surfaces import SURFACES, Surface, get

NAMES = list(SURFACES)
GOLDEN = Path(__file__).parent / "fixtures" / "surface_golden.npz"


def _points(surface: Surface, n: int, seed: int = 0) -> np.ndarray:
    (x0, x1), (y0, y1) = surface.domain
    rng = np.random.default_rng(seed)
    return np.stack([rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)], axis=-1)


def test_registry_holds_every_blueprint_surface():
    assert set(NAMES) == {
        "rosenbrock", "beale", "himmelblau", "booth", "rastrigin", "ackley",
        "goldstein_price", "six_hump_camel", "saddle", "ill_conditioned",
    }  # fmt: skip
    for name, surface in SURFACES.items():
        assert surface.name == name
        assert get(name) is surface


@pytest.mark.parametrize("bad", ["foo", "", None, "Rosenbrock"])
def test_get_unknown_names_the_choices(bad):
    with pytest.raises(ValueError, match="Unknown surface .*choose one of rosenbrock, beale"):
        get(bad)


@pytest.mark.parametrize("name", NAMES)
def test_gradient_matches_central_differences(name):
    s = get(name)
    xy = _points(s, 200, seed=1)
    h = 1e-6
    fd = np.stack(
        [(s.f(xy + h * e) - s.f(xy - h * e)) / (2 * h) for e in np.eye(2)],
        axis=-1,
    )
    g = s.grad(xy)
    scale = np.maximum(np.abs(g), np.abs(s.f(xy))[:, None] * 1e-3 + 1.0)
    np.testing.assert_array_less(np.abs(fd - g) / scale, 1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_matches_torch_autograd_golden(name):
    data = np.load(GOLDEN)
    s = get(name)
    xy, f, g = data[f"{name}/xy"], data[f"{name}/f"], data[f"{name}/grad"]
    np.testing.assert_allclose(s.f(xy), f, rtol=1e-11, atol=1e-12)
    # per-point relative to the gradient's norm: components near 0 carry the norm's rounding
    err = np.abs(s.grad(xy) - g).max(axis=-1) / np.linalg.norm(g, axis=-1)
    assert err.max() < 1e-11


@pytest.mark.parametrize("name", NAMES)
def test_minima_are_stationary_and_reach_min_value(name):
    s = get(name)
    if s.min_value is None:
        assert s.minima == []
        return
    assert s.minima, "a surface with a minimum value lists its minimizers"
    for m in s.minima:
        assert len(m) == 2 and all(isinstance(v, float) for v in m)
        p = np.array(m)
        assert np.abs(s.grad(p)).max() < 1e-12
        assert s.f(p) == pytest.approx(s.min_value, abs=1e-13)
    # no random point of the domain beats the declared minimum
    assert s.f(_points(s, 20_000, seed=2)).min() >= s.min_value - 1e-12


def test_minima_known_to_high_precision():
    """Textbook values (6 digits) and Newton-polished ones agree; polished are exact zeros."""
    hb = get("himmelblau")
    textbook = [(3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848126)]
    np.testing.assert_allclose(hb.minima, textbook, atol=1e-6)
    assert np.abs(hb.f(np.array(hb.minima))).max() < 1e-28
    camel = get("six_hump_camel")
    np.testing.assert_allclose(camel.minima, [(0.0898, -0.7126), (-0.0898, 0.7126)], atol=1e-4)
    assert camel.min_value == pytest.approx(-1.0316284534898774, abs=1e-15)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shape", [(), (7,), (3, 4)])
def test_vectorized_shapes(name, shape):
    s = get(name)
    xy = _points(s, int(np.prod(shape, dtype=int)), seed=3).reshape(*shape, 2)
    f, g = s.f(xy), s.grad(xy)
    assert f.shape == shape and g.shape == (*shape, 2)
    flat = xy.reshape(-1, 2)
    np.testing.assert_allclose(f.reshape(-1), [s.f(p) for p in flat], rtol=1e-15)
    np.testing.assert_allclose(g.reshape(-1, 2), [s.grad(p) for p in flat], rtol=1e-15)


def test_accepts_lists_and_rejects_bad_shapes():
    s = get("booth")
    assert s.f([1.0, 3.0]) == 0.0
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 2\)"):
        s.f(np.zeros(3))


def test_ackley_tip_has_zero_gradient_and_exact_zero_value():
    s = get("ackley")
    assert s.f(np.zeros(2)) == 0.0
    np.testing.assert_array_equal(s.grad(np.zeros((2, 2))), np.zeros((2, 2)))
    assert np.all(np.isfinite(s.grad(np.array([[1e-300, 0.0], [0.0, -1e-300]]))))


@pytest.mark.parametrize("name", NAMES)
def test_far_away_gives_inf_not_warnings(name):
    s = get(name)
    far = np.array([[1e200, -1e200], [np.inf, 0.0], [np.nan, 1.0]])
    with np.errstate(all="raise"):  # any numpy warning inside would raise here
        s.f(far)
        s.grad(far)


@pytest.mark.parametrize("name", NAMES)
def test_metadata_is_sane(name):
    s = get(name)
    (x0, x1), (y0, y1) = s.domain
    assert x0 < x1 and y0 < y1
    sx, sy = s.default_start
    assert x0 <= sx <= x1 and y0 <= sy <= y1
    for mx, my in s.minima:
        assert x0 <= mx <= x1 and y0 <= my <= y1
    for m in s.minima:  # a race from the default start has somewhere to go
        assert np.hypot(sx - m[0], sy - m[1]) > 0.1
    assert s.title and s.latex.startswith("f(x,y)")
    assert s.width == max(x1 - x0, y1 - y0)
    if s.log_contours:  # log10(f - f*) needs a known floor
        assert s.min_value is not None
    assert surfaces.DEFAULT_SURFACE in SURFACES


def test_surface_type_is_generic():
    """A formula surface built elsewhere fits: f and grad are plain callables."""
    s = Surface(
        name="bowl",
        title="Bowl",
        latex="f(x,y) = x^2 + y^2",
        f=lambda xy: (np.asarray(xy) ** 2).sum(-1),
        grad=lambda xy: 2 * np.asarray(xy),
        domain=((-1.0, 1.0), (-1.0, 1.0)),
        minima=[(0.0, 0.0)],
        min_value=0.0,
        default_start=(0.5, 0.5),
    )
    assert s.f(np.ones(2)) == 2.0 and not s.log_contours
