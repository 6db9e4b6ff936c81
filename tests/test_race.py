"""engine.race: divergence containment, determinism, metrics, vectorization identities."""

from __future__ import annotations

import numpy as np
import pytest

from engine.race import (
    DEFAULT_LABELS,
    DEFAULT_LRS,
    DEFAULT_STEPS,
    Entry,
    default_entries,
    run_race,
)
from engine.surfaces import DEFAULT_SURFACE, SURFACES, get

ARRAYS = ("path", "loss", "grad_norm", "diverged_at", "steps_to_tol", "final_loss", "dist_to_min")


def _all_finite(result) -> bool:
    return all(
        np.all(np.isfinite(getattr(e, k))) for e in result.entries for k in ARRAYS[:3]
    ) and all(np.all(np.isfinite(v)) for e in result.entries for v in (e.state or {}).values())


def _assert_same(a, b, keys=ARRAYS):
    for k in keys:
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k), err_msg=k)


def test_divergence_is_flagged_frozen_and_contained():
    s = get("rosenbrock")
    entries = [Entry("SGD", "sgd", {"lr": 1.0}), Entry("Adam", "adam", {"lr": 0.05})]
    with np.errstate(all="raise"):  # no numpy warning escapes the engine
        res = run_race(s, entries, (-1.5, 2.0), 200, record_state=True)
    sgd, adam = res.entries
    k = int(sgd.diverged_at)
    assert 0 < k < 200
    assert sgd.status == f"diverged at step {k}"
    np.testing.assert_array_equal(sgd.path[k:], np.broadcast_to(sgd.path[k - 1], (201 - k, 2)))
    np.testing.assert_array_equal(sgd.loss[k:], sgd.loss[k - 1])
    assert adam.diverged_at == -1 and adam.final_loss < s.f(np.array([-1.5, 2.0]))
    assert _all_finite(res)


def test_leaving_the_domain_far_behind_is_divergence_at_the_hand_computed_step():
    """Saddle x²-y², SGD lr=0.5: x jumps to 0, y doubles each step: y_t = 1e-3·2^t.
    The box is [-2,2]², 10 widths = 40, so y - 2 > 40 first at t = 16 (65.5 > 42 > 32.8)."""
    res = run_race(get("saddle"), [Entry("SGD", "sgd", {"lr": 0.5})], (1.0, 1e-3), 40)
    e = res.entries[0]
    assert e.diverged_at == 16
    assert e.path[15, 1] == 1e-3 * 2**15 and np.all(e.path[16:] == e.path[15])
    assert e.dist_to_min == np.inf and e.nearest_min == -1


def test_a_start_far_outside_diverges_at_step_zero_without_non_finite_output():
    res = run_race(get("goldstein_price"), default_entries("goldstein_price"), (1e80, 0.0), 5)
    for e in res.entries:
        assert e.diverged_at == 0 and e.status == "diverged at step 0"
    assert _all_finite(res)


def test_one_diverging_start_does_not_disturb_the_others():
    s = get("rosenbrock")
    starts = np.array([[-1.5, 2.0], [1.9, -0.9], [0.0, 0.0]])
    entry = [Entry("SGD", "sgd", {"lr": 2e-3})]
    batch = run_race(s, entry, starts, 300).entries[0]
    assert list(batch.diverged_at >= 0) == [False, True, False]
    for i, start in enumerate(starts):
        _assert_same(_slice(batch, i), run_race(s, entry, start, 300).entries[0])


def _slice(e, i):
    class View:
        pass

    v = View()
    for k in ARRAYS:
        arr = getattr(e, k)
        setattr(v, k, arr[:, i] if arr.ndim > 1 and k in ("path", "loss", "grad_norm") else arr[i])
    return v


def test_batch_of_starts_equals_separate_single_start_races_exactly():
    s = get("rosenbrock")
    entries = default_entries("rosenbrock")
    starts = np.array([[-1.5, 2.0], [0.5, 2.5], [-1.0, -0.5], [1.2, 1.2]])
    batch = run_race(s, entries, starts, 150)
    for i, start in enumerate(starts):
        single = run_race(s, entries, start, 150)
        for b, one in zip(batch.entries, single.entries, strict=True):
            _assert_same(_slice(b, i), one)
            assert b.status[i] == one.status


def test_entries_do_not_influence_each_other():
    s = get("himmelblau")
    a, b = default_entries("himmelblau")[:2]
    both = run_race(s, [a, b], (0.5, 0.5), 100, noise_std=0.5, seed=3)
    alone = run_race(s, [a], (0.5, 0.5), 100, noise_std=0.5, seed=3)
    _assert_same(both.entries[0], alone.entries[0])
    # entry index 1 draws from (seed, 1) whatever entry 0 is
    other = run_race(
        s, [Entry("x", "adam", {"lr": 0.3}), b], (0.5, 0.5), 100, noise_std=0.5, seed=3
    )
    _assert_same(both.entries[1], other.entries[1])


