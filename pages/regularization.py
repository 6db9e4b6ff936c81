"""Regularization lab: twin runs under none / L1 / L2 / elastic net / dropout, side by side.

Reads top to bottom like the page: validate the URL, sidebar controls, the job controls, the
live results (weight histogram, loss curves, sparsity, decision boundaries) drawn from the
background job's snapshots, then "why L1 is sparse", the math, and sharing/export. All
variants train as ONE background job in lockstep (engine.reg_lab.TwinRuns): the default
comparison finishes in about a second, so one job gives the first chart as soon as the first
epochs are in and never queues behind itself under the process-wide cap.
"""

from __future__ import annotations

import time

import numpy as np
import streamlit as st

from engine import reg_geometry as rg
from engine import reg_lab as rl
from engine.datasets import DATASETS, Dataset, make_dataset
from engine.jobs import Snapshot, Status
from engine.trainer import Config
from pages.common import jobs as pj
from pages.common import reg_config as rc
from pages.common import urlstate
from viz import regularization as vr
from viz.common import fmt

JOB = "reglab"

st.title("Regularization lab")
st.caption(
    "The same data, seed and initial weights, trained under different regularizers side by "
    "side. Watch L1 push weights to exactly zero while L2 only shrinks them, and see which "
    "variant generalizes best."
)

# --- 1. validate every URL value before any widget reads it ------------------------------
# sanitize() shows its warnings on one run only; the job's end triggers another full run, so
# keep them on screen while the settings stay as repaired (urlstate._NOTES: that run's notes).
pending = list(st.session_state.get(urlstate._NOTES, []))
values = urlstate.sanitize(rc.all_knobs(urlstate.peek(rc.N_VARIANTS)))


def _on_dataset_change() -> None:
    """A new dataset brings its own sample count and noise (not the old dataset's)."""
    spec = DATASETS[st.session_state["data"]]
    st.session_state["n"] = min(spec.n_samples, rc.MAX_SAMPLES)
    st.session_state["noise"] = spec.noise


# --- 2. controls -------------------------------------------------------------------------
sb = st.sidebar
sb.subheader("Data")
dataset = urlstate.widget(rc.DATA, on_change=_on_dataset_change)
c1, c2 = sb.columns(2)
urlstate.widget(rc.N, container=c1)
urlstate.widget(rc.NOISE, container=c2)
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
    with sb.expander(f"Variant {i}: {rc.variant_from_values(i, values).label}", expanded=False):
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

values = {**values, **{k: st.session_state[k] for k in values if k in st.session_state}}
lab, problems = rc.lab_from_values(values)
if pending:
    st.session_state["_reglab_notes"] = (pending, lab)
elif "_reglab_notes" in st.session_state:
    notes, repaired = st.session_state["_reglab_notes"]
    if repaired == lab:
        for note in dict.fromkeys(notes):
            st.warning(note, icon=":material/warning:")
    else:
        del st.session_state["_reglab_notes"]
for problem in problems:
    st.warning(problem, icon=":material/warning:")
depth = len(lab.base.hidden)


# --- 3. training (one background job for every variant) -------------------------------------
def _make_task(lab: rl.LabConfig = lab) -> rl.TwinRuns:
    return rl.TwinRuns(lab)


if pj.session_jobs().get(JOB) is None and not st.session_state.get("_reglab_auto"):
    # First visit: run the default comparison at once (about a second) so the page shows
    # something meaningful without a click.
    st.session_state["_reglab_auto"] = True
    pj.session_jobs().start(JOB, _make_task, name="regularization lab")
    st.session_state.setdefault(pj._SIG, {})[JOB] = lab
pj.job_controls(JOB, _make_task, signature=lab, name="regularization lab")

# view controls (not part of the training config)
view = st.container()
v1, v2, v3 = view.columns([2, 1, 1])
layer_choices = ("all", *(str(i) for i in range(1, depth + 2)))
layer_knob = urlstate.with_default(rc.LAYER, "1", choices=layer_choices)
if values["layer"] not in layer_choices:  # valid in general, not for this network's depth
    st.warning(
        f"Layer (layer={values['layer']}) does not exist in a network with {depth} hidden "
        "layer(s); showing layer 1 instead.",
        icon=":material/warning:",
    )
    st.session_state["layer"] = "1"
layer_key = urlstate.widget(
    layer_knob,
    container=v1,
)
log_count = urlstate.widget(rc.LOG_COUNT, container=v2)
eps = urlstate.widget(rc.EPS, container=v3)
epoch_knob = urlstate.with_default(
    rc.EPOCH, lab.base.epochs, hi=lab.base.epochs, extra={"slider": True}
)
if st.session_state.get("ep", 0) > lab.base.epochs:
    st.session_state["ep"] = lab.base.epochs
epoch_shown = urlstate.widget(
    epoch_knob,
    container=view,
    label="Epoch shown in the histogram (or press ▶ Play under the chart)",
)
layer = None if layer_key == "all" else int(layer_key) - 1


