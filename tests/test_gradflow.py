"""engine.gradflow: per-layer statistics, theory curves, verdicts, training task; its figures."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from engine import gradflow as gf
from engine.jobs import JobManager, Status
from engine.knobs import validate_all
from engine.nn import MLP
from viz import gradients as vg

SPEC = gf.DataSpec("moons", 64, 0)


def preset(name: str, k: int = 0) -> gf.FlowConfig:
    return gf.PRESETS[name].configs[k]


# ------------------------------------------------------------------ theory curves
@pytest.mark.parametrize("c", [1.5, 0.5])
def test_scaled_identity_linear_net_matches_c_power_law_at_every_layer(c):
    p = gf.profile(gf.FlowConfig(50, 32, "linear", "identity", c), SPEC)
    th = p.theory
    assert th is not None and th.kind == "exact"
    L = np.arange(1, 51)
    # the theory is c^(L-l) times the output gradient, independently of the other layers
    np.testing.assert_allclose(th.act_grad, p.act_grad[-1] * c ** (50.0 - L), rtol=1e-15)
    np.testing.assert_allclose(p.act_grad, th.act_grad, rtol=1e-9, atol=0)
    np.testing.assert_allclose(p.weight_grad, th.weight_grad, rtol=1e-9, atol=0)
    ratio = p.act_grad[0] / p.act_grad[-1]
    assert math.isclose(ratio, c**49, rel_tol=1e-9)


def test_identity_theory_anchor_is_the_exact_loss_gradient():
    """‖∂L/∂Y‖ and ‖Xᵀ ∂L/∂Y‖ recomputed by hand give the theory's anchors."""
    cfg = gf.FlowConfig(6, 8, "linear", "identity", 1.5)
    X, y, data = gf.batch_of(SPEC)
    out = X @ np.eye(2) * 1.5**6  # W = c·I padded/truncated: Y = c^L X on the two features
    e = np.exp(out - out.max(axis=1, keepdims=True))
    dout = (e / e.sum(axis=1, keepdims=True) - np.eye(2)[y]) / len(y)
    p = gf.profile(cfg, SPEC)
    assert math.isclose(p.act_grad[-1], np.linalg.norm(dout), rel_tol=1e-12)
    assert math.isclose(p.weight_grad[0], 1.5**5 * np.linalg.norm(X.T @ dout), rel_tol=1e-12)


def test_sigmoid_bound_holds_and_shrinks_by_a_quarter_norm_per_layer():
    p = gf.profile(preset("Deep sigmoid, small init"), SPEC)
    th = p.theory
    assert th.kind == "bound"
    assert np.all(p.act_grad <= th.act_grad * (1 + 1e-12))
    net = MLP((2, *[64] * 19, 2), "sigmoid", "normal", 0, 0.1)
    s = np.linalg.norm(net.weights[5], 2)
    assert math.isclose(th.act_grad[4] / th.act_grad[5], 0.25 * s, rel_tol=1e-12)


def test_no_theory_where_none_applies():
    assert gf.profile(gf.FlowConfig(5, 16, "relu", "he_normal"), SPEC).theory is None
    res = gf.FlowConfig(5, 16, "sigmoid", "normal", residual=True)
    assert gf.profile(res, SPEC).theory is None


# ------------------------------------------------------------------ fast path: pool, shared draws
@pytest.mark.parametrize("init", gf.SCALED_NORMAL)
@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_shared_draws_give_bitwise_the_weights_the_network_draws_itself(init, activation):
    cfg = gf.FlowConfig(4, 8, activation, init, 1.7)
    _, _, data = gf.batch_of(SPEC)
    draws = gf.Draws(SPEC.seed)
    other, _ = gf.build_net(gf.FlowConfig(4, 8, "tanh", "lecun", 0.3), data, SPEC.seed, draws)
    shared, _ = gf.build_net(cfg, data, SPEC.seed, draws)  # reuses the z drawn for `other`
    own, _ = gf.build_net(cfg, data, SPEC.seed)
    assert shared.init == own.init == init
    for a, b, c in zip(shared.weights, own.weights, other.weights, strict=True):
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)
    np.testing.assert_array_equal(shared.params, own.params)


