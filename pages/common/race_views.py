"""The Optimizer race page's analysis views, as Streamlit helpers the page script calls in order.

* :func:`fair_race` tunes every racer's learning rate (cached) and returns the tuned racers;
  :func:`fair_race_tab` shows tuned vs default rates, the score curves and an "adopt" button.
* :func:`basins_view` and :func:`sensitivity_view` compute (cached, only when their view is
  open) and draw the clickable heatmaps; a click sets the start (basins) or the racer's
  settings (sensitivity) and switches back to the race.
* :func:`seed_clouds` runs N noisy seeds per racer (cached) for the map cloud and loss band.
* :func:`formula_problem` shows a rejected formula with a caret under the offending column.

Heavy results are cached with ``st.cache_data`` keyed by the page's config text; the engine's
results are plain arrays and small dataclasses, so they pickle.
"""

from __future__ import annotations

import functools
from dataclasses import replace

import pandas as pd
import streamlit as st

from engine import basins, tuning
from pages.common import jobs as pj
from pages.common import race_config as rc
from viz import race_maps as rm
from viz import race_seeds as rs
from viz import race_tuning as rt
from viz.common import color, fmt

_BY_KEY = {rc.RaceConfig: rc.RaceConfig.key}
RERUN_APP = "_race_rerun_app"
"""Session flag: a click inside the race page's fragment changed the race (new start, adopted
rates), so the fragment reruns the whole page (a callback alone would rerun the fragment)."""
MAX_BASIN_STEPS = 1000
"""Basin maps run at most this many steps (a 100x100 map of 5 racers x 1,000 steps ~ 5 s)."""


# --- fair race ------------------------------------------------------------------------------
@st.cache_data(max_entries=32, show_spinner="Tuning learning rates...", hash_funcs=_BY_KEY)
def tune(config: rc.RaceConfig, criterion: str) -> list[tuning.TuneResult]:
    """Every racer's learning-rate search (25 log-spaced rates + its own, same step budget)."""
    return pj.shared_call(
        ("tune", config.key(), criterion),
        tuning.tune_entries,
        config.surface_obj(),
        [r.entry() for r in config.racers],
        config.start,
        config.steps,
        criterion=criterion,
        noise_std=config.noise,
        seed=config.seed,
    )


def usable_criterion(surface, crit: str) -> tuple[str, str | None]:
    """``crit`` if the surface supports it, else ``"gap"`` and a sentence saying so."""
    try:
        tuning.check_criterion(surface, crit)
        return crit, None
    except ValueError as err:
        return "gap", f"{err} Using 'gap' instead."


def tuned_config(config: rc.RaceConfig, results: list[tuning.TuneResult]) -> rc.RaceConfig:
    """The same race with each racer's tuned learning rate (labels say ``tuned``)."""
    racers = []
    for spec, res in zip(config.racers, results, strict=True):
        hp = dict(spec.hparams)
        hp["lr"] = res.best_lr
        label = f"{spec.label.split(' lr=')[0]} tuned lr={fmt(res.best_lr)}"
        racers.append(replace(spec, label=label, hparams=tuple(sorted(hp.items()))))
    return replace(config, racers=tuple(racers))


def _adopt(results: list[tuning.TuneResult]) -> None:
    """Write the tuned rates into the racers' learning-rate widgets (and so into the URL)."""
    for i, res in enumerate(results, start=1):
        st.session_state[f"lr{i}"] = float(res.best_lr)
    st.session_state["tune"] = False
    st.session_state[RERUN_APP] = True


def fair_race_tab(results: list[tuning.TuneResult], crit: str) -> None:
    """Tuned vs default learning rate per racer, the score curves, and an adopt button."""
    table = pd.DataFrame(rt.tuning_table(results))
    if not table["note"].any():
        table = table.drop(columns=["note"])
    st.table(table.set_index("entry"))
    for r in results:
        if r.at_edge:
            st.warning(f"{r.label}: {rt.edge_note(r)}.", icon=":material/first_page:")
    st.plotly_chart(rt.score_curves(results), key="score_curves")
    first = results[0]
    st.caption(
        f"Each racer ran {len(first.grid)} learning rates from {fmt(first.grid[0])} to "
        f"{fmt(first.grid[-1])} (plus its own) with the same step budget, scored by "
        f"{tuning.CRITERIA[crit].label}; × = diverged. {tuning.TIE_RULE.format(tol=fmt(first.tol))}"
        " A wide flat valley means a forgiving optimizer."
    )
    st.button(
        "Use the tuned rates as the racers' own",
        on_click=_adopt,
        args=(results,),
        icon=":material/done_all:",
        help="Copies the tuned rates into the learning-rate fields (and the link).",
    )


