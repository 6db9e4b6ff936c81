"""AppTest: the Optimizer race page runs, restores a race from its URL and survives bad input."""

from __future__ import annotations

import pytest

from engine import surfaces
from pages.common import race_config as rc
from tests.conftest import share_url

PAGE = "pages/race.py"


BOARD_COLUMNS = ("racer", "status", "settled at", "final loss", "distance to minimum")


def _board(at):
    """The leaderboard (an ``st.table``, first on the race view) with short column names."""
    board = at.table[0].value
    return board.set_axis(list(BOARD_COLUMNS), axis=1)


def _fair_table(at):
    """The Fair race tab's tuned-vs-default table (entries as the index)."""
    return next(t.value for t in at.table if "tuned lr" in t.value.columns)


def _open_tab(at, name: str):
    """Switch the race's tabs to ``name`` (only the open tab is built) and rerun."""
    at.session_state["tab"] = name
    at.query_params["tab"] = name
    return at.run()


def _racers(at) -> list[str]:
    return list(_board(at)["racer"])


def test_default_page_runs_a_meaningful_race(open_page):
    at = open_page(PAGE)
    assert not at.exception
    assert not at.warning
    assert [p.split(" lr=")[0] for p in _racers(at)] != []
    assert sorted(p.split(" ")[0] for p in _racers(at)) == sorted(
        ["SGD", "Momentum", "RMSProp", "Adagrad", "Adam"]
    )
    assert at.get("plotly_chart"), "the race map is missing"
    assert at.get("download_button"), "the CSV download is missing"
    assert share_url(at) is not None  # AppTest has no host: the link is "" on a default page


def test_url_restores_the_race(open_page):
    query = {
        "surface": "beale",
        "n": "2",
        "e1": "Adam",
        "lr1": "0.05",
        "e2": "Nesterov",
        "lr2": "0.002",
        "steps": "200",
        "x0": "2",
        "y0": "1.5",
        "noise": "0.1",
        "seed": "7",
    }
    at = open_page(PAGE, **query)
    assert not at.exception
    assert not at.warning
    assert at.selectbox(key="surface").value == "beale"
    assert at.number_input(key="steps").value == 200
    assert at.number_input(key="x0").value == 2.0
    assert at.number_input(key="y0").value == 1.5
    assert at.number_input(key="lr1").value == 0.05
    assert _racers(at) and {r.split(" ")[0] for r in _racers(at)} == {"Adam", "Nesterov"}
    share = share_url(at)
    for key, value in query.items():
        assert f"{key}={value}" in share


BAD = [
    ("surface", "foo", "foo"),
    ("e1", "Bogus", "Bogus"),
    ("lr1", "nan", "nan"),
    ("lr1", "inf", "inf"),
    ("lr1", "-1", "-1"),
    ("steps", "99999", "99999"),
    ("steps", "-inf", "-inf"),
    ("steps", "12.5", "12.5"),
    ("x0", "99", "99"),
    ("y0", "abc", "abc"),
    ("noise", "-3", "-3"),
    ("n", "100", "100"),
    ("seed", "1e400", "1e400"),
]


@pytest.mark.parametrize(("key", "raw", "shown"), BAD)
def test_bad_url_value_warns_and_page_still_works(open_page, key, raw, shown):
    at = open_page(PAGE, **{key: raw})
    assert not at.exception
    warnings = [w.value for w in at.warning]
    assert any(f"{key}={shown}" in w and "instead" in w for w in warnings), warnings
    assert len(_board(at)) >= 1, "no race after a bad value"


def test_diverging_entry_is_reported_not_crashed(open_page):
    at = open_page(PAGE, e1="SGD", lr1="1")
    assert not at.exception
    assert any("diverged at step" in e.value for e in at.error)
    status = dict(zip(_board(at)["racer"], _board(at)["status"], strict=True))
    assert status["SGD lr=1"].startswith("diverged at step")


def test_changing_surface_resets_start_and_learning_rates(open_page):
    at = open_page(PAGE, x0="0.5", y0="0.5")
    at.selectbox(key="surface").select("booth").run()
    assert not at.exception
    booth = surfaces.get("booth")
    assert at.number_input(key="x0").value == booth.default_start[0]
    assert at.number_input(key="y0").value == booth.default_start[1]
    assert at.number_input(key="lr1").value == rc.default_lr("booth", "SGD")


def test_changing_preset_brings_its_settings(open_page):
    at = open_page(PAGE)
    at.selectbox(key="e1").select("Nesterov").run()
    assert not at.exception
    assert at.toggle(key="nes1").value is True
    assert at.number_input(key="m1").value == 0.9


def test_invalid_hparam_combination_falls_back_with_a_warning(open_page):
    at = open_page(PAGE, e1="Nesterov", d1="0.5")
    assert not at.exception
    assert any("Nesterov momentum requires" in w.value for w in at.warning)
    assert len(_board(at)) == 5


