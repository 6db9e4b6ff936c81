"""The race page's analysis views in a real browser: fair race, basins (click a cell), sensitivity
(click a cell), the view selector and a formula typed by hand."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import ARTIFACTS

pytestmark = pytest.mark.browser

PLOT = "document.querySelectorAll('.js-plotly-plot')"


def _open(page, app_url, query: str, min_plots: int = 1) -> None:
    page.goto(f"{app_url}/race{query}")
    page.wait_for_function(
        f"() => {PLOT}.length >= {min_plots} && {PLOT}[0]._fullLayout", timeout=120_000
    )
    page.wait_for_load_state("networkidle")
    assert page.locator('[data-testid="stException"]').count() == 0


def _click_select_point(page, plot_index: int, point_index: int) -> list[float]:
    """Hover then click one marker of the plot's invisible "select" grid; returns its data."""
    where = page.evaluate(
        """([i, k]) => {
            const gd = document.querySelectorAll('.js-plotly-plot')[i];
            const t = gd._fullData.findIndex(d => d.name === 'select');
            const tr = gd._fullData[t];
            const xa = gd._fullLayout[tr.xaxis.replace('x', 'xaxis')];
            const ya = gd._fullLayout[tr.yaxis.replace('y', 'yaxis')];
            const box = gd.getBoundingClientRect();
            return {
                x: box.left + xa._offset + xa.l2p(tr.x[k]),
                y: box.top + ya._offset + ya.l2p(tr.y[k]),
                data: Array.from(tr.customdata[k]),
            };
        }""",
        [plot_index, point_index],
    )
    page.mouse.move(where["x"], where["y"])
    page.wait_for_timeout(300)
    page.mouse.click(where["x"], where["y"])
    return where["data"]


def _wait_value(page, label: str, nth: int, value: float, tol: float) -> None:
    """Wait until the ``nth`` number input labelled ``label`` shows ``value`` (± tol)."""
    page.wait_for_function(
        """([label, nth, value, tol]) => {
            const el = document.querySelectorAll(`input[aria-label='${label}']`)[nth];
            return el && Math.abs(parseFloat(el.value) - value) <= tol;
        }""",
        arg=[label, nth, value, tol],
        timeout=60_000,
    )


def test_fair_race_from_the_url_shows_the_tuned_race_and_score_curves(app_url, page):
    _open(page, app_url, "?tune=1&crit=dist")
    assert page.get_by_text("Fair race: every racer runs with its own best").count() == 1
    page.get_by_role("tab", name="Fair race").click()
    page.get_by_text("Learning-rate search").first.wait_for()
    assert page.get_by_text("tuned lr=").count() >= 1
    page.screenshot(path=str(ARTIFACTS / "race_fair.png"), full_page=True)


def test_basins_view_by_hand_then_a_click_races_from_that_cell(app_url, page):
    _open(page, app_url, "?surface=himmelblau&grid=30")
    page.get_by_text("basins", exact=True).first.click()
    page.wait_for_url(re.compile(r".*view=basins.*"))
    page.get_by_text("Basins of attraction").first.wait_for(timeout=120_000)
    page.wait_for_function(  # the maps arrive after the caption (computed off the server)
        f"() => {PLOT}.length && {PLOT}[0]._fullData.filter(d => d.type === 'heatmap').length",
        timeout=120_000,
    )
    heatmaps = page.evaluate(f"() => {PLOT}[0]._fullData.filter(d => d.type === 'heatmap').length")
    assert heatmaps == 5
    page.screenshot(path=str(ARTIFACTS / "race_basins.png"), full_page=True)
    x, y = _click_select_point(page, 0, 3 * 25 + 4)  # a start in the lower left
    page.wait_for_url(lambda url: "x0=" in url and "view=" not in url, timeout=60_000)
    _wait_value(page, "Start x", 0, x, 0.06)
    assert page.locator('[data-testid="stException"]').count() == 0


