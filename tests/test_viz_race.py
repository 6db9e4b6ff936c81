"""The race figures and tables, without Streamlit: size, frames, divergence, formatting."""

from __future__ import annotations

import base64

import numpy as np
import plotly.graph_objects as go
import pytest

from engine import race, surfaces
from viz import race as vr
from viz.common import color, fmt
from viz.raster import contour_png


@pytest.fixture(scope="module")
def rosen():
    s = surfaces.get("rosenbrock")
    entries = [*race.default_entries("rosenbrock"), race.Entry("SGD lr=1", "sgd", {"lr": 1.0})]
    return s, race.run_race(s, entries, s.default_start, race.DEFAULT_STEPS)


def _moving(fig, n: int) -> tuple[list[int], list[int]]:
    """Indices of the racers' static paths and of what moves (trails, then the heads)."""
    last = len(fig.data)
    return list(range(last - 2 * n - 1, last - n - 1)), list(range(last - n - 1, last))


def test_map_is_valid_light_and_animates_only_the_racers(rosen):
    s, result = rosen
    fig = vr.contour_figure(s, result)
    go.Figure(fig.to_dict())  # full Plotly validation of traces, frames and layout
    assert len(fig.to_json()) <= 300_000  # six racers, one diverging (issue 10: light frames)
    assert 2 <= len(fig.frames) <= vr.MAX_FRAMES
    n = len(result.entries)
    paths, moving = _moving(fig, n)
    assert all(fig.data[i].mode == "lines" and fig.data[i].customdata is not None for i in paths)
    middle = fig.frames[1:-1]
    assert all(list(f.traces) == moving for f in middle)  # only tails and heads move...
    assert all(len(f.data[0].x) <= vr.TAIL + 1 for f in middle)  # ...and a tail is short
    assert list(fig.frames[0].traces) == paths + moving  # Play fades the full paths
    assert {f.data[0].opacity for f in (fig.frames[0], fig.frames[-1])} == {vr.FAINT, 1.0}
    steps = [int(f.name) for f in fig.frames]
    assert steps[0] == 0 and steps[-1] == result.steps and steps == sorted(steps)
    assert fig.layout.images[0].source.startswith("data:image/png;base64,")


def test_default_map_is_at_most_200_kb_and_draws_every_step():
    """Issue 10's target: the default race's map (Rosenbrock, 5 racers, 500 steps)."""
    s = surfaces.get(surfaces.DEFAULT_SURFACE)
    result = race.run_race(s, race.default_entries(s.name), s.default_start, race.DEFAULT_STEPS)
    fig = vr.contour_figure(s, result)
    assert len(fig.to_json()) <= 200_000
    paths, _ = _moving(fig, len(result.entries))
    assert all(len(fig.data[i].x) == result.steps + 1 for i in paths)  # full quality at rest
    assert all(fig.data[i].opacity == 1.0 for i in paths)


def test_map_opening_mid_race_draws_the_path_so_far_bold(rosen):
    s, result = rosen
    fig = vr.contour_figure(s, result, show_step=120)
    n = len(result.entries)
    paths, moving = _moving(fig, n)
    assert all(fig.data[i].opacity == vr.FAINT for i in paths)
    trail = fig.data[moving[0]]
    assert trail.x[-1] == pytest.approx(result.entries[0].path[120, 0], abs=1e-3)
    assert len(trail.x) >= 100  # every drawn step up to the cursor, not just a tail


def test_diverged_racer_ends_with_a_cross_and_is_named(rosen):
    s, result = rosen
    fig = vr.contour_figure(s, result)
    heads = fig.data[-1]
    k = len(result.entries) - 1
    assert result.entries[k].diverged_at >= 0
    assert heads.marker.symbol[k].startswith("x")
    assert all(not sym.startswith("x") for sym in heads.marker.symbol[:k])
    paths, _ = _moving(fig, len(result.entries))
    assert "diverged" in fig.data[paths[-1]].name
    board = vr.leaderboard(s, result)
    assert board.iloc[-1]["status"].startswith("diverged at step")


