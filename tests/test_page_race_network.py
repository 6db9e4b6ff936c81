"""AppTest: the race page's network view (``view=network``) from the URL, with bad values, the
budget gate, and each secondary chart."""

from __future__ import annotations

import json
import time

import pytest

from pages.common import netrace_config as nc

PAGE = "pages/race.py"
SMALL = {"view": "network", "nepochs": "10", "ngrid": "15", "n": "3"}


def _finish(at, timeout: float = 90.0):
    """Rerun until the training job has finished and the landscape is drawn."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _hero(at) is not None:
            return at
        time.sleep(0.5)
        at.run()
    raise AssertionError("the network race did not finish")


def _hero(at):
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        title = spec["layout"].get("title", {}).get("text", "")
        if title.startswith("Loss landscape"):
            return spec
    return None


def test_network_view_trains_the_sidebar_racers_and_draws_the_landscape(open_page):
    at = _finish(open_page(PAGE, **SMALL))
    assert not at.exception
    spec = _hero(at)
    assert "PC1 explains" in spec["layout"]["title"]["text"]
    assert spec["frames"], "the landscape is not animated"
    racers = {t.get("name") for t in spec["data"] if t.get("legendgroup")}
    assert {"SGD", "Momentum", "RMSProp"} <= {str(r).split(" ")[0] for r in racers}
    labels = [b.label for b in at.get("download_button")]
    assert "Loss curves (CSV)" in labels and "Projected paths (CSV)" in labels
    assert at.session_state["nlr1"] == pytest.approx(0.1)  # the network's own SGD rate


@pytest.mark.parametrize("shown", list(nc.SHOW))
def test_each_secondary_view_renders(open_page, shown):
    at = _finish(open_page(PAGE, **SMALL, nshow=shown))
    assert not at.exception
    if shown == "Leaderboard":
        table = at.dataframe[0].value
        assert list(table["rank"]) == [1, 2, 3]
    if shown == "What carried over":
        text = " ".join(m.value for m in at.markdown)
        assert "The winner" in text


@pytest.mark.parametrize(
    ("key", "raw", "shown"),
    [
        ("nwidth", "-inf", "Hidden width (nwidth=-inf) is not finite"),
        ("ngrid", "5000", "is above the maximum 101"),
        ("ndata", "mnist", "Dataset (ndata=mnist) is not a known option"),
        ("nlr1", "abc", "is not a number"),
        ("nref", "99", "is above the maximum 3"),
        ("nshow", "nope", "is not a known option"),
    ],
)
def test_bad_url_values_warn_and_the_view_still_works(open_page, key, raw, shown):
    at = open_page(PAGE, **{**SMALL, key: raw})
    assert not at.exception
    assert any(shown in w.value for w in at.warning), [w.value for w in at.warning]


def test_over_budget_link_asks_before_training(open_page):
    at = open_page(PAGE, view="network", nepochs="300", nbatch="4", nwidth="64", ndepth="4", n="6")
    assert not at.exception
    assert any("so it waits for you" in w.value for w in at.warning)
    assert any(b.label.startswith("Start the network race (about") for b in at.button)
    assert _hero(at) is None and not at.get("plotly_chart")


def test_changing_the_plane_after_training_computes_it_without_retraining(open_page):
    at = _finish(open_page(PAGE, **SMALL))
    at.selectbox(key="nplane").set_value("random").run()
    assert not at.exception
    spec = _hero(at)
    assert "filter-normalized random directions" in spec["layout"]["title"]["text"]
    assert not any("so it waits for you" in w.value for w in at.warning)
