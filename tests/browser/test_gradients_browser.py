"""Gradient flow in a real browser: a preset loads, training starts, the heatmap fills live."""

from __future__ import annotations

import re
import time

import pytest

from tests.browser.conftest import ARTIFACTS

pytestmark = pytest.mark.browser

HEATMAP = (
    "Array.from(document.querySelectorAll('.js-plotly-plot'))"
    ".find(el => el._fullData && el._fullData.some(t => t.type === 'heatmap'))"
)
# the last training step any heatmap panel shows (plotly decodes typed arrays in _fullData)
LAST_STEP = (
    f"(() => {{ const el = {HEATMAP}; if (!el) return 0; return Math.max(0, ...el._fullData"
    ".filter(t => t.type === 'heatmap' && t.x && t.x.length).map(t => t.x[t.x.length - 1])); })()"
)


def _no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0


def _last_step(page) -> int:
    return page.evaluate(f"() => {LAST_STEP}")


def test_preset_then_live_training_fills_the_heatmap(app_url, page):
    # batch 256: 2,000 steps take ~6 s here (at 64 they took 2 s, done before the first redraw)
    page.goto(f"{app_url}/gradients?steps=2000&tbatch=256")
    page.wait_for_selector(".js-plotly-plot")
    page.get_by_role("button", name="Fix: He init").click()
    page.wait_for_url("**act1=relu**")
    page.get_by_text("Exploding: layer 1 gets").first.wait_for()
    page.get_by_text("Healthy: gradients stay within").first.wait_for()
    _no_exception(page)
    page.screenshot(path=str(ARTIFACTS / "gradients_preset.png"))

    page.get_by_role("tab", name="Training (live)").click()
    page.get_by_role("button", name="Start training").click()
    page.wait_for_function(f"() => {LAST_STEP} > 0", timeout=90_000)
    first = _last_step(page)
    # live: the same chart reaches later steps without any click
    page.wait_for_function(f"() => {LAST_STEP} > {first}", timeout=90_000)
    assert _last_step(page) > first > 0
    page.get_by_text("Depth profile at step").first.wait_for()
    _no_exception(page)
    # the run ends by itself (polling stops, the page settles): picture the finished heatmap
    page.wait_for_function(f"() => {LAST_STEP} >= 2000", timeout=120_000)
    page.get_by_role("button", name="Stop").and_(page.locator("[disabled]")).wait_for()
    page.wait_for_timeout(1500)
    page.evaluate(f"() => {HEATMAP}.scrollIntoView({{block: 'start'}})")
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / "gradients_training.png"))
    assert page.get_by_text("diverged at step").count() >= 1  # σ = 1 ReLU blows up alone
    _no_exception(page)


REDRAW_EVERY = 2.0  # pages/gradients.py (importing the page would run it)
# Tag every chart node the first time it is seen; report (charts now, charts ever, progress).
CHART_SAMPLE = """() => {
  window.__charts = window.__charts || 0;
  const els = [...document.querySelectorAll('.js-plotly-plot')];
  els.forEach(el => { if (!el.__tag) { el.__tag = ++window.__charts; } });
  const bar = document.querySelector('[data-testid="stProgress"]');
  return [els.length, window.__charts, bar ? bar.innerText : ''];
}"""


def _longest_excursion(samples: list[tuple[float, int]], expected: int) -> float:
    """Longest time the chart count stayed away from ``expected`` (to the next sample at it)."""
    longest, since = 0.0, None
    for t, n in samples:
        if n != expected and since is None:
            since = t
        elif n == expected and since is not None:
            longest, since = max(longest, t - since), None
    if since is not None:
        longest = max(longest, samples[-1][0] - since)
    return longest