def test_same_optimizer_twice_gets_distinct_labels(open_page):
    at = open_page(PAGE, n="2", e1="Adam", e2="Adam", lr1="0.1", lr2="0.01")
    assert not at.exception
    assert sorted(_racers(at)) == ["Adam lr=0.01", "Adam lr=0.1"]


# --- analysis views: fair race, basins, sensitivity, seeds, inside, custom formula ----------
def _charts(at) -> list[dict]:
    import json

    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def _arr(value) -> list:
    """A figure array from JSON: a plain list, or Plotly's base64 ``{"bdata", "dtype"}``."""
    import base64

    import numpy as np

    if isinstance(value, dict) and "bdata" in value:
        data = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        return data.reshape(value["shape"]).tolist() if "shape" in value else data.tolist()
    return list(value)


def _chart_titled(at, words: str) -> dict:
    for spec in _charts(at):
        if words in (spec["layout"].get("title", {}) or {}).get("text", ""):
            return spec
    raise AssertionError(f"no chart titled ...{words}...")


def test_fair_race_from_the_url_shows_tuned_rates_and_score_curves(open_page):
    at = open_page(PAGE, tune="1", crit="dist", tab="Fair race")
    assert not at.exception and not at.warning
    table = _fair_table(at)
    assert list(table.columns[:3]) == ["default lr", "tuned lr", "tuned from"]
    assert len(table) == 5 and (table["default lr"] != table["tuned lr"]).any()
    curves = _chart_titled(at, "Learning-rate search")
    assert {t["name"].split(" ")[0] for t in curves["data"] if t.get("name")} >= {"SGD", "Adam"}
    board = _board(_open_tab(at, "Leaderboard"))
    assert all(" tuned lr=" in r for r in board["racer"]), list(board["racer"])
    # the toggle back to the untuned race
    at.selectbox(key="rates").select("default").run()
    assert not at.exception
    assert not any("tuned" in r for r in _board(at)["racer"])


def test_fair_race_by_hand_and_adopting_the_tuned_rates(open_page):
    at = open_page(PAGE)
    before = at.number_input(key="lr1").value
    at.toggle(key="tune").set_value(True).run()
    assert not at.exception
    tuned = _fair_table(_open_tab(at, "Fair race"))["tuned lr"].iloc[0]
    at.button[0].click().run()  # "Use the tuned rates as the racers' own"
    assert not at.exception
    assert at.toggle(key="tune").value is False
    assert at.number_input(key="lr1").value != before
    assert f"{at.number_input(key='lr1').value:.3g}" == tuned


def test_basins_compute_each_racer_once_and_a_changed_racer_alone(open_page, monkeypatch):
    """Each racer's map is one shared computation keyed by that racer (not by the whole race):
    changing one racer's learning rate computes only its map; the others come from the
    results cache."""
    import functools

    from engine import basins
    from engine.result_cache import result_cache
    from pages.common import jobs as pj

    computed = []
    real = pj.shared_compute_all

    def spy(calls, *args, **kwargs):
        for key, fn, _, _ in calls:
            is_basin = isinstance(fn, functools.partial) and fn.func is basins.basin_maps
            if is_basin and key not in result_cache():
                computed.append([e.label for e in fn.args[1]])
        return real(calls, *args, **kwargs)

    monkeypatch.setattr(pj, "shared_compute_all", spy)
    at = open_page(
        PAGE, view="basins", surface="himmelblau", grid="11"
    )  # a grid no other test uses
    assert not at.exception
    assert sorted(map(len, computed)) == [1] * 5  # one computation per racer
    assert len(_chart_titled(at, "Basins of attraction")["data"]) >= 5
    computed.clear()
    at.number_input(key="lr2").set_value(0.002).run()
    assert not at.exception
    assert len(computed) == 1 and len(computed[0]) == 1  # the changed racer alone
    assert "lr=0.002" in computed[0][0]


def test_basins_view_from_the_url_and_a_click_races_from_that_start(open_page):
    at = open_page(PAGE, view="basins", surface="himmelblau", grid="20")
    assert not at.exception and not at.warning
    spec = _chart_titled(at, "Basins of attraction")
    heatmaps = [t for t in spec["data"] if t["type"] == "heatmap"]
    assert len(heatmaps) == 5 and len(_arr(heatmaps[0]["x"])) == 20
    shares = at.table[0].value
    assert list(shares.index)[0].startswith("SGD") and "min 1" in shares.iloc[0, 0]
    # a click (the chart's selection callback) stores the start and switches to the race
    at.session_state["_start_click"] = (-2.5, 3.5)
    at.session_state["view"] = "race"
    at.run()
    assert not at.exception
    assert at.number_input(key="x0").value == -2.5 and at.number_input(key="y0").value == 3.5
    assert len(_board(at)) == 5  # back on the race, from the clicked start


