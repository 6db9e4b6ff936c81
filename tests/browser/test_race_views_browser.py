"""The light race page in a real browser (issue 10): Play still moves every racer, every tab
renders when opened (only the open one is built), and the map with its Play button is
visible without scrolling on a 1280x800 screen."""

from __future__ import annotations

import urllib.parse

import pytest

from tests.browser.conftest import ARTIFACTS

pytestmark = pytest.mark.browser

HERO = "document.querySelectorAll('.js-plotly-plot')[0]"
NO_ERROR = '[data-testid="stException"]'


@pytest.fixture
def laptop(browser):
    """A fresh 1280x800 tab (the issue's laptop screen)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    tab = context.new_page()
    tab.set_default_timeout(90_000)
    yield tab
    context.close()


def _open_race(page, app_url, query: str = "") -> None:
    page.goto(f"{app_url}/race{query}")
    page.wait_for_function(
        f"() => {HERO} && {HERO}._transitionData && {HERO}._transitionData._frames.length > 0"
    )
    assert page.locator(NO_ERROR).count() == 0


def _heads(page) -> list[list[float]]:
    """Every racer's current head position (the last trace: one marker per racer)."""
    return page.evaluate(
        f"() => {{ const d = {HERO}._fullData; const h = d[d.length - 1];"
        " return Array.from(h.x).map((x, i) => [x, h.y[i]]); }"
    )


def test_map_and_play_are_above_the_fold(app_url, laptop):
    _open_race(laptop, app_url)
    laptop.screenshot(path=str(ARTIFACTS / "race_fold.png"))
    plot = laptop.locator(".js-plotly-plot").first.bounding_box()
    play = laptop.locator(".updatemenu-button", has_text="Play").first.bounding_box()
    assert plot["y"] >= 0 and plot["y"] + 0.8 * plot["height"] <= 800, plot
    assert play["y"] >= 0 and play["y"] + play["height"] <= 800, play


def test_play_moves_every_racer_along_its_path(app_url, laptop):
    _open_race(laptop, app_url)
    n = laptop.evaluate(f"() => {HERO}._fullData[{HERO}._fullData.length - 1].x.length")
    finish = _heads(laptop)
    laptop.locator(".updatemenu-button", has_text="Play").first.click()
    laptop.wait_for_function(f"() => Number({HERO}._fullLayout._currentFrame) > 20")
    laptop.locator(".updatemenu-button", has_text="Pause").first.click()
    middle = _heads(laptop)
    assert len(middle) == n == 5
    moved = [m != f for m, f in zip(middle, finish, strict=True)]
    assert all(moved), (middle, finish)  # mid-race, no racer sits at its finish
    # each racer draws a bold tail ending at its head, over its faded full path
    tails = laptop.evaluate(
        f"() => {{ const d = {HERO}._fullData, n = {n};"
        " return d.slice(d.length - 1 - n, d.length - 1)"
        ".map(t => [t.x.length, t.x[t.x.length - 1], t.y[t.y.length - 1]]); }"
    )
    for (count, x, y), (hx, hy) in zip(tails, middle, strict=True):
        assert count >= 2 and abs(x - hx) < 1e-3 and abs(y - hy) < 1e-3
    opacity = laptop.evaluate(
        f"() => {{ const d = {HERO}._fullData, n = {n};"
        " return d.slice(d.length - 1 - 2 * n, d.length - 1 - n).map(t => t.opacity); }"
    )
    assert all(o < 1 for o in opacity), opacity
    laptop.screenshot(path=str(ARTIFACTS / "race_paused.png"))
    assert laptop.locator(NO_ERROR).count() == 0


TABS = {
    "Loss per step": "Loss gap to the global minimum",
    "Inside the optimizer": "Inside the optimizer",
    "3D view": "in 3D",
    "Leaderboard": None,
    "How each optimizer works": None,
}


def test_every_tab_renders_when_opened(app_url, laptop):
    _open_race(laptop, app_url)
    for name, title in TABS.items():
        laptop.get_by_role("tab", name=name, exact=True).click()
        laptop.wait_for_url(lambda url, name=name: name == "Leaderboard" or "tab=" in url)
        if title:
            laptop.get_by_text(title).first.wait_for()
            laptop.wait_for_function(
                "(t) => Array.from(document.querySelectorAll('.js-plotly-plot')).some("
                "g => g._fullLayout && (g._fullLayout.title.text || '').includes(t))",
                arg=title,
            )
        elif name == "Leaderboard":
            laptop.locator('[data-testid="stTable"]').first.wait_for()
        else:
            laptop.locator(".katex").nth(1).wait_for()  # the update rules, as formulas
        assert laptop.locator(NO_ERROR).count() == 0
    # only the open tab's chart is in the page: the map plus at most one more
    laptop.get_by_role("tab", name="3D view", exact=True).click()
    laptop.get_by_text("in 3D").first.wait_for()
    laptop.wait_for_load_state("networkidle")
    assert laptop.locator(".js-plotly-plot").count() <= 2
    laptop.screenshot(path=str(ARTIFACTS / "race_3d.png"), full_page=True)


def test_page_needs_nothing_from_outside_the_server(app_url, laptop):
    """The favicon is the 📉 emoji in an inline SVG (a Material page icon is fetched from a font
    host)."""
    outside = []
    laptop.on(
        "request",
        lambda r: outside.append(r.url) if not r.url.startswith((app_url, "data:")) else None,
    )
    _open_race(laptop, app_url)
    laptop.wait_for_load_state("networkidle")
    icon = laptop.evaluate("() => document.querySelector(\"link[rel='shortcut icon']\").href")
    assert icon.startswith("data:image/svg+xml"), icon[:80]
    assert "<text y='.9em' font-size='90'>📉</text>" in urllib.parse.unquote(icon)
    assert outside == []