def test_deterministic_by_seed_and_noise_depends_on_seed():
    s = get("booth")
    args = (s, default_entries("booth"), np.array([[-8.0, -8.0], [5.0, 5.0]]), 80)
    r1 = run_race(*args, noise_std=2.0, seed=7, record_state=True)
    r2 = run_race(*args, noise_std=2.0, seed=7, record_state=True)
    r3 = run_race(*args, noise_std=2.0, seed=8)
    clean = run_race(*args)
    for e1, e2, e3, e0 in zip(r1.entries, r2.entries, r3.entries, clean.entries, strict=True):
        _assert_same(e1, e2)
        for key, value in e1.state.items():
            np.testing.assert_array_equal(value, e2.state[key])
        assert not np.array_equal(e1.path, e3.path)
        assert not np.array_equal(e1.path, e0.path)
        np.testing.assert_array_equal(e1.path[0], e0.path[0])


def test_steps_to_tol_and_losses_on_a_hand_computed_quadratic():
    """ill_conditioned from (1, 0) with SGD lr=0.5: x_t = 2^-t, y stays 0, f_t = 2^-2t / 2.
    First t with 2^-t <= 1e-3 is t = 10."""
    res = run_race(get("ill_conditioned"), [Entry("SGD", "sgd", {"lr": 0.5})], (1.0, 0.0), 20)
    e = res.entries[0]
    t = np.arange(21)
    np.testing.assert_array_equal(e.path[:, 0], 2.0**-t)
    np.testing.assert_array_equal(e.path[:, 1], 0.0)
    np.testing.assert_array_equal(e.loss, 0.5 * 4.0**-t)
    np.testing.assert_array_equal(e.grad_norm, 2.0**-t)
    assert e.steps_to_tol == 10 and e.settled_at == 10 and e.status == "settled at step 10"
    assert e.nearest_min == 0 and e.dist_to_min == 2.0**-20 and e.final_loss == 0.5 * 4.0**-20
    assert res.entries[0].diverged_at == -1


def test_one_hand_worked_sgd_step_on_booth():
    s = get("booth")
    res = run_race(s, [Entry("SGD", "sgd", {"lr": 0.01})], (0.0, 0.0), 1)
    # ∇f(0,0) = (2·(-7) + 4·(-5), 4·(-7) + 2·(-5)) = (-34, -38)
    np.testing.assert_allclose(res.entries[0].path[1], [0.34, 0.38], rtol=1e-15)


def test_nearest_minimum_on_himmelblau_picks_the_right_one():
    s = get("himmelblau")
    starts = np.array([[3.5, 2.5], [-3.0, 3.5], [-3.5, -3.5], [3.5, -2.0]])
    e = run_race(s, [Entry("Adam", "adam", {"lr": 0.05})], starts, 400, tol=1e-6).entries[0]
    assert list(e.nearest_min) == [0, 1, 2, 3]
    assert np.all(e.steps_to_tol > 0) and np.all(e.dist_to_min <= 1e-6)


@pytest.mark.parametrize("single_start", [True, False])
def test_lr_array_sweep_equals_separate_runs(single_start):
    s = get("rosenbrock")
    lrs = np.logspace(-4, -1, 25)
    starts = np.array([-1.5, 2.0]) if single_start else np.tile([-1.5, 2.0], (25, 1))
    for name, extra in [("sgd", {"momentum": 0.9}), ("adam", {}), ("rmsprop", {})]:
        sweep = run_race(s, [Entry("s", name, {**extra, "lr": lrs[:, None]})], starts, 60)
        e = sweep.entries[0]
        assert e.path.shape == (61, 25, 2) and e.diverged_at.shape == (25,)
        for i in (0, 7, 24):
            one = run_race(s, [Entry("s", name, {**extra, "lr": float(lrs[i])})], (-1.5, 2.0), 60)
            _assert_same(_slice(e, i), one.entries[0])