def _layer_name(history) -> str:
    if layer is None:
        return "all layers"
    fi, fo = history.sizes[layer], history.sizes[layer + 1]
    first = " (input)" if layer == 0 else (" (output)" if layer == len(history.sizes) - 2 else "")
    return f"layer {layer + 1}{first}, {fi}×{fo}"


def draw(snap: Snapshot) -> None:
    """Everything that comes from the job: redrawn on each poll while it runs."""
    runs = snap.history
    if not runs or snap.status is Status.QUEUED:
        return
    histories = [r.history for r in runs]
    labels = [r.label for r in runs]  # the job's own variants (the widgets may have changed)
    if layer is not None and layer >= len(histories[0].sizes) - 1:
        st.info("That layer does not exist in the trained network.")
        return
    for r, label in zip(runs, labels, strict=True):
        if r.history.diverged_at is not None:
            st.error(
                f"**{label}** {r.history.message}. The other variants go on; try a smaller "
                "learning rate or λ.",
                icon=":material/trending_up:",
            )
    name = _layer_name(histories[0])
    cols = st.columns(len(runs))
    curves = [rl.sparsity_curve(h, layer, eps) for h in histories]
    for col, h, c, label in zip(cols, histories, curves, labels, strict=True):
        e = rl.last_epoch(h, epoch_shown)
        if e is None:
            continue
        w = rl.layer_values(h, e, layer)
        exact, near = float(np.mean(w == 0)), float(np.mean(np.abs(w) < eps))
        col.metric(
            label,
            f"{exact:.0%} = 0",
            f"{near:.0%}",
            delta_color="off",
            delta_arrow="off",
            delta_description=f"with |w| < {fmt(eps)}",
            chart_data=(100 * c.exact).round(1).tolist(),
            chart_type="area",
            help=f"Share of the {w.size:,} weights of {name} that are exactly 0 at epoch {e} "
            f"(the sparkline: over the epochs), and the share smaller than ε = {fmt(eps)}.",
        )
    hist = vr.histogram_figure(histories, labels, layer, epoch_shown, log_count, name)
    st.plotly_chart(hist, key="hist", config={"displaylogo": False})
    st.caption(hist.layout.meta["note"] if hist.layout.meta else "")
    t_loss, t_sparse, t_bound = st.tabs(
        ["Loss curves", "Sparsity over epochs", "Decision boundaries"]
    )
    with t_loss:
        st.plotly_chart(vr.loss_figure(histories, labels), key="loss")
        table = vr.summary_table(histories, labels)
        for column in ("best val loss", "train loss", "val loss", "gap (val − train)"):
            if column in table:
                table[column] = [fmt(v) for v in table[column]]
        if "val accuracy" in table:
            table["val accuracy"] = [f"{v:.0%}" for v in table["val accuracy"]]
        st.dataframe(table, hide_index=True)
        st.caption(
            "The gap (validation − train loss) is what regularization trades for: a little "
            "worse fit on the training set for a better one on data the network never saw."
        )
    with t_sparse:
        st.plotly_chart(vr.sparsity_figure(curves, labels, name), key="sparsity")
    with t_bound:
        _boundaries(runs)


def _boundaries(runs) -> None:
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
    xs, ys, points = rl.boundary_grid(data)
    probs = [
        rl.class_probability(rl.rebuild(r.config, r.history.sizes, r.final), points) for r in runs
    ]
    figure = vr.boundary_figure(xs, ys, probs, [r.label for r in runs], data.X_train, data.y_train)
    st.plotly_chart(figure, key="bound")


@st.cache_data(max_entries=16, show_spinner=False, hash_funcs={Config: repr})
def _dataset(b: Config) -> Dataset:
    return make_dataset(
        b.dataset, b.n_samples, b.noise, b.data_seed, b.val_fraction, **b.data_options
    )


def _await_first_publication(timeout: float = 0.3) -> None:
    """A job that just started publishes its first history within ~0.1 s: wait for it (at most
    ``timeout``) so this run already draws charts instead of waiting for the next poll."""
    job = pj.session_jobs().get(JOB)
    deadline = time.monotonic() + timeout
    while job is not None and time.monotonic() < deadline:
        snap = job.snapshot()
        if snap.history is not None or snap.status.finished or snap.status is Status.QUEUED:
            return
        time.sleep(0.02)


_await_first_publication()
snap = pj.live_job(JOB, draw, epochs=lab.base.epochs)


