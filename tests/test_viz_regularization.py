"""Figure builders of the Regularization lab (viz.regularization): what each chart encodes."""

from __future__ import annotations

import json

import numpy as np
import plotly.graph_objects as go
import pytest

from engine import reg_geometry as rg
from engine import reg_lab as rl
from viz import regularization as vr


@pytest.fixture(scope="module")
def runs():
    lab = rl.LabConfig(
        rl.DEFAULT_BASE.replace(epochs=60),
        (rl.Variant("none", patience=3), rl.Variant("l1", l1=0.05), rl.Variant("l2", l2=0.02)),
    )
    return rl.TwinRuns(lab).run()


def test_histogram_frames_cover_every_epoch_and_the_spike_counts_exact_zeros(runs):
    hs, labels = [r.history for r in runs], [r.label for r in runs]
    assert hs[0].stopped_early  # its snapshots end early; the others go on
    fig = vr.histogram_figure(hs, labels, 0, 60)
    go.Figure(fig.to_dict())  # the frames are kept unvalidated: Plotly's full check accepts them
    names = [int(f.name) for f in fig.frames]
    assert names[-1] == 60 and names[0] == 0
    assert len(names) <= vr.MAX_FRAMES
    w = runs[1].final[runs[1].history.weight_slices[0]]
    spike = fig.data[3]  # (bars, spike) per run: run 1's spike
    assert spike.y[0] == np.count_nonzero(w == 0) > 0
    bars = np.asarray(fig.data[2].y)
    assert bars.sum() + spike.y[0] == w.size  # every weight counted once
    assert any("exactly 0" in a.text for a in fig.layout.annotations)
    assert fig.layout.sliders[0].active == len(names) - 1
    assert "Range" in fig.layout.meta["note"]


def test_log_count_axis(runs):
    hs, labels = [r.history for r in runs], [r.label for r in runs]
    assert vr.histogram_figure(hs, labels, None, 60, log_count=True).layout.yaxis.type == "log"


def test_loss_figure_marks_the_early_stopping_epoch(runs):
    hs, labels = [r.history for r in runs], [r.label for r in runs]
    fig = vr.loss_figure(hs, labels)
    stars = [t for t in fig.data if t.marker.symbol == "star"]
    assert len(stars) == 1 and stars[0].x[0] == hs[0].best_epoch


def _validates_unchanged(fig: go.Figure) -> bool:
    return json.loads(go.Figure(fig.to_dict()).to_json()) == json.loads(fig.to_json())


def test_live_figures_are_built_unchecked_yet_validate_unchanged(runs):
    """The loss, live histogram and sparsity figures are rebuilt on every live poll, so built from
    plain dicts without Plotly's checks: Plotly's full check must accept them and change
    nothing (no unknown key, no value it would coerce)."""
    hs, labels = [r.history for r in runs], [r.label for r in runs]
    for log in (False, True):
        fig = vr.loss_figure(hs, labels, log=log)
        assert _validates_unchanged(fig)
        assert fig.layout.yaxis.type == ("log" if log else "linear")
        live = vr.histogram_figure(hs, labels, None, 30, log_count=log, animate=False)
        assert _validates_unchanged(live)
        assert (live.layout.yaxis.type == "log") == log
        assert "epoch 30 (live)" in live.layout.annotations[-1].text
    curves = [rl.sparsity_curve(h, 0, eps=1e-3) for h in hs]
    assert _validates_unchanged(vr.sparsity_figure(curves, labels, "layer 1"))


def test_summary_table_gap_is_validation_minus_train(runs):
    hs, labels = [r.history for r in runs], [r.label for r in runs]
    table = vr.summary_table(hs, labels)
    np.testing.assert_allclose(table["gap (val − train)"], table["val loss"] - table["train loss"])
    assert list(table["variant"]) == labels


def test_geometry_title_says_whether_l1_reached_an_axis():
    p = rg.two_weight_problem()
    lam0 = rg.l1_zero_lambda(p)
    assert "on an axis" in vr.geometry_figure(p, lam0 + 0.1).layout.title.text
    assert "not on an axis" in vr.geometry_figure(p, lam0 / 2).layout.title.text


def test_exports(runs):
    labels = [r.label for r in runs]
    hist = vr.history_frame([r.history for r in runs], labels)
    assert len(hist) == sum(len(r.history.epochs) for r in runs)
    weights = vr.weights_frame(runs, labels)
    n_weights = sum(s.stop - s.start for s in runs[0].history.weight_slices)
    assert len(weights) == 3 * n_weights
    first = weights[(weights.variant == labels[1]) & (weights.layer == 1)]
    np.testing.assert_array_equal(
        first.w.to_numpy().reshape(50, 32),
        runs[1].final[runs[1].history.weight_slices[0]].reshape(50, 32),
    )


def test_live_histogram_is_the_same_epoch_without_frames(runs):
    hs, labels = [r.history for r in runs], [r.label for r in runs]
    full = vr.histogram_figure(hs, labels, 0, 60)
    light = vr.histogram_figure(hs, labels, 0, 60, animate=False)
    assert not light.frames and not light.layout.sliders and not light.layout.updatemenus
    for a, b in zip(full.data, light.data, strict=True):  # the same bars, on the same bins
        assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
    assert any("epoch 60 (live)" in a.text for a in light.layout.annotations)
    # any snapshot epoch, not only the animation's subsampled frames
    mid = vr.histogram_figure(hs, labels, 0, 29, animate=False)
    assert any("epoch 29 (live)" in a.text for a in mid.layout.annotations)
    assert light.layout.height == full.layout.height  # the chart keeps its size when it ends
    assert len(light.to_json()) < len(full.to_json()) / 3
