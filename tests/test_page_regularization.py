"""AppTest: the Regularization lab runs its default comparison, restores a comparison from its
URL, offers a restart when settings change, reports a diverged variant, survives bad input.

AppTest does not tick ``run_every``: the page auto-starts its background job on the first
visit, the test waits for the job (engine.jobs) to finish, then reruns the script, which draws
the finished results, exactly what the page's polling fragment does on its last tick.
"""

from __future__ import annotations

import re
import time

import pytest

from engine.jobs import default_manager
from tests.conftest import share_url

PAGE = "pages/regularization.py"


def _forget_session_jobs() -> None:
    from pages.common.jobs import session_jobs

    session_jobs.clear()


@pytest.fixture(autouse=True)
def _fresh_jobs():
    """Every AppTest shares one session id, so the session's job group would carry over from
    test to test; clear it (from inside a script run: session-scoped caches demand one)."""
    from streamlit.testing.v1 import AppTest

    AppTest.from_function(_forget_session_jobs).run()
    yield
    default_manager().stop_all(timeout=5)
    AppTest.from_function(_forget_session_jobs).run()


def _finish(at, timeout: float = 60.0):
    """Wait until no background job runs, then rerun the page to draw the final state.

    Reruns the page every few seconds meanwhile, as the browser's polling would: a job whose
    page stops polling pauses (engine.jobs) and only a poll resumes it."""
    deadline = time.monotonic() + timeout
    last_run = time.monotonic()
    while default_manager().jobs() and time.monotonic() < deadline:
        if time.monotonic() - last_run > 3.0:
            at.run()
            last_run = time.monotonic()
        time.sleep(0.1)
    assert not default_manager().jobs(), "the training job did not finish"
    return at.run()


def _metrics(at) -> dict[str, str]:
    """{variant label: value} of the sparsity metrics (labels are coloured Markdown)."""
    return {re.fullmatch(r":color\[\*\*(.*)\*\*\]\{.*\}", m.label)[1]: m.value for m in at.metric}


def _share_zero(value: str) -> int:
    """91 from "91% :small[exactly zero]" (it reads "91% exactly zero")."""
    m = re.fullmatch(r"(\d+)% :small\[exactly zero\]", value)
    assert m, value
    return int(m[1])


def test_default_page_trains_and_shows_l1_sparsity(open_page):
    at = open_page(PAGE)
    assert not at.exception
    assert not at.warning
    at = _finish(at)
    assert not at.exception
    metrics = _metrics(at)
    assert list(metrics) == ["none", "L1 proximal λ=0.02", "L2 λ=0.02", "dropout p=0.7"]
    share = {label: _share_zero(value) for label, value in metrics.items()}
    assert share["L1 proximal λ=0.02"] >= 50
    assert share["none"] == 0 and share["L2 λ=0.02"] == 0
    metric = next(m for m in at.metric if "L1 proximal" in m.label)
    assert re.fullmatch(r"\|w\| < 0\.001: \d+%", metric.proto.delta), metric.proto.delta
    charts = {c.proto.id.rsplit("-", 1)[-1] for c in at.get("plotly_chart")}
    assert charts == {"hist", "loss", "geometry"}  # the open tab's; closed ones are lazy
    table = _table(at)
    best = {row["variant"]: float(row["best val loss"]) for row in table}
    assert best["L1 proximal λ=0.02"] < best["none"]
    assert best["L2 λ=0.02"] < best["none"]
    assert len(at.get("download_button")) == 2
    assert share_url(at) is not None  # AppTest has no host: the link is "" on a default page
    assert not at.latex, "the formulas load only when their expander opens"
    # the lazy parts run when opened
    at.session_state["reg_tab"] = "Sparsity over epochs"
    at.session_state["reg_paths"] = True
    at.session_state["reg_math"] = True
    at = at.run()
    assert not at.exception
    charts = {c.proto.id.rsplit("-", 1)[-1] for c in at.get("plotly_chart")}
    assert charts == {"hist", "sparsity", "geometry", "paths"}
    assert at.latex


def _drawn_store_keys() -> None:
    import streamlit as st

    from pages.common import reg_live

    st.session_state["drawn"] = sorted(reg_live.drawn_store())


def _holds(value, kinds) -> bool:
    """Whether ``value`` is, or contains (in tuples, lists, dicts), an instance of ``kinds``."""
    if isinstance(value, kinds):
        return True
    if isinstance(value, dict):
        return any(_holds(v, kinds) for v in value.values())
    if isinstance(value, (tuple, list)):
        return any(_holds(v, kinds) for v in value)
    return False


