"""Each page owns its state: navigating between pages never changes or warns on another page.

The cross-page sweep of issue 12: every page is opened with non-default settings (keys that
other pages also use: ``n``, ``seed``, ``data``, ``batch``, ``lr``, ``noise``, ``opt``), then
the visitor goes to every other page and back. The page arrived at must show no repair
warning and its own settings (its defaults on a first visit, what the visitor left on a
return), and its share link (the URL) must hold exactly those settings. (The sweep runs
every ordered pair, so A -> B -> A with A non-default also covers B -> A -> B.)

``switch`` mimics the browser: a sidebar click opens the new page's address without the old
page's query string (Streamlit drops the parameters bound to the page left), which AppTest
does not do by itself.
"""

from __future__ import annotations

import itertools

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import APP
from tests.test_page_regularization import _fresh_jobs  # noqa: F401 (autouse: no job leaks)

# non-default settings per page, sharing key names across pages on purpose
SETTINGS = {
    "pages/race.py": {"n": "2", "seed": "7", "noise": "0.5", "steps": "300"},
    "pages/regularization.py": {
        "n": "200",
        "seed": "3",
        "batch": "8",
        "lr": "0.02",
        "opt": "Adam",
        "epochs": "30",
        "es1": "true",
    },
    "pages/gradients.py": {
        "n": "1",
        "batch": "64",
        "seed": "5",
        "data": "circles",
        "opt": "adam",
        "lr": "0.01",
        "depth1": "12",
    },
}
PAGES = tuple(SETTINGS)


def _repairs(at) -> list[str]:
    """The URL-repair warnings on screen ("X (key=v) is ...; using w instead.")."""
    return [w.value for w in at.warning if "instead" in str(w.value)]


def _url(at) -> dict[str, str]:
    return {k: at.query_params[k] for k in at.query_params}


def switch(at, page: str):
    at.switch_page(page)
    for key in list(at.query_params):
        del at.query_params[key]
    return at.run()


def _open(page: str):
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page(page)
    for key, value in SETTINGS[page].items():
        at.query_params[key] = value
    return at.run()


@pytest.mark.parametrize(("start", "other"), list(itertools.permutations(PAGES, 2)))
def test_navigating_to_another_page_and_back_changes_nothing(start, other):
    at = _open(start)
    assert not at.exception and not _repairs(at)
    mine = _url(at)
    assert mine == SETTINGS[start]
    state = {k: at.session_state[k] for k in SETTINGS[start]}

    # first visit of the other page: its own defaults, not the start page's values
    switch(at, other)
    assert not at.exception, other
    assert not _repairs(at), (start, other, _repairs(at))
    assert _url(at) == {}, (start, other, _url(at))

    # back: the start page as the visitor left it (URL and values)
    switch(at, start)
    assert not at.exception
    assert not _repairs(at), (start, other, _repairs(at))
    assert _url(at) == mine, "the share link must reproduce the page as it was left"
    assert {k: at.session_state[k] for k in SETTINGS[start]} == state