def test_basins_hover_answers_everywhere_on_every_map(app_url, page):
    """The maps' hover comes from the click grid alone (the heatmaps skip theirs): anywhere
    over a panel the nearest marker answers, and the label names the start and where it
    ends, with a settling step only for a start that settled. Checked on the default 60x60
    grid and on the smallest (10x10: ten markers per side, far apart)."""
    page.set_viewport_size({"width": 1600, "height": 1200})  # both rows of maps in view
    for grid in ("", "&grid=10"):
        _open(page, app_url, f"?surface=himmelblau&view=basins{grid}")
        _hover_everywhere_on_the_basin_maps(page)


def _hover_everywhere_on_the_basin_maps(page) -> None:
    page.wait_for_function(
        f"() => {PLOT}[0]._fullData.filter(d => d.type === 'heatmap').length === 5",
        timeout=120_000,
    )
    page.locator(".js-plotly-plot").first.scroll_into_view_if_needed()
    points = page.evaluate(
        """() => {
            const gd = document.querySelectorAll('.js-plotly-plot')[0];
            const box = gd.getBoundingClientRect();
            const out = [];
            for (const tr of gd._fullData.filter(d => d.type === 'heatmap')) {
                const xa = gd._fullLayout[tr.xaxis.replace('x', 'xaxis')];
                const ya = gd._fullLayout[tr.yaxis.replace('y', 'yaxis')];
                for (const fx of [0.01, 0.26, 0.5, 0.77, 0.99])
                    for (const fy of [0.01, 0.4, 0.63, 0.99])
                        out.push([box.left + xa._offset + fx * xa._length,
                                  box.top + ya._offset + fy * ya._length]);
            }
            return out;
        }"""
    )
    label = re.compile(
        r"^start \(-?[\d.]+, -?[\d.]+\) → (min \d, settled by step \d+|none|diverged)"
        r"click to race from here$"
    )
    texts = []
    for x, y in points:
        page.mouse.move(x, y)
        page.wait_for_timeout(60)
        texts.append(page.evaluate("document.querySelector('.hoverlayer').textContent"))
    missing = [p for p, t in zip(points, texts, strict=True) if not t]
    assert not missing, f"no hover at {len(missing)} of {len(points)} points: {missing[:3]}"
    wrong = [t for t in texts if not label.match(t)]
    assert not wrong, wrong[:3]


def test_sensitivity_click_races_with_that_setting(app_url, page):
    _open(page, app_url, "?view=sensitivity&sens=2")
    page.get_by_text("Sensitivity of Momentum").first.wait_for()
    lr, momentum = _click_select_point(page, 0, 12 * 25 + 8)
    page.wait_for_url(lambda url: "lr2=" in url and "view=" not in url, timeout=60_000)
    assert re.search(r"[?&]m2=", page.url) or momentum == pytest.approx(0.9)
    _wait_value(page, "learning rate", 1, lr, 1e-3 * lr)
    assert page.locator('[data-testid="stException"]').count() == 0


def test_formula_only_link_selects_the_custom_surface(app_url, page):
    _open(page, app_url, "")  # a warm server: no first-visit router rerun to hide the bug
    _open(page, app_url, "?formula=x**2%20%2B%203*y**2")
    page.wait_for_function(f"() => {PLOT}.length >= 1 && {PLOT}[0]._transitionData")
    assert page.get_by_role("combobox", name="Surface").input_value() == "custom"
    assert page.locator('[data-testid="stException"]').count() == 0


def test_formula_typed_by_hand_goes_into_the_url_and_errors_point_at_the_column(app_url, page):
    _open(page, app_url, "?formula=x%20%2B%20foo(y)")
    page.get_by_text("Your formula was rejected").wait_for()
    assert "column 5" in page.get_by_text("Your formula was rejected").inner_text()
    box = page.get_by_role("textbox", name="Your formula f(x, y)")
    box.fill("(x - 1)**2 + 3*(y + 2)**2")
    box.press("Enter")
    page.wait_for_url(re.compile(r".*formula=%28x.*"), timeout=60_000)
    page.get_by_text("Your formula was rejected").wait_for(state="detached")
    page.wait_for_function(f"() => {PLOT}.length >= 1 && {PLOT}[0]._transitionData")
    assert page.locator('[data-testid="stException"]').count() == 0
    page.screenshot(path=str(ARTIFACTS / "race_formula.png"), full_page=False)
