"""engine.tuning: scoring criteria, the vectorized learning-rate search, sensitivity maps."""

from __future__ import annotations

import numpy as np
import pytest

from engine import surfaces
from engine.race import Entry, default_entries, run_race
from engine.surfaces import Surface
from engine.tuning import (
    CRITERIA,
    SECOND_KNOBS,
    lr_grid,
    score_runs,
    sensitivity_map,
    set_knob,
    tune_entries,
    tune_lr,
)

A = 3.0  # curvature along x of the test bowl


def _bowl(a: float = A, b: float = 1.0) -> Surface:
    """f = ½·a·x² + ½·b·y²: SGD from (x0, 0) gives x_T = (1 - lr·a)^T · x0."""

    def f(xy):
        xy = np.asarray(xy, float)
        return 0.5 * a * xy[..., 0] ** 2 + 0.5 * b * xy[..., 1] ** 2

    def grad(xy):
        xy = np.asarray(xy, float)
        return np.stack([a * xy[..., 0], b * xy[..., 1]], axis=-1)

    return Surface(
        "bowl", "bowl", "", f, grad, ((-2.0, 2.0), (-2.0, 2.0)), [(0.0, 0.0)], 0.0, (1.5, 0.0)
    )


def test_grid_picks_the_grid_point_nearest_the_closed_form_best_rate():
    # From a start on the x axis, |x_T| = |1 - lr·a|^T |x0|: the final distance is minimal at
    # lr = 1/a, and among grid points at the one nearest 1/a (|1 - lr·a| = a·|lr - 1/a|).
    grid = lr_grid(1e-4, 10.0, 25)
    res = tune_lr(
        _bowl(), Entry("SGD", "sgd", {"lr": 1e-3}), (1.5, 0.0), 20, criterion="dist", grid=grid
    )
    expected = grid[np.argmin(np.abs(grid - 1.0 / A))]
    assert res.best_lr == expected
    assert res.source == "grid"
    assert res.tuned.hparams["lr"] == expected
    assert res.tuned.label == "SGD"
    # the score is exactly the closed form for every non-diverged candidate
    closed = np.maximum(np.abs(1.0 - grid * A) ** 20 * 1.5, res.tol)  # floored at tol
    ok = np.isfinite(res.scores)
    np.testing.assert_allclose(res.scores[ok], closed[ok], rtol=1e-9)
    # rates with |1 - lr·a| > 1 blow up: they diverge and score +inf
    assert np.isinf(res.scores[grid * A > 2.5]).all()


def test_vectorized_scores_equal_separate_runs_from_several_starts():
    surf = surfaces.get("rosenbrock")
    entry = Entry("Momentum", "sgd", {"lr": 1e-3, "momentum": 0.9})
    starts = np.array([[-1.5, 2.0], [0.5, -0.5]])
    grid = lr_grid(1e-4, 1e-2, 5)
    res = tune_lr(surf, entry, starts, 200, criterion="auc", grid=grid)
    for i in (0, 2, 4):
        single = run_race(
            surf, [Entry("x", "sgd", {"lr": grid[i], "momentum": 0.9})], starts, 200
        ).entries[0]
        expected = score_runs(single, surf, 200, "auc").mean()
        assert res.scores[i] == pytest.approx(expected, rel=1e-12)


def test_tuned_defaults_end_at_least_as_close_to_the_rosenbrock_minimum():
    surf = surfaces.get("rosenbrock")
    entries = default_entries("rosenbrock")
    results = tune_entries(surf, entries, surf.default_start, 500, criterion="dist")
    tuned = run_race(surf, [r.tuned for r in results], surf.default_start, 500).entries
    untuned = run_race(surf, entries, surf.default_start, 500).entries
    for t, u in zip(tuned, untuned, strict=True):
        assert t.diverged_at == -1
        assert t.dist_to_min <= u.dist_to_min + 1e-12, t.label
    # tuning is not a no-op on this race: at least one entry gets much closer
    assert any(t.dist_to_min < 0.5 * u.dist_to_min for t, u in zip(tuned, untuned, strict=True))


def test_default_is_kept_when_it_beats_every_grid_point():
    grid = np.array([1e-4, 1e-3])  # far too small for 20 steps
    res = tune_lr(
        _bowl(), Entry("SGD", "sgd", {"lr": 0.3}), (1.5, 0.0), 20, criterion="dist", grid=grid
    )
    assert res.source == "default"
    assert res.best_lr == 0.3 and res.tuned == res.entry
    assert res.best_score == res.default_score < res.scores.min()


def test_all_diverged_keeps_the_entry_and_reports_none():
    res = tune_lr(_bowl(), Entry("SGD", "sgd", {"lr": 5.0}), (1.5, 0.0), 50, grid=[2.0, 5.0])
    assert res.source == "none" and res.best_index == -1
    assert np.isinf(res.scores).all() and np.isinf(res.best_score)
    assert res.tuned == res.entry


