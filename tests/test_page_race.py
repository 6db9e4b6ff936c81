"""AppTest: the Optimizer race page runs, restores a race from its URL and survives bad input."""

from __future__ import annotations

import pytest

from engine import surfaces
from pages.common import race_config as rc

PAGE = "pages/race.py"


def _racers(at) -> list[str]:
    return list(at.dataframe[0].value["racer"])


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
    assert at.code, "the share link is missing"


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
    share = at.code[-1].value
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
    assert len(at.dataframe[0].value) >= 1, "no race after a bad value"


def test_diverging_entry_is_reported_not_crashed(open_page):
    at = open_page(PAGE, e1="SGD", lr1="1")
    assert not at.exception
    assert any("diverged at step" in e.value for e in at.error)
    status = dict(zip(at.dataframe[0].value["racer"], at.dataframe[0].value["status"], strict=True))
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
    assert len(at.dataframe[0].value) == 5


def test_same_optimizer_twice_gets_distinct_labels(open_page):
    at = open_page(PAGE, n="2", e1="Adam", e2="Adam", lr1="0.1", lr2="0.01")
    assert not at.exception
    assert sorted(_racers(at)) == ["Adam lr=0.01", "Adam lr=0.1"]
