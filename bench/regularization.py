"""Benchmark the Regularization lab's default comparison: `python -m bench.regularization`.

Prints (medians of a few repeats, measured in this run on this machine):

* the whole default comparison (4 variants, 200 epochs) trained synchronously;
* the same as a background job (engine.jobs, as the page runs it): time to the first
  publication with a trained epoch, time to the first chart (that publication plus building
  the histogram figure from it) and time to finish;
* the page's figures for the finished run: build time and JSON size of each and in total
  (the live polls draw only the one-epoch histogram and the open tab's chart, see
  pages/common/reg_live.py).

Targets (the issue): first chart <= 1 s, whole comparison <= 10 s, figure JSON <= 2 MB.

``python -m bench.regularization --browser [--repeats N] [--query "n=300&epochs=1000"]``
measures what a visitor sees instead: it starts ``streamlit run serve.py``, opens
/regularization in headless Chromium (1280x800, a fresh browser context per load: no cache,
a new session, so the first visit's auto-started comparison) and records, from the
navigation start, with a MutationObserver in the page: *interactive* (the sidebar's first
input is shown), *first chart* (the first drawn Plotly chart), *hero* (the weight histogram
drawn) and *finished* (the progress line says epoch E/E and the final-weights download is
enabled, i.e. the page has redrawn the finished run), plus the main thread's long-task time.
The Optimizer race page is loaded the same way in the same run as a reference for the
machine's load. Targets: hero <= 1-2 s after interactive, finished <= 10 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from bench import browser as browser_bench
from engine import reg_geometry as rg
from engine import reg_lab as rl
from engine.blas import set_threads
from engine.jobs import JobManager, Status
from viz import regularization as vr

REPEATS = 3
FIGURE_REPEATS = 7  # each figure's build + JSON time is the median of this many builds


def _sync() -> float:
    t = time.perf_counter()
    rl.TwinRuns(rl.DEFAULT_LAB).run()
    return time.perf_counter() - t


def _job() -> tuple[float, float, float]:
    """(first trained publication, first chart, finished) in seconds after submit."""
    manager = JobManager(max_running=1)
    start = time.perf_counter()
    job = manager.submit(lambda: rl.TwinRuns(rl.DEFAULT_LAB), name="bench")
    first = chart = None
    while True:
        snap = job.snapshot()
        runs = snap.history
        if first is None and runs and all(r.history.epochs_done >= 1 for r in runs):
            first = time.perf_counter() - start
            hs = [r.history for r in runs]
            vr.histogram_figure(hs, [r.label for r in runs], 0, 200).to_json()
            chart = time.perf_counter() - start
        if snap.status.finished:
            assert snap.status is Status.DONE, snap.message
            return first, chart, time.perf_counter() - start
        time.sleep(0.02)


def _figures() -> dict[str, tuple[float, int]]:
    """Each page figure of the finished default comparison: (median seconds to build it and
    serialize it to JSON, JSON bytes)."""
    default = rl.TwinRuns(rl.DEFAULT_LAB)
    runs, sparse = default.run(), default.data
    hs, labels = [r.history for r in runs], [r.label for r in runs]
    curves = [rl.sparsity_curve(h, 0) for h in hs]
    task = rl.TwinRuns(
        rl.LabConfig(
            rl.DEFAULT_BASE.replace(dataset="moons", data_options={}, epochs=5), rl.DEFAULT_VARIANTS
        )
    )
    moons = task.run()
    xs, ys, pts = rl.boundary_grid(task.data)
    builders = {
        "histogram (animated)": lambda: vr.histogram_figure(hs, labels, 0, 200),
        "histogram (live, 1 epoch)": lambda: vr.histogram_figure(hs, labels, 0, 200, animate=False),
        "loss curves": lambda: vr.loss_figure(hs, labels),
        "sparsity": lambda: vr.sparsity_figure(curves, labels, "layer 1"),
        "decision regions (moons)": lambda: vr.boundary_figure(
            xs,
            ys,
            [
                rl.class_probability(rl.rebuild(r.config, r.history.sizes, r.final), pts)
                for r in moons
            ],
            labels,
            task.data.X_train,
            task.data.y_train,
        ),
        "2-weight geometry": lambda: vr.geometry_figure(rg.two_weight_problem(), 0.8),
        "coefficient paths": lambda: vr.paths_figure(rg.coefficient_paths(sparse)),
    }
    out = {}
    for name, build in builders.items():
        seconds = []
        for _ in range(FIGURE_REPEATS):
            t = time.perf_counter()
            size = len(build().to_json())
            seconds.append(time.perf_counter() - t)
        out[name] = (statistics.median(seconds), size)
    return out


# Runs in the page before its scripts: timestamps (ms since navigation start) of what shows.
TIMELINE_JS = """
window.__t = {}; window.__longtask = 0;
const mark = (k) => { if (!(k in window.__t)) window.__t[k] = performance.now(); };
const check = () => {
  if (document.querySelector('[data-testid="stSidebar"] input')) mark('interactive');
  if (document.querySelector('.js-plotly-plot .main-svg')) mark('chart');
  for (const p of document.querySelectorAll('.js-plotly-plot')) {
    const t = p.querySelector('.gtitle');
    if (t && t.textContent.startsWith('Weights of')) mark('hero');
  }
  const bar = document.querySelector('[data-testid="stProgress"]');
  const m = bar && bar.innerText.match(/epoch (\\d+)\\/(\\d+)/);
  const b = [...document.querySelectorAll('button')]
    .find(b => b.innerText.includes('Final weights'));
  if (m && m[1] === m[2] && b && !b.disabled) mark('finished');
};
new MutationObserver(check).observe(document, {subtree: true, childList: true,
  characterData: true, attributes: true});
