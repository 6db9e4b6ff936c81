"""engine.nn (+ activations, losses): finite differences, torch golden parity, behaviour."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine import activations, losses, optimizers
from engine.nn import MLP
from engine.regularizers import Regularizer, clip_grad_norm_

GOLDEN = Path(__file__).parent / "fixtures" / "nn_golden.npz"
ACTS = list(activations.ACTIVATIONS)
LOSSES = list(losses.LOSSES)


def _target(loss, rng, n, c):
    if loss == "cross_entropy":
        return rng.integers(0, c, size=n)
    if loss == "bce":
        return rng.random((n, c))
    return rng.normal(size=(n, c))


def _numeric_grad(f, p, h=1e-6):
    """Central differences of scalar ``f()`` with respect to the 1-D buffer ``p`` (in place)."""
    num = np.empty(p.size)
    for i in range(p.size):
        old = p[i]
        p[i] = old + h
        up = f()
        p[i] = old - h
        down = f()
        p[i] = old
        num[i] = (up - down) / (2 * h)
    return num


def _rel_err(a, b):
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-12)


def _net(act="tanh", residual=False, keep_prob=1.0, sizes=(3, 5, 5, 5, 2), seed=0):
    """Small net with non-zero biases (keeps ReLU kinks away from exactly-zero rows)."""
    mlp = MLP(list(sizes), activation=act, seed=seed, residual=residual, keep_prob=keep_prob)
    rng = np.random.default_rng(seed + 100)
    for b in mlp.biases:
        b[:] = rng.normal(0, 0.3, size=b.shape)
    return mlp


# ---------------------------------------------------------------- finite differences
@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("act", ACTS)
def test_gradient_matches_central_differences(act, loss, residual):
    mlp = _net(act, residual)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(7, 3))
    y = _target(loss, rng, 7, 2)
    value, g = mlp.value_and_grad(X, y, loss)
    num = _numeric_grad(lambda: losses.LOSSES[loss](mlp.predict(X), y)[0], mlp.params)
    assert value == pytest.approx(losses.LOSSES[loss](mlp.predict(X), y)[0])
    assert _rel_err(g.flat, num) < 1e-6


@pytest.mark.parametrize("act", ACTS)
def test_gradient_with_fixed_dropout_masks(act):
    mlp = _net(act, residual=True, keep_prob=0.6)
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(6, 3)), rng.integers(0, 2, size=6)
    masks = [rng.random((6, 5)) < 0.6 for _ in range(3)]
    _, g = mlp.value_and_grad(X, y, train=True, masks=masks)

    def f():
        return losses.LOSSES["cross_entropy"](mlp.forward(X, train=True, masks=masks)[0], y)[0]

    assert _rel_err(g.flat, _numeric_grad(f, mlp.params)) < 1e-6
    # dropped units pass no gradient to their pre-activation
    for i, m in enumerate(masks):
        assert np.all(g.pre_activations[i][~m] == 0)


@pytest.mark.parametrize(
    "reg",
    [
        Regularizer(l1=0.05),
        Regularizer(l2=0.1),
        Regularizer(l1=0.03, l2=0.07),
        Regularizer(l1=0.02, l2=0.05, include_biases=True),
    ],
)
def test_gradient_of_data_loss_plus_penalty(reg):
    mlp = _net("sigmoid")
    mlp.params[np.abs(mlp.params) < 1e-3] = 0.1  # L1 is checked away from its kink at 0
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    _, g = mlp.value_and_grad(X, y, "mse")
    grad = g.flat.copy()
    reg.add_grad_(grad, mlp.params, mlp.weight_mask)

    def f():
        data = losses.LOSSES["mse"](mlp.predict(X), y)[0]
        return data + reg.penalty(mlp.params, mlp.weight_mask)

    assert _rel_err(grad, _numeric_grad(f, mlp.params)) < 1e-6


def test_input_gradient_matches_central_differences():
    mlp = _net("tanh", residual=True)
    rng = np.random.default_rng(4)
    X, y = rng.normal(size=(4, 3)), rng.integers(0, 2, size=4)
    out, cache = mlp.forward(X)
    _, dout = losses.LOSSES["cross_entropy"](out, y)
    g = mlp.backward(cache, dout, input_grad=True)
    flat_x = X.ravel()  # a view: the numeric gradient perturbs X in place
    num = _numeric_grad(lambda: losses.LOSSES["cross_entropy"](mlp.predict(X), y)[0], flat_x)
    assert _rel_err(g.input.ravel(), num) < 1e-6


@pytest.mark.parametrize("name", ACTS)
def test_activation_derivative_matches_central_differences(name):
    act = activations.ACTIVATIONS[name]
    z = np.random.default_rng(5).normal(size=(4, 6)) * 3
    z[np.abs(z) < 1e-3] = 0.5
    a = act.forward(z, 0.1)
    h = 1e-6
    num = (act.forward(z + h, 0.1) - act.forward(z - h, 0.1)) / (2 * h)
    np.testing.assert_allclose(act.derivative(z, a, 0.1), num, rtol=1e-6, atol=1e-9)
    assert np.all(np.abs(act.derivative(z, a, 0.1)) <= act.max_derivative + 1e-12)


# ---------------------------------------------------------------- torch golden parity
def _golden():
    return np.load(GOLDEN)


@pytest.mark.parametrize("k", range(len(json.loads(str(np.load(GOLDEN)["cases"])))))
def test_loss_and_grads_match_torch_autograd(k):
    data = _golden()
    case = json.loads(str(data["cases"]))[k]
    dtype = np.float32 if case.get("dtype") == "float32" else np.float64
    mlp = MLP(
        case["sizes"],
        activation=case["act"],
        residual=case["residual"],
        dtype=dtype,
        leaky_slope=case.get("slope", 0.01),
        keep_prob=case.get("keep", 1.0),
    )
    mlp.params = data[f"case{k}_params"]
    X, y = data[f"case{k}_X"], data[f"case{k}_y"]
    rtol = 1e-5 if dtype == np.float32 else 1e-9
    if "keep" in case:
        masks = [data[f"case{k}_mask{i}"] for i in range(len(case["sizes"]) - 2)]
        value, g = mlp.value_and_grad(X, y, case["loss"], train=True, masks=masks)
        flat = g.flat
    else:
        value, wg, bg = mlp.loss_and_grads(X, y, case["loss"])
        flat = np.concatenate([p.ravel() for pair in zip(wg, bg, strict=True) for p in pair])
    assert value == pytest.approx(float(data[f"case{k}_loss"]), rel=rtol)
    assert flat.dtype == dtype
    want = data[f"case{k}_grad"]
    # float32 sums cancel: judge tiny entries against the gradient's scale
    atol = rtol * np.max(np.abs(want)) * (1.0 if dtype == np.float32 else 1e-3)
    np.testing.assert_allclose(flat, want, rtol=rtol, atol=atol)


@pytest.mark.parametrize("k", range(len(json.loads(str(np.load(GOLDEN)["trajs"])))))
def test_training_trajectory_matches_torch_optim(k):
    data = _golden()
    tr = json.loads(str(data["trajs"]))[k]
    mlp = MLP(tr["sizes"], activation=tr["act"], residual=tr["residual"])
    mlp.params = data[f"traj{k}_params0"]
    X, y = data[f"traj{k}_X"], data[f"traj{k}_y"]
    opt = optimizers.make(tr["opt"], **tr["hp"])
    state = opt.init(mlp.params)
    reg = Regularizer(l2=tr.get("l2", 0.0))
    g = mlp.new_gradients()
    for step in range(len(data[f"traj{k}_losses"])):
        value, g = mlp.value_and_grad(X, y, tr["loss"], out=g)
        value += reg.penalty(mlp.params, mlp.weight_mask)
        reg.add_grad_(g.flat, mlp.params, mlp.weight_mask)
        if tr.get("clip"):
            clip_grad_norm_(g.flat, tr["clip"])
        opt.step_(mlp.params, g.flat, state)
        assert value == pytest.approx(data[f"traj{k}_losses"][step], rel=1e-9)
        np.testing.assert_allclose(mlp.params, data[f"traj{k}_params"][step], rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------- flat buffer
def test_weights_and_biases_are_views_of_the_flat_buffer():
    mlp = MLP([3, 4, 2])
    assert mlp.params.ndim == 1 and mlp.params.size == 3 * 4 + 4 + 4 * 2 + 2
    for w, b in zip(mlp.weights, mlp.biases, strict=True):
        assert np.shares_memory(w, mlp.params) and np.shares_memory(b, mlp.params)
    assert [w.shape for w in mlp.weights] == [(3, 4), (4, 2)]
    assert mlp.weight_mask.sum() == 3 * 4 + 4 * 2
    assert np.all(mlp.params[~mlp.weight_mask] == 0)  # biases start at 0
    mlp.params[:] = np.arange(mlp.n_params)
    assert mlp.weights[1][0, 0] == mlp.weight_slices[1].start
    mlp.params = np.zeros(mlp.n_params)  # assignment copies into the same buffer
    assert np.all(mlp.weights[0] == 0) and np.shares_memory(mlp.weights[0], mlp.params)
    with pytest.raises(ValueError, match="params must have shape"):
        mlp.params = np.zeros(3)


def test_one_optimizer_call_updates_every_layer_in_place():
    mlp = MLP([2, 6, 6, 3], activation="relu", init="he_normal")
    before = [w.copy() for w in mlp.weights]
    rng = np.random.default_rng(6)
    X, y = rng.normal(size=(8, 2)), rng.integers(0, 3, size=8)
    opt = optimizers.make("sgd", lr=0.5)
    state = opt.init(mlp.params)
    _, g = mlp.value_and_grad(X, y)
    opt.step_(mlp.params, g.flat, state)
    for w, w0, gw in zip(mlp.weights, before, g.weights, strict=True):
        np.testing.assert_allclose(w, w0 - 0.5 * gw)


def test_gradients_reuse_buffer_and_per_layer_signals():
    mlp = _net("tanh")
    rng = np.random.default_rng(7)
    X, y = rng.normal(size=(5, 3)), rng.integers(0, 2, size=5)
    g = mlp.new_gradients()
    _, g2 = mlp.value_and_grad(X, y, out=g)
    assert g2 is g and np.shares_memory(g.weights[0], g.flat)
    out, cache = mlp.forward(X)
    assert len(g.activations) == len(g.pre_activations) == mlp.n_layers
    for i in range(mlp.n_layers):
        assert g.activations[i].shape == cache.pre_activations[i].shape
    # dL/dW_l = h_l^T dL/dz_l
    np.testing.assert_allclose(g.weights[1], cache.inputs[1].T @ g.pre_activations[1])


def test_copy_is_independent():
    mlp = MLP([2, 3, 2])
    twin = mlp.copy()
    twin.params[:] = 7.0
    assert not np.any(mlp.params == 7.0)
    assert np.shares_memory(twin.weights[0], twin.params)


# ---------------------------------------------------------------- behaviour
def test_identity_linear_net_scales_activations_and_gradients_by_c_per_layer():
    c, depth = 1.5, 8
    mlp = MLP([4] * (depth + 1), activation="linear", init="identity", init_scale=c)
    X = np.random.default_rng(8).normal(size=(3, 4))
    out, cache = mlp.forward(X)
    for i, h in enumerate(cache.inputs):
        np.testing.assert_allclose(h, X * c**i, rtol=1e-12)
    np.testing.assert_allclose(out, X * c**depth, rtol=1e-12)
    dout = np.ones_like(out)
    g = mlp.backward(cache, dout, input_grad=True)
    for i in range(depth):
        np.testing.assert_allclose(g.activations[i], dout * c ** (depth - 1 - i), rtol=1e-12)
    np.testing.assert_allclose(g.input, dout * c**depth, rtol=1e-12)


def test_residual_block_adds_its_input():
    mlp = MLP([3, 4, 4, 4, 2], residual=True, seed=1)
    assert mlp.residual_layers == (False, True, True, False)
    X = np.random.default_rng(9).normal(size=(5, 3))
    _, cache = mlp.forward(X)
    np.testing.assert_allclose(cache.inputs[2], cache.inputs[1] + np.tanh(cache.pre_activations[1]))
    assert MLP([3, 4, 5, 4, 2], residual=True).residual_layers == (False,) * 4


def test_dropout_only_in_training_and_seeded():
    mlp = MLP([3, 200, 2], keep_prob=0.5, activation="relu")
    X = np.random.default_rng(10).normal(size=(50, 3))
    plain = mlp.predict(X)
    a1 = mlp.forward(X, train=True, rng=np.random.default_rng(0))[1]
    a2 = mlp.forward(X, train=True, rng=np.random.default_rng(0))[1]
    np.testing.assert_array_equal(a1.inputs[1], a2.inputs[1])
    m = a1.masks[0]
    assert set(np.unique(m)) == {0.0, 2.0}
    assert 0.45 < np.mean(m > 0) < 0.55
    np.testing.assert_allclose(a1.inputs[1], a1.activations[0] * m)
    np.testing.assert_array_equal(mlp.forward(X, train=False)[0], plain)
    with pytest.raises(ValueError, match="needs rng"):
        mlp.forward(X, train=True)


def test_same_seed_same_weights_and_layers_do_not_depend_on_depth():
    a, b = MLP([3, 5, 5, 2], seed=4), MLP([3, 5, 5, 2], seed=4)
    np.testing.assert_array_equal(a.params, b.params)
    assert not np.array_equal(a.params, MLP([3, 5, 5, 2], seed=5).params)
    deeper = MLP([3, 5, 5, 5, 2], seed=4)
    np.testing.assert_array_equal(deeper.weights[0], a.weights[0])


@pytest.mark.parametrize("act", ACTS)
def test_float32_stays_float32(act):
    mlp = MLP([3, 6, 6, 2], activation=act, dtype=np.float32, keep_prob=0.9)
    assert mlp.params.dtype == np.float32
    rng = np.random.default_rng(11)
    X, y = rng.normal(size=(5, 3)), rng.integers(0, 2, size=5)
    out, cache = mlp.forward(X, train=True, rng=rng)
    assert out.dtype == np.float32
    assert all(z.dtype == np.float32 for z in cache.pre_activations)
    _, g = mlp.value_and_grad(X, y, train=True, rng=rng)
    assert g.flat.dtype == np.float32 and all(s.dtype == np.float32 for s in g.activations)


def test_losses_are_stable_on_extreme_logits():
    out = np.array([[1000.0, -1000.0], [-800.0, 800.0]])
    for name, y in [("cross_entropy", np.array([0, 0])), ("bce", np.array([[1.0, 0], [1, 0]]))]:
        value, dout = losses.LOSSES[name](out, y)
        assert np.isfinite(value) and np.all(np.isfinite(dout))
    value, _ = losses.LOSSES["cross_entropy"](out, np.array([0, 0]))
    assert value == pytest.approx(1600.0 / 2)  # second row: -log softmax = 1600
    s = activations.sigmoid(np.array([-800.0, -40.0, 0.0, 40.0, 800.0]))
    assert s[0] == 0.0 and s[1] == pytest.approx(np.exp(-40.0), rel=1e-14) and s[2] == 0.5


def test_cross_entropy_soft_targets_equal_one_hot_for_hard_labels():
    rng = np.random.default_rng(12)
    out, y = rng.normal(size=(5, 3)), rng.integers(0, 3, size=5)
    hard = losses.LOSSES["cross_entropy"](out, y)
    soft = losses.LOSSES["cross_entropy"](out, np.eye(3)[y])
    assert hard[0] == pytest.approx(soft[0])
    np.testing.assert_allclose(hard[1], soft[1])


def test_saturation_notions():
    sat = activations.ACTIVATIONS
    z = np.array([-10.0, -0.5, 0.0, 0.5, 10.0])
    assert sat["sigmoid"].saturated(z, activations.sigmoid(z), 0).tolist() == [1, 0, 0, 0, 1]
    assert sat["tanh"].saturated(z, np.tanh(z), 0).tolist() == [1, 0, 0, 0, 1]
    assert sat["relu"].saturated(z, np.maximum(z, 0), 0).tolist() == [1, 1, 1, 0, 0]
    assert not sat["linear"].saturated(z, z, 0).any()
    assert sat["relu"].saturation_kind == "dead"


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(sizes=[3]), "at least an input and an output"),
        (dict(sizes=[3, 0, 2]), "Invalid layer width at index 1"),
        (dict(sizes=[3, 2.5, 2]), "Invalid layer width at index 1"),
        (dict(sizes=[3, 2], activation="swish"), "Unknown activation 'swish'"),
        (dict(sizes=[3, 2], init="glorot"), "Unknown init 'glorot'"),
        (dict(sizes=[3, 2], init_scale=float("nan")), "Invalid init_scale"),
        (dict(sizes=[3, 2], keep_prob=0.0), r"keep_prob must be in \(0, 1\]"),
        (dict(sizes=[3, 2], dtype=np.int64), "dtype must be float64 or float32"),
    ],
)
def test_bad_configuration_is_a_clear_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MLP(**kwargs)


def test_bad_data_is_a_clear_value_error():
    mlp = MLP([3, 4, 2])
    with pytest.raises(ValueError, match=r"Expected input of shape \(N, 3\)"):
        mlp.predict(np.zeros((5, 4)))
    with pytest.raises(ValueError, match="Target 2 is out of bounds"):
        mlp.loss_and_grads(np.zeros((2, 3)), np.array([0, 2]))
    with pytest.raises(ValueError, match="Unknown loss 'hinge'"):
        mlp.loss_and_grads(np.zeros((2, 3)), np.array([0, 1]), loss="hinge")
    with pytest.raises(ValueError, match="target size"):
        mlp.loss_and_grads(np.zeros((2, 3)), np.zeros((2, 3)), loss="mse")
    # an (N,) target for a single output is read as (N, 1)
    one = MLP([3, 4, 1])
    value, _, _ = one.loss_and_grads(np.ones((2, 3)), np.array([0.0, 1.0]), loss="bce")
    assert np.isfinite(value)
