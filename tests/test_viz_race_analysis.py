"""viz.race_tuning, race_maps, race_seeds: tuning, basin, sensitivity and seed figures."""

from __future__ import annotations

import json

import numpy as np
import plotly.graph_objects as go
import pytest

from engine import surfaces
from engine.basins import DIVERGED, NONE, BasinMap, BasinResult, basin_maps, seed_cloud
from engine.race import Entry
from engine.tuning import lr_grid, sensitivity_map, tune_lr
from viz import race_maps as rm
from viz import race_seeds as rs
from viz import race_tuning as rt
from viz.common import MARKER_DIVERGED, color, fmt

ROSEN = surfaces.get("rosenbrock")
HIMMEL = surfaces.get("himmelblau")
TWO_MB = 2 * 1024 * 1024


def _check_chart(fig: go.Figure) -> dict:
    """Every chart has a title and labelled axes; returns the figure as parsed JSON."""
    assert fig.layout.title.text
    for axis in ("xaxis", "yaxis"):
        assert fig.layout[axis].title.text, axis

    def no_constants(name):  # NaN / Infinity literals would mean a non-finite value leaked
        raise AssertionError(f"non-finite {name} in the figure JSON")

    return json.loads(fig.to_json(), parse_constant=no_constants)


def _synthetic_basins(n: int, entries: int, seed: int = 0) -> BasinResult:
    rng = np.random.default_rng(seed)
    maps = [
        BasinMap(
            Entry(f"e{i}", "sgd", {}),
            rng.integers(-2, 4, (n, n)),
            rng.integers(-1, 500, (n, n)),
            rng.random((n, n)),
            np.full((n, n), -1),
        )
        for i in range(entries)
    ]
    xs = np.linspace(-4.95, 4.95, n)
    return BasinResult("himmelblau", xs, xs.copy(), 500, 1e-2, np.asarray(HIMMEL.minima), maps)


@pytest.fixture(scope="module")
def tuned():
    entries = [Entry("SGD", "sgd", {"lr": 1e-3}), Entry("Adam", "adam", {"lr": 0.05})]
    return [
        tune_lr(ROSEN, e, ROSEN.default_start, 200, criterion="dist", grid=lr_grid(1e-4, 10, 12))
        for e in entries
    ]


def test_score_curves_mark_best_and_default_in_entry_colours(tuned):
    fig = rt.score_curves(tuned)
    _check_chart(fig)
    assert fig.layout.xaxis.type == "log" and "log scale" in fig.layout.xaxis.title.text
    for i, r in enumerate(tuned):
        lines = [t for t in fig.data if t.name == r.label]
        assert len(lines) == 1 and lines[0].line.color == color(i)
        stars = [t for t in fig.data if t.legendgroup == r.label and t.marker.symbol == "star"]
        assert stars and stars[0].x[0] == r.best_lr
        assert any(f"best lr {fmt(r.best_lr)}" in s for s in stars[0].text)
    # diverged candidates are drawn as crosses, never as a non-finite line point
    crosses = [t for t in fig.data if t.marker.symbol == MARKER_DIVERGED]
    assert sum(len(t.x) for t in crosses) == sum(int(np.isinf(r.scores).sum()) for r in tuned)


def test_tuning_table_is_dataframe_ready(tuned):
    table = rt.tuning_table(tuned)
    assert len({len(v) for v in table.values()}) == 1
    assert table["entry"] == ["SGD", "Adam"]
    assert table["default lr"] == ["0.001", "0.05"]
    for r, d, t in zip(tuned, table["default score"], table["tuned score"], strict=True):
        # a floored score reads "≤ tol"; tuning never makes a racer worse
        assert d == rt.shown_score(r.default_score, r.tol, True)
        assert t == rt.shown_score(r.best_score, r.tol, True)
        assert r.best_score <= r.default_score


def test_tuning_table_floors_flags_the_grid_edge_and_states_steps():
    """Booth, default racers: Adagrad's winner is the grid's largest rate (10) -> flagged;
    Adam's and SGD's gaps are far below the tolerance -> shown as ≤ 0.001 (a tie, no 'gain')."""
    from engine import race, surfaces, tuning

    booth = surfaces.get("booth")
    res = tuning.tune_entries(booth, race.default_entries("booth"), booth.default_start, 500)
    table = rt.tuning_table(res)
    by = dict(zip(table["entry"], range(len(res)), strict=True))
    ada = res[by["Adagrad"]]
    assert ada.best_index == len(ada.grid) - 1 and ada.at_edge
    assert "largest" in table["note"][by["Adagrad"]]
    assert all(table["note"][i] == "" for i, r in enumerate(res) if not r.at_edge)
    assert table["tuned score"][by["Adam"]] == "≤ 0.001"
    assert "gain" not in table
    # steps column: "default → tuned", '—' where a run did not settle
    assert table["steps to settle (default → tuned)"][by["Adagrad"]].startswith("— → ")


