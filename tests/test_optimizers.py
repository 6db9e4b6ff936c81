"""engine.optimizers: torch parity (replayed golden trajectories), purity, dtype, vectorized
hyperparameters, torch's validation messages, the course-notes presets and the UI tables.

The golden fixture comes from tests/gen_optim_golden.py (torch 2.13, float64); this file
never imports torch.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from engine.knobs import Knob
from engine.optimizers import (
    HPARAMS,
    OPTIMIZERS,
    PRESETS,
    flat_from_hparams,
    hparams_from_flat,
    make,
)

GOLDEN = np.load(Path(__file__).parent / "fixtures" / "optim_golden.npz")
CASES = sorted(k.split("/")[0] for k in GOLDEN.files if k.endswith("/name"))

# Every switch on at once (where compatible): exercises every buffer in one configuration.
BUSY = {
    "sgd": {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1},
    "rmsprop": {"momentum": 0.5, "centered": True, "weight_decay": 0.1},
    "adagrad": {"lr_decay": 0.1, "initial_accumulator_value": 0.2, "weight_decay": 0.1},
    "adam": {"lr": 0.05, "amsgrad": True, "weight_decay": 0.1},
    "adamw": {"lr": 0.05, "amsgrad": True},
    "nadam": {"weight_decay": 0.1},
    "adadelta": {"weight_decay": 0.1},
}


def _case(key: str) -> tuple[str, dict, np.ndarray, np.ndarray]:
    hparams = json.loads(str(GOLDEN[f"{key}/hparams"]))
    if "betas" in hparams:
        hparams["betas"] = tuple(hparams["betas"])
    return str(GOLDEN[f"{key}/name"]), hparams, GOLDEN[f"{key}/params"], GOLDEN[f"{key}/grads"]


def _grads(shape: tuple[int, ...], steps: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for _ in range(steps)]


# -- parity with torch.optim ---------------------------------------------------------------


@pytest.mark.parametrize("key", CASES)
def test_replayed_trajectory_matches_torch(key):
    name, hparams, params, grads = _case(key)
    opt = make(name, **hparams)
    theta = params[0].copy()
    state = opt.init(theta)
    for t, grad in enumerate(grads, start=1):
        opt.step_(theta, grad, state)
        np.testing.assert_allclose(theta, params[t], rtol=1e-10, atol=1e-13, err_msg=f"step {t}")
    assert state["step"] == len(grads)


def test_golden_cases_cover_every_optimizer_and_switch():
    seen: dict[str, set[str]] = {name: set() for name in OPTIMIZERS}
    for key in CASES:
        name, hparams, _, _ = _case(key)
        seen[name] |= {k for k, v in hparams.items() if v != OPTIMIZERS[name].defaults[k]}
    for name, cls in OPTIMIZERS.items():
        torch_switches = set(cls.defaults) - {"bias_correction", "zero_init"}  # ours
        assert seen[name] == torch_switches, name


# -- pure vs in-place, dtype ---------------------------------------------------------------


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_step_is_pure_and_equals_step_(name):
    opt = make(name, **BUSY[name])
    theta0 = np.linspace(-1.0, 1.0, 12).reshape(3, 4)
    theta, state = theta0.copy(), opt.init(theta0)
    inplace_theta, inplace_state = theta0.copy(), opt.init(theta0)
    for grad in _grads(theta0.shape, 5):
        before = (theta.copy(), grad.copy(), {k: np.copy(v) for k, v in state.items()})
        new_theta, new_state = opt.step(theta, grad, state)
        np.testing.assert_array_equal(theta, before[0])
        np.testing.assert_array_equal(grad, before[1])
        assert state.keys() == before[2].keys()
        for k, v in state.items():
            np.testing.assert_array_equal(v, before[2][k], err_msg=k)
        opt.step_(inplace_theta, grad, inplace_state)
        np.testing.assert_array_equal(grad, before[1])
        np.testing.assert_array_equal(new_theta, inplace_theta)
        for k, v in new_state.items():
            np.testing.assert_array_equal(v, inplace_state[k], err_msg=k)
        theta, state = new_theta, new_state
    assert not np.array_equal(theta, theta0)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_float32_in_float32_out(name):
    opt = make(name, **BUSY[name])
    theta = np.linspace(-1.0, 1.0, 6, dtype=np.float32)
    state = opt.init(theta)
    for grad in _grads(theta.shape, 3):
        theta, state = opt.step(theta, grad.astype(np.float32), state)
    assert theta.dtype == np.float32
    for key, value in state.items():
        if isinstance(value, np.ndarray) and value.shape == theta.shape:
            assert value.dtype == np.float32, key
    reference = make(name, **BUSY[name])
    theta64 = np.linspace(-1.0, 1.0, 6)
    state64 = reference.init(theta64)
    for grad in _grads(theta64.shape, 3):
        theta64, state64 = reference.step(theta64, grad.astype(np.float32), state64)
    np.testing.assert_allclose(theta, theta64, rtol=1e-5, atol=1e-6)


# -- vectorized hyperparameters --------------------------------------------------------------

SWEEPS = [(name, "lr", [1e-3, 0.01, 0.1, 0.5]) for name in OPTIMIZERS] + [
    ("sgd", "momentum", [0.0, 0.5, 0.9]),
    ("sgd", "dampening", [0.0, 0.5, 0.9]),
    ("rmsprop", "alpha", [0.5, 0.9, 0.99]),
    ("adagrad", "lr_decay", [0.0, 0.1, 1.0]),
    ("adam", "beta1", [0.0, 0.5, 0.9]),
    ("adam", "beta2", [0.5, 0.9, 0.999]),
    ("adamw", "weight_decay", [0.0, 0.01, 0.3]),
    ("nadam", "beta1", [0.3, 0.6, 0.9]),
    ("nadam", "momentum_decay", [0.0, 4e-3, 0.1]),
    ("adadelta", "rho", [0.5, 0.9, 0.99]),
    ("adadelta", "eps", [1e-8, 1e-6, 1e-3]),
]


@pytest.mark.parametrize(("name", "key", "values"), SWEEPS)
def test_array_hparam_equals_separate_scalar_runs(name, key, values):
    base = {**BUSY[name], "momentum": 0.9} if name == "sgd" and key == "dampening" else BUSY[name]
    base = {k: v for k, v in base.items() if not (k == "nesterov" and key != "lr")}
    k = len(values)
    column = np.array(values).reshape(k, 1)
    rng = np.random.default_rng(1)
    theta0 = rng.standard_normal((k, 2))
    grads = _grads((k, 2), 6, seed=2)

    def hp(value):
        return {**base, **hparams_from_flat(name, {**flat_from_hparams(base), key: value})}

    opt = make(name, **hp(column))
    theta, state = theta0.copy(), opt.init(theta0)
    for grad in grads:
        opt.step_(theta, grad, state)
    for i, value in enumerate(values):
        single = make(name, **hp(value))
        row, row_state = theta0[i].copy(), single.init(theta0[i])
        for grad in grads:
            single.step_(row, grad[i], row_state)
        np.testing.assert_array_equal(theta[i], row, err_msg=f"{key}={value}")


def test_array_hparam_must_broadcast_to_params():
    opt = make("adam", lr=np.full((3, 1), 0.1))
    with pytest.raises(ValueError, match=r"lr of shape \(3, 1\) does not broadcast"):
        opt.init(np.zeros((2, 2)))


# -- validation ------------------------------------------------------------------------------

BAD = [
    ("sgd", {"lr": -1.0}, "Invalid learning rate: -1.0"),
    ("adam", {"lr": math.nan}, "Invalid learning rate: nan"),
    ("sgd", {"lr": math.nan}, "Invalid learning rate: nan"),
    ("rmsprop", {"lr": math.inf}, "Invalid learning rate: inf"),
    ("adam", {"betas": (1.0, 0.999)}, "Invalid beta parameter at index 0: 1.0"),
    ("nadam", {"betas": (0.9, 1.0)}, "Invalid beta parameter at index 1: 1.0"),
    ("adamw", {"betas": (-0.1, 0.9)}, "Invalid beta parameter at index 0: -0.1"),
    ("sgd", {"momentum": -0.5}, "Invalid momentum value: -0.5"),
    ("rmsprop", {"momentum": -0.5}, "Invalid momentum value: -0.5"),
    ("sgd", {"nesterov": True}, "Nesterov momentum requires a momentum and zero dampening"),
    (
        "sgd",
        {"nesterov": True, "momentum": 0.9, "dampening": 0.1},
        "Nesterov momentum requires a momentum and zero dampening",
    ),
    ("adam", {"eps": -1e-8}, "Invalid epsilon value: -1e-08"),
    ("adagrad", {"eps": -1.0}, "Invalid epsilon value: -1.0"),
    ("rmsprop", {"alpha": -0.1}, "Invalid alpha value: -0.1"),
    ("adadelta", {"rho": 1.5}, "Invalid rho value: 1.5"),
    ("adagrad", {"lr_decay": -1}, "Invalid lr_decay value: -1.0"),
    (
        "adagrad",
        {"initial_accumulator_value": -1.0},
        "Invalid initial_accumulator_value value: -1.0",
    ),
    ("nadam", {"momentum_decay": -1.0}, "Invalid momentum_decay value: -1.0"),
    ("adamw", {"weight_decay": -0.1}, "Invalid weight_decay value: -0.1"),
    ("adam", {"lr": np.array([0.1, -0.2])}, "Invalid learning rate: -0.2 (element (1,) of lr"),
    (
        "adam",
        {"betas": (np.array([[0.9], [1.0]]), 0.999)},
        "Invalid beta parameter at index 0: 1.0 (element (1, 0) of betas[0]",
    ),
    ("sgd", {"lr": "fast"}, "Invalid learning rate: 'fast'"),
    ("sgd", {"lr": None}, "Invalid learning rate: None"),
    ("adam", {"amsgrad": "yes"}, "Invalid amsgrad value: 'yes'"),
    ("adam", {"betas": 0.9}, "Invalid betas value: 0.9"),
    ("adam", {"momentum": 0.9}, "Unknown hyperparameter 'momentum' for adam"),
    ("sgd", {"maximize": True}, "Unknown hyperparameter 'maximize' for sgd"),
    ("adamm", {}, "Unknown optimizer 'adamm'"),
]


@pytest.mark.parametrize(("name", "hparams", "message"), BAD)
def test_bad_hparams_raise_torch_messages(name, hparams, message):
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        make(name, **hparams)


def test_defaults_are_torchs():
    assert OPTIMIZERS["sgd"].defaults["lr"] == 1e-3
    assert make("adamw").hparams["weight_decay"] == 1e-2
    assert make("nadam").hparams["lr"] == 2e-3
    assert make("adam").hparams["betas"] == (0.9, 0.999)
    assert make("adadelta").hparams == {"lr": 1.0, "rho": 0.9, "eps": 1e-6, "weight_decay": 0.0}


# -- the course notes' variants -------------------------------------------------------------


def test_adam_without_bias_correction_matches_hand_computation():
    name, hparams = PRESETS["Adam (no bias correction)"]
    opt = make(name, **{**hparams, "lr": 0.1})
    lr, (b1, b2), eps = 0.1, (0.9, 0.999), 1e-8
    theta0 = np.array([0.5, -2.0, 3.0])
    g1, g2 = np.array([1.0, -0.5, 0.0]), np.array([-2.0, 0.25, 4.0])
    m1, v1 = (1 - b1) * g1, (1 - b2) * g1**2
    theta1 = theta0 - lr * m1 / (np.sqrt(v1) + eps)
    m2, v2 = b1 * m1 + (1 - b1) * g2, b2 * v1 + (1 - b2) * g2**2
    theta2 = theta1 - lr * m2 / (np.sqrt(v2) + eps)
    state = opt.init(theta0)
    theta, state = opt.step(theta0, g1, state)
    np.testing.assert_allclose(theta, theta1, rtol=1e-14)
    theta, state = opt.step(theta, g2, state)
    np.testing.assert_allclose(theta, theta2, rtol=1e-14)
    np.testing.assert_allclose(state["exp_avg"], m2, rtol=1e-14)
    np.testing.assert_allclose(state["exp_avg_sq"], v2, rtol=1e-14)
    corrected = make("adam", lr=0.1)
    first, _ = corrected.step(theta0, g1, corrected.init(theta0))
    assert not np.allclose(first, theta1)  # the switch changes the update


def test_momentum_ema_preset_is_an_exponential_moving_average():
    name, hparams = PRESETS["Momentum (EMA)"]
    beta = hparams["momentum"]
    assert hparams["dampening"] == beta
    opt = make(name, **{**hparams, "lr": 0.1})
    theta = np.array([1.0, -1.0])
    state = opt.init(theta)
    grads = _grads(theta.shape, 5, seed=3)
    v = None
    for grad in grads:
        # torch seeds the buffer with the first gradient (v_1 = g_1), then v = βv + (1-β)g
        v = grad.copy() if v is None else beta * v + (1 - beta) * grad
        previous = theta
        theta, state = opt.step(theta, grad, state)
        np.testing.assert_allclose(state["momentum_buffer"], v, rtol=1e-14)
        np.testing.assert_allclose(theta, previous - 0.1 * v, rtol=1e-14)


def test_state_buffers_are_named_like_torch():
    x = np.zeros(3)
    assert set(make("sgd").init(x)) == {"step"}
    assert set(make("sgd", momentum=0.9).init(x)) == {"step", "momentum_buffer"}
    assert set(make("rmsprop", momentum=0.9, centered=True).init(x)) == {
        "step",
        "square_avg",
        "momentum_buffer",
        "grad_avg",
    }
    assert set(make("adagrad").init(x)) == {"step", "sum"}
    assert set(make("adam", amsgrad=True).init(x)) == {
        "step",
        "exp_avg",
        "exp_avg_sq",
        "max_exp_avg_sq",
    }
    assert set(make("nadam").init(x)) == {"step", "exp_avg", "exp_avg_sq", "mu_product"}
    assert set(make("adadelta").init(x)) == {"step", "square_avg", "acc_delta"}
    np.testing.assert_array_equal(
        make("adagrad", initial_accumulator_value=0.5).init(x)["sum"], 0.5
    )


# -- registry, presets and knobs -------------------------------------------------------------


def test_registry_names_match_classes():
    assert list(OPTIMIZERS) == ["sgd", "rmsprop", "adagrad", "adam", "adamw", "nadam", "adadelta"]
    for name, cls in OPTIMIZERS.items():
        assert cls.name == name
        assert make(name).name == name


@pytest.mark.parametrize("label", list(PRESETS))
def test_presets_build(label):
    name, hparams = PRESETS[label]
    opt = make(name, **hparams)
    for key, value in hparams.items():
        assert opt.hparams[key] == value


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_knobs_describe_every_hparam_with_torch_defaults(name):
    knobs = HPARAMS[name]
    assert all(isinstance(k, Knob) for k in knobs)
    flat = {k.key: k.default for k in knobs}
    assert hparams_from_flat(name, flat) == make(name).hparams
    assert flat_from_hparams(make(name).hparams) == flat
    lr = next(k for k in knobs if k.key == "lr")
    assert (lr.lo, lr.hi, lr.log) == (1e-8, 100.0, True)
    for knob in knobs:
        if knob.kind != "float":
            continue
        for edge in (knob.lo, knob.hi):  # every value a widget can produce is accepted
            make(name, **hparams_from_flat(name, {knob.key: edge}))


def test_hparams_from_flat_fills_a_missing_beta():
    assert hparams_from_flat("adam", {"beta2": 0.9, "lr": 0.1}) == {"lr": 0.1, "betas": (0.9, 0.9)}
