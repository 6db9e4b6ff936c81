"""What only a browser shows: the race map renders, animates, and takes clicks; URL repair."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser.conftest import ARTIFACTS

pytestmark = pytest.mark.browser

HERO = "document.querySelectorAll('.js-plotly-plot')[0]"


def _open_race(page, app_url, query: str = "") -> None:
    page.goto(f"{app_url}/race{query}")
    page.wait_for_function(
        f"() => {HERO} && {HERO}._transitionData && {HERO}._transitionData._frames.length > 0"
    )
    assert page.locator('[data-testid="stException"]').count() == 0


def _current_frame(page):
    return page.evaluate(f"() => {HERO}._fullLayout._currentFrame || null")


def test_race_page_loads_and_play_animates(app_url, page):
    _open_race(page, app_url)
    page.screenshot(path=str(ARTIFACTS / "race.png"), full_page=False)
    assert page.locator(".js-plotly-plot").count() >= 1
    assert _current_frame(page) is None  # opens on the finished race, nothing playing
    page.locator(".updatemenu-button", has_text="Play").first.click()
    page.wait_for_function(f"() => {HERO}._fullLayout._currentFrame != null")
    first = int(_current_frame(page))
    page.wait_for_function(
        f"() => Number({HERO}._fullLayout._currentFrame) > {first}", timeout=30_000
    )
    page.screenshot(path=str(ARTIFACTS / "race_playing.png"))
    assert page.locator('[data-testid="stException"]').count() == 0


def test_clicking_the_map_moves_the_start(app_url, page):
    _open_race(page, app_url, "?surface=beale")
    start_x = page.get_by_role("spinbutton", name="Start x", exact=True)
    before = start_x.input_value()
    area = page.locator(".js-plotly-plot .nsewdrag").first.bounding_box()
    x, y = area["x"] + 0.2 * area["width"], area["y"] + 0.8 * area["height"]
    page.mouse.move(x, y)
    # the invisible click grid answers the hover from its data ...
    page.locator(".hoverlayer").get_by_text("click to start here").wait_for(timeout=10_000)
    # ... though it draws (nearly) none of its 1,600 points: the map stays light to redraw
    assert page.locator(".js-plotly-plot").first.locator("path.point").count() < 50
    page.mouse.click(x, y)
    page.wait_for_url(re.compile(r".*[?&]x0=-?[0-9.]+.*"), timeout=60_000)
    page.wait_for_function(
        "([label, old]) => { const el = document.querySelector(`input[aria-label='${label}']`);"
        " return el && el.value !== old; }",
        arg=["Start x", before],
    )
    assert float(start_x.input_value()) < 0  # clicked on the left fifth of [-4.5, 4.5]
    assert page.locator('[data-testid="stException"]').count() == 0
    page.screenshot(path=str(ARTIFACTS / "race_clicked.png"), full_page=True)


def test_bad_url_values_warn_instead_of_crashing(app_url, page):
    _open_race(page, app_url, "?steps=-inf&surface=nope&lr1=nan")
    alerts = page.locator('[data-testid="stAlert"]')
    alerts.first.wait_for()
    text = " ".join(alerts.all_inner_texts())
    for shown in ("steps=-inf", "surface=nope", "lr1=nan"):
        assert shown in text
    assert page.locator('[data-testid="stException"]').count() == 0
    assert "steps=-inf" not in page.url


def _type_into(page, label: str, text: str, nth: int = 0) -> None:
    """Select a number box's text and type ``text`` as a person would, then press Enter."""
    box = page.locator(f'input[aria-label="{label}"]').nth(nth)
    box.focus()
    page.keyboard.press("Control+A")
    page.keyboard.type(text)
    page.keyboard.press("Enter")
    page.wait_for_timeout(1500)  # a rerun, if one were triggered, has landed by then


def test_typing_garbage_keeps_the_previous_value(app_url, page):
    """`abc` in a learning rate keeps the rate typed before (not the preset's default), and
    `1e9` in an integer box is refused as out of range (not read as 1)."""
    _open_race(page, app_url, "?lr1=0.0123")
    _type_into(page, "learning rate", "abc")
    assert "lr1=0.0123" in page.url
    assert page.get_by_text("lr=0.0123").count() >= 1  # the racer still runs at 0.0123
    _type_into(page, "Steps", "1e9")
    assert "steps=" not in page.url  # still the default 500
    assert page.get_by_text("500 steps").count() >= 1
    error = page.locator('[data-testid="stNumberInput"] [role="alert"]').all_inner_texts()
    assert any("between 1 and 5000" in text for text in error), error
    _type_into(page, "learning rate", "0.02")  # a number still goes through
    page.wait_for_url("**lr1=0.02**")
    assert page.locator('[data-testid="stException"]').count() == 0


def test_trajectories_csv_is_built_when_clicked(app_url, browser):
    """The CSV is built on click (not on every run); the file is the race shown."""
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(90_000)
    _open_race(page, app_url, "?surface=beale&n=2")
    with page.expect_download() as info:
        page.get_by_role("button", name="Download trajectories (CSV)").click()
    download = info.value
    lines = Path(download.path()).read_text(encoding="utf-8").splitlines()
    context.close()
    assert download.suggested_filename == "race_beale.csv"
    assert lines[0] == "step,racer,x,y,loss,grad_norm"
    assert len({line.split(",")[1] for line in lines[1:]}) == 2  # the two racers shown


def test_the_server_warmed_up_before_its_first_visitor(app_url, page):
    """serve.py's lifespan ran the warm-up (pages/common/warmup.py) before the server answered,
    without an error, and the default race page it warmed draws as usual."""
    log = (ARTIFACTS / "streamlit-test.log").read_text()
    assert re.search(r"Warmed up in \d+\.\d s", log), log[-2000:]
    assert "warm-up failed" not in log and "Traceback" not in log, log[-2000:]
    _open_race(page, app_url)