def test_parallel_profiles_equal_serial_ones_bitwise_and_are_memoized():
    cfgs = (
        gf.FlowConfig(12, 16, "sigmoid", "normal", 0.1),  # two spectral-norm tasks at once
        gf.FlowConfig(9, 16, "sigmoid", "xavier_normal"),
        gf.FlowConfig(12, 16, "relu", "he_normal"),
        gf.FlowConfig(12, 16, "linear", "identity", 1.5),
        gf.FlowConfig(12, 16, "tanh", "orthogonal"),
    )
    spec = gf.DataSpec("moons", 48, 3)
    fast = gf.profiles(cfgs, spec, memo=False)
    slow = gf.profiles(cfgs, spec, parallel=False, memo=False)
    for a, b in zip(fast, slow, strict=True):
        assert a.config == b.config
        for field in ("weight_grad", "act_grad", "act_std", "saturated", "dead"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
        if b.theory is not None:
            np.testing.assert_array_equal(a.theory.act_grad, b.theory.act_grad)
    first = gf.profiles(cfgs[:2], spec)
    again = gf.profiles(cfgs[1::-1], spec)  # order follows the request; memo hits are shared
    assert again[0] is first[1] and again[1] is first[0]
    assert gf.profile(cfgs[0], spec) is first[0]
    with pytest.raises(ValueError):
        first[0].act_grad[0] = 1.0  # shared between sessions: read-only


# ------------------------------------------------------------------ per-layer statistics
def test_sigmoid_small_normal_vanishes_and_he_relu_stays_within_10x():
    sig = gf.profile(preset("Deep sigmoid, small init"), gf.DataSpec())
    assert sig.config.depth == 20
    assert sig.weight_grad[0] <= 1e-4 * sig.weight_grad[-1]
    assert sig.act_grad[0] <= 1e-4 * sig.act_grad[-1]
    he = gf.profile(gf.FlowConfig(20, 64, "relu", "he_normal"), gf.DataSpec())
    assert he.act_grad.max() / he.act_grad.min() < 10
    hidden = he.weight_grad[1:]  # W_1 is 2x64 (two input features): smaller by shape alone
    assert hidden.max() / hidden.min() < 10


def test_profile_statistics_match_a_direct_forward_backward():
    cfg = gf.FlowConfig(4, 16, "tanh", "xavier_normal")
    p = gf.profile(cfg, SPEC)
    X, y, _ = gf.batch_of(SPEC)
    net = MLP((2, 16, 16, 16, 2), "tanh", "xavier_normal", SPEC.seed)
    _, cache = net.forward(X)
    _, g = net.value_and_grad(X, y)
    np.testing.assert_allclose(p.weight_grad, [np.linalg.norm(w) for w in g.weights], rtol=1e-12)
    np.testing.assert_allclose(p.act_grad, [np.linalg.norm(a) for a in g.activations], rtol=1e-12)
    np.testing.assert_allclose(p.act_std, [h.std() for h in cache.hidden], rtol=1e-12)
    sat = [np.mean(np.abs(a) > 0.98) for a in cache.activations]
    np.testing.assert_allclose(p.saturated, sat)
    assert np.isnan(p.dead).all()


def test_dead_relu_fraction_counts_units_silent_for_the_whole_batch():
    p = gf.profile(gf.FlowConfig(3, 8, "relu", "uniform", 1.0), SPEC)
    X, _, _ = gf.batch_of(SPEC)
    net = MLP((2, 8, 8, 2), "relu", "uniform", SPEC.seed, 1.0)
    _, cache = net.forward(X)
    dead = [np.mean(np.all(z <= 0, axis=0)) for z in cache.pre_activations[:-1]]
    np.testing.assert_allclose(p.dead, dead)


def test_clipping_scales_weight_gradients_by_the_global_factor():
    raw = gf.profile(preset("ReLU, large init"), SPEC)
    clipped = gf.profile(preset("Fix: clipping", 1), SPEC)
    assert clipped.config.clip == 1.0 and clipped.clip_factor < 1
    np.testing.assert_allclose(clipped.weight_grad, raw.weight_grad * clipped.clip_factor)
    np.testing.assert_array_equal(clipped.act_grad, raw.act_grad)


def test_safe_norm_survives_huge_finite_values_and_flags_non_finite():
    a = np.full(10, 1e200)
    assert math.isclose(gf.safe_norm(a), 1e200 * math.sqrt(10), rel_tol=1e-12)
    assert gf.safe_norm(np.array([1.0, np.inf])) != gf.safe_norm(np.array([1.0, np.inf]))
    assert gf.safe_norm(np.zeros(3)) == 0.0
    assert math.isclose(gf.safe_norm(np.array([3e-170, 4e-170])), 5e-170, rel_tol=1e-12)


def test_overflow_is_reported_at_a_layer_not_as_nan_or_crash():
    p = gf.profile(preset("ReLU, huge init (overflow)"), SPEC)
    assert p.overflow_where == "forward"
    k = p.overflow_layer
    assert 1 < k <= 200
    assert np.isfinite(p.act_std[: k - 1]).all() and not np.isfinite(p.act_std[k - 1 :]).any()
    v = gf.diagnose(p)
    assert v.kind == "overflow" and f"layer {k}" in v.headline
    assert "nan" not in " ".join((v.headline, *v.evidence)).lower()
    fig = vg.profile_figure([p], ["1"])
    text = fig.to_json()
    assert "NaN" not in text and "overflow at layer" in text


# ------------------------------------------------------------------ verdicts
@pytest.mark.parametrize(
    ("name", "k", "kind"),
    [
        ("Linear W = 1.5·I", 0, "exploding"),
        ("Linear W = 0.5·I", 0, "vanishing"),
        ("Deep sigmoid, small init", 0, "vanishing"),
        ("ReLU, large init", 0, "exploding"),
        ("Fix: He init", 1, "healthy"),
        ("Fix: Xavier for tanh", 1, "healthy"),
        ("Fix: residual", 1, "healthy"),
    ],
)
def test_verdicts_of_the_presets(name, k, kind):
    v = gf.diagnose(gf.profile(preset(name, k), gf.DataSpec()))
    assert v.kind == kind
    assert v.evidence and any(ch.isdigit() for ch in v.evidence[0])
    assert (kind == "healthy") == (not v.fixes)


def test_fixes_change_the_broken_setting():
    v = gf.diagnose(gf.profile(preset("Deep sigmoid, small init"), SPEC))
    labels = {f.label: f.config for f in v.fixes}
    assert labels["ReLU + He init"].activation == "relu"
    assert labels["Residual"].residual
    fixed = gf.diagnose(gf.profile(labels["ReLU + He init"], SPEC))
    assert fixed.kind == "healthy"
    ident = gf.diagnose(gf.profile(preset("Linear W = 1.5·I"), SPEC))
    assert any(f.config.scale == 1.0 and f.config.init == "identity" for f in ident.fixes)


def test_dead_verdict():
    p = gf.profile(gf.FlowConfig(3, 8, "relu", "uniform", 1.0), SPEC)
    fake = gf.Profile(**{**p.__dict__, "dead": np.array([0.0, 0.75])})
    fake = gf.Profile(**{**fake.__dict__, "act_grad": np.ones(3), "weight_grad_raw": np.ones(3)})
    v = gf.diagnose(fake)
    assert v.kind == "dead" and "75%" in v.headline and "layer 2" in v.headline


# ------------------------------------------------------------------ fixes measured before offered
EVERY_PRESET_CONFIG = [(name, k) for name, p in gf.PRESETS.items() for k in range(len(p.configs))]


@pytest.mark.parametrize(("name", "k"), EVERY_PRESET_CONFIG)
def test_a_fix_is_offered_exactly_when_its_measured_verdict_is_healthier(name, k):
    cfg = preset(name, k)
    broken = gf.diagnose(gf.profile(cfg))
    [(_, offered)] = gf.verdicts((cfg,))
    offered = {f.config: f for f in offered.fixes}
    for candidate in broken.fixes:
        measured = gf.diagnose(gf.profile(candidate.config))
        better = measured.severity < broken.severity or (
            measured.kind == broken.kind
            and measured.kind in ("vanishing", "exploding")
            and measured.decades() <= broken.decades() - 2
        )
        assert (candidate.config in offered) == better, (name, candidate.label, measured.kind)
        if better:
            fix = offered[candidate.config]
            assert fix.predicted.kind == measured.kind
            assert fix.predicted.short() in fix.button_label()


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("Linear W = 0.5·I", "Residual"),  # vanishing turns into exploding (1.4e8x)
        ("Linear W = 0.5·I", "Clip at 1"),  # clipping cannot raise a vanishing gradient
        ("Deep sigmoid, small init", "Clip at 1"),
        ("ReLU, large init", "Leaky ReLU"),  # still explodes (2.6e14x)
        ("ReLU, huge init (overflow)", "Clip at 1"),  # all three still overflow
        ("ReLU, huge init (overflow)", "Residual"),
        ("ReLU, huge init (overflow)", "Leaky ReLU"),
    ],
)
def test_fixes_that_do_not_fix_are_not_offered(name, label):
    cfg = preset(name)
    assert label in {f.label for f in gf.diagnose(gf.profile(cfg)).fixes}  # a candidate...
    [(_, v)] = gf.verdicts((cfg,))
    assert label not in {f.label for f in v.fixes}  # ...measured and dropped
    assert v.fixes, "some fix still helps"