def test_sensitivity_view_from_the_url(open_page):
    at = open_page(PAGE, view="sensitivity", sens="2")
    assert not at.exception and not at.warning
    spec = _chart_titled(at, "Sensitivity of Momentum")
    heat = [t for t in spec["data"] if t["type"] == "heatmap" and t.get("name") == "score"][0]
    assert len(_arr(heat["x"])) == 25 and len(_arr(heat["y"])) == 25
    assert any(c.value.startswith("Best: lr") for c in at.caption)


def test_seed_clouds_with_noise(open_page):
    at = open_page(PAGE, noise="0.5", seeds="12", tab="Loss per step")
    assert not at.exception and not at.warning
    hero = _charts(at)[0]
    clouds = [t for t in hero["data"] if "end points" in (t.get("name") or "")]
    assert clouds and sum(len(_arr(t["x"])) for t in clouds) == 12 * 5
    band = _chart_titled(at, "Loss over 12 noisy runs")
    assert any(t.get("fill") == "tonexty" for t in band["data"])


def test_step_cursor_sets_the_map_frame_and_the_inside_charts(open_page):
    at = open_page(PAGE, at="120", tab="Inside the optimizer")
    assert not at.exception and not at.warning
    hero = _charts(at)[0]
    slider = hero["layout"]["sliders"][0]
    assert slider["steps"][slider["active"]]["label"] == "120"
    inside = _chart_titled(at, "Inside the optimizer")
    assert {s["x0"] for s in inside["layout"]["shapes"]} == {120}
    titles = {a["text"] for a in inside["layout"]["annotations"]}
    assert {"effective step ‖Δθ‖/‖g‖", "momentum buffer ‖b‖"} <= titles


def test_custom_formula_from_the_url(open_page):
    at = open_page(PAGE, formula="x**2 + 3*y**2", fmin="0, 0")
    assert not at.exception and not at.warning and not at.error
    assert at.selectbox(key="surface").value == "custom"
    assert any("x^{2}" in m.value or "x^2" in m.value for m in at.latex)
    board = _board(at)
    assert board["distance to minimum"].map(lambda v: v != "—").all()


def test_rejected_formula_points_at_the_column_and_the_page_still_races(open_page):
    at = open_page(PAGE, formula="x + foo(y)")
    assert not at.exception
    assert any("rejected" in e.value and "column 5" in e.value for e in at.error)
    assert any(c.value.endswith("    ^") for c in at.code)
    assert len(_board(at)) == 5


def test_non_finite_regions_are_reported_not_crashed(open_page):
    at = open_page(PAGE, formula="log(x) + sqrt(y)")
    assert not at.exception
    assert any("not finite on" in i.value for i in at.info)


def test_formula_typed_by_hand(open_page):
    at = open_page(PAGE)
    at.selectbox(key="surface").select("custom").run()
    at.text_input(key="formula").input("(x - 1)**2 + (y + 2)**2").run()
    at.text_input(key="fmin").input("1, -2").run()
    assert not at.exception and not at.error and not at.warning
    assert at.text_input(key="formula").value == "(x - 1)**2 + (y + 2)**2"
    # the known minimum makes distances meaningful: every racer gets one
    board = _board(at)
    assert board["distance to minimum"].map(lambda v: v != "—").all()


ANALYSIS_BAD = [
    ("view", "nope"),
    ("crit", "bogus"),
    ("grid", "1000"),
    ("seeds", "-1"),
    ("rates", "maybe"),
    ("tune", "perhaps"),
    ("at", "99999"),
    ("formula", "x" * 400),
    ("xmin", "nan"),
]


@pytest.mark.parametrize(("key", "raw"), ANALYSIS_BAD)
def test_bad_analysis_url_values_warn(open_page, key, raw):
    at = open_page(PAGE, **{key: raw})
    assert not at.exception
    warnings = [w.value for w in at.warning]
    assert any(f"{key}={raw[:10]}" in w and "instead" in w for w in warnings), warnings


def test_semantic_problems_warn_and_fall_back(open_page):
    at = open_page(PAGE, view="sensitivity", sens="1", knob="rho")
    assert any("knob=rho" in w.value and "momentum" in w.value for w in at.warning)
    at = open_page(PAGE, formula="x**2 + y**2", tune="1", crit="dist")
    assert any("needs a surface with known minima" in w.value for w in at.warning)
    at = open_page(PAGE, formula="x**2", xmin="3", xmax="1")
    assert any("Domain" in w.value and "empty" in w.value for w in at.warning)
    at = open_page(PAGE, formula="x**2", fmin="one, two")
    assert any("Known minimum" in w.value for w in at.warning)
    assert not at.exception
