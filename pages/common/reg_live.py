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
* **Throttle.** :func:`poll_every` (the charts' ``redraw_every`` of
  ``pages.common.jobs.live_job``; the progress line polls on its own, cheaply): never redraw
  faster than ``factor`` times the last live draw took, so drawing takes at most
  ``1/factor`` of the time.
* **Short runs land finished.** :func:`await_job`: a run whose ETA is within ~1.5 s (the
  default comparison) is waited for, so the page draws each chart once, final, instead of a
  live version and then the final one (the browser is still busy loading the page's
  scripts meanwhile, so the wait costs nothing a visitor sees); longer runs go live at once.
"""

from __future__ import annotations

import math
import time
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
POLL_CAP = 3.0  # seconds: the longest (the progress line must still move)
DRAW_FACTOR = 3.0  # poll at least this many times slower than one live draw takes
_FIGS = "_reglab_figures"  # session-state key: {"tag": (job_id, version), "figs": {...}}
_DRAW_SECONDS = "_reglab_draw_seconds"  # session-state key: the last live draw's duration


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


def record_draw(seconds: float) -> None:
    """Remember how long a live draw took (read by :func:`last_draw_seconds`)."""
    st.session_state[_DRAW_SECONDS] = float(seconds)


def last_draw_seconds() -> float | None:
    """The duration of this session's last live draw, ``None`` before the first one."""
    return st.session_state.get(_DRAW_SECONDS)


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
    session's store holds one tag at a time (a new publication of the job drops the old
    figures from it). The figures are shared, not copied: callers must not modify them
    (``st.plotly_chart`` does not).
    """
    store = st.session_state.get(_FIGS)
    if store is None or store["tag"] != tag:
        store = {"tag": tag, "figs": {}}
        st.session_state[_FIGS] = store
    figs = store["figs"]
    if key not in figs:
        figs[key] = pj.figure_once(tag, key, build)
    return figs[key]