def test_record_state_traces():
    s = get("ill_conditioned")
    entries = [Entry("SGD", "sgd", {"lr": 0.01}), Entry("Adam", "adam", {"lr": 0.1})]
    res = run_race(s, entries, (-9.0, 3.0), 50, record_state=True)
    sgd, adam = res.entries
    assert set(sgd.state) == {"update_norm", "effective_lr", "cos_descent"}
    assert set(adam.state) == {
        "update_norm", "effective_lr", "cos_descent", "momentum_norm", "second_moment",
        "coordinate_lr",
    }  # fmt: skip
    for e in res.entries:
        steps = np.linalg.norm(np.diff(e.path, axis=0), axis=-1)
        np.testing.assert_allclose(e.state["update_norm"][1:], steps, rtol=1e-12)
        assert e.state["update_norm"][0] == 0
    # plain SGD steps exactly along -∇f with step length lr·‖g‖
    np.testing.assert_allclose(sgd.state["cos_descent"][1:], 1.0, rtol=1e-12)
    np.testing.assert_allclose(sgd.state["effective_lr"][1:], 0.01, rtol=1e-10)
    # Adam's first step is lr·sign(g) (per coordinate), not along -∇f
    assert adam.state["update_norm"][1] == pytest.approx(0.1 * np.sqrt(2), rel=1e-6)
    assert 0 < adam.state["cos_descent"][1] < 0.99
    assert np.all(adam.state["second_moment"][1:] > 0) and np.all(adam.state["momentum_norm"] >= 0)
    assert res.entries[0].state is not None
    assert run_race(s, entries, (-9.0, 3.0), 5).entries[0].state is None


@pytest.mark.filterwarnings(
    "ignore::RuntimeWarning"
)  # the replay keeps stepping the diverged racer
def test_record_state_traces_match_a_step_by_step_replay():
    """The traces (derived for all steps at once) against the docstring's formulas applied
    one step at a time to a hand-driven optimizer, with gradient noise (the same draws: one
    generator per entry seeded ``(seed, entry index)``) and a racer that diverges."""
    from engine import optimizers

    s = get("rosenbrock")
    entries = [
        Entry("Momentum", "sgd", {"lr": 0.001, "momentum": 0.9}),
        Entry("Adam", "adam", {"lr": 0.05}),
        Entry("RMSProp", "rmsprop", {"lr": 0.01}),
        Entry("SGD too fast", "sgd", {"lr": 0.05}),
    ]
    start, steps, noise, seed = np.array([-1.5, 2.0]), 40, 0.5, 4
    res = run_race(s, entries, start, steps, noise_std=noise, seed=seed, record_state=True)
    assert res.entries[3].diverged_at > 0  # the replay covers a stopped racer too
    for idx, (entry, e) in enumerate(zip(entries, res.entries, strict=True)):
        opt = optimizers.make(entry.optimizer, **entry.hparams)
        theta = start.copy()
        state = opt.init(theta)
        rng = np.random.default_rng((seed, idx))
        for t in range(1, steps + 1):
            g = s.grad(theta)
            used = g + noise * rng.standard_normal(2)
            before = theta.copy()
            opt.step_(theta, used, state)
            if 0 <= e.diverged_at <= t:
                assert all(e.state[k][t].max() == 0 == e.state[k][t].min() for k in e.state)
                continue
            delta = theta - before
            np.testing.assert_array_equal(theta, e.path[t])
            expected = {
                "update_norm": np.linalg.norm(delta),
                "effective_lr": np.linalg.norm(delta) / np.linalg.norm(used),
                "cos_descent": -delta @ g / (np.linalg.norm(delta) * np.linalg.norm(g)),
            }
            for key, names in (("momentum_norm", ("momentum_buffer", "exp_avg")),
                               ("second_moment", ("exp_avg_sq", "square_avg"))):  # fmt: skip
                held = [state[n] for n in names if isinstance(state.get(n), np.ndarray)]
                if held:
                    value = held[0]
                    expected[key] = (
                        np.linalg.norm(value) if key == "momentum_norm" else value.mean()
                    )
            if opt.coordinate_lr(state) is not None:
                expected["coordinate_lr"] = opt.coordinate_lr(state)
            assert set(expected) == set(e.state)
            for key, value in expected.items():
                np.testing.assert_allclose(e.state[key][t], value, rtol=1e-12, err_msg=key)


def test_status_shapes_and_wording():
    s = get("rastrigin")
    single = run_race(s, [Entry("SGD", "sgd", {"lr": 1e-3})], (2.2, -1.6), 300).entries[0]
    # trapped in a local minimum: the sentence names the tolerance, budget and distance
    d = float(single.dist_to_min)
    assert single.status == f"not within 0.001 after 300 steps (distance {d:.3g}), stalled"
    grid = np.zeros((2, 3, 2)) + 0.3
    res = run_race(s, [Entry("SGD", "sgd", {"lr": 1e-3})], grid, 3).entries[0]
    assert np.shape(res.status) == (2, 3)
    assert res.status[1][2].startswith("not within 0.001 after 3 steps (distance ")
    assert not any("running" in s for row in res.status for s in row)
    assert res.path.shape == (4, 2, 3, 2)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"starts": [1.0, np.nan]}, "finite"),
        ({"starts": [1.0, 2.0, 3.0]}, "shape"),
        ({"starts": "ab"}, "starts"),
        ({"steps": -1}, "steps"),
        ({"steps": 2.5}, "steps"),
        ({"noise_std": -1.0}, "noise_std"),
        ({"tol": np.inf}, "tol"),
    ],
)
def test_bad_arguments_raise_clear_value_errors(kwargs, match):
    args = {"starts": (0.0, 0.0), "steps": 5} | kwargs
    with pytest.raises(ValueError, match=match):
        run_race(get("booth"), default_entries("booth"), args.pop("starts"), **args)


