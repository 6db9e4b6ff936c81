"""The server's warm-up (``serve.py`` -> ``pages.common.warmup``) fills what the first visitor
reads: the page then computes nothing, because the warm-up called the same cached functions
with the same arguments."""

from __future__ import annotations

import ast
from pathlib import Path

from pages.common import idle, warmup
from tests.test_page_race_speed import PAGE, _specs

ROOT = Path(__file__).resolve().parents[1]


def test_after_the_warm_up_the_default_race_page_computes_nothing(open_page, counted):
    warmup.warm_race()
    assert counted["run_race"] == 1 and counted["contour_figure"] == 1
    assert counted["surface_layer"] == 1

    at = open_page(PAGE)
    assert not at.exception
    assert counted["run_race"] == 1 and counted["contour_figure"] == 1  # both from the warm-up
    assert counted["surface_layer"] == 1
    assert "Rosenbrock" in _specs(at)[0]


def test_the_default_config_is_the_one_a_link_without_parameters_shows(open_page, counted):
    """A link with one changed racer is not the default: the page races it (guards the test
    above against a default_config that happens to miss and hit nothing)."""
    warmup.warm_race()
    at = open_page(PAGE, lr1="0.002")
    assert not at.exception
    assert counted["run_race"] == 2


def test_warm_imports_every_module_of_the_app_and_refills_after_an_idle_release(monkeypatch):
    names = warmup.import_all()
    assert "engine.race" in names and "viz.race" in names and "pages.common.race_cache" in names
    assert not [n for n in names if n.startswith("pages.") and not n.startswith("pages.common")]
    monkeypatch.setattr(idle, "_AFTER", {})
    assert warmup.warm() > 0
    assert list(idle._AFTER.values()) == [warmup.warm_race]


def test_serve_py_is_an_st_app_around_app_py_whose_start_up_warms():
    tree = ast.parse((ROOT / "serve.py").read_text())
    source = ast.unparse(tree)
    assert "st.App('app.py', lifespan=lifespan)" in source
    assert "warmup.warm" in source
