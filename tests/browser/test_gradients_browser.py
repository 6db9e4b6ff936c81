"""Gradient flow in a real browser: a preset loads, training starts, the heatmap fills live."""

from __future__ import annotations

import pytest

from tests.browser.conftest import ARTIFACTS

pytestmark = pytest.mark.browser

HEATMAP = (
    "Array.from(document.querySelectorAll('.js-plotly-plot'))"
    ".find(el => el._fullData && el._fullData.some(t => t.type === 'heatmap'))"
)
# step columns of the widest heatmap trace (plotly decodes the figure's typed arrays in _fullData)
COLUMNS = (
    f"(() => {{ const el = {HEATMAP}; if (!el) return 0; return Math.max(0, ...el._fullData"
    ".filter(t => t.type === 'heatmap' && t.x).map(t => t.x.length)); })()"
)


def _no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0


def _columns(page) -> int:
    return page.evaluate(f"() => {COLUMNS}")


def test_preset_then_live_training_fills_the_heatmap(app_url, page):
    page.goto(f"{app_url}/gradients?steps=600&tbatch=16")
    page.wait_for_selector(".js-plotly-plot")
    page.get_by_role("button", name="Fix: He init").click()
    page.wait_for_url("**act1=relu**")
    page.get_by_text("Exploding: layer 1 gets").first.wait_for()
    page.get_by_text("Healthy: gradients stay within").first.wait_for()
    _no_exception(page)
    page.screenshot(path=str(ARTIFACTS / "gradients_preset.png"))

    page.get_by_role("tab", name="Training (live)").click()
    page.get_by_role("button", name="Start training").click()
    page.wait_for_function(f"() => {COLUMNS} > 0", timeout=90_000)
    first = _columns(page)
    # live: the same chart grows (more step columns) without any click, until the run ends
    page.wait_for_function(f"() => {COLUMNS} > {first}", timeout=90_000)
    assert _columns(page) > first > 0
    page.get_by_text("Depth profile at step").first.wait_for()
    _no_exception(page)
    page.wait_for_timeout(2000)  # let a few more polls arrive before the picture
    page.evaluate(f"() => {HEATMAP}.scrollIntoView({{block: 'start'}})")
    page.screenshot(path=str(ARTIFACTS / "gradients_training.png"))
    stop = page.get_by_role("button", name="Stop")
    if stop.is_enabled():  # the run may already have finished
        stop.click()
    _no_exception(page)