def test_a_finished_comparison_keeps_its_results_out_of_session_state(open_page):
    """A closed tab's session state outlives the tab (Streamlit keeps it for reconnects and
    frees it only when its store is next used); the snapshot and the figures a session drew
    live in the session-scoped ``drawn_store`` instead, which Streamlit drops on disconnect."""
    import plotly.graph_objects as go
    from streamlit.testing.v1 import AppTest

    from engine.jobs import Snapshot

    at = _finish(open_page(PAGE))
    assert not at.exception and at.get("plotly_chart")
    state = at.session_state.to_dict()
    assert not [k for k, v in state.items() if _holds(v, (Snapshot, go.Figure))]
    drawn = AppTest.from_function(_drawn_store_keys).run()  # the same session id
    assert drawn.session_state["drawn"] == ["figures", "held"]


def _table(at) -> list[dict[str, str]]:
    """The rows of the results' Markdown table, variant names without their colour markup."""
    text = next(m.value for m in at.markdown if m.value.startswith("| variant"))
    head, _, *rows = text.splitlines()
    columns = [c.strip() for c in head.strip("|").split("|")]
    out = []
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        name = re.fullmatch(r":color\[\*\*(.*)\*\*\]\{.*\}", cells[0])
        out.append(dict(zip(columns, [name[1] if name else cells[0], *cells[1:]], strict=True)))
    return out


def test_url_restores_the_comparison(open_page):
    query = {
        "data": "moons",
        "n": "200",
        "noise": "0.3",
        "depth": "2",
        "width": "8",
        "opt": "Adam",
        "lr": "0.01",
        "epochs": "15",
        "batch": "32",
        "seed": "3",
        "nv": "2",
        "v1": "elastic",
        "l1_1": "0.001",
        "l2_1": "0.005",
        "m1": "truncation",
        "v2": "dropout",
        "p2": "0.8",
        "es2": "true",
        "pat2": "5",
        "layer": "2",
        "hlog": "true",
        "glam": "1.2",
    }
    at = open_page(PAGE, **query)
    assert not at.exception
    assert not at.warning
    assert at.selectbox(key="data").value == "moons"
    assert at.selectbox(key="m1").value == "truncation"
    assert at.number_input(key="l2_1").value == 0.005
    assert at.toggle(key="hlog").value is True
    assert at.slider(key="glam").value == 1.2
    at = _finish(at)
    assert [label.split(" · ")[0] for label in _metrics(at)] == [
        "elastic truncation λ1=0.001 λ2=0.005",
        "dropout p=0.8 + early stop (5)",
    ]
    share = share_url(at)
    for key, value in query.items():
        assert f"{key}={value}" in share


def test_changing_a_setting_mid_run_offers_a_restart(open_page):
    at = open_page(PAGE)
    at.number_input(key="lr").set_value(0.01)
    at = at.run()
    assert not at.exception
    assert any("settings changed" in i.value for i in at.info)
    assert at.button(key="reglab_start").label == "Restart"


def test_a_diverging_variant_is_reported_and_the_others_finish(open_page):
    at = open_page(PAGE, nv="2", v2="l2", l2_2="100", epochs="100")
    at = _finish(at)
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "L2 λ=100" in errors and ("diverged" in errors or "exploded at epoch" in errors)
    status = {row["variant"]: row["status"] for row in _table(at)}
    assert status["none"] == "finished 100 epochs"


BAD = [
    ("l1_2", "-1"),
    ("l1_2", "nan"),
    ("l2_3", "inf"),
    ("p4", "0"),
    ("p4", "1.5"),
    ("width", "100000"),
    ("epochs", "-inf"),
    ("n", "1e9"),
    ("nv", "9"),
    ("data", "mnist"),
    ("v1", "l7"),
    ("opt", "Lion"),
    ("act", "swish"),
    ("layer", "12"),
]


def test_a_layer_deeper_than_the_network_warns(open_page):
    at = open_page(PAGE, layer="4")  # a valid key, but the default network has 2 layers
    assert not at.exception
    assert any("layer=4" in w.value for w in at.warning)
    assert at.selectbox(key="layer").value == "1"


@pytest.mark.parametrize(("key", "raw"), BAD)
def test_bad_url_values_warn_and_fall_back(open_page, key, raw):
    at = open_page(PAGE, **{key: raw})
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert f"{key}={raw}" in warnings
    assert at.query_params.get(key) != raw  # the URL holds the safe value (or none: default)


def test_url_repair_warnings_stay_until_the_settings_change(open_page):
    at = open_page(PAGE, p4="0")
    assert any("p4=0" in w.value for w in at.warning)
    at = _finish(at)  # the job's end triggers another full run: the warning stays
    assert any("p4=0" in w.value for w in at.warning)
    at.number_input(key="lr").set_value(0.01)
    at = at.run()  # other settings than the repaired ones: it has done its job
    assert not any("p4=0" in w.value for w in at.warning)


