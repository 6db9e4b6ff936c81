"""A class opens the shared link: many browser sessions at once, measured the way they feel it.

``python -m bench.classroom`` starts its own ``streamlit run serve.py --server.headless true``
on 127.0.0.1 (a free port) and drives headless Chromium (Playwright, Debian's
``/usr/bin/chromium``, one browser context per student) through:

(a) N sessions on the default ``/regularization`` link, arriving 0.5 s apart: each session's
    first chart and finished run (seconds after its navigation), stalled sessions (no
    "finished" within 120 s), the server process's own CPU per visitor (target <= 0.3 s);
(b) N sessions with N different seeds (nothing to share): all finished, none stalled, how many
    were told their queue position while waiting, server CPU per visitor (target <= 0.5 s);
(c) ``/_stcore/health`` p95 latency (target <= 50 ms) and a probe session's ``/race`` rerun
    latency (change Steps, until the app's script state is back to not-running), alone and
    during each class; the probe has its own browser at the normal CPU priority (one visitor
    on their own machine), the students' browsers are kept at ``--browser-nice``;
(d) server RSS and thread count before, at peak and after all sessions closed: 10 s after,
    and after the quiet time (one visitor at +125 s, past Streamlit's 120 s
    ``disconnectedSessionTTL``, so that it lets go of the closed sessions; then nobody for
    ``--idle-release`` seconds, default 30, the server's ``NNVIZ_IDLE_RELEASE_S``, after
    which it drops its shared caches: pages/common/idle.py);
(e) the issue's crafted links (a 9 GB at-init profile, a ~48 h lab run): the whole app's peak
    RSS (target < 1 GB) and that nothing started without consent (the page shows a refusal
    or a start button with the estimate; the workers' CPU did not rise above its idle
    rate, measured for 8 s before).

CPU is split three ways, sampled from ``/proc`` through psutil every 0.25 s (per process, so
processes that exit keep what they used): the server process itself; its worker processes
(children of the server, or the Dask scheduler and workers with ``--dask``); and the browsers
(Chromium and the Playwright driver, the bench's own children), which share this machine here
but not in a real class. So that they do not take the server's cores either, the browsers
run at a lower CPU priority (``--browser-nice``, re-applied every 0.5 s to every process
under the Playwright driver, since Chromium sets its own): default ``idle``, Linux's
``SCHED_IDLE`` policy (they get only the CPU the server and its workers leave); a number is a
nice value (10: the evening runs of 2026-12-06; 0: an equal footing with the server, as the
runs before that did). The load
average is printed beside the figures: the machine is 2 shared cores, so compare ratios
within one run.

Options: ``--quick`` (5 sessions per class), ``--sessions N``, ``--dask`` (the same against a
local two-worker cluster: ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1,
their address passed to the app as ``NNVIZ_DASK_SCHEDULER``), ``--proxy`` (the students go
through nginx, ``deploy/nginx.conf.template``, which serves Streamlit's frontend files from
disk; its CPU is a fourth group, ``proxy``). ``--proxy`` needs ``nginx`` on the PATH.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from bench.browser import CHROMIUM, CHROMIUM_ARGS, streamlit_command

ROOT = Path(__file__).resolve().parents[1]
STALL_AFTER = 120.0  # seconds: a session not finished by then counts as stalled
ARRIVAL = 0.5  # seconds between two students opening the link
SESSION_TTL = 120.0  # Streamlit's server.disconnectedSessionTTL: a closed tab's session is kept
IDLE_RELEASE = 30.0  # the server's NNVIZ_IDLE_RELEASE_S in this bench (the app's default: 600)
BROWSER_NICE = "idle"  # the students' browsers yield the cores to the server (their own machines)
SCHEDULER_ENV = "NNVIZ_DASK_SCHEDULER"  # the executor seam's scheduler address (engine/executor)
IDLE_RELEASE_ENV = "NNVIZ_IDLE_RELEASE_S"  # engine.knobs.IDLE_RELEASE_SECONDS
CRAFTED = {
    "gradients 4x200x512, batch 1024": "/gradients?n=4&depth1=200&depth2=200&depth3=200"
    "&depth4=200&width1=512&width2=512&width3=512&width4=512&batch=1024",
    "regularization n=5000, batch 1, 2000 epochs": "/regularization?n=5000&width=256&depth=4"
    "&epochs=2000&batch=1&feat=512",
}

# Runs in every page before its scripts: timestamps (ms since navigation) of what shows.
TIMELINE_JS = """
window.__t = {}; window.__queue = 0; window.__runs = [];
const mark = (k) => { if (!(k in window.__t)) window.__t[k] = performance.now(); };
const check = () => {
  const main = document.querySelector('[data-testid="stMain"]');
  if (!main) return;
  if (main.querySelector('.js-plotly-plot .main-svg')) mark('chart');
  const bar = main.querySelector('[data-testid="stProgress"]');
  const barText = bar ? bar.textContent : '';
  const m = barText.match(/epoch (\\d+)\\/(\\d+)/);
  const buttons = [...main.querySelectorAll('button')];
  const b = buttons.find(b => b.textContent.includes('Final weights'));
  if (m && m[1] === m[2] && b && !b.disabled) mark('finished');
  if (/running|ETA/.test(barText)) mark('progress');
  for (const a of main.querySelectorAll('[data-testid="stAlert"]')) {
    const text = a.textContent;
    const q = text.match(/[Pp]osition (\\d+) in (?:this server's |the )?queue/);
    if (q) { mark('queued'); window.__queue = Math.max(window.__queue, +q[1]); }
    if (text.includes('Refused:')) mark('refused');
  }
  if (buttons.some(b => /^(Start|Measure|Start training) \\(about/.test(b.textContent.trim())))
    mark('consent');
};
// poll (cheap: textContent, no layout) rather than observe every mutation of a Plotly page
setInterval(check, 200);
const track = () => {
  const app = document.querySelector('[data-test-script-state]');
  if (!app) return;
  const s = app.getAttribute('data-test-script-state');
  const last = window.__runs[window.__runs.length - 1];
  if (!last || last.s !== s) window.__runs.push({s, t: performance.now()});
};
new MutationObserver(track).observe(document, {subtree: true, attributes: true,
  attributeFilter: ['data-test-script-state'], childList: true});
"""


# ------------------------------------------------------------------------------- processes
def _process_tree(root: psutil.Process) -> list[psutil.Process]:
    """``root`` and all its descendants (empty if it is gone)."""
    with contextlib.suppress(psutil.Error):
        return [root, *root.children(recursive=True)]
    return []


class Periodic:
    """Call :meth:`tick` every ``every`` seconds in a daemon thread, from :meth:`start`
    (which ticks once first when ``tick_at_start``) until :meth:`stop`."""

    every = 0.25
    tick_at_start = True

    def start(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        if self.tick_at_start:
            self.tick()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(3)

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            self.tick()

    def tick(self) -> None:
        raise NotImplementedError


class CpuLedger(Periodic):
    """Per-process CPU seconds, sampled every ``every`` s, so exited processes keep theirs.

    Groups: ``server`` (the Streamlit process only), ``workers`` (its descendants, plus the
    extra roots, e.g. the Dask scheduler and workers), ``proxy`` (nginx with ``--proxy``),
    ``browsers`` (the bench's own descendants that are none of these).
    """

    def __init__(
        self,
        server: psutil.Process,
        worker_roots: list[psutil.Process],
        every=0.25,
        proxy_roots: list[psutil.Process] = (),
    ):
        self.server = server
        self.worker_roots = worker_roots
        self.proxy_roots = list(proxy_roots)
        self.every = every
        self.cpu: dict[tuple[int, float], tuple[str, float]] = {}
        self.rss_app: list[tuple[float, int]] = []  # (time, server + workers RSS)
        self.server_stats: list[tuple[float, int, int]] = []  # (time, RSS, threads)
        self._lock = threading.Lock()

    def tick(self) -> None:
        self.sample()

    def sample(self) -> None:
        now = time.monotonic()
        groups: dict[int, tuple[str, psutil.Process]] = {}
        for p in _process_tree(psutil.Process()):
            groups[p.pid] = ("browsers", p)
        for root in self.worker_roots:
            for p in _process_tree(root):
                groups[p.pid] = ("workers", p)
        for p in _process_tree(self.server)[1:]:
            groups[p.pid] = ("workers", p)
        for root in self.proxy_roots:
            for p in _process_tree(root):
                groups[p.pid] = ("proxy", p)
        groups[self.server.pid] = ("server", self.server)
        groups.pop(os.getpid(), None)  # the bench's own Python (Playwright's client) is
        # neither: its work is driving the browsers, counted with them below
        app_rss = 0
        with self._lock:
            for pid, (group, p) in groups.items():
                with contextlib.suppress(psutil.Error), p.oneshot():
                    t = p.cpu_times()
                    key = (pid, p.create_time())
                    self.cpu[key] = (group, t.user + t.system)
                    if group in ("server", "workers"):
                        app_rss += p.memory_info().rss
                    if group == "server":
                        self.server_stats.append((now, p.memory_info().rss, p.num_threads()))
            me = psutil.Process().cpu_times()
            self.cpu[(os.getpid(), 0.0)] = ("browsers", me.user + me.system)
            self.rss_app.append((now, app_rss))

    def totals(self) -> dict[str, float]:
        with self._lock:
            out = {"server": 0.0, "workers": 0.0, "proxy": 0.0, "browsers": 0.0}
            for group, seconds in self.cpu.values():
                out[group] += seconds
            return out

    def server_between(self, t0: float, t1: float) -> tuple[int, int]:
        """Peak server RSS and threads between two monotonic times."""
        with self._lock:
            rows = [r for r in self.server_stats if t0 <= r[0] <= t1] or self.server_stats[-1:]
        return max(r[1] for r in rows), max(r[2] for r in rows)

    def app_peak_between(self, t0: float, t1: float) -> int:
        with self._lock:
            rows = [r for r in self.rss_app if t0 <= r[0] <= t1] or self.rss_app[-1:]
        return max(r[1] for r in rows)

    def server_now(self) -> tuple[int, int]:
        self.sample()
        with self._lock:
            _, rss, threads = self.server_stats[-1]
        return rss, threads


async def _idle_rates(ledger: CpuLedger, seconds: float) -> dict[str, float]:
    """CPU seconds per second of each group over ``seconds`` of nothing to do (a server and
    a Dask cluster tick along even then): the rate a later measurement subtracts."""
    ledger.sample()
    cpu0, t0 = ledger.totals(), time.monotonic()
    await asyncio.sleep(seconds)
    ledger.sample()
    cpu1, elapsed = ledger.totals(), time.monotonic() - t0
    return {group: (cpu1[group] - cpu0[group]) / elapsed for group in cpu0}


class HealthProbe(Periodic):
    """GET /_stcore/health every 0.2 s in a thread; latencies tagged by the current phase."""

    every = 0.2
    tick_at_start = False

    def __init__(self, url: str):
        self.url = f"{url}/_stcore/health"
        self.phase = "idle"
        self.samples: dict[str, list[float]] = {}

    def tick(self) -> None:
        t = time.perf_counter()
        try:
            with urllib.request.urlopen(self.url, timeout=10) as r:
                r.read()
            self.samples.setdefault(self.phase, []).append(time.perf_counter() - t)
        except OSError:
            self.samples.setdefault(self.phase, []).append(10.0)

    def p95(self, phase: str) -> float | None:
        xs = sorted(self.samples.get(phase, []))
        return xs[min(len(xs) - 1, int(0.95 * len(xs)))] if xs else None


# ------------------------------------------------------------------------------- server
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not come up")


@contextlib.contextmanager
def dask_cluster():
    """``dask scheduler`` + two single-threaded ``dask worker`` processes on 127.0.0.1."""
    port, dash = _free_port(), _free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = ROOT / "artifacts"
    logs.mkdir(exist_ok=True)
    out = open(logs / "classroom-dask.log", "w")  # noqa: SIM115
    procs = [
        subprocess.Popen(
            ["dask", "scheduler", "--host", "127.0.0.1", "--port", str(port)]
            + ["--dashboard-address", f"127.0.0.1:{dash}"],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},  # it unpickles the task graphs
        )
    ]
    time.sleep(3)
    for _ in range(2):
        procs.append(
            subprocess.Popen(
                ["dask", "worker", address, "--nthreads", "1", "--no-dashboard"],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1"},
            )
        )
    try:
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=90)
        yield address, [psutil.Process(p.pid) for p in procs]
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(10)
        out.close()


@contextlib.contextmanager
def app_server(env_extra: dict[str, str] | None = None):
    """``streamlit run serve.py`` (bench.browser's :func:`streamlit_command`) on 127.0.0.1 at
    a free port; ``serve.py`` warms up before it answers ``/_stcore/health``."""
    port = _free_port()
    cmd = streamlit_command(ROOT, port)
    logs = ROOT / "artifacts"
    logs.mkdir(exist_ok=True)
    log = open(logs / "classroom-server.log", "w")  # noqa: SIM115
    env = {**os.environ, **(env_extra or {})}
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_http(f"{url}/_stcore/health")
        yield url, psutil.Process(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


NGINX_TEMPLATE = ROOT / "deploy" / "nginx.conf.template"


def streamlit_static_dir() -> Path:
    """Streamlit's frontend files, served at ``/static/`` (the nginx template's __STATIC__)."""
    import streamlit

    return Path(streamlit.__file__).parent / "static" / "static"


@contextlib.contextmanager
def nginx_proxy(app_url: str):
    """nginx (``deploy/nginx.conf.template``) on a free port in front of ``app_url``; yields
    ``(proxy URL, [nginx processes])``."""
    if not shutil.which("nginx"):
        raise SystemExit("--proxy needs nginx (e.g. apt-get install -y nginx-light)")
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="classroom-nginx-") as prefix:
        conf = Path(prefix) / "nginx.conf"
        text = NGINX_TEMPLATE.read_text()
        for key, value in {
            "__PREFIX__": prefix,
            "__LISTEN__": f"127.0.0.1:{port}",
            "__APP__": app_url.removeprefix("http://"),
            "__STATIC__": str(streamlit_static_dir()),
        }.items():
            text = text.replace(key, value)
        conf.write_text(text)
        # as root nginx's workers drop to "nobody", who cannot read a root-owned venv
        directives = "daemon off;" + (" user root;" if os.geteuid() == 0 else "")
        proc = subprocess.Popen(
            ["nginx", "-c", str(conf), "-p", prefix, "-g", directives],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_http(f"{url}/_stcore/health")
            yield url, [psutil.Process(proc.pid)]
        finally:
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)


# ------------------------------------------------------------------------------- sessions
@dataclass
class Visit:
    """One student's session: seconds after navigation of each mark, or None."""

    path: str
    marks: dict[str, float] = field(default_factory=dict)
    queue: int = 0
    error: str = ""

    @property
    def stalled(self) -> bool:
        return self.marks.get("finished", STALL_AFTER + 1) > STALL_AFTER


async def _open(browser):
    """A new browser context (one student) and its page, with the timeline script."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    await page.add_init_script(TIMELINE_JS)
    return context, page


async def _visit(browser, url: str, path: str, until: str, timeout: float) -> tuple[Visit, object]:
    """Open ``path`` in a new context; wait for mark ``until`` (or ``timeout``); keep it open."""
    context, page = await _open(browser)
    visit = Visit(path)
    try:
        await page.goto(url + path, timeout=timeout * 1000)
        # a finished session also waits for its first chart (it may be drawn just after)
        marks = [until, "chart"] if until == "finished" else [until]
        await page.wait_for_function(
            "(ks) => ks.every(k => k in window.__t)", arg=marks, timeout=timeout * 1000, polling=250
        )
    except Exception as exc:  # a stall or a navigation error is a result, not a crash
        visit.error = type(exc).__name__
    with contextlib.suppress(Exception):
        visit.marks = {k: v / 1000 for k, v in (await page.evaluate("window.__t")).items()}
        visit.queue = int(await page.evaluate("window.__queue"))
    return visit, context


async def _class(browser, url: str, paths: list[str]) -> tuple[list[Visit], list]:
    """Students open ``paths`` ARRIVAL s apart; each waits for "finished" (<= STALL_AFTER)."""
    tasks = []
    for path in paths:
        tasks.append(asyncio.create_task(_visit(browser, url, path, "finished", STALL_AFTER)))
        await asyncio.sleep(ARRIVAL)
    done = await asyncio.gather(*tasks)
    return [v for v, _ in done], [c for _, c in done]


async def quiet_time(browser, url: str, release: float) -> None:
    """The server's quiet time, started past ``SESSION_TTL`` after a class closed: one visitor
    comes and goes (Streamlit drops a closed tab's session only when its session store is
    next used), then nobody until the idle release (``release`` s, the server's
    ``NNVIZ_IDLE_RELEASE_S``) has had time to run."""
    _, context = await _visit(browser, url, "/race", "chart", 60)
    await context.close()
    await asyncio.sleep(release * 1.25 + 5)


class RaceProbe:
    """One session on /race; :meth:`rerun` changes Steps and times the rerun to idle."""

    def __init__(self, page):
        self.page = page
        self.value = 500
        self.samples: dict[str, list[float]] = {}

    @classmethod
    async def open(cls, browser, url: str) -> RaceProbe:
        context, page = await _open(browser)
        await page.goto(url + "/race", timeout=300_000)
        await page.wait_for_function(
            """() => document.querySelector('input[aria-label="Steps"]') &&
                     window.__runs.some(x => x.s === 'notRunning')""",
            timeout=300_000,
        )
        probe = cls(page)
        probe.context = context
        return probe

    async def rerun(self, phase: str) -> float | None:
        self.value = 499 if self.value == 500 else 500
        box = self.page.locator('[data-testid="stSidebar"] input[aria-label="Steps"]')
        t0 = await self.page.evaluate("performance.now()")
        try:
            await box.fill(str(self.value))
            await box.press("Enter")
            await self.page.wait_for_function(
                """(t0) => { const r = window.__runs.filter(x => x.t > t0);
                   const i = r.findIndex(x => x.s === 'running');
                   return i >= 0 && r.slice(i).some(x => x.s === 'notRunning'); }""",
                arg=t0,
                timeout=60_000,
                polling=50,
            )
        except Exception:
            return None
        t1 = await self.page.evaluate(
            "(t0) => window.__runs.filter(x => x.t > t0 && x.s === 'notRunning')[0].t", t0
        )
        seconds = (t1 - t0) / 1000
        self.samples.setdefault(phase, []).append(seconds)
        return seconds

    async def loop(self, phase: str, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.rerun(phase)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)

    def median(self, phase: str) -> str:
        xs = self.samples.get(phase, [])
        return f"{statistics.median(xs) * 1000:6.0f} ms (n={len(xs)})" if xs else "     —"


# ------------------------------------------------------------------------------- report
def _fmt_s(x: float | None) -> str:
    return "   —  " if x is None else f"{x:6.1f}"


def _mb(n: float) -> str:
    return f"{n / 1024**2:7.0f} MB"


def _print_class(
    name: str, visits: list[Visit], cpu0: dict, cpu1: dict, target: float, probe_cpu: float
) -> None:
    """One class's table and totals; the server's CPU per visitor leaves out ``probe_cpu``,
    the race probe's reruns meanwhile (their count times one rerun's CPU measured alone)."""
    n = len(visits)
    print(f"\n({name}) {n} sessions, {ARRIVAL} s apart   load avg {os.getloadavg()[0]:.1f}")
    print("   #  first chart  finished  queue pos  path")
    for i, v in enumerate(visits, 1):
        q = str(v.queue) if v.queue else "-"
        err = f"  [{v.error}]" if v.error else ""
        print(
            f"  {i:2d}  {_fmt_s(v.marks.get('chart'))} s  {_fmt_s(v.marks.get('finished'))} s"
            f"  {q:>9}  {v.path}{err}"
        )
    fin = [v.marks["finished"] for v in visits if not v.stalled]
    stalled = sum(v.stalled for v in visits)
    told = sum(1 for v in visits if v.queue)
    server = cpu1["server"] - cpu0["server"] - probe_cpu
    workers = cpu1["workers"] - cpu0["workers"]
    browsers = cpu1["browsers"] - cpu0["browsers"]
    proxy = cpu1["proxy"] - cpu0["proxy"]
    if fin:
        print(
            f"  finished: {len(fin)}/{n}, median {statistics.median(fin):.1f} s, "
            f"max {max(fin):.1f} s; stalled (> {STALL_AFTER:.0f} s): {stalled}"
        )
    else:
        print(f"  finished: 0/{n}; stalled: {stalled}")
    print(f"  told their queue position while waiting: {told}/{n}")
    ok = "met" if server / n <= target else "NOT met"
    print(
        f"  CPU: server {server:6.1f} s = {server / n:5.2f} s/visitor (target <= {target} s: "
        f"{ok}; race probe's {probe_cpu:.1f} s left out); workers {workers:6.1f} s; "
        f"browsers {browsers:6.1f} s" + (f"; proxy {proxy:5.1f} s" if proxy else "")
    )


class BrowserNice(Periodic):
    """Keep every process of the browsers (the Playwright driver's descendants) at ``nice``.

    In a class each student's browser runs on their own machine; here the 20 Chromium
    contexts would otherwise take ~90% of the 2 cores from the server, and the server's
    figures (health latency, finish times) would measure the browsers. A nice inherited at
    launch does not hold: Chromium sets its own processes' priorities (seen on 2026-12-06,
    running as root: browser and GPU process at nice -8, renderers at 0 or 5), so it is
    re-applied every ``every`` seconds to whatever the driver has started since.
    """

    def __init__(self, before: set[int], nice: str | int, every: float = 0.5):
        self.nice, self.every = nice, every
        self.roots = [p for p in psutil.Process().children() if p.pid not in before]
        self.exempt: set[int] = set()  # browser processes left at the normal priority

    def browsers(self) -> set[int]:
        """The pids of the browsers the driver has launched so far (its direct children)."""
        with contextlib.suppress(psutil.Error):
            return {c.pid for root in self.roots for c in root.children()}
        return set()

    def exempt_browser(self, pid: int) -> None:
        """Leave browser ``pid`` and everything it starts at the normal priority (the race
        probe: one visitor on their own machine, whose rerun latency is measured)."""
        self.exempt.add(pid)
        tree = []
        with contextlib.suppress(psutil.Error):
            tree = _process_tree(psutil.Process(pid))
        for proc in tree:
            with contextlib.suppress(psutil.Error, OSError):
                os.sched_setscheduler(proc.pid, os.SCHED_OTHER, os.sched_param(0))
                proc.nice(0)

    def tick(self) -> None:
        skip = set()
        for pid in self.exempt:
            with contextlib.suppress(psutil.Error):
                skip |= {p.pid for p in _process_tree(psutil.Process(pid))}
        for proc in (p for root in self.roots for p in _process_tree(root)):
            if proc.pid in skip:
                continue
            with contextlib.suppress(psutil.Error, OSError):  # it may have exited meanwhile
                self._lower(proc)

    def _lower(self, proc: psutil.Process) -> None:
        if self.nice != "idle":
            if proc.nice() != int(self.nice):
                proc.nice(int(self.nice))
        elif os.sched_getscheduler(proc.pid) != os.SCHED_IDLE:
            os.sched_setscheduler(proc.pid, os.SCHED_IDLE, os.sched_param(0))


async def _run(args) -> None:
    from playwright.async_api import async_playwright

    n = 5 if args.quick else args.sessions
    print(
        f"bench.classroom: {n} sessions per class, backend: {'Dask' if args.dask else 'embedded'}"
    )
    print(f"load average at start: {os.getloadavg()[0]:.1f} (2 cores shared by the team)")
    with contextlib.ExitStack() as stack:
        env, roots = {}, []
        if args.dask:
            address, roots = stack.enter_context(dask_cluster())
            env[SCHEDULER_ENV] = address
            print(f"Dask: scheduler {address}, 2 workers (1 thread each)")
        if args.idle_release > 0:
            env[IDLE_RELEASE_ENV] = str(args.idle_release)
        url, server = stack.enter_context(app_server(env))
        proxies = []
        if args.proxy:
            url, proxies = stack.enter_context(nginx_proxy(url))
            print(f"nginx in front: {url} (frontend files from disk)")
        ledger = CpuLedger(server, roots, proxy_roots=proxies).start()
        stack.callback(ledger.stop)
        health = HealthProbe(url).start()
        stack.callback(health.stop)
        before = {p.pid for p in psutil.Process().children()}
        async with async_playwright() as pw:
            niced = BrowserNice(before, args.browser_nice).start()
            stack.callback(niced.stop)
            pids = [p.pid for p in niced.roots]
            priority = "SCHED_IDLE" if args.browser_nice == "idle" else f"nice {args.browser_nice}"
            print(f"browsers kept at {priority} (Playwright driver pids {pids})")
            # the race probe is one visitor on their own machine: its own browser, left at
            # the normal priority, so its rerun latency is the server's answer, not a wait
            # behind 20 idle-priority browsers
            known = niced.browsers()
            probe_browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for pid in niced.browsers() - known:
                niced.exempt_browser(pid)
            print(f"race probe: own browser, normal priority (pids {sorted(niced.exempt)})")
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            # warm up: one visit (imports, first figures), then close it
            warm, ctx = await _visit(browser, url, "/regularization", "finished", 180)
            await ctx.close()
            print(f"warm-up visit finished in {_fmt_s(warm.marks.get('finished'))} s")
            race = await RaceProbe.open(probe_browser, url)
            server_idle = (await _idle_rates(ledger, 3.0))["server"]
            rss0, threads0 = ledger.server_now()
            health.phase = "alone"
            alone0, ta = ledger.totals()["server"], time.monotonic()
            for _ in range(5):
                await race.rerun("alone")
                await asyncio.sleep(0.5)
            ledger.sample()
            alone = ledger.totals()["server"] - alone0 - server_idle * (time.monotonic() - ta)
            # the probe is not a student: its reruns' server CPU is taken out of the classes'
            per_rerun = max(alone, 0.0) / max(len(race.samples.get("alone", [])), 1)
            classes = {
                "a": ["/regularization"] * n,
                "b": [f"/regularization?seed={k}" for k in range(1, n + 1)],
            }
            targets = {"a": 0.3, "b": 0.5}
            titles = {"a": "a, one link", "b": "b, different seeds"}
            peaks = {}
            for key, paths in classes.items():
                health.phase = key
                cpu0, t0 = ledger.totals(), time.monotonic()
                stop = asyncio.Event()
                probe = asyncio.create_task(race.loop(key, stop))
                visits, contexts = await _class(browser, url, paths)
                stop.set()
                await probe
                ledger.sample()
                cpu1, t1 = ledger.totals(), time.monotonic()
                peaks[key] = ledger.server_between(t0, t1)
                probe_cpu = per_rerun * len(race.samples.get(key, []))
                _print_class(titles[key], visits, cpu0, cpu1, targets[key], probe_cpu)
                for c in contexts:
                    await c.close()
                health.phase = f"after {key}"
                await asyncio.sleep(5)
            # (e) crafted links: nothing may start without consent
            health.phase = "crafted"
            print("\n(e) crafted links (nothing may start without consent; app RSS < 1 GB)")
            # the workers' CPU when nothing runs (a Dask scheduler and workers tick along at
            # ~0.1 s/s): "started" is CPU above that, not any CPU at all
            idle_rate = (await _idle_rates(ledger, 8.0))["workers"]
            print(f"  workers' CPU while idle: {idle_rate:.2f} s/s")
            for name, path in CRAFTED.items():
                cpu0, t0 = ledger.totals(), time.monotonic()
                ctx, page = await _open(browser)
                with contextlib.suppress(Exception):
                    await page.goto(url + path, timeout=90_000)
                    await page.wait_for_function(
                        "() => 'refused' in window.__t || 'consent' in window.__t",
                        timeout=90_000,
                    )
                await asyncio.sleep(8)  # would anything start by itself?
                marks = await page.evaluate("window.__t")
                ledger.sample()
                cpu1, t1 = ledger.totals(), time.monotonic()
                peak = ledger.app_peak_between(t0, t1)
                shown = (
                    "refused"
                    if "refused" in marks
                    else "start button"
                    if "consent" in marks
                    else "NEITHER"
                )
                busy = cpu1["workers"] - cpu0["workers"] - idle_rate * (t1 - t0)
                started = "progress" in marks or busy > 1.0
                print(
                    f"  {name:44s}: page shows {shown}; started: {'YES' if started else 'no'}; "
                    f"app peak RSS {_mb(peak)} ({'met' if peak < 1024**3 else 'NOT met'}); "
                    f"workers CPU {cpu1['workers'] - cpu0['workers']:.1f} s "
                    f"({max(busy, 0.0):.1f} s above idle), server CPU "
                    f"{cpu1['server'] - cpu0['server']:.1f} s"
                )
                await ctx.close()
            await race.context.close()
            await probe_browser.close()
            await asyncio.sleep(10)
            rss2, threads2 = ledger.server_now()
            quiet = None
            if args.idle_release > 0:
                await asyncio.sleep(SESSION_TTL + 5 - 10)
                await quiet_time(browser, url, args.idle_release)
                quiet = ledger.server_now()
            await browser.close()
        print(
            f"\n(c) /_stcore/health p95 (target <= 50 ms) and /race rerun (median), load avg "
            f"{os.getloadavg()[0]:.1f}"
        )
        for phase in ("alone", "a", "b", "crafted"):
            p95 = health.p95(phase)
            shown = "—" if p95 is None else f"{p95 * 1000:5.0f} ms"
            print(f"  {phase:8s}: health p95 {shown}; race rerun {race.median(phase)}")
        print(f"  (one race rerun: {per_rerun:.3f} s of server CPU, alone)")
        print("\n(d) server process RSS and threads")
        print(f"  before          : {_mb(rss0)}, {threads0} threads")
        for key, (rss, threads) in peaks.items():
            print(f"  peak, class {key}   : {_mb(rss)}, {threads} threads")
        print(f"  after all closed: {_mb(rss2)}, {threads2} threads (10 s after the last close)")
        if quiet is not None:
            print(
                f"  after quiet time: {_mb(quiet[0])}, {quiet[1]} threads (one visit at "
                f"+{SESSION_TTL + 5:.0f} s, then {args.idle_release:.0f} s without visitors: "
                "the idle release)"
            )
        total = ledger.totals()
        print(
            f"\nwhole run CPU: server {total['server']:.1f} s, workers {total['workers']:.1f} s, "
            f"proxy {total['proxy']:.1f} s, browsers {total['browsers']:.1f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 sessions per class")
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--dask", action="store_true", help="against a local 2-worker cluster")
    parser.add_argument("--proxy", action="store_true", help="students go through nginx")
    parser.add_argument(
        "--browser-nice",
        type=lambda v: v if v == "idle" else int(v),
        default=BROWSER_NICE,
        help="the browsers' CPU priority: idle (SCHED_IDLE, default) or a nice value "
        "(0: the server's)",
    )
    parser.add_argument(
        "--idle-release",
        type=float,
        default=IDLE_RELEASE,
        help="the server's NNVIZ_IDLE_RELEASE_S, and (d) waits for it; 0: the app's default, "
        "and no wait",
    )
    asyncio.run(_run(parser.parse_args()))


if __name__ == "__main__":
    main()
