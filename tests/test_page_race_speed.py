"""AppTest: the race page builds and sends only what is visible (issue 10).

Byte sizes here are the figures' JSON as Streamlit sends it (deterministic); latency is a
benchmark (``python -m bench.browser``), not a test.
"""

from __future__ import annotations

import json

PAGE = "pages/race.py"
MAP_BUDGET = 200_000  # bytes of JSON: the default map
PAGE_BUDGET = 300_000  # bytes of JSON: every figure of the default page


def _specs(at) -> list[str]:
    return [c.proto.spec for c in at.get("plotly_chart")]


def _titles(at) -> list[str]:
    return [json.loads(s)["layout"].get("title", {}).get("text", "") for s in _specs(at)]


def _switch_tab(at, name: str):
    at.session_state["tab"] = name
    at.query_params["tab"] = name
    return at.run()


def test_default_race_sends_at_most_two_figures_within_the_byte_budget(open_page, counted):
    at = open_page(PAGE)
    assert not at.exception
    specs = _specs(at)
    assert 1 <= len(specs) <= 2, _titles(at)
    assert "Rosenbrock" in _titles(at)[0]  # the map comes first
    assert len(specs[0]) <= MAP_BUDGET, len(specs[0])
    assert sum(map(len, specs)) <= PAGE_BUDGET
    # the 3D view and "Inside the optimizer" cost nothing until opened
    assert counted["3d"] == 0


def test_opening_a_tab_builds_only_it_and_never_reruns_the_race(open_page, counted):
    at = open_page(PAGE)
    assert counted["run_race"] == 1 and counted["contour_figure"] == 1
    _switch_tab(at, "3D view")
    assert not at.exception
    assert any("in 3D" in t for t in _titles(at))
    assert counted == {**counted, "run_race": 1, "contour_figure": 1, "3d": 1}
    _switch_tab(at, "Inside the optimizer")
    assert not any("in 3D" in t for t in _titles(at))  # the closed tab is not sent
    assert any("Inside the optimizer" in t for t in _titles(at))
    assert counted["run_race"] == 1 and counted["contour_figure"] == 1


def test_the_3d_view_draws_one_webgl_pixel_per_css_pixel(open_page):
    """Plotly's default ``plotGlPixelRatio`` (2) draws 4x the pixels: without a GPU (software
    WebGL) that made opening the 3D view ~0.4 s slower (README: the race A/B after run 7)."""
    at = _switch_tab(open_page(PAGE), "3D view")
    (chart,) = [c for c in at.get("plotly_chart") if "in 3D" in c.proto.spec]
    assert json.loads(chart.proto.config)["plotGlPixelRatio"] == 1
    assert json.loads(chart.proto.spec)["layout"]["height"] <= 500


def test_a_changed_racer_reuses_the_surface_background(open_page, counted):
    at = open_page(PAGE)
    assert counted["surface_layer"] == 1
    at.number_input(key="lr1").set_value(0.001).run()
    assert not at.exception
    assert counted["run_race"] == 2 and counted["contour_figure"] == 2
    assert counted["surface_layer"] == 1  # same surface: the contour image is not rebuilt
    at.selectbox(key="surface").select("beale").run()
    assert counted["surface_layer"] == 2


def test_step_cursor_rebuilds_only_the_map(open_page, counted):
    at = open_page(PAGE)
    at.slider(key="at").set_value(100).run()
    assert not at.exception
    assert counted["run_race"] == 1 and counted["surface_layer"] == 1
    hero = json.loads(_specs(at)[0])
    slider = hero["layout"]["sliders"][0]
    assert slider["steps"][slider["active"]]["label"] == "100"


def test_after_the_idle_release_a_new_visitor_recomputes(open_page, counted):
    """pages.common.idle.release drops the race's cached result, map and surface background
    (a second visitor before it gets them from the caches), and nothing else breaks."""
    from pages.common import idle

    assert not open_page(PAGE).exception
    assert not open_page(PAGE).exception
    assert counted["run_race"] == 1 and counted["contour_figure"] == 1
    assert counted["surface_layer"] == 1
    idle.release()
    at = open_page(PAGE)
    assert not at.exception
    assert counted["run_race"] == 2 and counted["contour_figure"] == 2
    assert counted["surface_layer"] == 2
    assert "Rosenbrock" in _titles(at)[0]
