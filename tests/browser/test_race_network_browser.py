"""The race page's network view in a real browser: live curves, then the landscape with every
racer's projected path, and Play animates them."""

from __future__ import annotations

import pytest

from tests.browser.conftest import ARTIFACTS

pytestmark = pytest.mark.browser

LANDSCAPE = (
    "[...document.querySelectorAll('.js-plotly-plot')].find(p => p.layout && p.layout.title"
    " && String(p.layout.title.text).includes('Loss landscape'))"
)


def test_network_view_draws_the_landscape_and_play_animates(app_url, page):
    page.goto(f"{app_url}/race?view=network&nepochs=20")
    page.wait_for_function(
        f"() => {{ const p = {LANDSCAPE}; return p && p._transitionData"
        " && p._transitionData._frames.length > 1; }",
        timeout=120_000,
    )
    assert page.locator('[data-testid="stException"]').count() == 0
    page.screenshot(path=str(ARTIFACTS / "race_network.png"))
    info = page.evaluate(
        "() => { const p = " + LANDSCAPE + "; return {"
        " image: (p.layout.images || []).length,"
        " paths: p.data.filter(t => t.legendgroup && t.mode === 'lines'"
        " && t.showlegend !== false).map(t => t.name),"
        " title: String(p.layout.title.text) }; }"
    )
    assert info["image"] == 1  # the loss surface behind the paths
    assert len(info["paths"]) == 5  # every default racer's projected path
    assert "PC1 explains" in info["title"]
    heads_before = page.evaluate(f"() => Array.from({LANDSCAPE}._fullData.at(-1).x)")
    page.locator(".updatemenu-button", has_text="Play").first.click()
    page.wait_for_function(f"() => {LANDSCAPE}._fullLayout._currentFrame != null")
    page.wait_for_function(
        f"() => Number({LANDSCAPE}._fullLayout._currentFrame) > 3", timeout=30_000
    )
    heads_now = page.evaluate(f"() => Array.from({LANDSCAPE}._fullData.at(-1).x)")
    assert heads_now != heads_before  # the heads moved back along the paths and on
    page.screenshot(path=str(ARTIFACTS / "race_network_playing.png"))
    assert page.locator('[data-testid="stException"]').count() == 0
    # the lesson computed from the runs, one click away
    page.get_by_text("What carried over", exact=True).first.click()
    page.get_by_text("The winner", exact=False).first.wait_for(timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "race_network_lessons.png"), full_page=True)
    assert page.locator('[data-testid="stException"]').count() == 0


def test_random_plane_draws_around_one_racers_end(app_url, page):
    """`nplane=random`: filter-normalized random directions around a racer's final weights
    (Li et al. section 4), no explained variance claimed, every path still drawn."""
    page.goto(f"{app_url}/race?view=network&nepochs=20&nplane=random")
    page.wait_for_function(f"() => !!{LANDSCAPE}", timeout=120_000)
    info = page.evaluate(
        "() => { const p = " + LANDSCAPE + "; return {"
        " paths: p._fullData.filter(t => t.legendgroup && t.mode === 'lines'"
        " && t.showlegend !== false && t.x && t.x.length).map(t => t.name),"
        " controls: (p.layout.updatemenus || []).length + (p.layout.sliders || []).length,"
        " title: String(p.layout.title.text), x: String(p.layout.xaxis.title.text) }; }"
    )
    assert "filter-normalized random directions" in info["title"], info
    assert "not fitted" in info["title"] and "PC1 explains" not in info["title"], info
    assert info["x"].startswith("α (random direction"), info
    # random directions say nothing about the other racers' paths: only the reference's is
    # drawn, and the title names it (the lowest final loss by default: nref=0)
    assert info["controls"] == 0  # one point: nothing to play
    assert len(info["paths"]) == 1 and f"around {info['paths'][0]}'s end" in info["title"], info
    assert page.locator('[data-testid="stException"]').count() == 0
    page.screenshot(path=str(ARTIFACTS / "race_network_random.png"))


def test_an_over_budget_network_asks_before_it_starts(app_url, page):
    """A link to a network over the per-request budget shows its estimate and a Start button;
    nothing trains until it is pressed."""
    page.goto(f"{app_url}/race?view=network&nwidth=64&ndepth=4&nepochs=300&nbatch=4")
    start = page.get_by_role("button", name="Start the network race")
    start.wait_for(timeout=120_000)
    assert "about" in start.inner_text()  # the estimate is on the button
    page.wait_for_timeout(2000)
    assert page.locator('[data-testid="stProgress"]').count() == 0  # nothing started
    assert page.locator(".js-plotly-plot").count() == 0  # no live curves: nothing trains
    page.screenshot(path=str(ARTIFACTS / "race_network_consent.png"))
    start.click()
    page.locator('[data-testid="stProgress"]').first.wait_for(timeout=60_000)
    start.wait_for(state="detached", timeout=30_000)  # started: the question is gone
    assert page.get_by_text("so it waits for you").count() == 0
    assert page.locator('[data-testid="stException"]').count() == 0
