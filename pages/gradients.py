"""Gradient flow: per-layer gradient norms against depth, at init and during training.

Reads top to bottom like the page: validate the URL, sidebar (presets, configurations, data,
training), the at-init profile (cached per configuration) with its verdicts and fixes, then
tabs (activation statistics, histograms, live training, activation functions, the notes'
explanation), then sharing. Every control is bound to the URL.
"""

from __future__ import annotations

import functools
from dataclasses import replace

import streamlit as st

from engine import budget
from engine import gradflow as gf
from engine.activations import SATURATION
from pages.common import budget_gate as gate
from pages.common import idle, urlstate
from pages.common import jobs as pj
from pages.common.ui import coloured
from viz import gradients as vg
from viz.common import color

JOB = "gradflow"
# Charts redraw every 2 s while training (the progress line every 0.5 s): each redraw re-creates
# the three Plotly charts in the browser (Streamlit 1.67, see pages/common/jobs.py).
REDRAW_EVERY = 2.0
_BOX = {"healthy": "success", "vanishing": "warning", "dead": "warning"}

st.title("Gradient flow")
st.caption(
    "How big is the gradient at each layer? Deep nets multiply one factor per layer on the way "
    "back, so gradients can vanish or explode. Pick a preset, compare up to four networks, "
    "read the diagnosis, and click a fix to add the repaired network beside the broken one."
)

# --- 1. validate every URL value before any widget reads it ------------------------------
KNOBS = {k.key: k for k in gf.GLOBAL_KNOBS}
N_KNOB = KNOBS["n"]
values = urlstate.sanitize(gf.all_knobs(urlstate.peek(N_KNOB)))
n = values["n"]


# --- callbacks ------------------------------------------------------------------------------
def _load_preset(name: str) -> None:
    """One click: the preset's configurations replace the current ones."""
    preset = gf.PRESETS[name]
    slots = {}
    for i, cfg in enumerate(preset.configs, start=1):
        slots.update(_slot_values(cfg, i))
    urlstate.set_values({N_KNOB: len(preset.configs), **slots})


def _add_config(cfg: gf.FlowConfig) -> None:
    """A suggested fix (or a copy) becomes the next configuration (URL included)."""
    i = int(st.session_state.get("n", n)) + 1
    if i <= gf.MAX_CONFIGS:
        urlstate.set_values({N_KNOB: i, **_slot_values(cfg, i)})


def _slot_values(cfg: gf.FlowConfig, i: int) -> dict:
    """``{knob: value}`` of configuration slot ``i`` set to ``cfg``."""
    values = gf.config_values(cfg, i)
    return {k: values[k.key] for k in gf.slot_knobs(i, gf.SLOT_DEFAULTS[i - 1])}


# --- 2. controls ------------------------------------------------------------------------------
sb = st.sidebar
sb.subheader("Presets from the notes")
for name, preset in gf.PRESETS.items():
    sb.button(
        name,
        key=f"preset_{name}",
        help=preset.story,
        on_click=_load_preset,
        args=(name,),
        width="stretch",
    )
sb.subheader("Configurations")
urlstate.widget(N_KNOB)
configs = []
for i in range(1, n + 1):
    current = gf.config_from(values, i)
    # the marker in configuration i's own palette colour, the same as its card and lines
    title = f"{coloured('■', i - 1)} **{i}** {current.label()}"
    with sb.expander(title, expanded=n == 1, key=f"_config_box{i}"):  # open as the title changes
        row = {}
        for knob in gf.slot_knobs(i, gf.SLOT_DEFAULTS[i - 1]):
            row[knob.key] = urlstate.widget(knob, container=st)
    configs.append(gf.config_from(row, i))