def test_basin_figure_small_multiples_with_selection_layer():
    res = basin_maps(
        HIMMEL,
        [Entry("SGD", "sgd", {"lr": 0.01}), Entry("Adam", "adam", {"lr": 0.1})],
        n=40,
        steps=200,
    )
    for mode in ("basin", "steps"):
        fig = rm.basin_maps_figure(res, mode=mode)
        _check_chart(fig)
        heat = [t for t in fig.data if t.type == "heatmap"]
        assert len(heat) == 2  # one image per entry, not thousands of scatter points
        select = [t for t in fig.data if t.name == "select"]
        assert len(select) == 2
        for sel in select:
            cd = np.asarray(sel.customdata)
            assert cd.shape == (rm.SELECT_GRID**2, 2)
            assert set(cd[:, 0]) <= set(res.xs) and set(cd[:, 1]) <= set(res.ys)
            assert sel.marker.opacity == 0  # invisible: the heatmap shows through
            assert sel.marker.maxdisplayed == 1  # one SVG node, not one per cell
        assert len(fig.layout.annotations) >= 3  # panel titles + colour legend
    basin = rm.basin_maps_figure(res, mode="basin")
    z = np.asarray(basin.data[0].z)
    np.testing.assert_array_equal(z, res.maps[0].label + 2)


def test_basin_hover_states_the_settling_step_only_where_the_run_settled():
    """Each hover line is checked against the map's own numbers: a start that reached a
    minimum names it and its step; one that did not ("none", "diverged") states no step (its
    ``steps`` is -1). The heatmaps send no per-cell text: the selection grid's markers are
    always nearer than Plotly's hover distance, so its hover is the one shown."""
    racers = [  # every start settles / two never do / every start diverges
        Entry("SGD", "sgd", {"lr": 0.01}),
        Entry("Adam", "adam", {"lr": 0.3}),
        Entry("SGD", "sgd", {"lr": 0.05}),
    ]
    res = basin_maps(HIMMEL, racers, n=21)
    fig = rm.basin_maps_figure(res)
    heat = [t for t in fig.data if t.type == "heatmap"]
    assert all(t.hoverinfo == "skip" and t.text is None and t.customdata is None for t in heat)
    kinds = set()
    for sel, bmap in zip([t for t in fig.data if t.name == "select"], res.maps, strict=True):
        starts = np.asarray(sel.customdata)
        col = np.searchsorted(res.xs, starts[:, 0])
        row = np.searchsorted(res.ys, starts[:, 1])
        label, steps = bmap.label[row, col], bmap.steps[row, col]
        kinds.update(np.minimum(label, 0).tolist())  # 0: settled, NONE, DIVERGED
        for text, lab, step in zip(sel.text, label, steps, strict=True):
            if lab >= 0:
                assert text == f"min {lab + 1}, settled by step {step}"
            else:
                assert text == ("none" if lab == NONE else "diverged")
                assert "step" not in text
    assert kinds == {0, NONE, DIVERGED}


def test_steps_codes_are_ordered_by_steps_and_flag_none_and_diverged():
    label = np.array([[0, 1, NONE, DIVERGED]])
    steps = np.array([[5, 400, -1, -1]])
    bmap = BasinMap(Entry("x", "sgd", {}), label, steps, np.zeros((1, 4)), np.full((1, 4), -1))
    codes = rm._steps_codes(bmap, 500)
    assert codes[0, 2] == 1 and codes[0, 3] == 0
    assert 2 <= codes[0, 0] < codes[0, 1] <= 255


def test_basin_figure_json_stays_under_2mb_at_the_cap():
    res = _synthetic_basins(100, 6)  # 100 x 100 starts, the maximum of 6 entries
    for mode in ("basin", "steps"):
        assert len(rm.basin_maps_figure(res, mode=mode).to_json()) <= TWO_MB


def test_basin_figure_rejects_unknown_mode():
    with pytest.raises(ValueError, match="Unknown basin map mode"):
        rm.basin_maps_figure(_synthetic_basins(4, 1), mode="nope")


def test_sensitivity_figure_marks_the_best_cell_and_carries_settings():
    sens = sensitivity_map(ROSEN, Entry("Momentum", "sgd", {}), ROSEN.default_start, 150, n=8)
    fig = rt.sensitivity_figure(sens)
    _check_chart(fig)
    assert "log scale" in fig.layout.xaxis.title.text
    best = [t for t in fig.data if t.name == "best"][0]
    j, i = sens.best
    assert best.x[0] == pytest.approx(np.log10(sens.lrs[i]))
    assert best.y[0] == sens.knob_values[j]
    sel = [t for t in fig.data if t.name == "select"][0]
    cd = np.asarray(sel.customdata)
    assert set(np.round(cd[:, 0], 15)) <= set(np.round(sens.lrs, 15))
    assert [t.name for t in fig.data].count("diverged") == int(np.isinf(sens.scores).any())


def test_seed_figures():
    entries = [Entry("SGD", "sgd", {"lr": 1e-3}), Entry("Adam", "adam", {"lr": 0.05})]
    clouds = [
        seed_cloud(ROSEN, e, ROSEN.default_start, 80, noise_std=1.0, n_seeds=20) for e in entries
    ]
    loss = rs.seed_loss_figure(clouds, min_value=0.0)
    _check_chart(loss)
    assert loss.layout.yaxis.type == "log"
    fills = [t for t in loss.data if t.fill == "tonexty"]
    assert len(fills) == 2
    traces = rs.seed_cloud_traces(clouds)
    ends = [t for t in traces if "end points" in t.name]
    assert [len(t.x) for t in ends] == [20, 20]
    assert ends[1].marker.line.color == color(1)
    _check_chart(rs.seed_cloud_figure(ROSEN, clouds))


def test_empty_inputs_give_an_empty_state():
    assert "Add a race entry" in rt.score_curves([]).layout.annotations[0].text
    assert "noise" in rs.seed_loss_figure([]).layout.annotations[0].text
