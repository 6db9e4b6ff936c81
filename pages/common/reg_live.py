"""How the Regularization lab draws its background run: light while it trains, full once done.

Measured in a browser (``python -m bench.regularization --browser``): when every poll of the
live fragment rebuilt every figure (the animated histogram with all its frames, the decision
regions, ...), one poll cost 0.3-1.8 s of Python holding the GIL. The training thread
starved (a 1 s comparison took 8 s) and the browser re-mounted a dozen Plotly charts per
poll (a chart whose spec changes gets a new element id), so the first chart appeared after
10-20 s. Hence three rules, kept here as small pure pieces the page calls:

* **Light while live.** While the job runs, a poll draws the metrics, a one-epoch histogram
  (``viz.regularization.histogram_figure(animate=False)``), the loss and sparsity curves;
  the animated histogram and the decision regions come once, when the job has finished.
* **Build once.** :func:`cached_figure` builds the figures of one job publication (keyed by
  the view options) once for every session that shows it, so other sessions, the job-end
  rerun, the fragment's last tick and any later rerun (a slider elsewhere on the page) reuse
  them: the same object gives the same spec, which the browser keeps mounted.
* **Throttle, for the whole server.** The live draws of every session in the process share
  one budget: a session redraws at most every :func:`poll_every` of the *sum* of the
  latest live draw times of all sessions drawing now (:class:`LiveDraws`), so together
  they hold the server's GIL at most ``1/factor`` of the time, however many visitors train
  at once. One visitor redraws every 0.5 s; a class of 20 whose draws take 60 ms each,
  every 3.6 s. Measured before (``bench.classroom``, 20 sessions on 20 seeds): each
  session throttled on its own draw time, decided once at its full run, so every session
  redrew every 0.5 s and the server spent 2.7 s of CPU per visitor. Between two redraws a
  charts poll draws the snapshot it drew last (:func:`throttled`), whose figures are
  cached, so the charts stay mounted and cost a re-send, not a rebuild. The progress
  line polls on its own, cheaply.
* **Short runs land finished.** :func:`await_job`: a run whose ETA is within ~1.5 s (the
  default comparison) is waited for, so the page draws each chart once, final, instead of a
  live version and then the final one (the browser is still busy loading the page's
  scripts meanwhile, so the wait costs nothing a visitor sees); longer runs go live at once.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from engine.jobs import Snapshot, Status
from pages.common import jobs as pj
from pages.common.ui import coloured  # noqa: F401 (re-exported: the lab's helpers)
from viz.common import fmt

FINISH_WAIT = 1.5  # seconds: wait for a run that will finish this soon (its ETA says)
POLL_FLOOR = 0.5  # seconds: the shortest interval between live polls
POLL_CAP = 5.0  # seconds: the longest (a class's charts still move; the progress line polls apart)
DRAW_FACTOR = 3.0  # poll at least this many times slower than the live draws take together
LIVE_WINDOW = 10.0  # seconds: a session that drew within this long counts as drawing now
_FIGS = "figures"  # drawn_store() key: {"tag": (job_id, version), "figs": {...}}
_HELD = "held"  # drawn_store() key: (snapshot drawn last, monotonic time of that draw)
_TOKEN = "_reglab_token"  # session-state key: this session's name in LiveDraws


def poll_every(
    draw_seconds: float | None,
    floor: float = POLL_FLOOR,
    cap: float = POLL_CAP,
    factor: float = DRAW_FACTOR,
) -> float:
    """Seconds between live polls: ``clip(factor * draw_seconds, floor, cap)``.

    ``draw_seconds`` is how long the last live draw took (``None``: not measured yet, use
    ``floor``). With ``factor = 3`` the page's drawing holds the GIL at most a third of the
    time, whatever the machine's load; the rest is the training thread's.
    """
    if draw_seconds is None or not math.isfinite(draw_seconds) or draw_seconds < 0:
        return floor
    return float(min(max(factor * draw_seconds, floor), cap))


def await_job(
    job: Any,
    budget: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Snapshot | None:
    """Wait for a running ``job`` (an ``engine.jobs.Job``) to finish if it will soon.

    Waits at most ``budget`` seconds (default :data:`FINISH_WAIT`); returns the last snapshot
    as soon as the job is not running (finished, queued, paused) or its published ETA says it
    will not finish within the budget (a long run: the live polling shows it as it goes). A
    run that finishes within the budget is then drawn once, finished.
    """
    if job is None:
        return None
    clock = time.monotonic
    deadline = clock() + (FINISH_WAIT if budget is None else budget)
    snap = job.snapshot()
    while snap.status is Status.RUNNING and clock() < deadline:
        eta = snap.eta_seconds
        if snap.history is not None and eta is not None and eta > deadline - clock():
            break
        sleep(0.02)
        snap = job.snapshot()
    return snap


class LiveDraws:
    """The latest live draw time of every session drawing now, process-wide (thread-safe).

    :meth:`load` is the sum over sessions that drew within ``window`` seconds: how long one
    round of every session's redraw holds the server.
    """

    def __init__(self, window: float = LIVE_WINDOW, clock: Callable[[], float] = time.monotonic):
        self.window = window
        self.clock = clock
        self._latest: dict[str, tuple[float, float]] = {}  # session -> (seconds, when)
        self._lock = threading.Lock()

    def record(self, session: str, seconds: float) -> None:
        with self._lock:
            self._latest[session] = (float(seconds), self.clock())

    def load(self) -> float | None:
        """Seconds of one redraw of every session drawing now; ``None`` when none is."""
        now = self.clock()
        with self._lock:
            self._latest = {k: v for k, v in self._latest.items() if now - v[1] <= self.window}
            return sum(s for s, _ in self._latest.values()) if self._latest else None


LIVE_DRAWS = LiveDraws()


@st.cache_resource(scope="session", show_spinner=False)
def drawn_store() -> dict:
    """This session's snapshot drawn last and its figures (a training result and the charts
    built from it). Session-scoped, not in ``st.session_state``: Streamlit drops it as soon
    as the tab closes. A closed session's state stays in Streamlit's store until its 120 s
    reconnect window has passed *and* the store is next used (a connect or disconnect), so
    figures held there outlived even the server's idle release. The page's own last snapshot
    still lives that long: its download buttons' callables and widget callbacks, which
    Streamlit keeps with the session, hold the page script's globals (README, "Background
    jobs and scaling out")."""
    return {}