new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__longtask += e.duration; })
  .observe({type: 'longtask', buffered: true});
"""


def _load(browser, url: str, until: str, timeout: float = 120.0) -> dict[str, float]:
    """Open ``url`` in a fresh context; seconds from navigation start to each mark."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.add_init_script(TIMELINE_JS)
        page.goto(url)
        page.wait_for_function(f"() => '{until}' in window.__t", timeout=timeout * 1000)
        marks = page.evaluate("window.__t")
        marks["longtask"] = page.evaluate("window.__longtask")
        return {k: v / 1000 for k, v in marks.items()}
    finally:
        context.close()


def browser_main(repeats: int, query: str) -> None:
    from playwright.sync_api import sync_playwright

    print(f"load average before: {os.getloadavg()[0]:.1f} (2 cores shared by the team)")
    with browser_bench.server() as url, sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=browser_bench.CHROMIUM, args=browser_bench.CHROMIUM_ARGS
        )
        _load(browser, f"{url}/regularization?{query}", "finished")  # warm the server up
        reg, race = [], []
        for _ in range(repeats):
            reg.append(_load(browser, f"{url}/regularization?{query}", "finished"))
            race.append(_load(browser, f"{url}/race", "chart"))
        browser.close()

    def med(runs: list[dict[str, float]], key: str, minus: str | None = None) -> str:
        values = [r[key] - (r[minus] if minus else 0.0) for r in runs if key in r]
        return f"{statistics.median(values):6.2f} s" if values else "     —"

    print(f"/regularization?{query}: median of {repeats} fresh loads (s from navigation)")
    print(f"  interactive (sidebar input shown) : {med(reg, 'interactive')}")
    print(f"  first chart drawn                 : {med(reg, 'chart')}")
    print(f"  hero histogram drawn              : {med(reg, 'hero')}")
    print(
        f"    ... after interactive           : {med(reg, 'hero', 'interactive')}"
        "   (target <= 1-2 s)"
    )
    print(f"  finished run drawn                : {med(reg, 'finished')}   (target <= 10 s)")
    print(f"  main-thread long tasks            : {med(reg, 'longtask')}")
    print("/race (reference, same run): ")
    print(f"  interactive                       : {med(race, 'interactive')}")
    print(f"  first chart drawn                 : {med(race, 'chart')}")
    print(f"    ... after interactive           : {med(race, 'chart', 'interactive')}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--browser", action="store_true", help="time the page in Chromium")
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--query", default="", help="URL query of the page, e.g. epochs=1000")
    args = parser.parse_args()
    if args.browser:
        browser_main(args.repeats, args.query)
    else:
        sync_main()


def sync_main() -> None:
    threads = set_threads(1)
    print(f"OpenBLAS single-threaded: {threads}")
    lab = rl.DEFAULT_LAB
    steps = rl.TwinRuns(lab).total_steps
    print(
        f"default comparison: {len(lab.variants)} variants x {lab.base.epochs} epochs "
        f"({steps:,} minibatch steps in all)"
    )
    sync = [_sync() for _ in range(REPEATS)]
    print(
        f"  synchronous, whole comparison : {statistics.median(sync):6.2f} s (min {min(sync):.2f})"
    )
    jobs = [_job() for _ in range(REPEATS)]
    first, chart, done = (statistics.median(x) for x in zip(*jobs, strict=True))
    print(f"  background job, first epoch in: {first:6.2f} s")
    print(f"  background job, first chart   : {chart:6.2f} s   (target <= 1 s)")
    print(f"  background job, finished      : {done:6.2f} s   (target <= 10 s)")
    figs = _figures()
    total_t = sum(t for t, _ in figs.values())
    total_b = sum(b for _, b in figs.values())
    print(f"page figures (finished default run; build + JSON, median of {FIGURE_REPEATS}):")
    for name, (t, b) in figs.items():
        print(f"  {name:26s} {t * 1000:7.1f} ms {b / 1e6:7.3f} MB")
    print(f"  {'total':26s} {total_t * 1000:7.1f} ms {total_b / 1e6:7.3f} MB   (target <= 2 MB)")


if __name__ == "__main__":
    main()
