"""engine.regularizers: penalties and their gradients, L1 methods, global-norm clipping."""

from __future__ import annotations

import numpy as np
import pytest

from engine import optimizers
from engine import regularizers as R
from engine.nn import MLP

W = np.array([1.0, -2.0, 0.0, 0.5, -0.25])
MASK = np.array([True, True, True, True, False])


def test_penalties_follow_the_notes_definitions_on_masked_entries():
    assert R.l1_penalty(W, 0.5, MASK) == pytest.approx(0.5 * (1 + 2 + 0 + 0.5))
    assert R.l2_penalty(W, 0.5, MASK) == pytest.approx(0.5 * (1 + 4 + 0 + 0.25))
    assert R.elastic_penalty(W, 0.5, 0.1, MASK) == pytest.approx(
        R.l1_penalty(W, 0.5, MASK) + R.l2_penalty(W, 0.1, MASK)
    )
    np.testing.assert_array_equal(R.l1_grad(W, 0.5, MASK), [0.5, -0.5, 0, 0.5, 0])
    np.testing.assert_array_equal(R.l2_grad(W, 0.5, MASK), [1.0, -2.0, 0, 0.5, 0])
    assert R.l1_penalty(W, 0.5) == pytest.approx(0.5 * 3.75)  # no mask: every entry


def test_l2_lambda_is_half_of_torch_weight_decay():
    wd = 0.2
    mlp = MLP([3, 4, 2])
    mlp.biases[0][:] = 0.3
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(5, 3)), rng.integers(0, 2, size=5)
    _, g = mlp.value_and_grad(X, y)
    torch_like = optimizers.make("sgd", lr=0.1, weight_decay=wd)
    ours = optimizers.make("sgd", lr=0.1)
    a, b = mlp.params.copy(), mlp.params.copy()
    torch_like.step_(a, g.flat, torch_like.init(a))
    grad = g.flat.copy()
    R.Regularizer(l2=wd / 2, include_biases=True).add_grad_(grad, b, mlp.weight_mask)
    ours.step_(b, grad, ours.init(b))
    np.testing.assert_allclose(a, b, rtol=1e-14)


def test_soft_threshold_gives_exact_zeros_and_shrinks_the_rest():
    w = W.copy()
    R.soft_threshold_(w, 0.6, MASK)
    np.testing.assert_allclose(w, [0.4, -1.4, 0.0, 0.0, -0.25])


def test_truncation_zeroes_exactly_the_sign_flips():
    before = np.array([0.3, -0.2, 0.5, 0.0, 0.1])
    after = np.array([-0.1, 0.05, 0.4, 0.2, -0.3])
    n = R.truncate_sign_flips_(after, before, MASK)
    np.testing.assert_array_equal(after, [0.0, 0.0, 0.4, 0.2, -0.3])  # last one is a bias
    assert n == 2


def _sparse_problem():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(64, 10))
    y = X[:, :2] @ np.array([[1.0], [-1.0]])  # only 2 of 10 inputs matter
    return X, y


def _train(method, steps=300, lr=0.05, lam=0.05, opt="sgd"):
    X, y = _sparse_problem()
    mlp = MLP([10, 1], activation="linear", init="normal", init_scale=0.3, seed=2)
    reg = R.Regularizer(l1=lam, l1_method=method)
    o = optimizers.make(opt, lr=lr)
    state = o.init(mlp.params)
    for _ in range(steps):
        _, g = mlp.value_and_grad(X, y, "mse")
        before = reg.before_step(mlp.params)
        reg.add_grad_(g.flat, mlp.params, mlp.weight_mask)
        o.step_(mlp.params, g.flat, state)
        reg.after_step_(mlp.params, lr, mlp.weight_mask, before)
    return mlp.weights[0].ravel()


@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_proximal_and_truncation_give_exact_zeros_subgradient_none(opt):
    sub = _train("subgradient", opt=opt)
    prox = _train("proximal", opt=opt)
    assert np.count_nonzero(sub == 0) == 0
    assert np.count_nonzero(prox[2:] == 0) >= 6  # the 8 useless inputs are (mostly) pruned
    assert np.all(prox[:2] != 0)  # the useful ones survive
    # subgradient L1 leaves the useless weights dithering around 0 instead
    assert np.max(np.abs(sub[2:])) < 0.1


def test_truncation_with_sgd_gives_exact_zeros():
    # (with Adam, momentum pushes truncated weights off 0 again on the next step: see module doc)
    trunc = _train("truncation")
    assert np.count_nonzero(trunc[2:] == 0) >= 4
    assert np.all(trunc[:2] != 0)


def test_clip_grad_norm():
    g = np.array([3.0, 4.0])
    assert R.clip_grad_norm_(g, 1.0) == pytest.approx(5.0)
    assert np.linalg.norm(g) == pytest.approx(1.0 * 5.0 / (5.0 + 1e-6))
    small = np.array([0.3, 0.4])
    assert R.clip_grad_norm_(small, 1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(small, [0.3, 0.4])
    bad = np.array([np.inf, 1.0])
    assert R.clip_grad_norm_(bad, 1.0) == np.inf
    with pytest.raises(ValueError, match="max_norm must be a positive number"):
        R.clip_grad_norm_(g, 0.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(l1=-0.1), "Invalid l1 value"),
        (dict(l2=float("nan")), "Invalid l2 value"),
        (dict(l1=0.1, l1_method="lasso"), "Unknown l1_method 'lasso'"),
    ],
)
def test_bad_regularizer_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        R.Regularizer(**kwargs)


def test_inactive_regularizer_changes_nothing():
    reg = R.Regularizer()
    w, g = W.copy(), np.ones(5)
    reg.add_grad_(g, w, MASK)
    reg.after_step_(w, 0.1, MASK, reg.before_step(w))
    assert reg.penalty(w, MASK) == 0.0
    np.testing.assert_array_equal(g, 1.0)
    np.testing.assert_array_equal(w, W)