def test_criteria_on_a_hand_computed_run():
    # SGD lr = 1/(2a): x halves every step, so x_t = 1.5·2^-t.
    surf, steps = _bowl(), 10
    r = run_race(surf, [Entry("s", "sgd", {"lr": 0.5 / A})], (1.5, 0.0), steps, tol=1e-2)
    r = r.entries[0]
    x = 1.5 * 0.5 ** np.arange(steps + 1)
    gap = 0.5 * A * x**2
    assert score_runs(r, surf, steps, "gap", tol=0.0) == pytest.approx(gap[-1])
    assert score_runs(r, surf, steps, "dist", tol=0.0) == pytest.approx(x[-1])
    assert score_runs(r, surf, steps, "auc", tol=0.0) == pytest.approx(np.log10(gap).mean())
    # floored at the tolerance: below it every run ties
    assert score_runs(r, surf, steps, "gap", tol=1e-3) == 1e-3 > gap[-1]
    assert score_runs(r, surf, steps, "dist", tol=1e-2) == 1e-2 > x[-1]
    floored = np.log10(np.maximum(gap, 1e-3)).mean()
    assert score_runs(r, surf, steps, "auc", tol=1e-3) == pytest.approx(floored)
    assert score_runs(r, surf, steps, "steps") == np.argmax(x <= 1e-2)
    never = run_race(surf, [Entry("s", "sgd", {"lr": 1e-4})], (1.5, 0.0), steps).entries[0]
    assert score_runs(never, surf, steps, "steps") == steps + 1


def test_steps_ties_go_to_the_smaller_rate():
    # Several rates settle within tol at the same step: the smallest of them wins.
    grid = lr_grid(1e-2, 1.0, 40)
    res = tune_lr(
        _bowl(), Entry("SGD", "sgd", {}), (1.5, 0.0), 30, criterion="steps", grid=grid, tol=1.0
    )
    tied = np.flatnonzero(res.scores == res.scores.min())
    assert len(tied) > 1
    assert res.best_index == tied[0] and res.best_lr == grid[tied].min()


@pytest.mark.parametrize("criterion", ["dist", "auc", "steps"])
def test_criteria_needing_minima_are_refused_on_the_saddle(criterion):
    with pytest.raises(ValueError, match="needs a surface with known minima"):
        tune_lr(
            surfaces.get("saddle"), Entry("SGD", "sgd", {}), (1.0, 0.1), 10, criterion=criterion
        )


def test_bad_inputs_raise_clear_errors():
    bowl = _bowl()
    with pytest.raises(ValueError, match="Unknown criterion 'nope'"):
        tune_lr(bowl, Entry("SGD", "sgd", {}), (1.0, 0.0), 5, criterion="nope")
    with pytest.raises(ValueError, match="positive and finite"):
        tune_lr(bowl, Entry("SGD", "sgd", {}), (1.0, 0.0), 5, grid=[-1.0, 0.1])
    with pytest.raises(ValueError, match="Invalid learning-rate range"):
        lr_grid(1.0, 0.1)
    with pytest.raises(ValueError, match="Unknown knob 'rho' for sgd"):
        sensitivity_map(bowl, Entry("SGD", "sgd", {}), (1.0, 0.0), 5, knob="rho")


def test_set_knob_writes_betas():
    assert set_knob({"lr": 1.0}, "beta1", 0.5) == {"lr": 1.0, "betas": (0.5, 0.999)}
    assert set_knob({"betas": (0.8, 0.9)}, "beta2", 0.5)["betas"] == (0.8, 0.5)
    assert set_knob({}, "momentum", 0.9) == {"momentum": 0.9}


@pytest.mark.parametrize("optimizer", sorted(SECOND_KNOBS))
def test_sensitivity_map_cells_equal_single_runs(optimizer):
    surf = surfaces.get("rosenbrock")
    entry = Entry(optimizer, optimizer, {})
    sens = sensitivity_map(surf, entry, surf.default_start, 60, n=5, criterion="gap")
    assert sens.scores.shape == (5, 5)
    rng = np.random.default_rng(0)
    for j, i in rng.integers(0, 5, size=(3, 2)):
        hp = set_knob({"lr": sens.lrs[i]}, sens.knob.name, sens.knob_values[j])
        single = run_race(surf, [Entry("x", optimizer, hp)], surf.default_start, 60).entries[0]
        assert sens.scores[j, i] == pytest.approx(score_runs(single, surf, 60, "gap"), rel=1e-12)
    if sens.best is not None:
        assert sens.scores[sens.best] == np.min(sens.scores)


def test_sensitivity_default_is_25_by_25_and_finds_a_good_momentum():
    surf = surfaces.get("rosenbrock")
    sens = sensitivity_map(surf, Entry("Momentum", "sgd", {}), surf.default_start, 500)
    assert sens.scores.shape == (25, 25) and sens.knob.name == "momentum"
    assert sens.knob_values[0] == 0.0 and sens.knob_values[-1] == pytest.approx(0.99)
    # on Rosenbrock, heavy momentum beats plain SGD at its best learning rate
    plain_best = np.min(sens.scores[0])
    assert sens.scores[sens.best] < plain_best
    assert sens.best_knob > 0.5


def test_criteria_registry_is_complete():
    assert {c.label for c in CRITERIA.values()} == {
        "final loss gap",
        "distance to nearest minimum",
        "area under log-loss curve",
        "steps to settle",
    }
