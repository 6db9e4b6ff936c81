"""AppTest: the race page's statements on a representative set of links (issue 11).

The full surface x preset sweep runs on the config layer (tests/test_race_truth.py); here the
page itself opens the cases that crashed or lied: Goldstein-Price from the URL and from the
Surface box, the Beale/RMSProp status, hand-set rates across a surface change, formula
messages.
"""

from __future__ import annotations

import pytest

from engine import optimizers
from pages.common import race_config as rc

PAGE = "pages/race.py"


def _board(at):
    return at.table[0].value.set_axis(
        ["racer", "status", "settled at", "final loss", "distance to minimum"], axis=1
    )


@pytest.mark.parametrize(
    "query",
    [
        {"surface": "goldstein_price"},
        {"surface": "goldstein_price", "n": "1", "e1": "Momentum"},
        {"surface": "goldstein_price", "n": "6", "e6": "Momentum (notes, v0 = 0)"},
        {"surface": "six_hump_camel", "n": "3", "e1": "Adadelta", "e2": "NAdam", "e3": "AdamW"},
        {"surface": "saddle", "n": "2", "e1": "Momentum (EMA)", "e2": "Adam (no bias correction)"},
    ],
)
def test_representative_links_open_without_a_crash(open_page, query):
    at = open_page(PAGE, **query)
    assert not at.exception, at.exception
    assert not at.warning, [w.value for w in at.warning]
    board = _board(at)
    assert len(board) == int(query.get("n", 5))
    assert not any("running" in s or "converged" in s for s in board["status"])


def test_goldstein_price_from_the_surface_box(open_page):
    at = open_page(PAGE, n="6")
    at.selectbox(key="surface").select("goldstein_price").run()
    assert not at.exception, at.exception
    assert at.number_input(key="lr2").value == rc.default_lr("goldstein_price", "Momentum")
    assert at.number_input(key="lr6").value == rc.default_lr("goldstein_price", "Nesterov")
    assert len(_board(at)) == 6
    # and every preset in slot 1 on that surface
    for preset in optimizers.PRESETS:
        at.selectbox(key="e1").select(preset).run()
        assert not at.exception, (preset, at.exception)


def test_beale_rmsprop_status_states_the_distance(open_page):
    at = open_page(PAGE, surface="beale", n="1", e1="RMSProp", lr1="0.3")
    assert not at.exception
    board = _board(at)
    assert board["status"].iloc[0] == "not within 0.001 after 500 steps (distance 0.543)"
    assert board["settled at"].iloc[0] == "—"
    rule = [c.value for c in at.caption if c.value.startswith("Settled at step k")]
    assert rule and "Ranked by" in rule[0] and "0.001" in rule[0]


def test_booth_leaderboard_ranks_by_steps_to_settle(open_page):
    at = open_page(PAGE, surface="booth")
    racers = [r.split(" ")[0] for r in _board(at)["racer"]]
    assert racers.index("Momentum") < racers.index("Adam") < racers.index("RMSProp")


def test_a_surface_change_keeps_a_hand_set_rate(open_page):
    at = open_page(PAGE)
    at.number_input(key="lr3").set_value(0.0123).run()
    at.selectbox(key="surface").select("booth").run()
    assert not at.exception
    assert at.number_input(key="lr3").value == 0.0123  # set by hand: kept
    assert at.number_input(key="lr1").value == rc.default_lr("booth", "SGD")  # default: follows


def test_empty_formula_message_is_literal_and_the_typed_text_is_shown(open_page):
    at = open_page(PAGE, surface="custom", formula="x + foo(y)")
    assert not at.exception
    notes = [c.value for c in at.caption if c.value.startswith("Your formula:")]
    assert notes == [rc.rejected_note({"text": "x + foo(y)"}, rc.formula_spec(
        {"formula": rc.DEFAULT_FORMULA, "xmin": -5.0, "xmax": 5.0, "ymin": -5.0, "ymax": 5.0,
         "fmin": ""})[0])]  # fmt: skip
    at.text_input(key="formula").input("").run()
    assert not at.exception
    errors = [e.value for e in at.error if "rejected" in e.value]
    assert errors and "x\\*\\*2 + y\\*\\*2" in errors[0]


def test_trailing_plus_puts_the_caret_after_it(open_page):
    at = open_page(PAGE, surface="custom", formula="x**2 +")
    assert not at.exception
    code = [c.value for c in at.code if "^" in c.value]
    assert code == ["x**2 +\n      ^"]
