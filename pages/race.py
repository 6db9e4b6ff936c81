"""Optimizer race: optimizers descend a 2D loss surface side by side, animated.

Reads top to bottom like the page: validate the URL, sidebar controls, one (cached) engine
call, the animated map, then tabs (leaderboard, loss curves, 3D, how each optimizer works),
then sharing. Every control is bound to the URL, so a copied link reproduces the race.
"""

from __future__ import annotations

import streamlit as st

from engine import race, surfaces
from pages.common import race_config as rc
from pages.common import urlstate
from viz import race as vr
from viz.common import fmt
from viz.race_notes import NOTES

st.title("Optimizer race")
st.caption(
    "Each racer starts at the same point and follows its own update rule downhill. "
    "Press ▶ Play to watch them race, drag the slider to scrub, click the map to move the start."
)


# --- 1. validate every URL value before any widget reads it ------------------------------
def _knobs() -> tuple:
    surface_name = urlstate.peek(rc.SURFACE)
    n = urlstate.peek(rc.N_ENTRIES)
    per_entry = []
    for i in range(1, n + 1):
        preset_knob = rc.preset_knob(i)
        per_entry += [preset_knob, *rc.entry_knobs(i, urlstate.peek(preset_knob), surface_name)]
    return (*rc.STATIC_KNOBS, *rc.start_knobs(surface_name), *per_entry)


values = urlstate.sanitize(_knobs())
surface = surfaces.get(values["surface"])
n_racers = values["n"]


# --- callbacks: what a user expects when a choice changes --------------------------------
def _on_surface_change() -> None:
    """A new surface starts from its classic point with its tuned learning rates."""
    name = st.session_state["surface"]
    for knob in rc.start_knobs(name):
        st.session_state[knob.key] = knob.default
    for i in range(1, st.session_state.get("n", n_racers) + 1):
        preset = st.session_state.get(f"e{i}", rc.SLOT_DEFAULTS[i - 1])
        st.session_state[f"lr{i}"] = rc.default_lr(name, preset)


def _on_preset_change(i: int) -> None:
    """A new preset for racer i brings that preset's own settings (not the old ones)."""
    for knob in rc.entry_knobs(i, st.session_state[f"e{i}"], st.session_state["surface"]):
        st.session_state[knob.key] = knob.default


def _on_map_select() -> None:
    """A click on the map (a point of its invisible grid) becomes the new start."""
    points = st.session_state.get("map", {}).get("selection", {}).get("points", [])
    if points:
        name = st.session_state.get("surface", surface.name)
        for knob, axis in zip(rc.start_knobs(name), ("x", "y"), strict=True):
            st.session_state[knob.key] = knob.coerce(rc.snap(points[0][axis], name))[0]


# --- 2. controls -------------------------------------------------------------------------
sb = st.sidebar
# No format_func on bound selectboxes: the URL stores the displayed text (verified, 1.67).
urlstate.widget(rc.SURFACE, on_change=_on_surface_change)
sb.subheader("Racers")
urlstate.widget(rc.N_ENTRIES)
specs, defaults, problems = [], [], []
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
start_x, start_y = rc.start_knobs(surface.name)
c1, c2 = sb.columns(2)
x0 = urlstate.widget(start_x, container=c1)
y0 = urlstate.widget(start_y, container=c2)
steps = urlstate.widget(rc.STEPS)
with sb.expander("Gradient noise"):
    noise = urlstate.widget(rc.NOISE, container=st)
    seed = urlstate.widget(rc.SEED, container=st)

for problem in problems:
    st.warning(problem, icon=":material/warning:")

config = rc.RaceConfig(
    surface=surface.name,
    racers=tuple(specs),
    start=(float(x0), float(y0)),
    steps=int(steps),
    noise=float(noise),
    seed=int(seed),
)


# --- 3. the race (cached by its config) ----------------------------------------------------
_BY_KEY = {rc.RaceConfig: rc.RaceConfig.key}


@st.cache_data(max_entries=64, show_spinner="Racing...", hash_funcs=_BY_KEY)
def run(config: rc.RaceConfig) -> race.RaceResult:
    """Run the race once per distinct config (a copy per session: results are plain arrays)."""
    return race.run_race(
        surfaces.get(config.surface),
        [r.entry() for r in config.racers],
        config.start,
        config.steps,
        noise_std=config.noise,
        seed=config.seed,
    )


@st.cache_resource(max_entries=32, show_spinner=False, hash_funcs=_BY_KEY)
def hero_figure(config: rc.RaceConfig, _result: race.RaceResult):
    """The animated map, built once per config and shared read-only (copying ~100 frames
    per rerun would cost more than building them)."""
    return vr.contour_figure(surfaces.get(config.surface), _result)


result = run(config)
hero = hero_figure(config, result)

# --- 4. views ------------------------------------------------------------------------------
st.latex(surface.latex)
if surface.note:
    st.caption(surface.note)
st.plotly_chart(
    hero,
    key="map",
    on_select=_on_map_select,
    selection_mode="points",
    config={"displaylogo": False, "scrollZoom": False},
)
for e in result.entries:
    if int(e.diverged_at) >= 0:
        st.error(
            f"**{e.label}** {e.status}: its steps grew without bound (its path ends with ✗). "
            "Try a smaller learning rate.",
            icon=":material/trending_up:",
        )

board, losses, three_d, how = st.tabs(
    ["Leaderboard", "Loss per step", "3D view", "How each optimizer works"]
)
with board:
    table = vr.leaderboard(surface, result)
    shown = table.drop(columns=["_colour"])
    for column in ("final loss", "distance to minimum"):
        shown[column] = [fmt(v) if v is not None else "—" for v in shown[column]]
    shown["steps to tolerance"] = [
        "never" if v is None or v != v else f"{int(v):,}" for v in shown["steps to tolerance"]
    ]
    st.dataframe(
        shown,
        column_config={
            "racer": st.column_config.TextColumn("Racer"),
            "final loss": st.column_config.TextColumn("Final loss f(θ)"),
            "distance to minimum": st.column_config.TextColumn("Distance to nearest minimum"),
            "steps to tolerance": st.column_config.TextColumn(
                f"Steps to within {fmt(result.tol)} of a minimum"
            ),
            "status": st.column_config.TextColumn("Status"),
        },
    )
with losses:
    st.plotly_chart(vr.loss_figure(surface, result))
with three_d:
    st.plotly_chart(vr.surface3d_figure(surface, result))
with how:
    for spec in specs:
        rule, intuition = NOTES.get(spec.preset, ("", ""))
        st.markdown(f"**{spec.preset}**")
        if rule:
            st.latex(rule)
        st.caption(intuition)

# --- 5. sharing ------------------------------------------------------------------------------
st.subheader("Share and export")
left, right = st.columns([3, 1])
urlstate.share_link(container=left)
right.download_button(
    "Download trajectories (CSV)",
    vr.trajectories(result).to_csv(index=False),
    file_name=f"race_{surface.name}.csv",
    mime="text/csv",
    on_click="ignore",
    icon=":material/download:",
)
