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