def test_bad_entries_raise_the_optimizer_messages():
    s = get("booth")
    with pytest.raises(ValueError, match="Invalid learning rate: -1.0"):
        run_race(s, [Entry("x", "sgd", {"lr": -1.0})], (0.0, 0.0), 5)
    with pytest.raises(ValueError, match="do not broadcast"):
        run_race(s, [Entry("x", "sgd", {"lr": np.ones((3, 1))})], np.zeros((4, 2)), 5)


def test_zero_steps_and_an_empty_race():
    res = run_race(get("booth"), default_entries("booth"), (0.0, 0.0), 0)
    assert all(e.path.shape == (1, 2) for e in res.entries)
    assert all(e.status.startswith("not within 0.001 after 0 steps") for e in res.entries)
    assert run_race(get("booth"), [], (0.0, 0.0), 5).entries == []


def test_every_surface_has_default_rates_and_no_default_race_diverges():
    assert set(DEFAULT_LRS) == set(SURFACES)
    for name, s in SURFACES.items():
        entries = default_entries(name)
        assert [e.label for e in entries] == list(DEFAULT_LABELS)
        res = run_race(s, entries, s.default_start, DEFAULT_STEPS)
        f0 = s.f(np.array(s.default_start))
        for e in res.entries:
            assert e.diverged_at == -1, (name, e.label)
            assert e.final_loss < f0, (name, e.label)  # everyone goes downhill


def test_default_race_is_instructive():
    """On the default surface every entry makes visible progress, Momentum and Adam lead,
    and Adagrad's shrinking steps leave it last."""
    s = get(DEFAULT_SURFACE)
    res = run_race(s, default_entries(DEFAULT_SURFACE), s.default_start, DEFAULT_STEPS)
    final = {e.label: float(e.final_loss) for e in res.entries}
    f0 = float(s.f(np.array(s.default_start)))
    assert all(v < 0.4 * f0 for v in final.values())
    order = sorted(final, key=final.get)
    assert set(order[:2]) == {"Momentum", "Adam"} and order[-1] == "Adagrad"
    assert default_entries("not-a-surface") == default_entries("rosenbrock")


LEAN_CASES = [
    ("himmelblau", Entry("Momentum", "sgd", {"lr": 0.01, "momentum": 0.9}), 0.0),
    ("himmelblau", Entry("SGD", "sgd", {"lr": 0.02}), 0.0),  # oscillates: some never settle
    ("rosenbrock", Entry("SGD", "sgd", {"lr": 3e-3}), 0.0),  # some starts diverge
    ("saddle", Entry("Adam", "adam", {"lr": 0.1}), 0.5),  # no minima, noisy
    ("rastrigin", Entry("RMSProp", "rmsprop", {"lr": 0.05}), 0.0),
]


@pytest.mark.parametrize(("name", "entry", "noise"), LEAN_CASES)
def test_lean_mode_matches_the_recorded_run(name, entry, noise):
    from engine.basins import classify, start_grid

    s = get(name)
    _, _, starts = start_grid(s.domain, 12)
    full = run_race(s, [entry], starts, 300, tol=1e-2, noise_std=noise, seed=3).entries[0]
    lean = run_race(s, [entry], starts, 300, tol=1e-2, noise_std=noise, seed=3, record=False)
    lean = lean.entries[0]
    assert lean.path is None and lean.loss is None and lean.grad_norm is None
    keys = ("diverged_at", "steps_to_tol", "final_loss", "dist_to_min", "nearest_min", "end")
    _assert_same(full, lean, keys)
    assert full.status == lean.status
    np.testing.assert_array_equal(full.end, full.path[-1])
    label, settle, _ = classify(
        full.path, full.diverged_at, np.asarray(s.minima, float).reshape(-1, 2), 1e-2
    )
    expected = np.where(label >= 0, settle, -1)
    np.testing.assert_array_equal(lean.settled_at, expected)
    np.testing.assert_array_equal(full.settled_at, expected)
    if name == "rosenbrock":
        assert (lean.diverged_at >= 0).any() and (lean.diverged_at < 0).any()


def test_lean_mode_refuses_state_traces():
    with pytest.raises(ValueError, match="record_state=True needs record=True"):
        run_race(get("booth"), [Entry("SGD", "sgd", {"lr": 0.01})], (0, 0), 5, record=False,
                 record_state=True)  # fmt: skip
