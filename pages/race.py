"""Optimizer race: optimizers descend a 2D loss surface side by side, animated.

Reads top to bottom like the page: validate the URL, sidebar controls (surface or your own
formula, racers, start, noise, fair race), the view selector, then the open view:

* race (default): the animated map (with the seed cloud when σ > 0), a "step shown" cursor
  shared by the map's opening frame and the inside-the-optimizer charts, then tabs;
* basins / sensitivity: computed only when open (cached), clickable heatmaps.

Speed (issue 10): what does not change the race runs in two fragments, so it never reruns
the page: ``race_map`` (map and step cursor) and ``race_tabs`` (tabs and share box). Opening
a tab reruns ``race_tabs`` only, and only the open tab is built and sent (``st.tabs`` bound
to the URL, ``tab=``); moving the cursor reruns both; a click on the map (a new start) sets a
flag that makes the fragment rerun the page. The map is cached per (config, opening step,
seeds) and its surface background per surface.

Time cursor: the map animates in the browser without reruns, so the page cannot follow its
play head; instead one URL-bound "step shown" slider sets both the frame the map opens on and
the vertical line on the inside-the-optimizer charts. Every control is bound to the URL, so
a copied link reproduces the view (tuned rates are recomputed from the same settings,
deterministically; "use the tuned rates" writes them into the link explicitly).
"""

from __future__ import annotations

import streamlit as st

from engine import surfaces
from engine.formula import nonfinite_fraction
from pages.common import fragments, race_cache, race_network, urlstate
from pages.common import race_config as rc
from pages.common import race_views as views
from viz import race as vr
from viz.common import fmt
from viz.race_inside import inside_caption, inside_figure
from viz.race_notes import NOTES

# One row for the title and the view selector, one for the formula: the map and its ▶ Play
# button stay above the fold on a 1280x800 laptop screen.
title_box, pick = st.columns([1, 1], vertical_alignment="bottom")
title_box.title("Optimizer race")
st.caption(
    "From ○ toward ★ (the global minimum), each racer follows its own update rule. "
    "▶ Play to race them; click the map to move the start."
)

# A shared link may carry only ?formula=...: that means the custom surface.
fresh = "surface" not in st.session_state
if fresh and "formula" in st.query_params and "surface" not in st.query_params:
    st.query_params["surface"] = rc.CUSTOM
    st.rerun()  # a URL-bound widget reads the URL as the run started: let it see "custom"


# --- 1. validate every URL value before any widget reads it ------------------------------
def _surface_now():
    """The surface the page is about to use (built-in, or the custom formula as typed)."""
    name = urlstate.peek(rc.SURFACE)
    if name != rc.CUSTOM:
        return surfaces.get(name)
    raw = {k.key: urlstate.peek(k) for k in rc.FORMULA_KNOBS}
    return rc.formula_spec(raw)[0].surface()


def _knobs() -> tuple:
    surface_now = _surface_now()
    n = urlstate.peek(rc.N_ENTRIES)
    per_entry = []
    for i in range(1, n + 1):
        preset_knob = rc.preset_knob(i)
        per_entry += [
            preset_knob,
            *rc.entry_knobs(i, urlstate.peek(preset_knob), surface_now.name),
        ]
    steps_now = urlstate.peek(rc.STEPS)
    if st.session_state.get("at", 0) > steps_now:  # fewer steps than the cursor: follow along
        st.session_state["at"] = steps_now
    dynamic = (rc.step_knob(steps_now), rc.sens_knob(n))
    return (*rc.STATIC_KNOBS, *rc.start_knobs(surface_now), *per_entry, *dynamic)


values = urlstate.sanitize(_knobs())
formula, formula_problems, formula_error = (None, [], None)
if values["surface"] == rc.CUSTOM:
    formula, formula_problems, formula_error = rc.formula_spec(values)
