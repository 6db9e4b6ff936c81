"""What a visitor feels, measured in a real browser: ``python -m bench.browser``.

Starts its own ``streamlit run serve.py`` (as the README deploys it: warmed up before its
first visitor; ``--entry app.py`` for a cold start) on a free port of 127.0.0.1, drives
Debian's Chromium (``/usr/bin/chromium``, headless, ``--no-sandbox --disable-gpu
--disable-background-networking``, a 1280x800 window) with Playwright, and prints for each
page (Optimizer race, Regularization lab, Gradient flow):

* **first chart**: seconds from the navigation start to the first drawn Plotly chart (its
  ``.main-svg`` exists), for the very first visit of the fresh server (imports, caches cold)
  and for a new visitor on the warm server (a fresh browser context: new session, no cache),
  and the server process's CPU seconds for that new visitor's visit, until the page is idle;
* for a fixed script of typical interactions (at least 10 per page, listed in :data:`SCRIPTS`):
  the **latency** from the action to the page idle with its charts updated, and the **bytes
  received** over the websocket meanwhile (``page.on("websocket")`` ->
  ``ws.on("framereceived")``, payload lengths summed); median and worst per page, and each
  interaction on its own line with ``-v``.

**Idle**, precisely: the action is the raw input event (the element is located first, then
the clock starts). The page is idle at the first moment when all of these hold:
(1) Streamlit's app root does not report a running script (``[data-testid=stApp]``
attribute ``data-test-script-state`` is neither ``running`` nor ``rerunRequested``);
(2) if the browser sent anything on the websocket after the action (a rerun request), a
script run has started after the action (the state was ``running`` at some point) and ended;
if it sent nothing within 0.8 s the action was answered in the browser alone;
(3) every Plotly chart on the page has been drawn (``_fullLayout`` set); and
(4) the DOM has not changed for 300 ms (a MutationObserver on the whole document), and the
page's main thread has ended no long task (>= 50 ms, the Long Tasks API) in that time: a
WebGL scene is drawn in long tasks that change no DOM node, and a visitor's next click waits
for them. The latency is the time of the last DOM change or long-task end before that quiet
period, minus the action's time: it ends when the last visible thing (chart, table, text)
changed and the page could answer again. A page whose
background job polls (``st.fragment(run_every=...)``) keeps changing while the job runs; for
it, idle is the first quiet moment after the action's own rerun, not the end of the job.

The machine is shared: the 1-minute load average is printed beside the figures (before and
after). Targets (issue 10), when idle: race interaction median <= 0.5 s, worst <= 1.5 s,
first chart <= 2 s, bytes per typical interaction <= 300 KB.

**Floor** (``--pages floor``, not in the default set): the same measures on
``bench/floor/app.py``, the smallest Streamlit page with one number input and one Plotly
chart, served by its own server: what Streamlit and Plotly alone cost on this machine, the
floor under every target above.

Usage: ``python -m bench.browser [--pages race,regularization,gradients,floor] [-v]
[--json artifacts/bench_browser.json] [--app-dir /path/to/other/checkout] [--entry app.py]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT = {"width": 1280, "height": 800}
QUIET_MS = 300
GRACE_MS = 800  # an action that sends nothing within this long was answered in the browser
TIMEOUT_S = 120

INSTRUMENT_JS = """
(() => {
  const b = window.__bench = {mut: 0, states: [], sent: [], firstChart: null};
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (...args) { b.sent.push(performance.now());
                                                   return send.apply(this, args); };
  const watch = () => {
    new MutationObserver((records) => {
      const now = performance.now();
      b.mut = now;
      for (const r of records) {
        if (r.type === 'attributes' && r.attributeName === 'data-test-script-state') {
          b.states.push([now, r.target.getAttribute('data-test-script-state')]);
        }
      }
      if (b.firstChart === null && document.querySelector('.js-plotly-plot .main-svg')) {
        b.firstChart = now;
      }
    }).observe(document, {subtree: true, childList: true, attributes: true,
                          characterData: true});
  };
  // a WebGL scene draws in long tasks without touching the DOM: their ends count as changes
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) b.mut = Math.max(b.mut, e.startTime + e.duration);
  }).observe({type: 'longtask', buffered: true});
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', watch);
  else watch();
})();
"""

IDLE_JS = """
([t0, quiet, grace]) => {
  const b = window.__bench, now = performance.now();
  const app = document.querySelector('[data-testid="stApp"]');
  const state = app && app.getAttribute('data-test-script-state');
  if (!app || state === 'running' || state === 'rerunRequested') return false;
  const sent = b.sent.some(t => t >= t0);
  if (!sent && now - t0 < grace) return false;
  if (sent && !b.states.some(s => s[0] >= t0 && s[1] === 'running') && now - t0 < 10000) {
    return false;
  }
  for (const gd of document.querySelectorAll('.js-plotly-plot')) {
    if (!gd._fullLayout) return false;
  }
  return now - b.mut >= quiet ? Math.max(b.mut - t0, 0) : false;
}
"""


# --- server and browser ---------------------------------------------------------------------
SERVER_PIDS: dict[str, int] = {}  # url -> the process of server(): its CPU per visit


def server_cpu(url: str) -> float:
    """CPU seconds (user + system) the server at ``url`` has used so far."""
    import psutil

    times = psutil.Process(SERVER_PIDS[url]).cpu_times()
    return times.user + times.system


def entry_point(app_dir: Path, entry: str | None = None) -> str:
    """The script ``streamlit run`` starts: ``entry`` if given, else ``serve.py`` (how the
    README runs the app: warmed before its first visitor) where the checkout has one, else
    ``app.py`` (an older checkout in an A/B run; the floor app)."""
    if entry:
        return entry
    return "serve.py" if (app_dir / "serve.py").exists() else "app.py"


def streamlit_command(app_dir: Path, port: int, entry: str | None = None) -> list[str]:
    """``streamlit run <entry point>`` headless on 127.0.0.1:``port``, no file watcher."""
    cmd = [sys.executable, "-m", "streamlit", "run", entry_point(app_dir, entry)]
    cmd += ["--server.headless", "true", "--server.port", str(port)]
    cmd += ["--server.address", "127.0.0.1", "--server.fileWatcherType", "none"]
    return [*cmd, "--browser.gatherUsageStats", "false"]


@contextlib.contextmanager
def server(app_dir: Path = ROOT, entry: str | None = None):
    """``streamlit run`` (:func:`entry_point`, in ``app_dir``) on a free port of 127.0.0.1;
    yields its URL once it answers ``/_stcore/health`` (after a ``serve.py`` warm-up)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = streamlit_command(app_dir, port, entry)
    proc = subprocess.Popen(cmd, cwd=app_dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    SERVER_PIDS[url] = proc.pid
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        break
            except OSError:
                time.sleep(0.3)
        else:
            raise RuntimeError("streamlit did not start")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class Tab:
    """One browser tab with the instrumentation and a websocket byte counter."""

    def __init__(self, browser):
        self.context = browser.new_context(viewport=VIEWPORT)
        self.page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_S * 1000)
        self.page.add_init_script(INSTRUMENT_JS)
        self.received = 0
        self.page.on("websocket", self._on_ws)

    def _on_ws(self, ws) -> None:
        def count(payload) -> None:
            self.received += len(payload)

        ws.on("framereceived", count)

    def open(self, url: str) -> float:
        """Navigate; seconds from the navigation start to the first drawn chart."""
        self.page.goto(url)
        self.page.wait_for_function(
            "() => window.__bench && window.__bench.firstChart !== null", timeout=TIMEOUT_S * 1000
        )
        self.settle()
        return self.page.evaluate("window.__bench.firstChart") / 1000

    def settle(self) -> None:
        """Wait until the page is idle (no action: any run in flight finishes)."""
        t0 = self.page.evaluate("performance.now()") - GRACE_MS
        self.page.wait_for_function(IDLE_JS, arg=[t0, QUIET_MS, 0], timeout=TIMEOUT_S * 1000)

    def measure(self, action: Callable[[], None]) -> tuple[float, int]:
        """Run ``action`` (the raw input event); (seconds to idle, bytes received)."""
        self.page.wait_for_timeout(100)
        before = self.received
        t0 = self.page.evaluate("performance.now()")
        action()
        latency = self.page.wait_for_function(
            IDLE_JS, arg=[t0, QUIET_MS, GRACE_MS], polling=20, timeout=TIMEOUT_S * 1000
        ).json_value()
        self.page.wait_for_timeout(50)  # let Playwright deliver the last websocket events
        return latency / 1000, self.received - before

    def close(self) -> None:
        self.context.close()


