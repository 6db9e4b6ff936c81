"""Engine tests for the network view of the race: lockstep racers, the PCA plane, the batched
landscape, filter normalization, the leaderboard and the carried-over sentences
(engine.netrace, engine.landscape, engine.netrace_report)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine import landscape as ls
from engine import losses, race, surfaces
from engine import netrace as nr
from engine import netrace_landscape as nl
from engine import netrace_report as rep
from engine.nn import MLP
from engine.optimizers import PRESETS


def _racer(label: str, **over) -> nr.Racer:
    name, hp = PRESETS[label]
    hp = {**hp, "lr": nr.network_lr(label), **over}
    return nr.Racer(label, name, tuple(sorted(hp.items())))


SMALL = dict(n_samples=120, hidden=(8,), epochs=6, batch_size=16, max_points=15)


@pytest.fixture(scope="module")
def small_race():
    labels = ("SGD", "Momentum", "Adagrad", "Adam")
    cfg = nr.NetRaceConfig(tuple(_racer(lbl) for lbl in labels), **SMALL)
    return nr.run(cfg)


# ------------------------------------------------------------------------------ lockstep
def test_same_settings_give_identical_curves_and_paths():
    cfg = nr.NetRaceConfig((_racer("Adam"), _racer("Adam")), **SMALL)
    a, b = nr.run(cfg).runs
    np.testing.assert_array_equal(a.history.step_loss, b.history.step_loss)
    np.testing.assert_array_equal(a.history.train_loss, b.history.train_loss)
    np.testing.assert_array_equal(a.history.val_loss, b.history.val_loss)
    np.testing.assert_array_equal(a.path, b.path)


def test_every_racer_starts_from_the_same_weights_and_batches(small_race):
    first = small_race.runs[0]
    for r in small_race.runs[1:]:
        np.testing.assert_array_equal(r.path[0], first.path[0])
        # step 1's minibatch loss is taken at the shared initial weights on the shared batch
        assert r.history.step_loss[0] == first.history.step_loss[0]
    # different optimizers do move apart
    assert not np.array_equal(small_race.runs[0].path[-1], small_race.runs[3].path[-1])


def test_trajectory_is_bounded_and_ends_at_the_final_weights(small_race):
    for r in small_race.runs:
        assert len(r.path) <= SMALL["max_points"]
        assert r.path_steps[0] == 0 and r.path_steps[-1] == small_race.total_steps
        assert np.all(np.diff(r.path_steps) > 0)


def test_lockstep_publishes_while_training():
    task = nr.NetRace(nr.NetRaceConfig((_racer("SGD"), _racer("Adam")), **SMALL))
    for _ in range(5):
        task.step()
    snap = task.publish()
    assert [r.history.steps_done for r in snap.runs] == [5, 5]
    assert not snap.done


def test_adagrad_effective_rate_is_its_formula_and_shrinks(small_race):
    adagrad = small_race.runs[2]
    assert adagrad.eff_lr[-1] < adagrad.eff_lr[1]
    assert np.all(np.diff(adagrad.eff_lr[1:]) <= 0)  # Σg² only grows
    from engine.optimizers import make

    opt = make("adagrad", lr=0.1, eps=1e-10)
    state = opt.init(np.zeros(3))
    opt.step_(np.zeros(3), np.array([1.0, 2.0, 4.0]), state)
    assert nr.median_effective_lr(opt, state) == pytest.approx(0.1 / 2.0)
    assert math.isnan(small_race.runs[0].eff_lr[-1])  # SGD keeps no second moment


def test_a_diverging_racer_stops_alone_with_a_finite_path():
    cfg = nr.NetRaceConfig((_racer("SGD", lr=1e307), _racer("Adam")), **SMALL)
    result = nr.run(cfg)
    bad, good = result.runs
    assert bad.history.diverged_at is not None
    assert good.history.diverged_at is None and good.done
    assert np.all(np.isfinite(bad.path))
    L = nr.landscape(result, grid=5, reference=0)  # the plane ignores the diverged racer
    assert L.excluded == (0,) and L.reference == 1
    assert np.all(np.isfinite(L.loss))
    board = rep.leaderboard(result, 0.5)
    assert board[-1].label == "SGD" and board[-1].status.startswith("diverged at step")


# ------------------------------------------------------------------------------ PCA plane
def test_pca_directions_match_numpy_svd_on_a_known_trajectory():
    rng = np.random.default_rng(3)
    P = 30
    basis, _ = np.linalg.qr(rng.standard_normal((P, 2)))
    t = np.linspace(0, 1, 80)[:, None]
    path = 3 * t * basis[:, 0] + np.sin(4 * t) * basis[:, 1] + 1e-4 * rng.standard_normal((80, P))
    origin = path[-1]
    plane = ls.pca_plane([path[:40], path[40:]], origin)
    M = path - origin
    _, s, vt = np.linalg.svd(M - M.mean(axis=0), full_matrices=False)
    for k in range(2):
        assert abs(abs(plane.directions[k] @ vt[k]) - 1) < 1e-10
    np.testing.assert_allclose(plane.explained, s[:2] ** 2 / np.sum(s**2), rtol=1e-12)
    assert sum(plane.explained) > 0.999  # the trajectory lies in the plane
    # the plane spans the true basis, and points project exactly back
    proj = plane.directions.T @ plane.directions
    np.testing.assert_allclose(proj @ basis, basis, atol=1e-4)
    np.testing.assert_allclose(plane.points(plane.project(path)), path, atol=1e-3)
    np.testing.assert_allclose(plane.directions @ plane.directions.T, np.eye(2), atol=1e-12)
    assert np.all(plane.project(path[:1]) <= 0)  # sign convention: the start is down-left


# ------------------------------------------------------------------------------ landscape
def _loop_loss(shape: ls.NetShape, theta: np.ndarray, X, y) -> float:
    net = MLP(shape.sizes, activation=shape.activation)
    net.params = theta
    return losses.get("cross_entropy").value(net.predict(X), y)


def test_grid_loss_matches_a_direct_loop(small_race):
    L = nr.landscape(small_race, grid=9)
    X, y = small_race.data.X_train, small_race.data.y_train
    for bi, ai in [(0, 0), (4, 4), (8, 2), (3, 7)]:
        theta = L.plane.points(np.array([[L.alphas[ai], L.betas[bi]]]))[0]
        # float32 arithmetic for the picture: agrees with the float64 loop to ~1e-6
        assert L.loss[bi, ai] == pytest.approx(_loop_loss(small_race.shape, theta, X, y), rel=1e-5)
        exact = ls.grid_loss(
            small_race.shape, L.plane, L.alphas[ai : ai + 1], L.betas[bi : bi + 1], X, y
        )
        assert exact[0, 0] == pytest.approx(_loop_loss(small_race.shape, theta, X, y), rel=1e-12)


def test_contour_at_projected_points_equals_the_loss_there(small_race):
    L = nr.landscape(small_race, grid=9)
    X, y = small_race.data.X_train, small_race.data.y_train
    for i, r in enumerate(small_race.runs):
        c = L.coords[i]
        for k in (0, len(c) // 2, len(c) - 1):
            # a one-point grid through the projected point = the contour's value there, in the
            # precision the build computes both in
            at = ls.grid_loss(
                small_race.shape, L.plane, c[k : k + 1, 0], c[k : k + 1, 1], X, y, dtype=nl.DTYPE
            )
            assert at[0, 0] == pytest.approx(L.projected_loss[i][k], rel=1e-12)
            theta = L.plane.points(c[k : k + 1])[0]
            assert L.projected_loss[i][k] == pytest.approx(
                _loop_loss(small_race.shape, theta, X, y)
            )
        # the true loss is taken at the real θ_t, and equals the trainer's own evaluation at the end
        assert L.true_loss[i][-1] == pytest.approx(r.history.train_loss[-1], rel=1e-5)
        assert L.true_loss[i][0] == pytest.approx(r.history.train_loss[0], rel=1e-5)


def test_plane_loss_computes_in_the_precision_asked_for(small_race):
    L = nr.landscape(small_race, grid=5)
    X, y = small_race.data.X_train, small_race.data.y_train
    coords = L.coords[0][::20]
    thetas = L.plane.points(coords)
    for dtype in (np.float32, np.float64):
        np.testing.assert_array_equal(
            ls.plane_loss(small_race.shape, L.plane, coords, X, y, dtype=dtype),
            ls.losses_at(small_race.shape, thetas, X, y, dtype=dtype),
        )


def test_reference_end_point_is_the_origin(small_race):
    L = nr.landscape(small_race, grid=5, reference=3)
    np.testing.assert_allclose(L.coords[3][-1], 0.0, atol=1e-12)
    assert L.projected_loss[3][-1] == pytest.approx(L.true_loss[3][-1], rel=1e-5)


def test_chunking_does_not_change_values(small_race):
    shape = small_race.shape
    thetas = np.stack([r.path[-1] for r in small_race.runs] * 5)
    X, y = small_race.data.X_train, small_race.data.y_train
    one = ls.losses_at(shape, thetas, X, y, memory_budget=1)  # one vector per chunk
    big = ls.losses_at(shape, thetas, X, y)
    np.testing.assert_allclose(one, big, rtol=1e-13)


# ------------------------------------------------------------------------------ filter norm
def test_filter_normalized_direction_matches_each_neurons_norm(small_race):
    shape = small_race.shape
    theta = small_race.runs[1].path[-1]
    raw = ls.random_directions(shape, seed=5, k=1)[0]
    d = ls.filter_normalized(shape, theta, raw)
    ws, bs = shape.slices()
    for i, (w, b) in enumerate(zip(ws, bs, strict=True)):
        fi, fo = shape.sizes[i], shape.sizes[i + 1]
        np.testing.assert_allclose(
            np.linalg.norm(d[w].reshape(fi, fo), axis=0),
            np.linalg.norm(theta[w].reshape(fi, fo), axis=0),
            rtol=1e-9,
        )
        assert np.all(d[b] == 0)


def test_random_mode_and_slices(small_race):
    L = nr.landscape(small_race, mode="random", grid=7, reference=1)
    assert L.explained is None
    assert L.loss.shape == (7, 7)
    assert L.loss[3, 3] == pytest.approx(L.true_loss[1][-1], rel=1e-5)  # the centre
    for s, r, h in zip(L.slices, small_race.runs, L.sharpness, strict=True):
        assert s[len(s) // 2] == pytest.approx(r.history.train_loss[-1], rel=1e-5)
        assert h >= 0


# ------------------------------------------------------------------------------ report
def test_settled_index_is_the_last_entry_into_the_target():
    assert rep.settled_index([1.0, 0.1, 0.5, 0.05, 0.04], 0.2) == 3
    assert rep.settled_index([1.0, 0.1, 0.5], 0.2) == -1
    assert rep.settled_index([0.1, 0.1], 0.2) == 0


def test_rises_counts_overshoot_before_the_minimum():
    assert rep.rises([5, 3, 4, 1, 2, 0.5, 0.6]) == 2
    assert rep.rises([5, 4, 3, 2, 1]) == 0


def test_leaderboard_ranks_settled_first_and_states_true_facts(small_race):
    target = float(np.median([r.history.train_loss[-1] for r in small_race.runs]))
    board = rep.leaderboard(small_race, target)
    assert [r.rank for r in board] == [1, 2, 3, 4]
    seen_unsettled = False
    for row in board:
        h = small_race.runs[row.index].history
        assert row.train_loss == h.train_loss[-1]
        if row.settled_step >= 0:
            assert not seen_unsettled
            k = row.settled_step // small_race.runs[row.index].steps_per_epoch
            assert np.all(h.train_loss[k:] <= target)
            assert k == 0 or h.train_loss[k - 1] > target
        else:
            seen_unsettled = True
            assert h.train_loss[-1] > target


def test_carry_over_sentences_state_measured_numbers(small_race):
    s = surfaces.get("rosenbrock")
    entries = [race.Entry(r.label, r.optimizer, {}) for r in small_race.runs]
    toy = race.run_race(s, entries, s.default_start, 200, record_state=True)
    lines, pairs = rep.carry_over(small_race, toy, "Rosenbrock", 0.3)
    assert lines[-1].startswith("The winner")
    for (toy_b, net_b), r in zip(pairs, small_race.runs, strict=True):
        assert net_b.rises == rep.rises(r.history.train_loss)
        text = " ".join(line for line in lines if line.startswith(f"**{r.label}**"))
        if net_b.rises or toy_b.rises:
            assert f"{net_b.rises} time(s) on the network" in text
        if r.label == "Adagrad":
            assert net_b.shrink < 1 and "shrank" in text


def test_budget_estimate_grows_with_the_grid_and_the_net_and_gates_links():
    from engine import budget

    cfg = nr.NetRaceConfig((_racer("Adam"),) * 5)
    small = nr.budget_estimate(cfg, nr.LandscapeSpec(grid=41))
    assert nr.budget_estimate(cfg, nr.LandscapeSpec(grid=101)).cost.flops > small.cost.flops
    wide = nr.NetRaceConfig((_racer("Adam"),) * 5, hidden=(64, 64))
    assert nr.budget_estimate(wide, nr.LandscapeSpec()).cost.flops > small.cost.flops
    assert budget.estimate("netrace", cfg, nr.LandscapeSpec()) == small  # registered
    # the default view may start from a link; the largest network asks first
    assert budget.decide(small).verdict is budget.Verdict.RUN
    big = nr.NetRaceConfig((_racer("Adam"),) * 6, hidden=(64,) * 4, epochs=300, batch_size=4)
    assert budget.decide(nr.budget_estimate(big, nr.LandscapeSpec())).verdict is budget.Verdict.ASK
    # a work item of the landscape stays short on the largest net (stop within a second)
    shape = nr.NetShape((2, 64, 64, 64, 64, 2), "tanh", (False,) * 5, 0.01)
    assert 1 <= nr.grid_chunk(shape, 280) < 256


def test_the_job_task_builds_the_landscape_in_short_steps(small_race):
    spec = nr.LandscapeSpec(grid=9)
    cfg = nr.NetRaceConfig(tuple(_racer(r.label) for r in small_race.runs), **SMALL)
    task = nr.NetRace(cfg, landscape_spec=spec)
    while not task.training_done:
        task.step()
    assert not task.done and task.publish().landscape is None
    assert task.message == "evaluating the loss landscape"
    items = 0
    while not task.done:
        task.step()
        items += 1
    lengths = [len(r.path) for r in small_race.runs]
    assert items == 1 + spec.n_items(lengths)  # the setup, then every work item
    assert task.steps_done == task.total_steps
    built = task.publish().landscape
    at_once = nr.landscape(small_race, grid=9)
    np.testing.assert_array_equal(built.loss, at_once.loss)
    for a, b in zip(built.projected_loss, at_once.projected_loss, strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_task_pickles_between_chunks_and_resumes_identically():
    import pickle

    cfg = nr.NetRaceConfig((_racer("SGD"), _racer("Adam")), **SMALL)
    spec = nr.LandscapeSpec(grid=7)
    straight = nr.NetRace(cfg, landscape_spec=spec).run()
    task = nr.NetRace(cfg, landscape_spec=spec)
    while not task.done:  # a chunk boundary every 7 steps, in training and in the landscape
        for _ in range(7):
            task.step()
        task = pickle.loads(pickle.dumps(task))
    travelled = task.publish()
    np.testing.assert_array_equal(travelled.landscape.loss, straight.landscape.loss)
    for a, b in zip(travelled.runs, straight.runs, strict=True):
        np.testing.assert_array_equal(a.path, b.path)
        np.testing.assert_array_equal(a.history.train_loss, b.history.train_loss)


@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_preset_learns_at_its_default_network_rate(preset):
    cfg = nr.NetRaceConfig((_racer(preset),), epochs=15, max_points=5)
    h = nr.run(cfg).runs[0].history
    assert h.diverged_at is None
    assert h.train_loss[-1] < 0.9 * h.train_loss[0], (preset, h.train_loss[[0, -1]])


@pytest.mark.parametrize("dataset", ["moons", "circles", "spirals", "xor", "sparse_classification"])
def test_every_dataset_of_the_view_races_and_draws(dataset):
    from pages.common import netrace_config as nc

    assert dataset in nc.DATASETS
    cfg = nr.NetRaceConfig((_racer("Adam"), _racer("SGD")), dataset=dataset, epochs=4)
    result = nr.run(cfg)
    land = nr.landscape(result, grid=5)
    assert np.all(np.isfinite(land.loss))
    assert all(len(c) == len(r.path) for c, r in zip(land.coords, result.runs, strict=True))
