"""engine.basins: basin-of-attraction maps over a grid of starts, and noisy seed clouds."""

from __future__ import annotations

import numpy as np
import pytest

from engine import surfaces
from engine.basins import (
    DIVERGED,
    NONE,
    basin_maps,
    classify,
    combine,
    default_basin_entries,
    disagreement,
    seed_cloud,
    start_grid,
)
from engine.race import Entry, run_race


def test_start_grid_is_row_major_cell_centres():
    xs, ys, starts = start_grid(((0.0, 4.0), (-1.0, 1.0)), 4)
    np.testing.assert_allclose(xs, [0.5, 1.5, 2.5, 3.5])
    np.testing.assert_allclose(ys, [-0.75, -0.25, 0.25, 0.75])
    assert starts.shape == (16, 2)
    np.testing.assert_array_equal(starts[1 * 4 + 2], [xs[2], ys[1]])
    for bad in (1, 101):
        with pytest.raises(ValueError, match="Invalid start grid size"):
            start_grid(((0, 1), (0, 1)), bad)


def test_classify_hand_made_paths():
    minima = np.array([[0.0, 0.0], [5.0, 0.0]])
    far, near0, near1 = [3.0, 3.0], [0.001, 0.0], [5.0, 0.002]
    path = np.array(
        [
            # run 0: arrives at min 0 at step 2 and stays; run 1: passes min 0, ends far
            # run 2: ends at min 1 from step 3; run 3: diverged (frozen near min 0)
            [far, far, far, far],
            [far, near0, far, near0],
            [near0, far, far, near0],
            [near0, far, near1, near0],
            [near0, far, near1, near0],
        ]
    )
    label, steps, dist = classify(path, np.array([-1, -1, -1, 2]), minima, tol=0.01)
    np.testing.assert_array_equal(label, [0, NONE, 1, DIVERGED])
    np.testing.assert_array_equal(steps, [2, -1, 3, -1])
    np.testing.assert_allclose(dist, [0.001, np.hypot(2, 3), 0.002, 0.001])


def test_grid_cells_agree_with_single_start_races():
    surf = surfaces.get("himmelblau")
    entries = [
        Entry("Momentum", "sgd", {"lr": 0.01, "momentum": 0.9}),
        Entry("SGD", "sgd", {"lr": 0.02}),
    ]  # oscillates: produces "none" cells
    res = basin_maps(surf, entries, n=6, steps=300, tol=1e-2)
    minima = np.asarray(surf.minima)
    labels_seen = set()
    for bmap, entry in zip(res.maps, entries, strict=True):
        for j, y in enumerate(res.ys):
            for i, x in enumerate(res.xs):
                single = run_race(surf, [entry], (x, y), 300, tol=1e-2).entries[0]
                d = np.linalg.norm(single.path - minima[single.nearest_min], axis=-1)
                if single.diverged_at >= 0:
                    label, settle = DIVERGED, -1
                elif single.dist_to_min <= 1e-2:
                    label = single.nearest_min
                    outside = np.flatnonzero(d > 1e-2)
                    settle = outside[-1] + 1 if len(outside) else 0
                else:
                    label, settle = NONE, -1
                assert bmap.label[j, i] == label, (entry.label, x, y)
                assert bmap.steps[j, i] == settle, (entry.label, x, y)
                labels_seen.add(int(label))
    assert NONE in labels_seen and len(labels_seen & {0, 1, 2, 3}) >= 3


def test_himmelblau_basins_differ_between_sgd_momentum_and_adam():
    surf = surfaces.get("himmelblau")
    by_label = {e.label: e for e in default_basin_entries("himmelblau")}
    entries = [by_label["SGD"], by_label["Momentum"], by_label["Adam"]]
    res = basin_maps(surf, entries, n=30, steps=500)
    sgd, mom, adam = res.maps
    for m in res.maps:  # every optimizer reaches all four minima from somewhere
        assert set(np.unique(m.label)) >= {0, 1, 2, 3}
    # momentum overshoots into neighbouring basins; Adam's sign-like steps bend the borders
    assert disagreement(sgd, mom) > 0.15
    assert disagreement(mom, adam) > 0.15
    assert disagreement(sgd, adam) > 0.03


