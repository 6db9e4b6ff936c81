"""What only a browser shows about the race page's layout (issue 11, point 7): the legend never
covers the map's title, six noisy racers do not squeeze the map, the leaderboard's Status is
readable in full on a tuned race."""

from __future__ import annotations

import pytest

from tests.browser.conftest import ARTIFACTS

pytestmark = pytest.mark.browser

HERO = "document.querySelectorAll('.js-plotly-plot')[0]"

BOXES = f"""() => {{
    const root = {HERO};
    const box = (el) => {{ const r = el.getBoundingClientRect();
        return {{top: r.top, bottom: r.bottom, left: r.left, right: r.right,
                 height: r.height, width: r.width}}; }};
    return {{
        title: box(root.querySelector('.g-gtitle')),
        legend: box(root.querySelector('.legend')),
        plot: box(root.querySelector('.nsewdrag')),
        figure: box(root),
    }};
}}"""


def _open_race(page, app_url, query: str) -> dict:
    page.goto(f"{app_url}/race{query}")
    page.wait_for_function(
        f"() => {HERO} && {HERO}._transitionData && {HERO}._transitionData._frames.length > 0"
        f" && {HERO}.querySelector('.legend')",
        timeout=300_000,  # tuning six racers on a loaded 2-core machine takes a while
    )
    assert page.locator('[data-testid="stException"]').count() == 0
    return page.evaluate(BOXES)


@pytest.mark.parametrize(
    ("name", "query"),
    [
        ("noise5", "?noise=0.5&seeds=8"),
        ("noise6", "?n=6&noise=0.5&seeds=4&steps=200"),
        ("noise6_tuned", "?n=6&noise=0.5&seeds=4&steps=200&surface=booth&tune=1"),
    ],
)
def test_legend_never_covers_the_title_and_the_map_keeps_its_size(app_url, page, name, query):
    plain = _open_race(page, app_url, "?n=1")["plot"]  # one racer: a one-row legend
    boxes = _open_race(page, app_url, query)
    page.locator(".js-plotly-plot").first.screenshot(path=str(ARTIFACTS / f"race_{name}.png"))
    title, legend, plot = boxes["title"], boxes["legend"], boxes["plot"]
    assert legend["top"] >= title["bottom"] - 1, boxes  # the legend starts under the title
    assert legend["bottom"] <= plot["top"] + 1, boxes  # ... and ends above the plot area
    # six racers with noise: the legend grows the figure, not into the plot area, which stays
    # as tall as with a one-row legend
    assert plot["height"] >= plain["height"] - 1, (plain, boxes)


def test_status_column_is_readable_on_a_tuned_race(app_url, page):
    _open_race(page, app_url, "?n=6&surface=beale&tune=1&steps=200")
    table = page.locator('[data-testid="stTable"] table').first
    table.wait_for()
    header = [h.strip() for h in table.locator("thead th").all_inner_texts()]
    col = header.index("Status")
    rows = table.locator("tbody tr").all()
    assert len(rows) == 6
    texts = []
    for row in rows:
        cell = row.locator("td, th").nth(col)
        texts.append(cell.inner_text().strip())
        # the whole sentence is on screen: nothing clipped or scrolled away inside the cell
        assert cell.evaluate("el => el.scrollWidth <= el.clientWidth + 1")
        box = cell.bounding_box()
        assert box["x"] + box["width"] <= page.viewport_size["width"]
    assert all(
        t.startswith(("settled at step", "not within 0.001 after", "diverged at step"))
        for t in texts
    ), texts
    table.screenshot(path=str(ARTIFACTS / "race_status_tuned.png"))