def _session_token() -> str:
    return st.session_state.setdefault(_TOKEN, uuid.uuid4().hex)


def record_draw(seconds: float) -> None:
    """Remember how long this session's live draw of a new snapshot took (its share of the
    server-wide :func:`redraw_gap`)."""
    LIVE_DRAWS.record(_session_token(), seconds)


def redraw_gap() -> float:
    """Seconds between two live redraws of one session: :func:`poll_every` of the server's
    live draw load (:class:`LiveDraws`), so all sessions' draws together stay within the
    budget."""
    return poll_every(LIVE_DRAWS.load())


def throttled(snap: Snapshot, gap: Callable[[], float] = redraw_gap) -> tuple[Snapshot, bool]:
    """``(snapshot to draw, fresh)``: while the job is live, the snapshot this session drew
    last until :func:`redraw_gap` has passed since that draw (``fresh`` False: its figures
    are cached); otherwise ``snap`` itself (a finished job is always drawn as it ended)."""
    store = drawn_store()
    held = store.get(_HELD)
    now = time.monotonic()
    if (
        snap.status.active
        and held is not None
        and held[0].job_id == snap.job_id
        and held[0].status.active
        and now - held[1] < gap()
    ):
        return held[0], False
    store[_HELD] = (snap, now)
    return snap, True


def sparsity_texts(exact: float, near: float, eps: float) -> tuple[str, str]:
    """``(value, delta)`` of a sparsity metric, e.g. ``("91% :small[exactly zero]",
    "|w| < 0.001: 93%")``: it reads "91% exactly zero", the words smaller than the number so
    four metrics fit side by side. ``exact`` and ``near`` are fractions in [0, 1] (weights
    ``== 0`` and ``|w| < eps``)."""
    return f"{exact:.0%} :small[exactly zero]", f"|w| < {fmt(eps)}: {near:.0%}"


def summary_markdown(table: pd.DataFrame, labels: Sequence[str]) -> str:
    """``viz.regularization.summary_table`` as a Markdown table: numbers for people (3
    significant digits, accuracy in %), each variant's name in its colour (its index in
    ``labels``). Markdown rather than ``st.dataframe``: a few rows need no grid, and the
    browser then loads no data-grid bundle and repaints no canvas on every live poll."""
    if table.empty:
        return ""
    columns = list(table.columns)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in table.itertuples(index=False):
        cells = []
        for column, v in zip(columns, row, strict=True):
            if column == "variant":
                cells.append(coloured(str(v), labels.index(v)) if v in labels else str(v))
            elif column == "val accuracy":
                cells.append(f"{v:.0%}")
            elif isinstance(v, float):
                cells.append(fmt(v))
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def cached_figure(tag: Hashable, key: Hashable, build: Callable[[], Any]) -> Any:
    """``build()``'s figure, built once per ``tag`` (e.g. ``(job_id, version)``) and ``key``.

    Built once per process (``pages.common.jobs.figure_once``): sessions watching the same
    shared job, or shown its cached result, have the same tag and reuse one figure. The
    session's :func:`drawn_store` holds one tag at a time (a new publication of the job drops
    the old figures from it). The figures are shared, not copied: callers must not modify them
    (``st.plotly_chart`` does not).
    """
    drawn = drawn_store()
    store = drawn.get(_FIGS)
    if store is None or store["tag"] != tag:
        store = {"tag": tag, "figs": {}}
        drawn[_FIGS] = store
    figs = store["figs"]
    if key not in figs:
        figs[key] = pj.figure_once(tag, key, build)
    return figs[key]
