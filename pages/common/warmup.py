"""Server start-up: the process settings every run relies on, and a warm-up before visitors.

``prepare()`` is what ``app.py`` does at the top of every script run (each part is done once
per process or is a cheap repeat). ``warm()`` is what ``serve.py`` runs once, when the server starts
and before it accepts its first visitor (``st.App``'s lifespan hook): with only ``streamlit
run app.py``, the first visitor of a fresh server pays for all of it inside their page load.

What the first visitor would otherwise pay for, measured on the 2-core machine (README,
"Deploy"): importing pandas, Plotly's graph objects and the app's own modules (~1 s of
CPU), the default race with its map (race, contour image, figure: ~0.4-0.8 s), and pandas'
first DataFrame and Styler (~0.1-0.3 s: regular expressions and templates compiled once).
Warming in the lifespan hook also settles the import-order hazard noted in ``app.py``: every
module is fully imported before any session's thread can draw.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import time

import pandas  # noqa: F401 - first, before Plotly looks for it (see app.py)

from engine import blas, memory
from pages.common import idle
from pages.common.jobs import compute_backend

WARM_PACKAGES = ("engine", "viz", "pages.common")


def prepare() -> None:
    """The process-wide settings; cheap to repeat, so every script run calls it."""
    # Small matrices + background training jobs on a few shared cores: one BLAS thread per
    # job is faster than OpenBLAS threads fighting over the cores (see engine/blas.py).
    blas.set_threads(1)
    # A large block the server frees goes back to the system, not into a heap arena that
    # keeps it after the visitors have left (engine/memory.py; bench.memory).
    memory.fix_mmap_threshold()
    # Jobs and heavy computations run in worker processes (or on a Dask cluster when a
    # scheduler is configured): start them now, not on the first visitor's click.
    compute_backend()
    # After a while with no visitor, the shared caches are dropped and their memory given
    # back (pages/common/idle.py, NNVIZ_IDLE_RELEASE_S).
    idle.start_watcher()


def import_all() -> list[str]:
    """Import every module of the app's packages (what a page imports on its first run)."""
    names = []
    for package in WARM_PACKAGES:
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, package + "."):
            importlib.import_module(info.name)
            names.append(info.name)
    return names


def warm_race() -> None:
    """Fill the race page's caches for the link without parameters (the shared link's usual
    form): the race, the map with its surface background, and the leaderboard's table."""
    from pages.common import race_cache
    from pages.common import race_config as rc
    from viz import race as vr

    config = rc.default_config()
    result = race_cache.run(config)
    race_cache.hero_figure(config, config.steps, 0, result, None).to_json()
    vr.leaderboard_table(config.surface_obj(), result).to_html()


def warm() -> float:
    """:func:`prepare`, :func:`import_all`, :func:`warm_race` (again after each idle release);
    the seconds it took. A failure is logged and the server starts anyway: its first visitor
    then computes as usual."""
    start = time.perf_counter()
    try:
        prepare()
        import_all()
        warm_race()
        idle.after_release("the default race", warm_race)
    except Exception:  # noqa: BLE001 - a warm-up is an optimisation, never a reason not to serve
        logging.getLogger(__name__).exception("warm-up failed; serving cold")
    seconds = time.perf_counter() - start
    logging.getLogger(__name__).info("warm-up took %.2f s", seconds)
    return seconds