def test_colours_are_one_per_racer_in_every_view(rosen):
    s, result = rosen
    hero, losses = vr.contour_figure(s, result), vr.loss_figure(s, result)
    paths, moving = _moving(hero, len(result.entries))
    for i in range(len(result.entries)):
        assert hero.data[-1].marker.color[i] == color(i)
        assert hero.data[paths[i]].line.color == color(i)
        assert hero.data[moving[i]].line.color == color(i)
    assert [t.line.color for t in losses.data if t.mode == "lines"] == [
        color(i) for i in range(len(result.entries))
    ]
    assert losses.layout.yaxis.type == "log"
    assert "log scale" in losses.layout.yaxis.title.text


def test_trajectories_table_has_every_step_of_every_racer(rosen):
    _, result = rosen
    df = vr.trajectories(result)
    assert list(df.columns) == ["step", "racer", "x", "y", "loss", "grad_norm"]
    assert len(df) == len(result.entries) * (result.steps + 1)
    assert np.isfinite(df[["x", "y", "loss", "grad_norm"]].to_numpy()).all()


def test_contour_png_is_a_png_of_the_grid_size():
    z = np.add.outer(np.arange(30.0), np.arange(20.0))
    raw = base64.b64decode(contour_png(z).split(",", 1)[1])
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(raw[16:20], "big"), int.from_bytes(raw[20:24], "big")
    assert (width, height) == (20, 30)


@pytest.mark.parametrize(
    ("x", "text"), [(0.000012345, "1.23e-05"), (1234.5, "1.23e+03"), (2.0, "2"), (0.5, "0.5")]
)
def test_fmt_gives_three_significant_digits(x, text):
    assert fmt(x) == text


def test_compact_floats_halves_a_chart_unless_a_value_would_not_survive():
    from viz.common import compact_floats

    ordinary = compact_floats([1.5, np.nan, 2e-8, -3e6, 0.0])
    assert ordinary.dtype == np.float32
    assert np.isnan(ordinary[1]) and ordinary[4] == 0  # a gap stays a gap
    np.testing.assert_allclose(ordinary[[0, 2, 3]], [1.5, 2e-8, -3e6], rtol=1e-7)
    for extreme in (1e150, 1e-40):  # a diverging racer's state; below float32's normal range
        kept = compact_floats([1.0, extreme])
        assert kept.dtype == np.float64 and kept[1] == extreme


def test_inside_the_optimizer_sends_float32_lines():
    from viz.race_inside import inside_figure

    s = surfaces.get("rosenbrock")
    result = race.run_race(
        s, race.default_entries("rosenbrock"), s.default_start, 500, record_state=True
    )
    fig = inside_figure(result, 250)
    lines = [t for t in fig.data if t.type == "scatter" and t.y is not None and len(t.y) > 2]
    assert lines and all(np.asarray(t.y).dtype == np.float32 for t in lines)
    assert len(fig.to_json()) < 150_000  # was 328 KB with the values as JSON numbers


def test_the_map_keeps_its_frames_as_built_through_json_pickle_and_copy(rosen):
    """The map's frames are never validated on the page's path (viz.common.AnimatedFigure);
    what it serializes must still be a valid figure, and copies must serialize the same."""
    import copy
    import pickle

    s, result = rosen
    fig = vr.contour_figure(s, result, show_step=120)
    as_dict = fig.to_dict()
    assert len(as_dict["frames"]) == len(fig.frames) > 2
    checked = go.Figure(as_dict)  # Plotly's full validation accepts every frame
    assert [f.name for f in checked.frames] == [f["name"] for f in as_dict["frames"]]
    for twin in (pickle.loads(pickle.dumps(fig)), copy.deepcopy(fig)):
        assert twin.to_json() == fig.to_json()
