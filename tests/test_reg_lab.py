"""Engine tests for the Regularization lab: variants, twin runs, histograms, sparsity, the
2-weight L1/L2 geometry and the coefficient paths (engine.reg_lab, engine.reg_geometry)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import reg_geometry as rg
from engine import reg_lab as rl
from engine.datasets import make_dataset
from engine.diagnostics import histogram, shared_bins
from engine.jobs import JobManager, Status
from engine.knobs import validate_all
from pages.common import reg_config as rc


# ------------------------------------------------------------------------------ default preset
@pytest.fixture(scope="module")
def default_runs():
    task = rl.TwinRuns(rl.DEFAULT_LAB)
    return task, task.run()


def _first_layer(run: rl.VariantRun) -> np.ndarray:
    return run.final[run.history.weight_slices[0]]


def test_twins_share_data_initial_weights_and_differ_only_by_regularizer(default_runs):
    task, runs = default_runs
    assert all(t.data is task.data for t in task.trainers)
    w0 = [r.history.snapshots[0] for r in runs]
    for w in w0[1:]:
        np.testing.assert_array_equal(w, w0[0])
    assert [c.regularizer for c in rl.DEFAULT_LAB.configs()] == ["none", "l1", "l2", "none"]
    assert [c.keep_prob for c in rl.DEFAULT_LAB.configs()] == [1.0, 1.0, 1.0, 0.7]


def test_default_preset_proximal_l1_is_sparse_and_l2_none_are_not(default_runs):
    _, runs = default_runs
    kinds = [v.kind for v in rl.DEFAULT_LAB.variants]
    zero_share = {k: float(np.mean(_first_layer(r) == 0)) for k, r in zip(kinds, runs, strict=True)}
    assert rl.DEFAULT_LAB.variants[1].method == "proximal"
    assert zero_share["l1"] >= 0.5
    assert zero_share["none"] < 0.01
    assert zero_share["l2"] < 0.01


def test_default_preset_regularizers_generalize_better_than_none(default_runs):
    _, runs = default_runs
    best = {
        v.kind: float(np.min(r.history.val_loss))
        for v, r in zip(rl.DEFAULT_LAB.variants, runs, strict=True)
    }
    final = {
        v.kind: float(r.history.val_loss[-1])
        for v, r in zip(rl.DEFAULT_LAB.variants, runs, strict=True)
    }
    assert best["l1"] < best["none"]
    assert best["l2"] < best["none"]
    # dropout must not teach the opposite lesson: better at its best and at the end
    assert best["dropout"] < best["none"]
    assert final["dropout"] < final["none"]
    # and it is overfitting that they fix: the unregularized run fits the training set
    none = runs[0].history
    assert none.train_loss[-1] < 0.1 * none.val_loss[-1]


def test_runs_are_deterministic():
    lab = rl.replace_base(rl.DEFAULT_LAB, epochs=5)
    a, b = rl.TwinRuns(lab).run(), rl.TwinRuns(lab).run()
    for ra, rb in zip(a, b, strict=True):
        np.testing.assert_array_equal(ra.final, rb.final)
        np.testing.assert_array_equal(ra.history.val_loss, rb.history.val_loss)


def test_a_diverging_variant_stops_alone_and_the_others_finish():
    lab = rl.LabConfig(
        rl.DEFAULT_BASE.replace(epochs=100),
        (rl.Variant("none"), rl.Variant("l2", l2=100.0), rl.Variant("l1", l1=0.02)),
    )
    task = rl.TwinRuns(lab)
    runs = task.run()
    assert runs[1].history.diverged_at is not None
    assert runs[1].history.message.startswith(("diverged", "exploded"))
    assert task.divergence is None  # not every variant diverged
    for r in (runs[0], runs[2]):
        assert r.history.diverged_at is None
        assert r.history.epochs_done == 100
        assert np.all(np.isfinite(r.history.val_loss))
    assert np.all(np.isfinite(runs[1].history.val_loss))  # nothing non-finite recorded


def test_early_stopping_variant_stops_and_restores_the_best_epoch():
    lab = rl.LabConfig(rl.DEFAULT_BASE, (rl.Variant("none", patience=10),))
    (run,) = rl.TwinRuns(lab).run()
    h = run.history
    assert h.stopped_early
    assert h.restored_epoch == h.best_epoch == int(h.epochs[np.argmin(h.val_loss)])
    assert h.epochs_done == h.best_epoch + 10


def test_the_job_engine_runs_twin_runs_to_the_end():
    manager = JobManager(max_running=1)
    lab = rl.replace_base(rl.DEFAULT_LAB, epochs=20)
    job = manager.submit(lambda: rl.TwinRuns(lab), publish_interval=0.0)
    assert job.join(60)
    snap = job.snapshot()
    assert snap.status is Status.DONE
    assert len(snap.history) == len(lab.variants)
    assert all(r.final is not None and r.history.epochs_done == 20 for r in snap.history)
    assert snap.progress == 1.0


def test_steps_done_counts_finished_variants_as_complete():
    lab = rl.LabConfig(
        rl.DEFAULT_BASE.replace(epochs=10),
        (rl.Variant("none", patience=1), rl.Variant("none")),
    )
    task = rl.TwinRuns(lab)
    while not task.trainers[0].done:
        task.step()
    # one variant's steps (they run in lockstep): the one still training, not a sum
    assert task.steps_done == task.trainers[1].steps_done < task.total_steps
    assert task.total_steps == task.trainers[1].total_steps


# ------------------------------------------------------------------------------ variants
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "l3"}, "Unknown variant kind 'l3'"),
        ({"kind": "l1", "l1": -0.1}, "Invalid l1 value: -0.1"),
        ({"kind": "l2", "l2": math.nan}, "Invalid l2 value: nan"),
        ({"kind": "dropout", "keep_prob": 0.0}, "keep_prob must be in (0, 1], got 0.0"),
        ({"kind": "dropout", "keep_prob": 1.5}, "keep_prob must be in (0, 1], got 1.5"),
        ({"method": "magic"}, "Unknown l1_method 'magic'"),
        ({"patience": 0}, "Invalid patience value: 0"),
    ],
)
def test_variant_validation_messages(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        rl.Variant(**kwargs)


def test_canonical_variants_ignore_what_their_kind_does_not_use():
    a = rl.Variant("l2", l1=5.0, l2=0.1, method="truncation", keep_prob=0.3)
    assert a.canonical() == rl.Variant("l2", l2=0.1)
    assert rl.LabConfig(rl.DEFAULT_BASE, (a,)) == rl.LabConfig(
        rl.DEFAULT_BASE, (rl.Variant("l2", l2=0.1),)
    )
    cfg = rl.Variant("elastic", l1=0.1, l2=0.2, method="truncation").apply(rl.DEFAULT_BASE)
    assert (cfg.regularizer, cfg.l1, cfg.l2, cfg.l1_method) == ("elastic", 0.1, 0.2, "truncation")


def test_repeated_labels_are_numbered():
    lab = rl.LabConfig(rl.DEFAULT_BASE, (rl.Variant("none"), rl.Variant("none")))
    assert lab.labels() == ["none #1", "none #2"]


def test_too_many_variants_is_refused():
    with pytest.raises(ValueError, match="Invalid number of variants: 5"):
        rl.LabConfig(rl.DEFAULT_BASE, (rl.Variant(),) * 5)


@pytest.mark.parametrize("epochs", [1, 7, 99, 200, 2000])
def test_snapshots_are_capped(epochs):
    k = rl.snapshot_every(epochs)
    n = len(set(range(0, epochs + 1, k)) | {epochs})
    assert n <= rl.MAX_SNAPSHOTS
    assert k == 1 or len(set(range(0, epochs + 1, k - 1)) | {epochs}) > rl.MAX_SNAPSHOTS - 1


# ------------------------------------------------------------------------------ histograms
def test_histograms_use_one_binning_and_count_every_weight(default_runs):
    _, runs = default_runs
    hs = [r.history for r in runs]
    for layer in (None, 0, 1):
        bins = rl.histogram_bins(hs, layer)
        assert bins.lo == -bins.hi  # symmetric around 0
        hset = rl.weight_histograms(hs, 200, layer, bins)
        for h, hist, e in zip(hs, hset.hists, hset.epochs, strict=True):
            w = rl.layer_values(h, e, layer)
            assert hist.edges is bins.edges or np.array_equal(hist.edges, bins.edges)
            assert hist.counts.sum() == w.size
            assert hist.zeros == np.count_nonzero(w == 0)
            assert hist.counts[hist.zero_bin] >= hist.zeros


def test_histogram_bins_pool_every_run_and_epoch(default_runs):
    _, runs = default_runs
    hs = [r.history for r in runs]
    pooled = [rl.layer_values(h, e, 0) for h in hs for e in h.snapshots]
    expected = shared_bins(pooled, bins=60, symmetric=True)
    np.testing.assert_array_equal(rl.histogram_bins(hs, 0).edges, expected.edges)


def test_layer_values_split_the_weights_by_layer(default_runs):
    _, runs = default_runs
    h = runs[0].history
    parts = [rl.layer_values(h, 200, i) for i in range(len(h.sizes) - 1)]
    assert [p.size for p in parts] == [50 * 32, 32 * 2]
    np.testing.assert_array_equal(np.concatenate(parts), rl.layer_values(h, 200, None))
    np.testing.assert_array_equal(h.layer_weights(200)[0].ravel(), parts[0])


def test_weight_histograms_fall_back_to_the_last_snapshot_of_a_stopped_run():
    lab = rl.LabConfig(
        rl.DEFAULT_BASE.replace(epochs=40), (rl.Variant("none", patience=2), rl.Variant("none"))
    )
    hs = [r.history for r in rl.TwinRuns(lab).run()]
    bins = rl.histogram_bins(hs, 0)
    hset = rl.weight_histograms(hs, 40, 0, bins)
    assert hset.epochs[1] == 40
    assert hset.epochs[0] == max(hs[0].snapshots) < 40


def test_sparsity_curve_matches_a_direct_count(default_runs):
    _, runs = default_runs
    h = runs[1].history
    curve = rl.sparsity_curve(h, 0, eps=1e-3)
    for e, exact, near in zip(curve.epochs, curve.exact, curve.near, strict=True):
        w = h.layer_weights(int(e))[0]
        assert exact == np.count_nonzero(w == 0) / w.size
        assert near == np.count_nonzero(np.abs(w) < 1e-3) / w.size
    assert curve.exact[0] == 0.0 and curve.exact[-1] >= 0.5
    with pytest.raises(ValueError, match="Invalid eps value"):
        rl.sparsity_curve(h, 0, eps=0.0)


def test_zero_bin_and_exact_zero_count_on_a_hand_made_array():
    w = np.array([0.0, 0.0, 0.0, 0.2, -0.2, 0.05, -1.0, 1.0])
    bins = shared_bins([w], bins=4, percentile=(0, 100), symmetric=True)
    hist = histogram(w, bins)
    assert hist.zeros == 3
    assert list(hist.counts) == [1, 1, 5, 1]  # [-1,-.5) [-.5,0) [0,.5) [.5,1]


# ------------------------------------------------------------------------------ 2-weight model
def _kkt_l1(problem, w, lam, tol=1e-9):
    g = problem.H @ (w - problem.w_star)
    on = w != 0
    assert np.allclose(g[on] + lam * np.sign(w[on]), 0.0, atol=tol)
    assert np.all(np.abs(g[~on]) <= lam + tol)


def test_l1_and_l2_optima_at_zero_lambda_are_the_unregularized_optimum():
    p = rg.two_weight_problem()
    np.testing.assert_allclose(rg.l1_optimum(p, [0.0])[0], p.w_star, atol=1e-12)
    np.testing.assert_allclose(rg.l2_optimum(p, [0.0])[0], p.w_star, atol=1e-12)


def test_l1_optimum_reaches_an_axis_and_l2_does_not():
    p = rg.two_weight_problem()
    lams = np.linspace(0.0, 2.0, 81)
    w1, w2 = rg.l1_optimum(p, lams), rg.l2_optimum(p, lams)
    lam0 = rg.l1_zero_lambda(p)
    assert 0 < lam0 < 2
    assert np.all(np.any(w1[lams > lam0 + 1e-9] == 0, axis=1))
    assert not np.any(w1[lams < lam0 - 1e-9] == 0)
    assert not np.any(w2 == 0)
    # L2 shrinks monotonically toward 0
    assert np.all(np.diff(np.linalg.norm(w2, axis=1)) < 0)


def test_l2_optimum_is_stationary():
    p = rg.two_weight_problem(w_star=(1.0, -2.0), angle_deg=70, cond=9)
    lams = np.array([0.01, 0.3, 5.0])
    w = rg.l2_optimum(p, lams)
    grad = (w - p.w_star) @ p.H + 2.0 * lams[:, None] * w
    np.testing.assert_allclose(grad, 0.0, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    wx=st.floats(-3, 3),
    wy=st.floats(-3, 3),
    angle=st.floats(0, 180),
    cond=st.floats(1, 50),
    lam=st.floats(0, 5),
)
def test_l1_optimum_satisfies_the_optimality_conditions(wx, wy, angle, cond, lam):
    p = rg.two_weight_problem((wx, wy), angle, cond)
    w = rg.l1_optimum(p, [lam])[0]
    _kkt_l1(p, w, lam, tol=1e-7)


def test_l1_optimum_beats_a_brute_force_grid():
    p = rg.two_weight_problem()
    g = np.linspace(-2, 2, 401)
    W = np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2)
    for lam in (0.2, 0.7, 1.5):
        w = rg.l1_optimum(p, [lam])[0]
        obj = p.loss(W) + lam * np.abs(W).sum(axis=1)
        assert p.loss(w) + lam * np.abs(w).sum() <= obj.min() + 1e-12


# ------------------------------------------------------------------------------ coefficient paths
@pytest.fixture(scope="module")
def sparse_data():
    return make_dataset("sparse_regression")


def test_ridge_path_solves_the_normal_equations(sparse_data):
    X, y = sparse_data.X_train, sparse_data.y_train
    Xc, yc = X - X.mean(0), y - y.mean()
    lams = np.array([1e-3, 0.1, 1.0])
    W = rg.ridge_path(X, y, lams)
    for lam, w in zip(lams, W, strict=True):
        A = Xc.T @ Xc / len(y) + 2 * lam * np.eye(X.shape[1])
        np.testing.assert_allclose(w, np.linalg.solve(A, Xc.T @ yc / len(y)), atol=1e-10)


def test_lasso_path_satisfies_the_optimality_conditions(sparse_data):
    X, y = sparse_data.X_train, sparse_data.y_train
    Xc, yc = X - X.mean(0), y - y.mean()
    lams = np.geomspace(1e-3, 1.0, 6)
    W, converged = rg.lasso_path(X, y, lams, iters=20000, tol=1e-12)
    for lam, w in zip(lams, W, strict=True):
        g = Xc.T @ (Xc @ w - yc) / len(y)
        on = w != 0
        np.testing.assert_allclose(g[on] + lam * np.sign(w[on]), 0.0, atol=1e-6)
        assert np.all(np.abs(g[~on]) <= lam + 1e-6)


def test_coefficient_paths_keep_exactly_the_informative_features(sparse_data):
    paths = rg.coefficient_paths(sparse_data)
    assert paths.converged.all()
    support = [set(np.flatnonzero(w)) for w in paths.lasso]
    informative = set(sparse_data.informative.tolist())
    assert informative in support  # some λ keeps exactly the features that matter
    assert support[-1] == set()  # at λ_max every coefficient is 0
    assert not np.any(paths.ridge == 0)  # ridge zeroes nothing
    # lasso zeroes most irrelevant features somewhere along the path, ridge none
    assert len(support[len(support) // 2]) < sparse_data.n_features // 2


# ------------------------------------------------------------------------------ boundaries
def test_class_probability_on_a_grid():
    lab = rl.LabConfig(
        rl.DEFAULT_BASE.replace(dataset="moons", data_options={}, epochs=5), (rl.Variant(),)
    )
    task = rl.TwinRuns(lab)
    (run,) = task.run()
    xs, ys, pts = rl.boundary_grid(task.data, n=30)
    assert pts.shape == (900, 2) and xs.size == ys.size == 30
    net = rl.rebuild(lab.configs()[0], run.history.sizes, run.final)
    p = rl.class_probability(net, pts)
    assert p.shape == (900,) and np.all((p >= 0) & (p <= 1))
    trainer_p = task.trainers[0].predict_proba(pts)[:, -1]
    np.testing.assert_allclose(p, trainer_p, atol=1e-12)


# ------------------------------------------------------------------------------ page knobs
def test_default_knobs_give_the_default_lab():
    values, problems = validate_all(rc.all_knobs(4), {})
    lab, more = rc.lab_from_values(values)
    assert not problems and not more
    assert lab == rl.DEFAULT_LAB


def test_informative_features_are_clamped_to_the_feature_count():
    values, _ = validate_all(rc.all_knobs(4), {"feat": "10", "inf": "20"})
    lab, problems = rc.lab_from_values(values)
    assert lab.base.data_options == {"n_features": 10, "n_informative": 10}
    assert "inf=20" in problems[0]


@pytest.mark.parametrize(
    ("key", "raw", "used"),
    [
        ("l1_2", "-1", 0.0),
        ("l1_2", "nan", 0.02),
        ("p4", "0", 0.05),
        ("p4", "1.5", 1.0),
        ("width", "100000", rc.MAX_WIDTH),
        ("epochs", "1e9", 2000),
        ("v1", "l7", "none"),
        ("opt", "Lion", "Momentum"),
    ],
)
def test_bad_values_are_replaced_with_a_sentence(key, raw, used):
    values, problems = validate_all(rc.all_knobs(4), {key: raw})
    assert values[key] == used
    assert len(problems) == 1 and f"{key}={raw}" in problems[0]
    rc.lab_from_values(values)  # the safe values make a valid config


def test_sparse_regression_dropout_variant_is_flagged_exploded():
    """The issue's case: ?data=sparse_regression, the dropout variant's loss reached 7.4e33
    while every number stayed finite, and the run said "finished 200 epochs"."""
    lab = rl.replace_base(rl.DEFAULT_LAB, dataset="sparse_regression")
    runs = rl.TwinRuns(lab).run()
    by_kind = {r.config.keep_prob < 1: r for r in runs}
    dropout = by_kind[True].history
    assert dropout.exploded_at is not None
    assert dropout.message.startswith(f"exploded at epoch {dropout.exploded_at}")
    assert dropout.train_loss[-1] > 1e3 * dropout.train_loss[0] or (
        dropout.val_loss[-1] > 1e3 * dropout.val_loss[0]
    )
    for r in runs:
        if r.config.keep_prob == 1:
            assert r.history.exploded_at is None and r.history.message == "finished 200 epochs"