sb.subheader("Data")
spec = gf.DataSpec(
    dataset=urlstate.widget(KNOBS["data"]),
    batch=int(urlstate.widget(KNOBS["batch"])),
    seed=int(urlstate.widget(KNOBS["seed"])),
)
with sb.expander("Training"):
    steps = int(urlstate.widget(KNOBS["steps"], container=st))
    train_spec = replace(spec, batch=int(urlstate.widget(KNOBS["tbatch"], container=st)))
    optimizer = urlstate.widget(KNOBS["opt"], container=st)
    lr = float(urlstate.widget(KNOBS["lr"], container=st))
names = [f"{i}: {c.label()}" for i, c in enumerate(configs, start=1)]


# --- 3. at-init profiles (measured together on all cores; the engine memoizes each one) -----
# Budget before work: one pass holds every layer's activations and gradients (4 nets x 200
# layers x 512 units x batch 1024 would need ~9 GB), so an over-budget profile waits for a
# click and one over the hard cap is refused; the rest of the page needs the profiles.
at_init = gate.decide(budget.gradflow_profiles(configs, spec))
if not gate.consent("gf_profiles", at_init, (tuple(configs), spec), action="Measure"):
    st.caption("Change the settings in the sidebar; this link has started nothing.")
    st.stop()
# Each candidate fix's network is measured too: a fix is offered only if its own verdict is
# healthier, and its button says what it predicts.
with st.spinner("Measuring gradients at initialization..."):  # shown after 0.5 s only
    measured = gf.verdicts(configs, spec)
profiles = [p for p, _ in measured]


@idle.releasable
@st.cache_resource(max_entries=128, show_spinner=False)
def _figure(kind: str, cfgs: tuple, data: gf.DataSpec, labels: tuple, index: int = 0):
    """A figure of the at-init profiles of ``cfgs`` on ``data``, built once per process for
    every session asking for the same configurations (the profiles are deterministic
    functions of them, memoized by the engine). Shared, not copied: never modified."""
    if kind == "activations":
        return vg.activation_panel()
    profs = gf.profiles(cfgs, data)
    if kind == "profile":
        return vg.profile_figure(profs, list(labels))
    if kind == "stats":
        return vg.stats_figure(profs, list(labels))
    return vg.ridgeline_figure(profs[0], labels[0], index)


# --- 4. diagnosis, then the hero chart --------------------------------------------------------
st.subheader("Diagnosis")
for i, (col, (p, verdict)) in enumerate(zip(st.columns(len(profiles)), measured, strict=True)):
    with col.container(border=True):
        st.markdown(
            f"<span style='color:{color(i)}'>■</span> **Configuration {i + 1}**  \n"
            f"`{p.config.label()}`",
            unsafe_allow_html=True,
        )
        getattr(st, _BOX.get(verdict.kind, "error"))(verdict.headline)
        for line in verdict.evidence:
            st.caption(line)
        for k, fix in enumerate(verdict.fixes):
            st.button(
                f"Add fix: {fix.button_label()}",
                key=f"fix_{i}_{k}",
                help=f"{fix.why} Adds `{fix.config.label()}` as a new configuration; measured "
                f"at initialization it reads: {fix.predicted.headline}.",
                on_click=_add_config,
                args=(fix.config,),
                disabled=n >= gf.MAX_CONFIGS,
                icon=":material/healing:",
            )
        if verdict.fixes and n >= gf.MAX_CONFIGS:
            st.caption("Four configurations shown: lower the count to make room for a fix.")

st.plotly_chart(_figure("profile", tuple(configs), spec, tuple(names)), key="hero")
st.caption(
    "Dashed lines: theory. For a linear net with W = c·I it is exact, c^(L-l); for sigmoid "
    "it is the upper bound ¼·‖W_l‖₂ per layer. With clipping, ‖∂L/∂W_l‖ is shown after clipping."
)

# lazy tabs: only the open one is built and sent (the URL's ``tab`` names it)
stats_tab, hist_tab, train_tab, act_tab, why_tab = st.tabs(
    ["Activation statistics", "Histograms", "Training (live)", "Activation functions", "Why"],
    key="tab",
    on_change="rerun",
    bind="query-params",
)