# --- 5. why L1 is sparse (no training needed) ------------------------------------------------
st.header("Why L1 makes weights exactly zero")
left, right = st.columns([3, 2])
with right:
    glam = urlstate.widget(rc.GEO_LAMBDA, container=st)
    problem = rg.two_weight_problem()
    w1 = rg.l1_optimum(problem, [glam])[0]
    st.markdown(
        f"L1 sets a weight exactly to 0 from **λ = {rg.l1_zero_lambda(problem):.2f}** on; "
        f"at λ = {glam:.2f} its optimum is ({w1[0]:.3f}, {w1[1]:.3f}). "
        "L2's optimum slides along a curve toward the origin and reaches no axis."
    )
    st.markdown(
        "Minimizing loss + λ·penalty is minimizing the loss inside a ball of the penalty: the "
        "**L1 ball is a diamond** whose corners lie on the axes, so the loss's elliptic "
        "contours usually first touch it at a corner, where a weight is 0. The **L2 ball is "
        "round**: the contact point is almost never on an axis."
    )
with left:
    st.plotly_chart(vr.geometry_figure(problem, glam), key="geometry")


@st.cache_data(max_entries=8, show_spinner="Computing coefficient paths...")
def _paths(name: str, n: int, noise: float, d: int, k: int) -> rg.CoefPaths:
    data = make_dataset(name, n, noise, 0, 0.3, n_features=d, n_informative=k)
    return rg.coefficient_paths(data)


b = lab.base
if "n_features" in DATASETS[b.dataset].options:
    paths = _paths(b.dataset, b.n_samples, b.noise, *b.data_options.values())
else:
    paths = _paths("sparse_regression", 100, 0.1, 50, 5)
    st.caption("Coefficient paths use the few-informative-features data (50 features, 5 matter).")
st.plotly_chart(vr.paths_figure(paths), key="paths")
st.caption(
    "A linear model on the training set, one line per feature. As λ grows, L1 drops the "
    "irrelevant (grey) features to exactly 0 one by one and keeps the informative ones longest; "
    "L2 shrinks every coefficient smoothly and none reaches 0."
)

# --- 6. the math ------------------------------------------------------------------------------
with st.expander("The formulas and the intuition", expanded=False, icon=":material/functions:"):
    st.latex(r"J(w) = L(w) + \lambda_1 \sum_i |w_i| + \lambda_2 \sum_i w_i^2")
    st.latex(
        r"\frac{\partial}{\partial w_i}\,\lambda_1 |w_i| = \lambda_1\,\mathrm{sign}(w_i)"
        r"\qquad \frac{\partial}{\partial w_i}\,\lambda_2 w_i^2 = 2\lambda_2 w_i"
    )
    st.markdown(
        "**L1's pull has a fixed size** λ whatever the weight, so a weight that the data does "
        "not need is pushed all the way to 0. **L2's pull is proportional to w**: it fades as "
        "the weight shrinks, so weights get small but rarely exactly 0."
    )
    st.latex(
        r"\text{proximal L1:}\quad w \leftarrow \mathrm{sign}(w)\,\max(|w| - \eta\lambda_1,"
        r"\,0)"
    )
    st.markdown(
        "Plain subgradient steps make weights oscillate around 0 without landing on it; the "
        "**proximal** step (soft-thresholding) sets them to exactly 0; **truncation** zeroes a "
        "weight whose sign flips in a step."
    )
    st.latex(
        r"\text{dropout:}\quad \tilde h = h \odot m / p,\quad m_j \sim "
        r"\mathrm{Bernoulli}(p)"
    )
    st.markdown(
        "**Dropout** trains a different thinned network at every step, so no unit can rely on "
        "a few others: a regularizer without a penalty term. **Early stopping** keeps the "
        "weights of the epoch with the best validation loss: training longer would fit the "
        "training set's noise."
    )
    st.latex(
        r"\text{L2 penalty with Adam: } g \leftarrow g + 2\lambda_2 w \text{ (then scaled by "
        r"} 1/\sqrt{\hat v}\text{)}\qquad \text{AdamW: } w \leftarrow w(1 - \eta\,wd)"
    )
    st.markdown(
        "With SGD an L2 penalty and weight decay are the same thing (torch's weight_decay = "
        "2λ2). With Adam they differ: the penalty's gradient is divided by Adam's running RMS, "
        "so weights with large gradients are barely decayed; **decoupled weight decay "
        "(AdamW)** shrinks every weight by the same factor. Pick *AdamW* as the optimizer to "
        "compare."
    )

# --- 7. sharing and export ---------------------------------------------------------------------
st.subheader("Share and export")
left, mid, right = st.columns([3, 1, 1])
urlstate.share_link(container=left)
runs = snap.history if snap is not None and snap.history else None
if runs:
    mid.download_button(
        "Histories (CSV)",
        vr.history_frame([r.history for r in runs], [r.label for r in runs]).to_csv(index=False),
        file_name="regularization_histories.csv",
        mime="text/csv",
        on_click="ignore",
        icon=":material/download:",
    )
    right.download_button(
        "Final weights (CSV)",
        vr.weights_frame(runs, [r.label for r in runs]).to_csv(index=False),
        file_name="regularization_weights.csv",
        mime="text/csv",
        on_click="ignore",
        icon=":material/download:",
        disabled=any(r.final is None for r in runs),
    )
else:
    mid.caption("Downloads appear after a run.")
