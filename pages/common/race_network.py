"""The race page's network view (``view=network``): the sidebar's racers train a real network.

Reads like the view looks: the network's controls in the sidebar (under the racers), the
estimate and its gate, the training job's progress with live loss curves, then (once every
racer has finished) the loss landscape with the projected paths, animated, and one secondary
chart chosen by a URL-bound selector (only the shown one is built): loss curves, true vs
projected loss along the paths, sharpness slices, the leaderboard, what carried over.

Training and the landscape run as ONE background job (engine.netrace.NetRace, the lockstep
trainer group, then the landscape in short work items) on the executor seam
(pages.common.jobs.start_job: chunks in worker processes, shared by every session that asks for
the same settings); a link starts it by itself when the estimate fits the budget, otherwise the
view shows the estimate and asks for an explicit start (or refuses above the hard cap). The
toy race it is compared with, another plane's landscape and the hero figure are cached by
their settings and shared across sessions.
"""

from __future__ import annotations

import functools

import streamlit as st

from engine import netrace as nr
from engine import netrace_report as rep
from pages.common import budget_gate, idle, race_cache, urlstate
from pages.common import jobs as pj
from pages.common import netrace_config as nc
from viz import race_network as vn
from viz.common import fmt

JOB = "netrace"
_SIG = "_netrace_signature"  # session state: the config the current job trains


def _landscape(config: nr.NetRaceConfig, spec: nr.LandscapeSpec, result):
    """The landscape of a finished race for these plane settings: the job's own when it was
    built for them, else computed once per (race, settings) for every session, off the
    server's GIL (pages.common.jobs.shared_call on the executor seam)."""
    if result.landscape is not None and result.landscape_spec == spec:
        return result.landscape
    with st.spinner("Evaluating the loss landscape..."):
        return pj.shared_call(
            ("netrace-landscape", config, spec),
            nr.landscape,
            nr.LandscapeInput.of(result),
            mode=spec.mode,
            reference=spec.reference,
            grid=spec.grid,
            seed=spec.seed,
            memory_budget=spec.memory_budget,
        )


@idle.releasable
@st.cache_resource(max_entries=16, show_spinner=False)
def _hero(config: nr.NetRaceConfig, mode: str, ref: int, grid: int, _land, _result):
    """The animated landscape figure, built once per result and shared read-only."""
    return vn.landscape_figure(_land, _result)


def _controls(presets: list[str]) -> dict:
    """The view's sidebar controls (bound to the URL); returns their values."""
    values = urlstate.sanitize(nc.all_knobs(presets))
    sb = st.sidebar
    sb.subheader("On the network")
    for knob in nc.SIDEBAR_KNOBS:
        values[knob.key] = urlstate.widget(knob)
    with sb.expander("Learning rates on the network", expanded=True):
        st.caption(
            "The rates above are tuned for the 2D surface; a network needs its own. "
            "Defaults per preset; the other hyperparameters are the racers' above."
        )
        for i, preset in enumerate(presets, start=1):
            knob = nc.lr_knob(i, preset)
            values[knob.key] = urlstate.widget(knob, container=st, label=f"Racer {i}: {preset}")
    return values


def _spec(config: nr.NetRaceConfig, mode: str, ref: int, grid: int) -> nr.LandscapeSpec:
    return nr.LandscapeSpec(
        mode, None if ref == 0 else ref - 1, grid, config.seed, nc.MEMORY_BUDGET
    )


def _start(config: nr.NetRaceConfig, spec: nr.LandscapeSpec) -> None:
    """One job: train every racer, then build the landscape of the plane settings as they
    are now (a later change of plane settings is computed by the page, cached)."""
    task = functools.partial(nr.NetRace, config, landscape_spec=spec)  # pickles; canonical key
    pj.start_job(JOB, task, name="network race")  # shared with every session on these settings
    st.session_state[_SIG] = config


def _gate_and_start(config: nr.NetRaceConfig, spec: nr.LandscapeSpec) -> bool:
    """Start the job for ``config`` when its estimate fits the budget, or once the visitor
    agreed to a larger one (engine.budget / pages.common.budget_gate: one gate for every page);
    above the hard caps it is refused with the reason. Returns whether a job for ``config``
    exists after this call."""
    decision = budget_gate.decide(nr.budget_estimate(config, spec))
    group = pj.session_jobs()
    if st.session_state.get(_SIG) == config and group.get(JOB) is not None:
        budget_gate.track(JOB, group.get(JOB), decision)
        return True
    if budget_gate.may_autostart(decision) or budget_gate.consent(
        "netrace", decision, config, action="Start the network race"
    ):
        _start(config, spec)
        budget_gate.track(JOB, group.get(JOB), decision)
        return True
    return False


def _draw_live(snap) -> None:
    """While training: the live loss curves (the first chart a visitor sees)."""
    if snap.status.active and snap.history is not None:
        st.plotly_chart(vn.curves_figure(snap.history), key="netrace_live")