def _stats_view() -> None:
    st.plotly_chart(_figure("stats", tuple(configs), spec, tuple(names)), key="stats")
    st.caption(
        "Saturated: "
        + "; ".join(f"{k}: {v}" for k, v in SATURATION.items() if k in ("sigmoid", "tanh"))
        + ". Dead: a ReLU unit whose pre-activation is ≤ 0 for every sample of the batch."
    )


def _histograms_view() -> None:
    pick = st.radio(
        "Configuration",
        range(len(profiles)),
        format_func=lambda k: names[k],
        horizontal=True,
        key="hist_pick",
    )
    ridge = _figure("ridge", (configs[pick],), spec, (names[pick],), pick)
    st.plotly_chart(ridge, key="ridge")
    st.caption(
        "As Glorot & Bengio (2010) plot them: a healthy net keeps every layer's histogram about "
        "as wide as the next; vanishing gradients squeeze the early layers to a spike at 0."
    )


def _draw(snap) -> None:
    """The live view of the training job: heatmap, loss, depth profile at a chosen step."""
    view = snap.history
    labels = [f"{i}: {label}" for i, label in enumerate(view.labels, start=1)]
    heatmap = pj.shared_figure(snap, "heatmap", lambda: vg.heatmap_figure(view.histories, labels))
    st.plotly_chart(heatmap, key="heatmap")
    left, right = st.columns(2)
    left.plotly_chart(
        pj.shared_figure(snap, "loss", lambda: vg.loss_figure(view.histories, labels)), key="loss"
    )
    with right:
        step = st.slider("Depth profile at step", 1, view.steps, view.steps, key="at_step")
        profile = pj.shared_figure(  # built once per result and step, for every session
            snap, ("at_step", step), lambda: vg.step_profile_figure(view.histories, labels, step)
        )
        st.plotly_chart(profile, key="at_step_fig")
    for label, hist in zip(labels, view.histories, strict=True):
        if hist.diverged_at is not None:
            st.error(f"**{label}** {hist.message}.", icon=":material/trending_up:")


def _training_view() -> None:
    st.caption(
        f"Trains every configuration for {steps} steps ({optimizer}, lr {lr:g}, batch "
        f"{train_spec.batch}) in the background; the heatmap fills live. Norms are of the "
        "minibatch loss before clipping."
    )
    signature = (tuple(configs), train_spec, steps, optimizer, lr)
    run_configs = tuple(configs)
    train_cost = gate.decide(
        budget.gradflow_training(run_configs, train_spec, steps, optimizer, lr)
    )
    gate.job_notice(train_cost)
    pj.job_controls(
        JOB,
        functools.partial(gf.FlowTraining, run_configs, train_spec, steps, optimizer, lr),
        signature=signature,
        name="gradient flow",
        start_label=gate.start_label(train_cost, "Start training"),
        disabled=gate.start_disabled(train_cost, JOB),
    )
    gate.track(JOB, pj.session_jobs().get(JOB), train_cost)
    pj.live_job(
        JOB,
        _draw,
        unit="step",
        redraw_every=REDRAW_EVERY,
        empty="Press **Start training**; the heatmap fills as steps arrive.",
    )


def _activations_view() -> None:
    st.plotly_chart(_figure("activations", (), spec, ()), key="activations")
    st.caption(
        "Grey: where the unit passes (almost) no gradient. Sigmoid's derivative never exceeds "
        "0.25 and tanh's is near 0 beyond |z| ≈ 2.3; ReLU's is exactly 1 for z > 0 and 0 below "
        "(leaky ReLU keeps a small slope there, drawn at 0.1 to be visible)."
    )


