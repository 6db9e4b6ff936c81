"""Regularization lab: twin runs under none / L1 / L2 / elastic net / dropout, side by side.

Reads top to bottom like the page: validate the URL, sidebar controls, the job controls, the
live results (weight histogram, loss curves, sparsity, decision boundaries) drawn from the
background job's snapshots, then "why L1 is sparse", the math (pages.common.reg_lessons), and
sharing/export; the job-dependent parts are filled in last (see section 4). All variants
train as ONE background job in lockstep (engine.reg_lab.TwinRuns): the default comparison
finishes in about a second, so one job gives the first chart as soon as the first epochs are
in and never queues behind itself under the process-wide cap. How the job is drawn (light
while live, full and cached once finished, throttled polls): pages.common.reg_live.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import numpy as np
import streamlit as st

from engine import budget
from engine import reg_lab as rl
from engine.datasets import DATASETS, Dataset, make_dataset
from engine.jobs import Snapshot, Status
from engine.trainer import Config
from pages.common import budget_gate as gate
from pages.common import jobs as pj
from pages.common import reg_config as rc
from pages.common import reg_lessons as lessons
from pages.common import reg_live as live_view
from pages.common import urlstate
from viz import regularization as vr
from viz.common import fmt

JOB = "reglab"

st.title("Regularization lab")
st.caption(
    "One network, four copies: the same data, seed and initial weights, each trained under "
    "its own regularizer. Watch L1 push weights to **exactly zero** (the hatched spike at 0) "
    "while L2 only shrinks them, and compare which one generalizes best."
)

# --- 1. validate every URL value before any widget reads it ------------------------------
KNOBS = rc.all_knobs(urlstate.peek(rc.N_VARIANTS), urlstate.peek(rc.DATA))
values = urlstate.sanitize(KNOBS)
N_KNOB, NOISE_KNOB = rc.data_knobs(values["data"])


def _on_dataset_change() -> None:
    """A new dataset brings its own sample count and noise (not the old dataset's)."""
    st.session_state.update(rc.data_defaults(st.session_state["data"]))


# --- 2. controls -------------------------------------------------------------------------
sb = st.sidebar
sb.subheader("Data")
dataset = urlstate.widget(rc.DATA, on_change=_on_dataset_change)
c1, c2 = sb.columns(2)
urlstate.widget(N_KNOB, container=c1)
urlstate.widget(NOISE_KNOB, container=c2)
if "n_features" in DATASETS[dataset].options:
    c1, c2 = sb.columns(2)
    urlstate.widget(rc.FEATURES, container=c1)
    urlstate.widget(rc.INFORMATIVE, container=c2)
sb.subheader("Network and optimizer")
c1, c2 = sb.columns(2)
urlstate.widget(rc.DEPTH, container=c1)
urlstate.widget(rc.WIDTH, container=c2)
urlstate.widget(rc.ACTIVATION)
c1, c2 = sb.columns(2)
urlstate.widget(rc.OPTIMIZER, container=c1)
urlstate.widget(rc.LR, container=c2)
c1, c2, c3 = sb.columns(3)
urlstate.widget(rc.EPOCHS, container=c1)
urlstate.widget(rc.BATCH, container=c2)
urlstate.widget(rc.SEED, container=c3)

sb.subheader("Variants")
n_variants = urlstate.widget(rc.N_VARIANTS)
for i in range(1, n_variants + 1):
    kind_k, l1_k, l2_k, m_k, p_k, es_k, pat_k = rc.variant_knobs(i)
    label = f"Variant {i}: {rc.variant_from_values(i, values).label}"
    with sb.expander(label, key=f"_variant_box{i}"):  # keyed: stays open as its label changes
        kind = urlstate.widget(kind_k, container=st)
        if kind in ("l1", "elastic"):
            urlstate.widget(l1_k, container=st)
            urlstate.widget(m_k, container=st)
        if kind in ("l2", "elastic"):
            urlstate.widget(l2_k, container=st)
        if kind == "dropout":
            urlstate.widget(p_k, container=st)
        if urlstate.widget(es_k, container=st):
            urlstate.widget(pat_k, container=st)

values = {**values, **{k.key: urlstate.peek(k) for k in KNOBS if k.key in st.session_state}}
lab, problems = rc.lab_from_values(values)
# sanitize() warns on one run only; the job's end triggers another full run: keep the
# warnings on screen while the settings stay as repaired
urlstate.sticky_notes(lab, key=JOB)
for problem in problems:
    st.warning(problem, icon=":material/warning:")
depth = len(lab.base.hidden)


# --- 3. training (one background job for every variant) -------------------------------------
# a partial of the task class: it pickles to a worker process and its canonical settings let
# every session asking for the same comparison share one run (pages.common.jobs.task_key)
_make_task = functools.partial(rl.TwinRuns, lab)


# Budget before work: a link starts the job by itself only within the per-request budget;
# over it the estimate waits for a click on Start, over a hard cap Start is off.
cost = gate.decide(budget.reg_lab(lab))
if pj.session_jobs().get(JOB) is None and not st.session_state.get("_reglab_auto"):
    # First visit: run the comparison at once (the default takes about a second) so the page
    # shows something meaningful without a click.
    st.session_state["_reglab_auto"] = True
    if gate.may_autostart(cost):
        pj.start_job(JOB, _make_task, name="regularization lab")
        st.session_state.setdefault(pj._SIG, {})[JOB] = lab
# the buttons are drawn in section 4, after a short run has had its chance to finish: drawn
# now, Pause and Stop would stay enabled on a run that is already over
controls = st.container()

# view options (not part of the training config): their widgets sit under the histogram,
# inside the live fragment (changing one reruns only the results)
layer_choices = ("all", *(str(i) for i in range(1, depth + 2)))
if values["layer"] not in layer_choices:  # valid in general, not for this network's depth
    st.warning(
        f"Layer (layer={values['layer']}) does not exist in a network with {depth} hidden "
        "layer(s); showing layer 1 instead.",
        icon=":material/warning:",
    )
    st.session_state["layer"] = "1"
if st.session_state.get("ep", 0) > lab.base.epochs:
    st.session_state["ep"] = lab.base.epochs


@dataclass(frozen=True)
class View:
    """What the results show: ``layer`` (0-based, None = all), the epoch, log counts, ε, and
    ``restored``: early-stopped variants show their restored (best-epoch) model."""

    layer: int | None
    epoch: int
    log_count: bool
    eps: float
    restored: bool = True


def _view_controls(early_stopped: bool) -> View:
    """The view widgets in one row: layer, log count, ε, and the histogram's epoch; with an
    early-stopped variant, first the model shown (restored by default, or the last epoch)."""
    restored = True
    if early_stopped:
        restored = (
            urlstate.widget(
                rc.MODEL,
                container=st,
                format_func={
                    "restored": "Restored model (best epoch)",
                    "last": "Last epoch trained",
                }.get,
                help="Early stopping put back the best epoch's weights: every view below (metrics, "
                "histogram, table, decision regions, weights CSV) shows that model. Pick the "
                "last epoch to see where training stopped.",
            )
            == "restored"
        )
    c1, c2, c3, c4 = st.columns([1.1, 1.3, 1.2, 3.2], vertical_alignment="bottom")
    layer_knob = urlstate.with_default(rc.LAYER, "1", choices=layer_choices)
    layer_key = urlstate.widget(layer_knob, container=c1)
    log_count = urlstate.widget(rc.LOG_COUNT, container=c2)
    eps = urlstate.widget(rc.EPS, container=c3)
    epoch_knob = urlstate.with_default(
        rc.EPOCH, lab.base.epochs, hi=lab.base.epochs, extra={"slider": True}
    )
    epoch = urlstate.widget(
        epoch_knob, container=c4, label="Epoch of the metrics and histogram (or ▶ Play)"
    )
    layer = None if layer_key == "all" else int(layer_key) - 1
    return View(layer, epoch, log_count, eps, restored)


def _layer_name(history, layer: int | None) -> str:
    if layer is None:
        return "all layers"
    fi, fo = history.sizes[layer], history.sizes[layer + 1]
    first = " (input)" if layer == 0 else (" (output)" if layer == len(history.sizes) - 2 else "")
    return f"layer {layer + 1}{first}, {fi}×{fo}"


def draw(snap: Snapshot) -> None:
    """Everything that comes from the job (see pages.common.reg_live): while it trains, each
    poll draws the light charts; once it has finished, the full ones, built once."""
    snap, fresh = live_view.throttled(snap)
    runs = snap.history
    if not runs or snap.status is Status.QUEUED:
        return
    started = time.perf_counter()
    live = snap.status.active
    histories = [r.history for r in runs]
    labels = [r.label for r in runs]  # the job's own variants (the widgets may have changed)
    for r, label in zip(runs, labels, strict=True):
        if r.history.diverged_at is not None:
            st.error(
                f"**{label}** {r.history.message}. The other variants go on; try a smaller "
                "learning rate or λ.",
                icon=":material/trending_up:",
            )
    top = st.container()
    view = _view_controls(any(h.restored_epoch is not None for h in histories))
    layer = view.layer
    if layer is not None and layer >= len(histories[0].sizes) - 1:
        top.info("That layer does not exist in the trained network.")
        return
    tag = (snap.job_id, snap.version)
    name = _layer_name(histories[0], layer)
    shown = [rl.shown_epoch(h, view.epoch, view.restored) for h in histories]
    with top:
        _sparsity_metrics(histories, labels, name, view, shown)
        hist = live_view.cached_figure(
            tag,
            ("hist", layer, view.epoch, view.log_count, view.restored),
            lambda: vr.histogram_figure(
                histories,
                labels,
                layer,
                view.epoch,
                view.log_count,
                name,
                animate=not live,
                shown=shown if view.restored else None,
            ),
        )
        st.plotly_chart(hist, key="hist", config={"displaylogo": False})
        st.caption(hist.layout.meta["note"] if hist.layout.meta else "")
        for i, (h, label) in enumerate(zip(histories, labels, strict=True)):
            if rl.blown_up(h) and not all(map(rl.blown_up, histories)):
                own = live_view.cached_figure(
                    tag,
                    ("blown", i, layer),
                    lambda h=h, label=label, i=i: vr.blown_histogram_figure(
                        h, label, i, layer, name
                    ),
                )
                st.plotly_chart(own, key=f"blown_{i}")
                st.caption(
                    f"{label} is left out of the shared histogram above: its weights would "
                    "stretch the shared range until the other variants fall into one bin. "
                    + (own.layout.meta["note"] if own.layout.meta else "")
                )
    # lazy tabs: only the open one runs (and sends its chart) on each poll
    t_loss, t_sparse, t_bound = st.tabs(
        ["Loss curves", "Sparsity over epochs", "Decision boundaries"],
        key="reg_tab",
        on_change="rerun",
    )
    if t_loss.open:
        with t_loss:
            axis = urlstate.widget(rc.LOSS_AXIS, container=st, width=220)
            spans = vr.loss_spans_decades(histories)
            log = axis == "log" or (axis == "auto" and spans)
            if axis == "auto" and spans:
                st.caption("Log scale: these losses span more than two powers of ten.")
            loss = live_view.cached_figure(
                tag, ("loss", log), lambda: vr.loss_figure(histories, labels, log=log)
            )
            st.plotly_chart(loss, key="loss")
            table = vr.summary_table(histories, labels, restored=view.restored)
            st.markdown(live_view.summary_markdown(table, labels))
            st.caption(
                "The gap (validation − train loss) is what regularization trades for: a little "
                "worse fit on the training set for a better one on data the network never saw."
            )
    if t_sparse.open:
        with t_sparse:
            sparsity = live_view.cached_figure(
                tag,
                ("sparsity", layer, view.eps),
                lambda: vr.sparsity_figure(
                    [rl.sparsity_curve(h, layer, view.eps) for h in histories], labels, name
                ),
            )
            st.plotly_chart(sparsity, key="sparsity")
    if t_bound.open:
        with t_bound:
            if live:
                st.caption("The decision regions appear when training ends.")
            else:
                _boundaries(runs, tag, view.restored)
    if live and fresh:
        live_view.record_draw(time.perf_counter() - started)


def _sparsity_metrics(histories, labels, name: str, view: View, shown) -> None:
    """One metric per variant, in its colour: "91% exactly zero", "|w| < 0.001: 93%", of the
    model each view shows (``shown``: its epoch; an early-stopped variant's restored one is
    labelled so). (No sparkline: it would load the Vega bundle and repaint four charts on
    every poll.)"""
    cols = st.columns(len(histories))
    for i, (col, h, label, e) in enumerate(zip(cols, histories, labels, shown, strict=True)):
        if e is None:
            continue
        if h.restored_epoch is not None and e == h.restored_epoch and view.restored:
            label = f"{label} · epoch {e}, restored"
        elif h.restored_epoch is not None or rl.blown_up(h):
            label = f"{label} · epoch {e}"
        w = rl.layer_values(h, e, view.layer)
        value, delta = live_view.sparsity_texts(
            float(np.mean(w == 0)), float(np.mean(np.abs(w) < view.eps)), view.eps
        )
        col.metric(
            live_view.coloured(label, i),
            value,
            delta,
            delta_color="off",
            delta_arrow="off",
            help=f"Share of the {w.size:,} weights of {name} that are exactly 0 at epoch {e}, "
            f"and the share smaller than ε = {fmt(view.eps)} in magnitude (over the epochs: "
            "the Sparsity tab).",
        )


def _boundaries(runs, tag, restored: bool = True) -> None:
    data = _dataset(runs[0].config)
    if data.n_features != 2:
        st.info(
            f"Decision boundaries are drawn for the 2D datasets; {data.name} has "
            f"{data.n_features} features. Pick moons, circles, spirals, xor or blobs."
        )
        return
    if any(r.final is None for r in runs):
        st.caption("The decision regions appear when training ends.")
        return

    models = [rl.model_params(r, restored) for r in runs]

    def build():
        xs, ys, points = rl.boundary_grid(data)
        probs = [
            rl.class_probability(rl.rebuild(r.config, r.history.sizes, params), points)
            for r, (params, _) in zip(runs, models, strict=True)
        ]
        labels = [
            f"{r.label} (epoch {e}{', restored' if e == r.history.restored_epoch else ''})"
            if r.history.restored_epoch is not None
            else r.label
            for r, (_, e) in zip(runs, models, strict=True)
        ]
        return vr.boundary_figure(xs, ys, probs, labels, data.X_train, data.y_train)

    st.plotly_chart(live_view.cached_figure(tag, ("bound", restored), build), key="bound")


@st.cache_data(max_entries=16, show_spinner=False, hash_funcs={Config: repr})
def _dataset(b: Config) -> Dataset:
    return make_dataset(
        b.dataset, b.n_samples, b.noise, b.data_seed, b.val_fraction, **b.data_options
    )


# --- 4. the page's order: results, lessons, sharing -------------------------------------------
# The lessons need no training: send them first (cached, instant; their chart also makes the
# browser start loading Plotly), then wait briefly for a short run and draw the job's parts
# into the places reserved for them.
results = st.container()
lessons.why_l1(lab.base)
lessons.formulas()
export = st.container()
live_view.await_job(pj.session_jobs().get(JOB))
with controls:
    gate.job_notice(cost)
    pj.job_controls(
        JOB,
        _make_task,
        signature=lab,
        name="regularization lab",
        start_label=gate.start_label(cost),
        disabled=gate.start_disabled(cost, JOB),
    )
    gate.track(JOB, pj.session_jobs().get(JOB), cost)
with results:
    snap = pj.live_job(
        JOB,
        draw,
        epochs=lab.base.epochs,
        redraw_every=live_view.redraw_gap(),
    )

# --- 5. sharing and export ---------------------------------------------------------------------
with export:
    # the CSVs are built when clicked (a callable), not on every visitor's every run
    mid, right = urlstate.share_row(1, 1.2)
    runs = snap.history if snap is not None and snap.history else None
    restored = st.session_state.get(rc.MODEL.key, rc.MODEL.default) == "restored"
    if runs:
        mid.download_button(
            "Histories (CSV)",
            lambda: vr.history_frame([r.history for r in runs], [r.label for r in runs]).to_csv(
                index=False
            ),
            file_name="regularization_histories.csv",
            mime="text/csv",
            on_click="ignore",
            icon=":material/download:",
        )
        right.download_button(
            "Final weights (CSV)",
            lambda: vr.weights_frame(runs, [r.label for r in runs], restored=restored).to_csv(
                index=False
            ),
            file_name="regularization_weights.csv",
            mime="text/csv",
            on_click="ignore",
            icon=":material/download:",
            disabled=any(r.final is None for r in runs),
        )
    else:
        mid.caption("Downloads appear after a run.")