def network_view(specs, defaults, race_config, surface_title: str) -> None:
    """The whole view for the sidebar's racers ``specs`` (race_config.RacerSpec, with their
    knob ``defaults``) and the 2D race ``race_config`` they are compared with."""
    presets = [s.preset for s in specs]
    values = _controls(presets)
    config = nc.net_config(values, specs, defaults)
    grid = int(values["ngrid"])
    spec = _spec(config, values["nplane"], int(values["nref"]), grid)
    width = values["nwidth"]
    st.caption(
        f"Each racer trains the same {values['ndepth']}×{width} {values['nact']} network on "
        f"**{values['ndata']}** from the same initial weights with the same minibatches "
        f"({values['nepochs']} epochs, batch {values['nbatch']}); estimated "
        f"{nr.budget_estimate(config, spec).text}."
    )
    if not _gate_and_start(config, spec):
        return
    snap = pj.live_job(JOB, _draw_live, epochs=config.epochs)
    if snap is None or snap.history is None or snap.status.active:
        return
    result = snap.history
    if not any(len(r.path) > 1 for r in result.runs):
        st.info("Nothing to draw: no racer took a finite step.", icon=":material/info:")
        return
    _results(config, values, result, race_config, surface_title)


def _results(config, values, result, race_config, surface_title: str) -> None:
    n = len(result.runs)
    mode, ref, grid = values["nplane"], int(values["nref"]), int(values["ngrid"])
    spec = _spec(config, mode, ref, grid)
    own = result.landscape is not None and result.landscape_spec == spec
    if not own:
        decision = budget_gate.decide(nr.landscape_estimate(config, spec))
        if not budget_gate.consent("netrace_land", decision, spec, action="Evaluate it"):
            spec = result.landscape_spec  # meanwhile: the landscape the job built
    land = _landscape(config, spec, result)
    mode, ref, grid = spec.mode, 0 if spec.reference is None else spec.reference + 1, spec.grid
    st.plotly_chart(  # the hero first (above the fold); its view controls under it
        _hero(config, mode, ref, grid, land, result),
        key="netrace_map",
        config={"displaylogo": False, "scrollZoom": False},
    )
    c1, c2, c3 = st.columns(3)
    urlstate.widget(nc.PLANE, container=c1)
    urlstate.widget(nc.ref_knob(n), container=c2)
    urlstate.widget(nc.GRID, container=c3)
    caption, warning = vn.explained_text(land.explained)
    if warning:
        st.warning(warning, icon=":material/visibility_off:")
    if land.excluded:
        names = ", ".join(result.runs[i].label for i in land.excluded)
        st.caption(
            f"{names} diverged: left out of the plane's fit, drawn to its last finite point."
        )
    st.caption(
        "Paths are the racers' trajectories projected onto the plane; the colour at a projected "
        "point is the loss THERE (on the plane), not the racer's true loss: the *True vs "
        "projected loss* chart shows both, and hovering a path gives both numbers."
    )
    shown = st.segmented_control(
        "Show",
        list(nc.SHOW),
        default=nc.SHOW_KNOB.default,
        key="nshow",
        bind="query-params",
        required=True,
        label_visibility="collapsed",
    )
    shown = shown if shown in nc.SHOW else nc.SHOW_KNOB.default
    target = float(values["ntarget"])
    if shown == "Loss curves":
        st.plotly_chart(vn.curves_figure(result), key="netrace_curves")
    elif shown == "True vs projected loss":
        st.plotly_chart(vn.path_loss_figure(land, result), key="netrace_paths")
    elif shown == "Sharpness":
        st.plotly_chart(vn.slices_figure(land, result), key="netrace_slices")
        st.caption(
            "Each slice walks from a racer's final weights along one random direction, "
            "rescaled neuron by neuron to that racer's own weight norms (filter normalization, "
            "Li et al. §4; biases fixed), so the widths compare fairly."
        )
    elif shown == "Leaderboard":
        urlstate.widget(nc.TARGET, container=st)
        st.dataframe(vn.leaderboard_table(rep.leaderboard(result, target)), hide_index=True)
        st.caption(rep.RULE)
    else:
        toy = race_cache.run(race_config)  # the race page's own cache: one run per config
        lines, _ = rep.carry_over(result, toy, surface_title, target)
        st.markdown(
            f"Measured on both: the 2D race on **{surface_title}** (the sidebar's rates, "
            f"{race_config.steps:,} steps) and the network (its own rates)."
        )
        for line in lines:
            st.markdown(f"- {line}")
    _downloads(land, result)


def _downloads(land, result) -> None:
    left, right = st.columns(2)
    left.download_button(
        "Loss curves (CSV)",
        lambda: vn.curves_table(result).to_csv(index=False),  # built on click
        file_name="network_race_curves.csv",
        mime="text/csv",
        on_click="ignore",
        icon=":material/download:",
    )
    right.download_button(
        "Projected paths (CSV)",
        lambda: vn.paths_table(land, result).to_csv(index=False),
        file_name="network_race_paths.csv",
        mime="text/csv",
        on_click="ignore",
        icon=":material/download:",
    )
    st.caption(f"Landscape: {fmt(land.loss.shape[0])}² full-data evaluations.")
