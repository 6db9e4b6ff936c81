"""AppTest of the Gradient-flow page: default view, presets, fixes, URL restore, bad input."""

from __future__ import annotations

import pytest

from engine import gradflow as gf

PAGE = "pages/gradients.py"


def _texts(at) -> str:
    parts = [e.value for kind in ("success", "warning", "error", "info") for e in getattr(at, kind)]
    parts += [c.value for c in at.caption] + [m.value for m in at.markdown]
    return "\n".join(str(p) for p in parts)


def _hero(at) -> dict:
    import json

    charts = [c for c in at.get("plotly_chart")]
    return json.loads(charts[0].proto.spec)


def test_default_view_compares_three_classic_configurations(open_page):
    at = open_page(PAGE)
    assert not at.exception
    assert at.title[0].value == "Gradient flow"
    text = _texts(at)
    assert "Vanishing" in text and text.count("Healthy") == 2
    hero = _hero(at)
    names = {t["name"] for t in hero["data"] if t.get("showlegend", True)}
    assert any("sigmoid" in n for n in names) and any("tanh" in n for n in names)
    assert "NaN" not in at.get("plotly_chart")[0].proto.spec


def test_linear_preset_loads_with_theory_line_and_url(open_page):
    at = open_page(PAGE)
    at.button(key="preset_Linear W = 1.5·I").click().run()
    assert not at.exception
    assert at.query_params["act1"] == "linear" and at.query_params["c1"] == "1.5"
    assert at.query_params["depth1"] == "50"
    assert "Exploding" in _texts(at)
    traces = [t["name"] for t in _hero(at)["data"]]
    assert any("theory: c^(L-l) with c = 1.5" in n for n in traces)


def test_fix_button_adds_the_fixed_configuration_next_to_the_broken_one(open_page):
    at = open_page(PAGE)
    at.button(key="preset_Deep sigmoid, small init").click().run()
    assert at.session_state["n"] == 1
    fix = next(b for b in at.button if b.key.startswith("fix_0") and "ReLU + He" in b.label)
    fix.click().run()
    assert not at.exception
    assert at.session_state["n"] == 2
    assert at.session_state["act2"] == "relu" and at.session_state["init2"] == "he_normal"
    assert at.session_state["depth2"] == 20 and at.session_state["c2"] == 1.0
    assert at.query_params["n"] == "2"  # slot 2 equals its defaults: nothing else in the URL
    text = _texts(at)
    assert "Vanishing" in text and "Healthy" in text


def test_url_restores_every_configuration(open_page):
    cfg = gf.FlowConfig(7, 9, "tanh", "orthogonal", 1.3, True, 2.0)
    query = {k: str(v).lower() for k, v in gf.config_values(cfg, 2).items()}
    query.update(n="2", data="circles", batch="40")
    at = open_page(PAGE, **query)
    assert not at.exception
    assert not at.warning or all("Healthy" in w.value or "anish" in w.value for w in at.warning)
    assert at.session_state["depth2"] == 7 and at.session_state["width2"] == 9
    assert at.session_state["init2"] == "orthogonal" and at.session_state["res2"] is True
    assert at.session_state["clip2"] == 2.0 and at.session_state["data"] == "circles"
    assert "tanh · orthogonal ×=1.3 · 7×9 · residual · clip 2" in _texts(at)


@pytest.mark.parametrize(
    ("key", "raw", "used"),
    [
        ("depth1", "500", 200),
        ("width1", "100000", 512),
        ("act1", "swish", "sigmoid"),
        ("init1", "magic", "normal"),
        ("c1", "nan", 0.1),
        ("batch", "-inf", 256),
    ],
)
def test_bad_url_values_warn_and_fall_back(open_page, key, raw, used):
    at = open_page(PAGE, **{key: raw})
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert f"{key}={raw}" in warnings and "instead" in warnings
    assert at.session_state[key] == used


def test_overflow_preset_reports_the_layer_without_nan(open_page):
    at = open_page(PAGE)
    at.button(key="preset_ReLU, huge init (overflow)").click().run()
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "Overflowed at layer" in errors
    spec = at.get("plotly_chart")[0].proto.spec
    assert "NaN" not in spec and "overflow at layer" in spec
    assert "nan" not in _texts(at).lower().replace("nanmax", "")


def test_only_the_open_tab_is_built(open_page):
    at = open_page(PAGE)
    charts = {c.proto.id.rsplit("-", 1)[-1] for c in at.get("plotly_chart")}
    assert charts == {"hero", "stats"}  # the first tab's; the others cost nothing until opened
    assert not [b for b in at.button if b.key == "gradflow_start"] and not at.latex
    for tab, chart in (("Histograms", "ridge"), ("Activation functions", "activations")):
        at.session_state["tab"] = tab
        at.run()
        assert not at.exception
        charts = {c.proto.id.rsplit("-", 1)[-1] for c in at.get("plotly_chart")}
        assert charts == {"hero", chart}, (tab, charts)
    at.session_state["tab"] = "Why"
    assert at.run().latex


def test_training_tab_offers_start_and_an_empty_state(open_page):
    at = open_page(PAGE)
    at.session_state["tab"] = "Training (live)"
    at.run()
    assert at.button(key="gradflow_start").label == "Start training"
    assert any("Press **Start training**" in i.value for i in at.info)


def test_share_link_after_a_fix_reproduces_every_network(open_page):
    at = open_page(PAGE)
    at.button(key="preset_Deep sigmoid, small init").click().run()
    fix = next(b for b in at.button if b.key.startswith("fix_0") and "Residual" in b.label)
    fix.click().run()
    assert at.session_state["n"] == 2 and at.session_state["res2"] is True
    url = {k: at.query_params[k] for k in at.query_params}
    assert url["n"] == "2" and url["res2"] == "true", url
    assert url["act2"] == "sigmoid" and url["init2"] == "normal" and url["c2"] == "0.1", url
    again = open_page(PAGE, **url)
    assert not again.exception
    for i in (1, 2):
        keys = [k.key for k in gf.slot_knobs(i, gf.SLOT_DEFAULTS[i - 1])]
        before = {k: at.session_state[k] for k in keys}
        assert gf.config_from({k: again.session_state[k] for k in keys}, i) == gf.config_from(
            before, i
        )