# --- seeds ----------------------------------------------------------------------------------
@st.cache_data(max_entries=16, show_spinner="Running noisy seeds...", hash_funcs=_BY_KEY)
def seed_clouds(config: rc.RaceConfig, n_seeds: int) -> list[basins.SeedCloud]:
    """``n_seeds`` noisy runs of every racer from the start (one batch per racer, the racers
    computed in parallel)."""
    surface = config.surface_obj()
    return pj.shared_calls(
        [
            (
                ("seeds", config.key(), n_seeds, i),
                functools.partial(
                    basins.seed_cloud,
                    surface,
                    r.entry(),
                    config.start,
                    config.steps,
                    noise_std=config.noise,
                    n_seeds=n_seeds,
                    seed=config.seed,
                ),
            )
            for i, r in enumerate(config.racers)
        ]
    )


def seed_loss_chart(config: rc.RaceConfig, clouds) -> None:
    surface = config.surface_obj()
    colors = [color(i) for i in range(len(clouds))]
    st.plotly_chart(rs.seed_loss_figure(clouds, colors, surface.min_value), key="seed_loss")


# --- basins ---------------------------------------------------------------------------------
@st.cache_data(max_entries=8, show_spinner=False, hash_funcs=_BY_KEY)
def basin_result(config: rc.RaceConfig, n: int) -> basins.BasinResult:
    """Every racer from an ``n x n`` grid of starts, noise-free (engine: lean race mode).

    One shared computation per racer, all submitted at once (the workers run them in
    parallel), each keyed by what its map depends on: the surface, the racer, the grid and
    the steps, not the race's start, noise or other racers (a changed racer recomputes only
    its own map)."""
    surface, steps = config.surface_obj(), min(config.steps, MAX_BASIN_STEPS)
    formula = None if config.formula is None else repr(config.formula)
    parts = pj.shared_calls(
        [
            (
                ("basin", config.surface, formula, r.label, r.optimizer, r.hparams, n, steps),
                functools.partial(basins.basin_maps, surface, [r.entry()], n=n, steps=steps),
            )
            for r in config.racers
        ]
    )
    return basins.combine(parts)


def _picked(key: str) -> tuple[float, float] | None:
    """The ``customdata`` pair of the first selected point of chart ``key`` (only the selection
    grid carries customdata). Streamlit may hand it over as a list or as an index-keyed dict."""
    points = st.session_state.get(key, {}).get("selection", {}).get("points", [])
    for point in points:
        data = point.get("customdata")
        if isinstance(data, dict):
            data = [data[k] for k in sorted(data, key=lambda k: int(k))]
        if isinstance(data, list | tuple) and len(data) >= 2:
            return float(data[0]), float(data[1])
    return None


def _on_basin_click() -> None:
    picked = _picked("basins_map")
    if picked:
        x, y = picked
        st.session_state["_start_click"] = (float(x), float(y))
        st.session_state["view"] = "race"


def basins_view(config: rc.RaceConfig, n: int, mode: str) -> None:
    with st.spinner(f"Running {len(config.racers)} racers from {n}x{n} starts..."):
        res = basin_result(config, n)
    colors = [color(i) for i in range(len(res.maps))]
    st.plotly_chart(
        rm.basin_maps_figure(res, mode=mode, colors=colors),
        key="basins_map",
        on_select=_on_basin_click,
        selection_mode=("points",),
        config={"displaylogo": False},
    )
    minima = len(res.minima)
    shares = []
    for bmap in res.maps:
        frac = bmap.fractions(minima)
        parts = [f"min {k + 1}: {frac[k]:.0%}" for k in range(minima)]
        parts += [f"none: {frac[basins.NONE]:.0%}", f"diverged: {frac[basins.DIVERGED]:.0%}"]
        shares.append({"racer": bmap.entry.label, "where the starts end": ", ".join(parts)})
    # a plain table: the page's leaderboard already loaded its code, while a data grid for
    # five rows would have the browser fetch and start the grid's bundle on opening the view
    st.table(pd.DataFrame(shares).set_index("racer"))
    st.caption(
        f"{n}x{n} starts per racer, {res.steps} steps, a start counts for a minimum when its "
        f"run ends within {fmt(res.tol)} of it. Click a cell to race from that start."
    )