# --- input helpers (located first; each returns the raw action) -----------------------------
def number_step(page, label: str, nth: int = 0, up: bool = True) -> Callable[[], None]:
    box = page.locator('[data-testid="stNumberInput"]').filter(
        has=page.locator(f"input[aria-label='{label}']")
    )
    button = box.nth(nth).locator(
        '[data-testid="stNumberInputStepUp"]' if up else '[data-testid="stNumberInputStepDown"]'
    )
    button.scroll_into_view_if_needed()
    return button.click


def select(page, label: str, option: str, nth: int = 0, within=None) -> Callable[[], None]:
    """Open the selectbox (not timed), then the timed action clicks the option.

    A rerun landing just then (e.g. the one a finished job triggers) closes an open list:
    open it again, up to three times. ``within``: a locator the box is in (default: page)."""
    box = (within or page).get_by_role("combobox", name=label).nth(nth)
    item = page.get_by_role("option", name=option, exact=True).first
    for _ in range(3):
        box.click()
        try:
            item.wait_for(timeout=5_000)
            break
        except Exception:  # noqa: BLE001 - closed by a rerun: retry
            page.keyboard.press("Escape")
    item.wait_for()
    return item.click


def toggle(page, label: str) -> Callable[[], None]:
    target = page.get_by_text(label, exact=True).first
    target.scroll_into_view_if_needed()
    return target.click