@pytest.mark.parametrize("act", ["linear", "sigmoid", "tanh", "leaky_relu"])
def test_units_that_cannot_die_are_never_called_dead(act):
    for depth in (20, 60):
        p = gf.profile(gf.FlowConfig(depth, 64, act, "he_normal"))
        assert gf.diagnose(p).kind != "dead"
    fake = gf.Profile(**{**p.__dict__, "dead": np.full(depth - 1, 0.9)})
    fake = gf.Profile(
        **{**fake.__dict__, "act_grad": np.ones(depth), "weight_grad_raw": np.ones(depth)}
    )
    assert gf.diagnose(fake).kind == "healthy"


# ------------------------------------------------------------------ knobs and presets
def test_knobs_round_trip_and_clamp_bad_input():
    raw = {"depth1": "999", "width1": "-3", "act1": "swish", "c1": "nan", "n": "9"}
    values, problems = validate_all(gf.all_knobs(1), raw)
    assert values["depth1"] == gf.MAX_DEPTH and values["width1"] == 1
    assert values["act1"] == gf.SLOT_DEFAULTS[0].activation
    assert values["c1"] == gf.SLOT_DEFAULTS[0].scale and values["n"] == gf.MAX_CONFIGS
    assert len(problems) == 5
    cfg = preset("Fix: clipping", 1)
    assert gf.config_from(gf.config_values(cfg, 3), 3) == cfg