surface = formula.surface() if formula else surfaces.get(values["surface"])
n_racers = values["n"]
lr_surface = surface.name  # the surface this run's default rates belong to (callbacks read it)


# --- callbacks: what a user expects when a choice changes --------------------------------
def _reset_start() -> None:
    for knob in rc.start_knobs(_surface_now()):
        st.session_state[knob.key] = knob.default


def _on_surface_change() -> None:
    """A new surface starts from its classic point; a learning rate still at the old surface's
    default follows the new surface's default, one the user set by hand is kept."""
    _reset_start()
    new = _surface_now().name
    for i in range(1, urlstate.peek(rc.N_ENTRIES) + 1):
        preset = st.session_state.get(f"e{i}", rc.SLOT_DEFAULTS[i - 1])
        st.session_state[f"lr{i}"] = rc.follow_surface(
            st.session_state.get(f"lr{i}"), preset, lr_surface, new
        )


def _on_preset_change(i: int) -> None:
    """A new preset for racer i brings that preset's own settings (not the old ones)."""
    for knob in rc.entry_knobs(i, st.session_state[f"e{i}"], st.session_state["surface"]):
        st.session_state[knob.key] = knob.default


def _on_steps_change() -> None:
    """The cursor follows the end of the race when the length changes."""
    st.session_state["at"] = urlstate.peek(rc.STEPS)


def _set_start(x: float, y: float) -> None:
    s = _surface_now()
    for knob, value in zip(rc.start_knobs(s), (x, y), strict=True):
        st.session_state[knob.key] = knob.coerce(rc.snap(value, s))[0]


def _on_map_select() -> None:
    """A click on the map (a point of its invisible grid) becomes the new start."""
    points = st.session_state.get("map", {}).get("selection", {}).get("points", [])
    if points:
        _set_start(points[0]["x"], points[0]["y"])
        st.session_state[views.RERUN_APP] = True  # the map lives in a fragment: rerun the page


if "_start_click" in st.session_state:  # a basin-map click, from the previous run
    _set_start(*st.session_state.pop("_start_click"))

# --- 2. controls -------------------------------------------------------------------------
sb = st.sidebar
# No format_func on bound selectboxes: the URL stores the displayed text (verified, 1.67).
urlstate.widget(rc.SURFACE, on_change=_on_surface_change)
if values["surface"] == rc.CUSTOM:
    urlstate.widget(rc.FORMULA, on_change=_reset_start)
    c1, c2 = sb.columns(2)
    for knob, box in zip(rc.DOMAIN, (c1, c2, c1, c2), strict=True):
        urlstate.widget(knob, container=box, on_change=_reset_start)
    urlstate.widget(rc.FMIN, placeholder="e.g. 0, 0")
sb.subheader("Racers")
urlstate.widget(rc.N_ENTRIES)
specs, defaults, problems = [], [], list(formula_problems)
for i in range(1, n_racers + 1):
    preset = urlstate.widget(rc.preset_knob(i), on_change=_on_preset_change, args=(i,))
    knobs = rc.entry_knobs(i, preset, surface.name)
    flat = {"lr": urlstate.widget(knobs[0], label="learning rate")}
    with sb.expander(f"Racer {i}: more settings"):
        for knob in knobs[1:]:
            flat[knob.extra["hparam"]] = urlstate.widget(
                knob, container=st, label=knob.extra["short_label"]
            )
    spec, problem = rc.racer(i, preset, flat)
    specs.append(spec)
    defaults.append({k.extra["hparam"]: k.default for k in knobs})
    if problem:
        problems.append(problem)
specs = rc.label_racers(specs, defaults)

sb.subheader("Start and length")
start_x, start_y = rc.start_knobs(surface)
c1, c2 = sb.columns(2)
x0 = urlstate.widget(start_x, container=c1)
y0 = urlstate.widget(start_y, container=c2)
steps = urlstate.widget(rc.STEPS, on_change=_on_steps_change)
with sb.expander("Gradient noise and seeds", expanded=values["noise"] > 0):
    noise = urlstate.widget(rc.NOISE, container=st)
    seed = urlstate.widget(rc.SEED, container=st)
    n_seeds = urlstate.widget(rc.SEEDS, container=st)