def choose(page, name: str) -> Callable[[], None]:
    """A tab, a segmented-control / pills option or a radio option named ``name``."""
    for loc in (
        page.get_by_role("tab", name=name, exact=True),
        page.locator('[data-testid="stButtonGroup"] button').filter(has_text=name),
        page.get_by_role("radio", name=name, exact=True),
        page.locator("label").filter(has_text=name),
    ):
        if loc.count():
            target = loc.first
            target.scroll_into_view_if_needed()
            return target.click
    raise LookupError(f"no tab or option named {name!r}")


def button(page, name: str) -> Callable[[], None]:
    target = page.get_by_role("button", name=name).first
    target.scroll_into_view_if_needed()
    return target.click


def slider_key(page, label: str, key: str = "ArrowLeft") -> Callable[[], None]:
    thumb = page.get_by_role("slider", name=label).first
    if not thumb.count():
        block = page.locator('[data-testid="stSlider"]').filter(has_text=label).first
        thumb = block.get_by_role("slider").first
    thumb.scroll_into_view_if_needed()
    thumb.focus()
    return lambda: thumb.press(key)


def plot_click(page, plot: int, fx: float, fy: float) -> Callable[[], None]:
    """Hover, then the timed click, at fractions (fx, fy) of plot ``plot``'s drawing area."""
    area = page.locator(".js-plotly-plot").nth(plot).locator(".nsewdrag").first
    area.scroll_into_view_if_needed()
    box = area.bounding_box()
    x, y = box["x"] + fx * box["width"], box["y"] + fy * box["height"]
    page.mouse.move(x, y)
    page.wait_for_timeout(300)
    return lambda: page.mouse.click(x, y)


def select_point(page, plot: int, index: int) -> Callable[[], None]:
    """Hover, then the timed click, on marker ``index`` of the invisible ``select`` grid."""
    where = page.evaluate(
        """([i, k]) => {
            const gd = document.querySelectorAll('.js-plotly-plot')[i];
            gd.scrollIntoView();
            const tr = gd._fullData.find(d => d.name === 'select');
            const xa = gd._fullLayout[tr.xaxis.replace('x', 'xaxis')];
            const ya = gd._fullLayout[tr.yaxis.replace('y', 'yaxis')];
            const box = gd.getBoundingClientRect();
            return {x: box.left + xa._offset + xa.l2p(tr.x[k]),
                    y: box.top + ya._offset + ya.l2p(tr.y[k])};
        }""",
        [plot, index],
    )
    page.mouse.move(where["x"], where["y"])
    page.wait_for_timeout(300)
    return lambda: page.mouse.click(where["x"], where["y"])


def expand(page, title_part: str) -> None:
    """Open a collapsed sidebar expander (setup, not timed)."""
    summary = page.locator('[data-testid="stExpander"] summary').filter(has_text=title_part).first
    if summary.count() and summary.locator("xpath=..").get_attribute("open") is None:
        summary.click()


