"""The Regularization lab's lessons that need no training: why L1 is sparse, the formulas.

Streamlit sections the page calls (pages/regularization.py). Their figures are pure and
deterministic, so they are built once per process (``st.cache_resource``: shared, never
modified) instead of on every rerun: the paths figure alone costs ~0.3 s to build and the
lasso path ~0.6 s to compute. The heavy or rarely read parts (the coefficient paths, the
formulas with their KaTeX bundle) sit in lazy expanders: sent and drawn only while open.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from engine import reg_geometry as rg
from engine.datasets import DATASETS, make_dataset
from engine.trainer import Config
from pages.common import idle, urlstate
from pages.common import reg_config as rc
from viz import regularization as vr


@idle.releasable
@st.cache_resource(max_entries=64, show_spinner=False)
def _geometry(glam: float) -> tuple[go.Figure, float, np.ndarray]:
    """(figure, λ from which L1 zeroes a weight, L1 optimum at ``glam``) of the 2-weight toy."""
    problem = rg.two_weight_problem()
    return (
        vr.geometry_figure(problem, glam),
        rg.l1_zero_lambda(problem),
        rg.l1_optimum(problem, [glam])[0],
    )


@idle.releasable
@st.cache_resource(max_entries=8, show_spinner="Computing coefficient paths...")
def _paths_figure(name: str, n: int, noise: float, d: int, k: int) -> go.Figure:
    data = make_dataset(name, n, noise, 0, 0.3, n_features=d, n_informative=k)
    return vr.paths_figure(rg.coefficient_paths(data))


def why_l1(b: Config) -> None:
    """The 2-weight picture (diamond vs circle, λ slider) and, in a lazy expander, the
    coefficient paths on ``b``'s dataset (or the default sparse one)."""
    st.header("Why L1 makes weights exactly zero")
    left, right = st.columns([3, 2])
    with right:
        glam = urlstate.widget(rc.GEO_LAMBDA, container=st)
        geometry, zero_lambda, w1 = _geometry(glam)
        st.markdown(
            f"L1 sets a weight exactly to 0 from **λ = {zero_lambda:.2f}** on; "
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
        st.plotly_chart(geometry, key="geometry")

    # lazy: the paths chart (100 lines) is sent and drawn only while the expander is open
    paths_box = st.expander(
        "Coefficient paths: every feature's weight as λ grows (L1 zeroes them one by one)",
        icon=":material/timeline:",
        key="reg_paths",
        on_change="rerun",
    )
    if paths_box.open:
        with paths_box:
            if "n_features" in DATASETS[b.dataset].options:
                paths = _paths_figure(b.dataset, b.n_samples, b.noise, *b.data_options.values())
            else:
                paths = _paths_figure("sparse_regression", 100, 0.1, 50, 5)
                st.caption(
                    "Coefficient paths use the few-informative-features data (50 features, 5 "
                    "matter)."
                )
            st.plotly_chart(paths, key="paths")
            st.caption(
                "A linear model on the training set, one line per feature. As λ grows, L1 drops "
                "the irrelevant (grey) features to exactly 0 one by one and keeps the informative "
                "ones longest; L2 shrinks every coefficient smoothly and none reaches 0."
            )


def formulas() -> None:
    """The penalties, their gradients, proximal L1, dropout, L2 vs AdamW (lazy expander)."""
    # lazy: the formulas (and the KaTeX bundle) load only when opened
    math_box = st.expander(
        "The formulas and the intuition",
        icon=":material/functions:",
        key="reg_math",
        on_change="rerun",
    )
    if math_box.open:
        with math_box:
            st.latex(r"J(w) = L(w) + \lambda_1 \sum_i |w_i| + \lambda_2 \sum_i w_i^2")
            st.latex(
                r"\frac{\partial}{\partial w_i}\,\lambda_1 |w_i| = \lambda_1\,\mathrm{sign}(w_i)"
                r"\qquad \frac{\partial}{\partial w_i}\,\lambda_2 w_i^2 = 2\lambda_2 w_i"
            )
            st.markdown(
                "**L1's pull has a fixed size** λ whatever the weight, so a weight that the data "
                "does not need is pushed all the way to 0. **L2's pull is proportional to w**: it "
                "fades as the weight shrinks, so weights get small but rarely exactly 0."
            )
            st.latex(
                r"\text{proximal L1:}\quad w \leftarrow \mathrm{sign}(w)\,\max(|w| - \eta\lambda_1,"
                r"\,0)"
            )
            st.markdown(
                "Plain subgradient steps make weights oscillate around 0 without landing on it; the"
                " **proximal** step (soft-thresholding) sets them to exactly 0; **truncation** "
                "zeroes a weight whose sign flips in a step."
            )
            st.latex(
                r"\text{dropout:}\quad \tilde h = h \odot m / p,\quad m_j \sim "
                r"\mathrm{Bernoulli}(p)"
            )
            st.markdown(
                "**Dropout** trains a different thinned network at every step, so no unit can rely "
                "on a few others: a regularizer without a penalty term. **Early stopping** keeps "
                "the weights of the epoch with the best validation loss: training longer would fit "
                "the training set's noise."
            )
            st.latex(
                r"\text{L2 penalty with Adam: } g \leftarrow g + 2\lambda_2 w"
                r"\text{ (then scaled by } 1/\sqrt{\hat v}\text{)}"
                r"\qquad \text{AdamW: } w \leftarrow w(1 - \eta\,wd)"
            )
            st.markdown(
                "With SGD an L2 penalty and weight decay are the same thing (torch's weight_decay ="
                " 2λ2). With Adam they differ: the penalty's gradient is divided by Adam's running "
                "RMS, so weights with large gradients are barely decayed; **decoupled weight decay "
                "(AdamW)** shrinks every weight by the same factor. Pick *AdamW* as the optimizer "
                "to compare."
            )