def test_surface_without_minima_labels_none_or_diverged():
    surf = surfaces.get("saddle")
    res = basin_maps(surf, [Entry("SGD", "sgd", {"lr": 0.1})], n=5, steps=200)
    labels = set(np.unique(res.maps[0].label))
    assert labels <= {NONE, DIVERGED} and DIVERGED in labels
    assert (res.maps[0].steps == -1).all()


def test_seed_cloud_copies_get_independent_noise():
    surf = surfaces.get("rosenbrock")
    entry = Entry("Adam", "adam", {"lr": 0.05})
    cloud = seed_cloud(surf, entry, surf.default_start, 100, noise_std=1.0, n_seeds=40, seed=3)
    assert cloud.ends.shape == (40, 2) and cloud.mean_path.shape == (101, 2)
    assert len(np.unique(cloud.ends[:, 0])) == 40  # no two copies shared their noise
    # copy k equals a single noisy run only in distribution, but the batch is reproducible
    again = seed_cloud(surf, entry, surf.default_start, 100, noise_std=1.0, n_seeds=40, seed=3)
    np.testing.assert_array_equal(again.ends, cloud.ends)
    other = seed_cloud(surf, entry, surf.default_start, 100, noise_std=1.0, n_seeds=40, seed=4)
    assert not np.array_equal(other.ends, cloud.ends)
    assert (cloud.loss_lo <= cloud.loss_median).all()
    assert (cloud.loss_median <= cloud.loss_hi).all()
    assert np.isfinite(cloud.loss_mean).all()


def test_seed_cloud_without_noise_collapses_to_the_deterministic_run():
    surf = surfaces.get("rosenbrock")
    entry = Entry("Adam", "adam", {"lr": 0.05})
    cloud = seed_cloud(surf, entry, surf.default_start, 50, noise_std=0.0, n_seeds=5)
    single = run_race(surf, [entry], surf.default_start, 50).entries[0]
    np.testing.assert_array_equal(cloud.ends, np.broadcast_to(single.path[-1], (5, 2)))
    np.testing.assert_allclose(cloud.mean_path, single.path, rtol=1e-14)  # mean of 5 equal
    np.testing.assert_array_equal(cloud.loss_lo, single.loss)
    np.testing.assert_array_equal(cloud.loss_hi, single.loss)


def test_seed_cloud_summaries_skip_diverged_runs():
    surf = surfaces.get("rosenbrock")
    entry = Entry("SGD", "sgd", {"lr": 2e-3})
    cloud = seed_cloud(surf, entry, surf.default_start, 300, noise_std=30.0, n_seeds=30)
    assert 0 < cloud.diverged.sum() < 30
    kept = ~cloud.diverged
    assert np.all(np.isfinite(cloud.mean_path))
    np.testing.assert_allclose(cloud.end_loss[kept].mean(), cloud.loss_mean[-1])


def test_maps_computed_one_entry_at_a_time_combine_into_the_same_result():
    """The page computes each racer's map on its own (in parallel, cached per racer) and
    joins them: bit for bit what one call over all the racers gives."""
    surf = surfaces.get("himmelblau")
    entries = [
        Entry("SGD", "sgd", {"lr": 0.01}),
        Entry("Momentum", "sgd", {"lr": 0.01, "momentum": 0.9}),
        Entry("Adam", "adam", {"lr": 0.3}),
    ]
    whole = basin_maps(surf, entries, n=12, steps=200)
    joined = combine([basin_maps(surf, [e], n=12, steps=200) for e in entries])
    assert [m.entry for m in joined.maps] == entries
    for a, b in zip(whole.maps, joined.maps, strict=True):
        for name in ("label", "steps", "final_dist", "diverged_at"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    np.testing.assert_array_equal(joined.xs, whole.xs)
    other_grid = basin_maps(surf, entries[:1], n=10, steps=200)
    with pytest.raises(ValueError, match="not maps of the same grid"):
        combine([whole, other_grid])
    with pytest.raises(ValueError, match="at least one"):
        combine([])