def test_live_polls_keep_the_charts_mounted(app_url, page):
    """Status polls (0.5 s) never re-create charts; chart redraws (2 s) swap, never pile up.

    Streamlit 1.67 re-creates a Plotly chart whose data changed (see pages/common/jobs.py), so
    the count may dip or bump while a redraw lands; it must return to the page's 4 charts, and
    new chart nodes may appear only at the chart cadence, not at every status poll.
    """
    # batch 512 keeps the run going past the 8 s window even on a fast machine (2,000 steps
    # at batch 64 finish in ~4 s on CI); the charts and their cadence do not depend on batch
    page.goto(f"{app_url}/gradients?steps=2000&tbatch=512")
    page.wait_for_selector(".js-plotly-plot")
    page.get_by_role("tab", name="Training (live)").click()
    page.get_by_role("button", name=re.compile("^Start training")).click()
    page.wait_for_function(f"() => {LAST_STEP} > 0", timeout=90_000)
    page.wait_for_timeout(1000)
    expected, start, _ = page.evaluate(CHART_SAMPLE)
    samples, texts = [], set()  # (seconds since t0, charts on the page)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 8.0:  # wall time: a loaded browser samples slowly
        n, _, text = page.evaluate(CHART_SAMPLE)
        samples.append((time.monotonic() - t0, n))
        texts.add(text)
        page.wait_for_timeout(100)
    window = time.monotonic() - t0
    created = page.evaluate(CHART_SAMPLE)[1] - start
    # only the open tab is built: the hero and the Training tab's 3 live charts
    assert expected == 4 and _last_step(page) < 2000
    assert len(texts) >= 3, texts  # the progress line moved on the status polls...
    live_charts, redraws = 3, window / REDRAW_EVERY + 2
    assert created <= live_charts * redraws, (created, window)  # ...the charts at 2 s only
    counts = [n for _, n in samples]
    assert min(counts) >= expected - live_charts, counts  # a redraw never blanks the hero
    # a swap may briefly hold old and new nodes (a loaded browser unmounts late), but every
    # excursion from the page's 4 charts ends within a redraw interval: nothing piles up
    assert _longest_excursion(samples, expected) <= 2 * REDRAW_EVERY, samples
    page.wait_for_function(  # and a redraw swaps charts: the count comes back
        f"() => document.querySelectorAll('.js-plotly-plot').length === {expected}",
        timeout=10_000,
    )
    _no_exception(page)


def _share_link(page, *parts: str, timeout: float = 30.0) -> str:
    """The page's share link (the link after "Link to this exact view:") once it holds every
    one of ``parts``: while the rerun after a click is still streaming, the lower part of the
    page shows the previous run's link for a moment."""
    box = page.locator('[data-testid="stMarkdown"]').filter(has_text="Link to this exact view:")
    link = box.last.locator("a")
    deadline = time.monotonic() + timeout
    while True:
        href = link.get_attribute("href")
        if all(p in href for p in parts) or time.monotonic() > deadline:
            assert link.inner_text().strip() == href  # shows what it opens
            return href
        page.wait_for_timeout(100)


def test_share_link_after_add_fix_reopens_every_network(app_url, page, browser):
    page.goto(f"{app_url}/gradients")
    page.get_by_text("Configuration 1").first.wait_for(timeout=180_000)  # a cold, busy server
    page.get_by_role("button", name="Deep sigmoid, small init").click()
    page.wait_for_url("**n=1**")  # network 1 = the slot's default sigmoid net: only n differs
    fix = page.get_by_role("button", name="Add fix: Residual → Healthy")
    fix.wait_for()
    fix.click()
    page.wait_for_url("**res2=true**")
    page.get_by_text("Configuration 2").first.wait_for()
    link = _share_link(page, "n=2", "res2=true", "act2=sigmoid")
    assert "n=2" in link and "res2=true" in link and "act2=sigmoid" in link, link
    page.screenshot(path=str(ARTIFACTS / "gradients_fix_added.png"), full_page=True)

    # the link in a fresh session (a new browser context: another visitor)
    other = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    other.set_default_timeout(90_000)
    other.goto(link)
    other.get_by_text("Configuration 2").first.wait_for()
    other.get_by_text("residual").first.wait_for()
    text = other.inner_text("body")
    assert "sigmoid · normal σ=0.1 · 20×64 · residual" in text, text
    assert "Healthy" in text and "Vanishing" in text
    _no_exception(other)
    other.screenshot(path=str(ARTIFACTS / "gradients_fix_link_reopened.png"))
    other.context.close()


def test_navigating_from_gradients_to_regularization_keeps_each_page_its_own(app_url, page):
    page.goto(f"{app_url}/gradients?n=1&batch=64&seed=5&data=circles")
    page.get_by_text("Configuration 1").first.wait_for()
    page.get_by_role("link", name="Regularization").click()
    page.wait_for_url("**/regularization**")
    page.get_by_text("Share and export").wait_for()
    page.wait_for_timeout(1500)
    warnings = page.locator('[data-testid="stAlertContentWarning"]').all_inner_texts()
    assert not [w for w in warnings if "instead" in w], warnings
    assert "n=" not in page.url and "seed=" not in page.url, page.url
    # and back: the gradients page as it was left, its link included
    page.get_by_role("link", name="Gradient flow").click()
    page.wait_for_url("**/gradients?**")
    page.get_by_text("Configuration 1").first.wait_for()
    for part in ("n=1", "batch=64", "seed=5", "data=circles"):
        assert part in page.url, page.url
    assert page.get_by_text("Configuration 2").count() == 0
    _no_exception(page)
