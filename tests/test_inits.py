"""engine.inits: variances match their formulas, orthogonal/identity shapes, seeding."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine import inits
from engine.nn import MLP

FAN_IN, FAN_OUT = 400, 300


@pytest.mark.parametrize("name", [k for k, v in inits.TARGET_STD.items() if v is not None])
@pytest.mark.parametrize("slope", [0.0, 0.3])
def test_empirical_std_matches_formula(name, slope):
    gain = 1.7
    w = inits.init_weight(name, FAN_IN, FAN_OUT, seed=3, layer=0, gain=gain, slope=slope)
    assert w.shape == (FAN_IN, FAN_OUT)
    want = {
        "normal": gain,
        "uniform": gain / math.sqrt(3),
        "lecun": gain / math.sqrt(FAN_IN),
        "xavier_normal": gain * math.sqrt(2 / (FAN_IN + FAN_OUT)),
        "xavier_uniform": gain * math.sqrt(2 / (FAN_IN + FAN_OUT)),
        "he_normal": gain * math.sqrt(2 / ((1 + slope**2) * FAN_IN)),
        "he_uniform": gain * math.sqrt(2 / ((1 + slope**2) * FAN_IN)),
    }[name]
    assert inits.TARGET_STD[name](FAN_IN, FAN_OUT, gain, slope) == pytest.approx(want)
    # 120,000 draws: the sample std is within ~0.5 % of the truth; allow 3 %
    assert w.std() == pytest.approx(want, rel=0.03)
    assert abs(w.mean()) < 0.03 * want
    if "uniform" in name:
        assert np.max(np.abs(w)) <= math.sqrt(3) * want


@pytest.mark.parametrize(("fan_in", "fan_out"), [(50, 50), (80, 30), (30, 80)])
def test_orthogonal_is_orthogonal(fan_in, fan_out):
    w = inits.init_weight("orthogonal", fan_in, fan_out, seed=1, layer=2, gain=2.0)
    gram = w.T @ w if fan_in >= fan_out else w @ w.T
    np.testing.assert_allclose(gram, 4.0 * np.eye(min(fan_in, fan_out)), atol=1e-12)


@pytest.mark.parametrize(("fan_in", "fan_out"), [(4, 4), (6, 3), (3, 6)])
def test_identity_is_c_times_eye_padded_or_truncated(fan_in, fan_out):
    w = inits.init_weight("identity", fan_in, fan_out, seed=0, layer=0, gain=1.5)
    np.testing.assert_array_equal(w, 1.5 * np.eye(fan_in, fan_out))
    k = min(fan_in, fan_out)
    np.testing.assert_array_equal(np.diag(w)[:k], np.full(k, 1.5))
    assert np.count_nonzero(w) == k


def test_network_identity_init_and_zero_biases():
    mlp = MLP([5, 5, 5, 3], init="identity", init_scale=0.5)
    np.testing.assert_array_equal(mlp.weights[1], 0.5 * np.eye(5))
    np.testing.assert_array_equal(mlp.weights[2], 0.5 * np.eye(5, 3))
    assert all(np.all(b == 0) for b in mlp.biases)


def test_network_uses_leaky_slope_for_he():
    relu = MLP([600, 600, 2], activation="relu", init="he_normal").weights[0]
    leaky = MLP([600, 600, 2], activation="leaky_relu", init="he_normal", leaky_slope=1.0)
    # same generator, variance halved by 1 + a^2 = 2
    np.testing.assert_allclose(leaky.weights[0], relu / math.sqrt(2.0))


@pytest.mark.parametrize("name", list(inits.INITS))
def test_every_init_is_seeded_and_float64(name):
    a = inits.init_weight(name, 7, 5, seed=9, layer=1, gain=1.0)
    b = inits.init_weight(name, 7, 5, seed=9, layer=1, gain=1.0)
    assert a.dtype == np.float64 and a.shape == (7, 5)
    np.testing.assert_array_equal(a, b)
    if name not in ("zeros", "identity"):
        assert not np.array_equal(a, inits.init_weight(name, 7, 5, seed=9, layer=2))
        assert not np.array_equal(a, inits.init_weight(name, 7, 5, seed=10, layer=1))


def test_zeros_and_unknown():
    assert not np.any(inits.init_weight("zeros", 3, 4, seed=0, layer=0, gain=5.0))
    with pytest.raises(ValueError, match="Unknown init 'kaiming'"):
        inits.init_weight("kaiming", 3, 4, seed=0, layer=0)