sb.subheader("Fair race")
tune_on = urlstate.widget(rc.TUNE)
crit = urlstate.widget(rc.CRIT, disabled=not tune_on and values["view"] != "sensitivity")
rates = urlstate.widget(rc.RATES, disabled=not tune_on)

crit, crit_problem = views.usable_criterion(surface, crit)
if crit_problem and (tune_on or values["view"] == "sensitivity"):
    problems.append(crit_problem)
if formula_error:
    views.formula_problem(formula_error)
for problem in problems:
    st.warning(problem, icon=":material/warning:")

config = rc.RaceConfig(
    surface=surface.name,
    racers=tuple(specs),
    start=(float(x0), float(y0)),
    steps=int(steps),
    noise=float(noise),
    seed=int(seed),
    formula=formula,
)

# --- 3. the view selector -----------------------------------------------------------------
view = pick.segmented_control(
    "View",
    list(rc.VIEWS),
    default=rc.VIEW.default,
    key="view",
    bind="query-params",
    required=True,
    label_visibility="collapsed",
    help=" ".join(rc.VIEWS.values()),
)
view = view if view in rc.VIEWS else rc.VIEW.default
if view == "network":
    st.caption(rc.VIEWS[view])
    race_network.network_view(specs, defaults, config, surface.title)
    st.stop()
st.latex(surface.latex)
if view != "race":
    st.caption(rc.VIEWS[view])
if formula_error:
    st.caption(rc.rejected_note(formula_error, formula))
elif surface.note and view != "race":
    st.caption(surface.note)
if formula:
    bad = nonfinite_fraction(surface.f, surface.domain)
    if bad > 0:
        st.info(
            f"f(x, y) is not finite on {bad:.0%} of the domain (e.g. log or sqrt of a negative "
            "number): those regions are blank on the map, and a run that enters one stops "
            "there as diverged.",
            icon=":material/block:",
        )
    if not surface.minima:
        st.caption("No known minimum given: racers are scored by their final loss only.")

if view == "basins":
    c1, c2 = st.columns(2)
    grid = urlstate.widget(rc.GRID, container=c1)
    mode = urlstate.widget(rc.BMODE, container=c2)
    views.basins_view(config, int(grid), mode)
    st.stop()
if view == "sensitivity":
    c1, c2 = st.columns(2)
    index = urlstate.widget(rc.sens_knob(n_racers), container=c1) - 1
    knob, knob_problem = views.second_knob(specs[index].optimizer, values["knob"])
    urlstate.widget(rc.KNOB2, container=c2)
    if knob_problem:
        st.warning(knob_problem, icon=":material/warning:")
    if knob is not None:
        views.sensitivity_view(config, index, knob, crit)
    st.stop()


def _tab_names(tuned) -> list[str]:
    return [
        "Leaderboard",
        "Loss per step",
        "Inside the optimizer",
        *(["Fair race"] if tuned else []),
        "3D view",
        "How each optimizer works",
    ]


MAP_FRAGMENT, TABS_FRAGMENT = "race_map", "race_tabs"


def _cursor_moved() -> None:
    """The step cursor moves the map's opening frame and the inside chart's marker: rerun
    both fragments, not the page (the race is unchanged)."""
    st.rerun([MAP_FRAGMENT, TABS_FRAGMENT])


def _rerun_page_if_asked() -> None:
    if st.session_state.pop(views.RERUN_APP, False):
        st.rerun()  # a click in a fragment changed the race's settings (start, tuned rates)