def test_every_preset_fits_the_caps_and_profiles_cleanly():
    for p in gf.PRESETS.values():
        assert 1 <= len(p.configs) <= gf.MAX_CONFIGS
        for i, cfg in enumerate(p.configs, start=1):
            _, problems = validate_all(gf.slot_knobs(i, cfg), gf.config_values(cfg, i))
            assert problems == []


# ------------------------------------------------------------------ training task and job
def test_flow_training_runs_exactly_steps_and_records_layer_norms():
    cfgs = (gf.FlowConfig(4, 8, "tanh", "xavier_normal"), gf.FlowConfig(6, 8, "relu", "he_normal"))
    task = gf.FlowTraining(cfgs, gf.DataSpec("moons", 32, 1), 23)
    while not task.done:
        task.step()
    view = task.publish()
    assert view.labels == tuple(c.label() for c in cfgs) and view.steps == 23
    assert [h.grad_norms.shape for h in view.histories] == [(23, 4), (23, 6)]
    assert task.steps_done == task.total_steps == 23  # one configuration's steps


def test_flow_training_as_a_background_job_publishes_snapshots():
    mgr = JobManager(max_running=1)
    job = mgr.submit(
        lambda: gf.FlowTraining((gf.FlowConfig(3, 8),), gf.DataSpec("moons", 16, 0), 40),
        name="t",
    )
    assert job.join(30)
    snap = job.snapshot()
    assert snap.status is Status.DONE and snap.steps_done == 40
    from pages.common.jobs import progress_text

    # counted in steps (a 40-step run on 16-sample batches is 9 "epochs")
    assert progress_text(snap, unit="step").startswith("step 40/40 · 100%")
    assert snap.history.histories[0].grad_norms.shape == (40, 3)


def test_diverging_configuration_stops_alone():
    cfgs = (gf.FlowConfig(30, 16, "relu", "normal", 3.0), gf.FlowConfig(3, 8))
    task = gf.FlowTraining(cfgs, gf.DataSpec("moons", 32, 0), 30, "sgd", 1.0)
    while not task.done:
        task.step()
    bad, good = task.publish().histories
    assert bad.diverged_at is not None and len(good.step_loss) == 30
    fig = vg.heatmap_figure(task.publish().histories, ["a", "b"])
    assert "NaN" not in fig.to_json()


# ------------------------------------------------------------------ figures
def test_figures_are_small_and_name_their_axes():
    ps = [gf.profile(c, SPEC) for c in gf.SLOT_DEFAULTS]
    names = [c.label() for c in gf.SLOT_DEFAULTS]
    hero = vg.profile_figure(ps, names)
    assert hero.layout.yaxis.type == "log" and hero.layout.title.text
    colours = {t.line.color for t in hero.data if t.name == names[1]}
    assert colours == {vg.color(1)}
    assert len(hero.to_json()) < 2_000_000
    table = vg.layer_table(ps, names)
    assert len(table) == sum(c.depth for c in gf.SLOT_DEFAULTS)
    assert json.loads(vg.activation_panel().to_json())["layout"]["shapes"]


def test_heatmap_is_binned_to_a_bounded_size():
    task = gf.FlowTraining((gf.FlowConfig(5, 8),), gf.DataSpec("moons", 8, 0), 450)
    while not task.done:
        task.step()
    fig = vg.heatmap_figure(task.publish().histories, ["a"])
    z = np.asarray(fig.data[0].z)
    assert z.shape == (5, vg.MAX_HEATMAP_COLUMNS)
    assert vg.heatmap_figure([None], ["a"]).layout.annotations