def test_a_dataset_link_and_the_dataset_box_give_the_same_defaults(open_page):
    linked = open_page(PAGE, data="moons")
    assert not linked.exception
    picked = open_page(PAGE)
    picked.selectbox(key="data").select("moons").run()
    assert not picked.exception
    for at in (linked, picked):
        assert (at.session_state["n"], at.session_state["noise"]) == (400, 0.2)
    # the dataset's own n and noise are the defaults: the link needs nothing else
    assert {k: linked.query_params[k] for k in linked.query_params} == {"data": "moons"}


def test_pause_and_stop_are_disabled_once_the_run_has_finished(open_page, monkeypatch):
    from pages.common import reg_live

    monkeypatch.setattr(reg_live, "FINISH_WAIT", 60.0)  # the first run waits for the end
    at = open_page(PAGE, epochs="20")
    assert not at.exception
    assert at.button(key="reglab_pause").disabled and at.button(key="reglab_stop").disabled
    assert not at.button(key="reglab_start").disabled  # "Restart" stays available


ES_QUERY = {f"es{i}": "true" for i in range(1, 5)}


def _lab_of(query):
    from engine.knobs import validate_all
    from pages.common import reg_config as rc

    values, _ = validate_all(rc.all_knobs(4, query.get("data", rc.DATA.default)), query)
    return rc.lab_from_values(values)[0]


def test_early_stopping_views_show_the_restored_model_labelled_with_its_epoch(open_page):
    """The issue's link: every view showed the stopping epoch's numbers (L1 "44% exactly
    zero") while the exported weights were the restored epoch-3 model's (2.0%)."""
    import numpy as np

    from engine import reg_lab as rl

    runs = rl.TwinRuns(_lab_of(ES_QUERY)).run()  # the same deterministic runs as the page's
    assert all(r.history.restored_epoch is not None for r in runs)
    at = _finish(open_page(PAGE, **ES_QUERY))
    assert not at.exception
    assert at.selectbox(key="model").value == "restored"
    metrics = _metrics(at)
    table = {row["variant"]: row for row in _table(at)}
    for r in runs:
        h, e = r.history, r.history.restored_epoch
        label = f"{r.label} · epoch {e}, restored"
        w = rl.layer_values(h, e, 0)  # layer 1, as the metric shows by default
        np.testing.assert_array_equal(w, r.final[h.weight_slices[0]])  # = restored weights
        assert _share_zero(metrics[label]) == round(100 * float(np.mean(w == 0)))
        k = list(h.epochs).index(e)
        row = table[r.label]
        assert row["epoch shown"] == f"{e} (restored)"
        assert float(row["val loss"]) == pytest.approx(h.val_loss[k], rel=5e-3)
    # the last epoch is one click away
    at.selectbox(key="model").select("last").run()
    assert not at.exception
    metrics = _metrics(at)
    table = {row["variant"]: row for row in _table(at)}
    for r in runs:
        h = r.history
        last = max(h.snapshots)
        assert last > h.restored_epoch
        w = rl.layer_values(h, last, 0)
        assert _share_zero(metrics[f"{r.label} · epoch {last}"]) == round(100 * np.mean(w == 0))
        assert table[r.label]["epoch shown"] == str(h.epochs[-1])


def test_sparse_regression_link_flags_the_exploded_dropout_variant(open_page):
    at = _finish(open_page(PAGE, data="sparse_regression"))
    assert not at.exception
    errors = [e.value for e in at.error]
    assert any("dropout p=0.7" in e and "exploded at epoch" in e for e in errors), errors
    status = {row["variant"]: row["status"] for row in _table(at)}
    assert status["dropout p=0.7"].startswith("exploded at epoch")
    assert all(s == "finished 200 epochs" for v, s in status.items() if v != "dropout p=0.7")
    charts = {c.proto.id.rsplit("-", 1)[-1] for c in at.get("plotly_chart")}
    assert "blown_3" in charts  # drawn on its own bins
    import json

    shared = json.loads(
        next(c for c in at.get("plotly_chart") if c.proto.id.endswith("-hist")).proto.spec
    )
    names = {t.get("name") for t in shared["data"]}
    assert "dropout p=0.7" not in names and "none" in names
    loss = json.loads(
        next(c for c in at.get("plotly_chart") if c.proto.id.endswith("-loss")).proto.spec
    )
    assert loss["layout"]["yaxis"]["type"] == "log"  # chosen automatically: decades apart