# --- the scripts ----------------------------------------------------------------------------
RACE = [
    ("learning-rate step (racer 1, +)", lambda p: number_step(p, "learning rate", 0)),
    ("preset change (racer 2 -> Nesterov)", lambda p: select(p, "Racer 2", "Nesterov")),
    ("racer count 5 -> 6", lambda p: number_step(p, "Racers")),
    ("racer count 6 -> 5", lambda p: number_step(p, "Racers", up=False)),
    ("surface -> himmelblau", lambda p: select(p, "Surface", "himmelblau")),
    ("map click (new start)", lambda p: plot_click(p, 0, 0.3, 0.7)),
    ("step cursor (one step back)", lambda p: slider_key(p, "Step shown")),
    ("tab: Loss per step", lambda p: choose(p, "Loss per step")),
    ("tab: Inside the optimizer", lambda p: choose(p, "Inside the optimizer")),
    ("tab: 3D view", lambda p: choose(p, "3D view")),
    ("tab: How each optimizer works", lambda p: choose(p, "How each optimizer works")),
    ("tab: Leaderboard", lambda p: choose(p, "Leaderboard")),
    ("fair-race toggle on", lambda p: toggle(p, "Fair race: tune each learning rate")),
    ("tab: Fair race", lambda p: choose(p, "Fair race")),
    ("fair-race toggle off", lambda p: toggle(p, "Fair race: tune each learning rate")),
    ("view: basins", lambda p: choose(p, "basins")),
    ("basins cell click (race from it)", lambda p: select_point(p, 0, 3 * 25 + 4)),
]

# View controls first, on the finished run; the two settings changes (which start a new run,
# whose live polling would close a selectbox opened later) come last.
REG = [
    ("layer select -> 2", lambda p: select(p, "Layer", "2")),
    ("log count toggle", lambda p: toggle(p, "Log count")),
    ("epoch slider (one back)", lambda p: slider_key(p, "Epoch of the metrics and histogram")),
    ("tab: Sparsity over epochs", lambda p: choose(p, "Sparsity over epochs")),
    ("tab: Decision boundaries", lambda p: choose(p, "Decision boundaries")),
    ("tab: Loss curves", lambda p: choose(p, "Loss curves")),
    ("log count toggle back", lambda p: toggle(p, "Log count")),
    ("layer select -> 1", lambda p: select(p, "Layer", "1")),
    ("variant 2 regularizer l1 -> elastic", lambda p: _reg_variant(p)),
    ("lambda step (+)", lambda p: number_step(p, "λ1 (L1)", 0)),
]

GRAD = [
    ("depth step (config 1, +)", lambda p: number_step(p, "Depth L", 0)),
    ("activation -> relu (config 1)", lambda p: select(p, "Activation", "relu")),
    ("init -> xavier_normal (config 1)", lambda p: _grad_init(p)),
    ("fix button (first offered)", lambda p: _grad_fix(p)),
    ("tab: Histograms", lambda p: choose(p, "Histograms")),
    ("tab: Training (live)", lambda p: choose(p, "Training (live)")),
    ("tab: Activation functions", lambda p: choose(p, "Activation functions")),
    ("tab: Why", lambda p: choose(p, "Why")),
    ("tab: Activation statistics", lambda p: choose(p, "Activation statistics")),
    ("preset (first in the sidebar)", lambda p: _grad_preset(p)),
]


def _reg_variant(page):
    expand(page, "Variant 2")
    box = page.locator('[data-testid="stExpander"]').filter(has_text="Variant 2").first
    return select(page, "Regularizer", "elastic", within=box)


def _reg_setup(page):
    """Wait for the finished comparison (the histogram animates only then): a run still
    training re-renders its fragment every poll, which closes an open selectbox."""
    page.wait_for_function(
        "() => [...document.querySelectorAll('.js-plotly-plot')]"
        ".some(p => p._transitionData && p._transitionData._frames.length > 0)",
        timeout=300_000,
    )


def _grad_init(page):
    page.get_by_role("combobox", name="Initialization").first.click()
    options = page.get_by_role("option")
    options.first.wait_for()
    names = [n.strip() for n in options.all_inner_texts()]
    pick = next((n for n in names if "xavier" in n), names[-1])
    return page.get_by_role("option", name=pick, exact=True).first.click


def _grad_fix(page):
    target = page.get_by_role("button").filter(has_text="Add fix").first
    target.scroll_into_view_if_needed()
    return target.click


def _grad_preset(page):
    target = page.locator('[data-testid="stSidebar"] [data-testid="stButton"] button').first
    target.scroll_into_view_if_needed()
    return target.click


def _grad_setup(page):
    expand(page, "1")


FLOOR_APP = ROOT / "bench" / "floor"  # not this app: Streamlit + Plotly alone (see its docstring)
FLOOR = [
    (
        f"number step ({'+' if i % 2 == 0 else '-'})",
        lambda p, up=(i % 2 == 0): number_step(p, "Learning rate", up=up),
    )
    for i in range(10)
]

PAGES = {
    "floor": ("/", FLOOR, None),
    "race": ("/race", RACE, None),
    "regularization": ("/regularization", REG, _reg_setup),
    "gradients": ("/gradients", GRAD, _grad_setup),
}
SCRIPTS = {name: [label for label, _ in script] for name, (_, script, _) in PAGES.items()}


