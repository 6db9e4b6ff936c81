"""The race page's shared caches: the race result, the map's surface background, the map.

They live in a module, not in ``pages/race.py``, so that a server can fill them before its
first visitor (:mod:`pages.common.warmup`, run by ``serve.py``): the page and the warm-up call
the same cached functions with the same arguments, so they hit the same entries.
"""

from __future__ import annotations

import json

import streamlit as st

from engine import race
from pages.common import idle
from pages.common import race_config as rc
from viz import race as vr
from viz import race_seeds as rs

_BY_KEY = {rc.RaceConfig: rc.RaceConfig.key}


@st.cache_data(max_entries=64, show_spinner="Racing...", hash_funcs=_BY_KEY)
def run(config: rc.RaceConfig) -> race.RaceResult:
    """Run the race once per distinct config (a copy per session: results are plain arrays).
    Single start, so the inside-the-optimizer traces cost little: always recorded."""
    return race.run_race(
        config.surface_obj(),
        [r.entry() for r in config.racers],
        config.start,
        config.steps,
        noise_std=config.noise,
        seed=config.seed,
        record_state=True,
    )


@idle.releasable
@st.cache_resource(max_entries=16, show_spinner=False)
def surface_layer(key: str, _surface) -> dict:
    """The map's surface background (contour image, click grid, colour bar), once per surface:
    a changed racer, start or step never rebuilds it. ``key``: the surface's name and formula."""
    return vr.surface_layer(_surface)


@idle.releasable
@st.cache_resource(max_entries=32, show_spinner=False, hash_funcs=_BY_KEY)
def hero_figure(config: rc.RaceConfig, at: int, seeds: int, _result: race.RaceResult, _clouds):
    """The animated map, built once per (config, opening step, seeds) and shared read-only
    (copying ~100 frames per rerun would cost more than building them)."""
    overlays = tuple(rs.seed_cloud_traces(_clouds, legend=False)) if _clouds else ()
    surface = config.surface_obj()
    layer = surface_layer(json.dumps([config.surface, repr(config.formula)]), surface)
    return vr.contour_figure(surface, _result, show_step=at, overlays=overlays, layer=layer)
