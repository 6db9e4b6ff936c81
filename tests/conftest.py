"""Shared pytest setup: the repository root on sys.path and an AppTest factory for pages."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

APP = str(ROOT / "app.py")


@pytest.fixture(autouse=True)
def _fixed_budget_rates():
    """Budget verdicts in tests come from the documented ``FIXED_RATES`` (a slow shared core):
    whether a link runs, asks or is refused must not depend on how fast the test machine is
    (a fast one priced the "asks for consent" links under the 30 s budget)."""
    from engine import budget

    budget.set_rates(budget.FIXED_RATES)
    yield
    budget.set_rates(None)


@pytest.fixture
def open_page():
    """``open_page("pages/race.py", surface="beale")`` -> a finished AppTest on that page.

    Starts from app.py (the router), switches to the page, seeds the URL query parameters,
    runs it, and returns the AppTest. Generous timeout: the first run imports NumPy/Plotly.
    """
    from streamlit.testing.v1 import AppTest

    def _open(page: str, **query: str):
        at = AppTest.from_file(APP, default_timeout=60)
        at.run()
        at.switch_page(page)
        for key, value in query.items():
            at.query_params[key] = value
        return at.run()

    return _open


def share_url(at) -> str:
    """The share link an AppTest page shows (the last one, as on the page)."""
    from pages.common.urlstate import shared_url

    urls = [u for u in (shared_url(m.value) for m in at.markdown) if u is not None]
    assert urls, "the share link is missing"
    return urls[-1]


@pytest.fixture
def counted(monkeypatch):
    """Cold caches, and a count of engine races and of the race page's figure builders' calls
    (tests/test_page_race_speed.py, tests/test_warmup.py)."""
    import streamlit as st

    from engine import race
    from viz import race as vr
    from viz import race_inside

    st.cache_data.clear()
    st.cache_resource.clear()
    calls = {"run_race": 0, "contour_figure": 0, "surface_layer": 0, "3d": 0, "inside": 0}

    def counting(name, fn):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return fn(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(race, "run_race", counting("run_race", race.run_race))
    monkeypatch.setattr(vr, "contour_figure", counting("contour_figure", vr.contour_figure))
    monkeypatch.setattr(vr, "surface_layer", counting("surface_layer", vr.surface_layer))
    monkeypatch.setattr(vr, "surface3d_figure", counting("3d", vr.surface3d_figure))
    monkeypatch.setattr(race_inside, "inside_figure", counting("inside", race_inside.inside_figure))
    return calls