def run_page(browser, base: str, name: str, verbose: bool) -> dict:
    path, script, setup = PAGES[name]
    first = Tab(browser)
    try:
        fresh = first.open(f"{base}{path}")
    finally:
        first.close()
    tab = Tab(browser)
    rows = []
    try:
        cpu_before = server_cpu(base)
        warm = tab.open(f"{base}{path}")
        visit_cpu = server_cpu(base) - cpu_before
        if setup:
            setup(tab.page)
            tab.settle()
        for label, prepare in script:
            try:
                action = prepare(tab.page)
                seconds, size = tab.measure(action)
                rows.append({"action": label, "s": seconds, "bytes": size})
                if verbose:
                    print(f"    {label:38s} {seconds:6.2f} s {size / 1e3:8.1f} KB", flush=True)
            except Exception as err:  # noqa: BLE001 - a broken step is reported, not fatal
                rows.append({"action": label, "error": str(err).splitlines()[0][:120]})
                if verbose:
                    print(f"    {label:38s} FAILED: {rows[-1]['error']}", flush=True)
                with contextlib.suppress(Exception):
                    tab.page.keyboard.press("Escape")
                    tab.settle()
        errors = tab.page.locator('[data-testid="stException"]').count()
        tab.page.screenshot(path=str(ROOT / "artifacts" / f"bench_{name}.png"))
    finally:
        tab.close()
    return {
        "page": name,
        "first_chart_fresh": fresh,
        "first_chart_warm": warm,
        "visit_server_cpu": visit_cpu,
        "rows": rows,
        "exceptions": errors,
    }


def report(result: dict) -> None:
    ok = [r for r in result["rows"] if "error" not in r]
    failed = len(result["rows"]) - len(ok)
    s = [r["s"] for r in ok]
    kb = [r["bytes"] / 1e3 for r in ok]
    print(
        f"{result['page']:15s} {result['first_chart_fresh']:6.2f} {result['first_chart_warm']:6.2f}"
        f"  {len(ok):3d}  {statistics.median(s):6.2f} {max(s):6.2f}"
        f"  {statistics.median(kb):8.1f} {max(kb):8.1f}"
        f"  {result['visit_server_cpu']:7.2f}"
        + (f"  ({failed} failed)" if failed else "")
        + (f"  ({result['exceptions']} exceptions shown)" if result["exceptions"] else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", default=",".join(n for n in PAGES if n != "floor"))
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per action")
    parser.add_argument("--json", help="also write the raw figures to this file")
    parser.add_argument(
        "--app-dir",
        type=Path,
        default=ROOT,
        help="serve the app from this checkout (e.g. a worktree of an older commit, to compare "
        "before/after in one run)",
    )
    parser.add_argument(
        "--entry",
        help="the script to run (default: serve.py where the checkout has it, else app.py); "
        "--entry app.py measures a server that warms up inside its first visit",
    )
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    (ROOT / "artifacts").mkdir(exist_ok=True)
    names = [n.strip() for n in args.pages.split(",") if n.strip()]
    load_before = os.getloadavg()
    results = []
    for app_dir, entry, group in (
        (FLOOR_APP, None, ["floor"]),
        (args.app_dir, args.entry, [n for n in names if n != "floor"]),
    ):
        group = [n for n in group if n in names]
        if not group:
            continue
        if app_dir != FLOOR_APP:
            print(f"  serving {app_dir.name}/{entry_point(app_dir, entry)}", flush=True)
        with server(app_dir, entry) as base, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                for name in group:
                    if args.verbose:
                        print(f"  {name}:", flush=True)
                    results.append(run_page(browser, base, name, args.verbose))
            finally:
                browser.close()
    load_after = os.getloadavg()
    print(
        f"load average (1, 5, 15 min): before {load_before[0]:.1f} {load_before[1]:.1f} "
        f"{load_before[2]:.1f}, after {load_after[0]:.1f} {load_after[1]:.1f} "
        f"{load_after[2]:.1f} (2 cores, shared)"
    )
    print(
        "page            first chart (s)  actions  latency (s)     received (KB) per action"
        "  server CPU (s)"
    )
    print(
        "                 first  again            median  worst   median    worst"
        "  per new visitor (to idle)"
    )
    for result in results:
        report(result)
    if args.json:
        Path(args.json).write_text(
            json.dumps({"load": [load_before, load_after], "pages": results}, indent=1)
        )


if __name__ == "__main__":
    main()