# --- sensitivity ----------------------------------------------------------------------------
@st.cache_data(max_entries=16, show_spinner=False, hash_funcs=_BY_KEY)
def sensitivity(
    config: rc.RaceConfig, index: int, knob: str | None, crit: str
) -> tuning.SensitivityResult:
    return pj.shared_call(
        ("sensitivity", config.key(), index, knob, crit),
        tuning.sensitivity_map,
        config.surface_obj(),
        config.racers[index].entry(),
        config.start,
        config.steps,
        knob=knob,
        criterion=crit,
        noise_std=config.noise,
        seed=config.seed,
    )


def second_knob(optimizer: str, wanted: str) -> tuple[str | None, str | None]:
    """The knob to sweep for ``optimizer`` (``wanted`` or its first) and a warning if changed."""
    choices = [k.name for k in tuning.SECOND_KNOBS.get(optimizer, ())]
    if not choices:
        return None, f"No second knob is declared for {optimizer}."
    if wanted == rc.KNOB2_AUTO or wanted in choices:
        return (choices[0] if wanted == rc.KNOB2_AUTO else wanted), None
    return choices[0], (
        f"Second knob (knob={wanted}) does not apply to {optimizer}; "
        f"using {choices[0]} instead (choose from {', '.join(choices)})."
    )


def _on_sens_click(index: int, knob: str) -> None:
    picked = _picked("sens_map")
    if picked:
        lr, value = picked
        i = index + 1
        st.session_state[f"lr{i}"] = float(lr)
        st.session_state[rc.entry_key(knob, i)] = float(value)
        st.session_state["tune"] = False
        st.session_state["view"] = "race"


def sensitivity_view(config: rc.RaceConfig, index: int, knob: str, crit: str) -> None:
    racer = config.racers[index]
    with st.spinner(f"Mapping {racer.label}: 25 learning rates x 25 values of {knob}..."):
        res = sensitivity(config, index, knob, crit)
    st.plotly_chart(
        rt.sensitivity_figure(res),
        key="sens_map",
        on_select=functools.partial(_on_sens_click, index, knob),
        selection_mode=("points",),
        config={"displaylogo": False},
    )
    if res.best:
        log_scale = crit in ("gap", "dist")
        st.caption(
            f"Best: lr {fmt(res.best_lr)}, {res.knob.label} {fmt(res.best_knob)} "
            f"({tuning.CRITERIA[crit].label} "
            f"{rt.shown_score(res.scores[res.best], res.tol, log_scale)}). "
            f"{tuning.TIE_RULE.format(tol=fmt(res.tol))} Click a cell to race with that setting."
        )
        if res.at_edge:
            st.warning(
                f"The best cell is on the edge of the learning-rate grid ({fmt(res.lrs[0])}.."
                f"{fmt(res.lrs[-1])}): the optimum may lie beyond it.",
                icon=":material/first_page:",
            )
    else:
        st.caption("Every setting diverged: try fewer steps or another start.")


# --- custom formula -------------------------------------------------------------------------
def formula_problem(error: dict) -> None:
    """The rejected formula, a caret under its column, and the parser's message."""
    col = error.get("column")
    lines = [str(error["text"]).strip()]  # columns count from the stripped text
    if isinstance(col, int) and col >= 1:
        lines.append(" " * (col - 1) + "^")
    st.error(
        f"Your formula was rejected: {rc.markdown_escape(error['message'])}. Racing on the "
        "example formula instead; fix the text in the sidebar.",
        icon=":material/function:",
    )
    st.code("\n".join(lines), language=None)