def _why_view() -> None:
    st.markdown("**A deep linear network** multiplies its input by every weight matrix:")
    st.latex(r"\hat Y = W^{[L]} W^{[L-1]} \cdots W^{[2]} W^{[1]} X")
    st.markdown("With every $W^{[l]} = c\\,I$ the output is $c^L X$, and backprop gives")
    st.latex(
        r"\frac{\partial \mathcal L}{\partial a^{[l]}} = \big(W^{[L]}\cdots W^{[l+1]}\big)^{\top}"
        r"\frac{\partial \mathcal L}{\partial \hat Y} = c^{\,L-l}\,"
        r"\frac{\partial \mathcal L}{\partial \hat Y}"
    )
    st.markdown(
        "so $c = 1.5$ explodes as $1.5^{L}$ and $c = 0.5$ vanishes as $0.5^{L}$: depth turns "
        "a modest factor into an astronomical one. (Try the two linear presets: the dashed "
        "theory line sits on the measurement.)"
    )
    st.markdown("**Saturation multiplies small factors.** Through a sigmoid layer")
    st.latex(
        r"\frac{\partial \mathcal L}{\partial a^{[l-1]}} = W^{[l]\top}\Big(\sigma'(z^{[l]})"
        r"\odot\frac{\partial \mathcal L}{\partial a^{[l]}}\Big),\qquad \sigma' = \sigma(1-\sigma)"
        r"\le \tfrac14"
    )
    st.markdown(
        "so each layer scales the gradient by at most $\\tfrac14\\lVert W^{[l]}\\rVert_2$; "
        "saturated units ($\\sigma$ near 0 or 1, tanh near ±1) pass almost nothing. Early "
        "layers, which receive the product of every later factor, learn slowest."
    )
    st.markdown(
        "**Why ReLU helps:** its derivative is exactly 1 wherever the unit is active, so active "
        "paths pass the gradient unchanged (units stuck at $z \\le 0$ pass nothing: *dead* "
        "ReLUs; leaky ReLU keeps a small slope)."
    )
    st.markdown(
        "**Initialization is a partial fix:** Xavier ($\\mathrm{Var}(W) = 2/(n_{in}+n_{out})$) "
        "and He ($\\mathrm{Var}(W) = 2/n_{in}$ for ReLU) choose the weight scale so the signal "
        "keeps its variance layer to layer *at initialization*; training moves the weights "
        "away from that balance, and very deep nets need more."
    )
    st.markdown("**Residual networks** (ResNet, 152 layers) add the input back:")
    st.latex(
        r"h^{[l+1]} = h^{[l]} + f\big(h^{[l]}W^{[l]} + b^{[l]}\big)\;\Rightarrow\;"
        r"\frac{\partial \mathcal L}{\partial h^{[l]}} = \frac{\partial \mathcal L}"
        r"{\partial h^{[l+1]}} + (\text{branch term})"
    )
    st.markdown(
        "The identity path carries the gradient back undiminished, however small the branch "
        "term. **Gradient clipping**, $g \\leftarrow g\\cdot\\min(1, c/\\lVert g\\rVert)$, "
        "caps the size of an exploding update so training does not blow up, but leaves the "
        "profile's shape as it is."
    )


if stats_tab.open:
    with stats_tab:
        _stats_view()
if hist_tab.open:
    with hist_tab:
        _histograms_view()
if train_tab.open:
    with train_tab:
        _training_view()
if act_tab.open:
    with act_tab:
        _activations_view()
if why_tab.open:
    with why_tab:
        _why_view()

# --- 5. sharing -------------------------------------------------------------------------------
(right,) = urlstate.share_row(1)
right.download_button(
    "Per-layer figures (CSV)",
    lambda: vg.layer_table(profiles, names).to_csv(index=False),  # built on click
    file_name="gradient_flow_layers.csv",
    mime="text/csv",
    on_click="ignore",
    icon=":material/download:",
)
legend = " · ".join(
    f"<span style='color:{color(i)}'>■</span> {name}" for i, name in enumerate(names)
)
st.caption(legend, unsafe_allow_html=True)
