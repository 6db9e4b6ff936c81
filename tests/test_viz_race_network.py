"""Figures and tables of the race page's network view (viz.race_network)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from engine import netrace as nr
from engine import netrace_report as rep
from engine.optimizers import PRESETS
from viz import race_network as vn
from viz.common import color

LABELS = ("SGD", "Momentum", "RMSProp", "Adagrad", "Adam")


def _racers(labels=LABELS):
    out = []
    for label in labels:
        name, hp = PRESETS[label]
        out.append(nr.Racer(label, name, tuple(sorted({**hp, "lr": nr.network_lr(label)}.items()))))
    return tuple(out)


@pytest.fixture(scope="module")
def default_view():
    """The default network view: 5 racers, 2-16-16-2 tanh on moons, 41x41 PCA landscape."""
    result = nr.run(nr.NetRaceConfig(_racers()))
    return result, nr.landscape(result)


def test_default_landscape_figure_is_light_and_animated(default_view):
    result, land = default_view
    fig = vn.landscape_figure(land, result)
    size = len(fig.to_json())
    assert size < 250_000, size  # the page's budget is 300 KB per rerun, all figures
    n = len(result.runs)
    assert 2 <= len(fig.frames) <= vn.MAX_FRAMES
    moving = list(range(len(fig.data) - n - 1, len(fig.data)))
    for frame in fig.frames:
        assert list(frame.traces) == moving  # frames carry only tails and heads
        assert all(set(t) <= {"x", "y", "marker", "type"} for t in frame.to_plotly_json()["data"])
    # play replays every racer: the first frame has every head at the shared start
    first = fig.frames[0].data[-1]
    assert np.allclose(first.x, first.x[0]) and np.allclose(first.y, first.y[0])


def test_figure_states_the_explained_variance_and_warns_when_low(default_view):
    result, land = default_view
    a, b = land.explained
    title = vn.landscape_figure(land, result).layout.title.text
    assert f"PC1 explains {a:.1%}, PC2 {b:.1%}" in title
    low = dataclasses.replace(land, plane=dataclasses.replace(land.plane, explained=(0.3, 0.1)))
    title = vn.landscape_figure(low, result).layout.title.text
    assert "Only 40% of the trajectories' variance lies in this plane" in title
    assert vn.explained_text((0.6, 0.2))[1] is None


def test_racer_colours_are_the_race_pages(default_view):
    result, land = default_view
    fig = vn.landscape_figure(land, result)
    paths = [
        t for t in fig.data if t.legendgroup and t.mode == "lines" and t.showlegend is not False
    ]
    assert [t.line.color for t in paths] == [color(i) for i in range(len(result.runs))]
    curves = vn.curves_figure(result)
    assert {t.line.color for t in curves.data} == {color(i) for i in range(len(result.runs))}


def test_hover_grid_carries_the_exact_landscape(default_view):
    result, land = default_view
    grid = vn.landscape_figure(land, result).data[0]
    np.testing.assert_allclose(np.asarray(grid.customdata), land.loss.ravel(), rtol=1e-6)
    assert land.loss.shape == (41, 41)


def test_path_loss_figure_draws_true_and_projected_loss(default_view):
    result, land = default_view
    fig = vn.path_loss_figure(land, result)
    dotted = [t for t in fig.data if t.line.dash == "dot"]
    solid = [t for t in fig.data if t.line.dash is None]
    assert len(dotted) == len(solid) == len(result.runs)
    assert all("projected point" in t.name for t in dotted)
    np.testing.assert_allclose(np.asarray(solid[0].y), land.true_loss[0], rtol=1e-6)


def test_csv_tables_match_the_results(default_view):
    result, land = default_view
    paths = vn.paths_table(land, result)
    assert len(paths) == sum(len(c) for c in land.coords)
    adam = paths[paths.racer == "Adam"]
    np.testing.assert_array_equal(adam.loss_at_projected_point, land.projected_loss[4])
    np.testing.assert_array_equal(adam.true_loss, land.true_loss[4])
    curves = vn.curves_table(result)
    assert len(curves) == sum(len(r.history.epochs) for r in result.runs)
    json.loads(curves.to_json())


def test_leaderboard_table_keeps_rank_order(default_view):
    result, _ = default_view
    table = vn.leaderboard_table(rep.leaderboard(result, 0.15))
    assert list(table["rank"]) == [1, 2, 3, 4, 5]
    assert table.iloc[0]["status"].startswith("settled below 0.15")


def test_random_mode_figure(default_view):
    result, _ = default_view
    land = nr.landscape(result, mode="random", grid=11, reference=1)
    fig = vn.landscape_figure(land, result)
    assert "filter-normalized random directions" in fig.layout.title.text
    assert "Momentum's end" in fig.layout.title.text
    # one point (the reference's end) and nothing to animate: no Play button, no step slider
    assert len(fig.frames) == 0 and not fig.layout.updatemenus and not fig.layout.sliders
    pca = vn.landscape_figure(nr.landscape(result, grid=11), result)
    assert len(pca.frames) > 1 and pca.layout.updatemenus and pca.layout.sliders