@fragments.fragment(key=MAP_FRAGMENT)
def race_map(config: rc.RaceConfig, result, clouds, note: str) -> None:
    """The map and the step cursor under it. A fragment: moving the cursor reruns only the
    map and the tabs; a click on the map (a new start) reruns the page."""
    _rerun_page_if_asked()
    map_slot = st.container()
    at = urlstate.widget(rc.step_knob(config.steps), container=st, on_change=_cursor_moved)
    if note:
        st.caption(note)
    seeds = int(clouds[0].n_seeds) if clouds else 0
    hero = race_cache.hero_figure(config, int(at), seeds, result, clouds)
    map_slot.plotly_chart(
        hero,
        key="map",
        on_select=_on_map_select,
        selection_mode="points",
        config={"displaylogo": False, "scrollZoom": False},
    )
    if clouds:
        st.caption(
            f"σ = {fmt(config.noise)}: dashed lines are each racer's mean path over "
            f"{clouds[0].n_seeds} seeds, dots their end points."
        )
    for e in result.entries:
        if int(e.diverged_at) >= 0:
            st.error(vr.stop_message(e), icon=":material/trending_up:")


@fragments.fragment(key=TABS_FRAGMENT)
def race_tabs(config: rc.RaceConfig, result, clouds, tuned, crit: str) -> None:
    """The tabs under the map and the share box. A fragment: opening a tab reruns only this,
    and only the open tab is built and sent (the map is not even re-serialized)."""
    _rerun_page_if_asked()
    surface = config.surface_obj()
    at = min(int(st.session_state.get("at", config.steps)), config.steps)
    names = _tab_names(tuned)
    tabs = dict(zip(names, st.tabs(names, key="tab", bind="query-params"), strict=True))
    if tabs["Leaderboard"].open:
        with tabs["Leaderboard"]:
            st.table(vr.leaderboard_table(surface, result))
            st.caption(vr.leaderboard_rule(surface, result))
    if tabs["Loss per step"].open:
        with tabs["Loss per step"]:
            st.plotly_chart(vr.loss_figure(surface, result))
            if clouds:
                views.seed_loss_chart(config, clouds)
    if tabs["Inside the optimizer"].open:
        with tabs["Inside the optimizer"]:
            st.plotly_chart(inside_figure(result, at), key="inside")
            st.caption(inside_caption(result))
    if tuned and tabs["Fair race"].open:
        with tabs["Fair race"]:
            views.fair_race_tab(tuned, crit)
    if tabs["3D view"].open:
        with tabs["3D view"]:
            st.plotly_chart(vr.surface3d_figure(surface, result), config=vr.SURFACE3D_CONFIG)
    if tabs["How each optimizer works"].open:
        with tabs["How each optimizer works"]:
            for spec in config.racers:
                rule, intuition = NOTES.get(spec.preset, ("", ""))
                st.markdown(f"**{spec.preset}**")
                if rule:
                    st.latex(rule)
                st.caption(intuition)

    # sharing: in the fragment, so the link follows the cursor and the open tab
    (right,) = urlstate.share_row(1)
    right.download_button(
        "Download trajectories (CSV)",
        lambda: vr.trajectories(result).to_csv(index=False),  # built on click
        file_name=f"race_{surface.name}.csv",
        mime="text/csv",
        on_click="ignore",
        icon=":material/download:",
    )


# --- 4. the race (cached by its config: pages/common/race_cache.py) -----------------------
tuned = None
if tune_on:
    tuned = views.tune(config, crit)
    if rates == "tuned":
        config = views.tuned_config(config, tuned)
result = race_cache.run(config)
clouds = views.seed_clouds(config, int(n_seeds)) if config.noise > 0 and n_seeds > 1 else None

# --- 5. the open view ----------------------------------------------------------------------
if tune_on:
    st.info(
        f"Fair race: every racer runs with its own best learning rate ({rates} rates shown; "
        f"criterion: {crit}). See the *Fair race* tab.",
        icon=":material/balance:",
    )
race_map(config, result, clouds, "" if formula_error else surface.note)
race_tabs(config, result, clouds, tuned, crit)
