"""Home: what the app shows, in a few lines, with a link to every working page."""

import streamlit as st

from pages.common.ui import ensure_router

ensure_router()

st.title("Training dynamics, visualized")
st.markdown(
    "See how neural-network training actually moves. A small pure-NumPy engine (update rules "
    "that match `torch.optim` step for step, backpropagation checked against finite "
    "differences) drives three interactive pages. Every setting lives in the URL, so a copied "
    "link reproduces exactly what you see."
)

race, reg, grad = st.columns(3, gap="large")

with race, st.container(border=True):
    st.page_link("pages/race.py", label="**Optimizer race**", icon=":material/sports_score:")
    st.markdown(
        "SGD, Momentum, RMSProp, Adagrad, Adam and friends race downhill on classic 2D loss "
        "surfaces. Watch momentum overshoot, Adagrad stall, Adam adapt."
    )
    st.page_link(
        "pages/race.py",
        label="Beale's plateaus",
        help="Beale: flat plateaus and a narrow valley",
        icon=":material/arrow_forward:",
        query_params={"surface": "beale"},
    )
    st.page_link(
        "pages/race.py",
        label="An ill-conditioned bowl",
        help="An ill-conditioned bowl: why momentum helps",
        icon=":material/arrow_forward:",
        query_params={"surface": "ill_conditioned"},
    )

with reg, st.container(border=True):
    st.page_link("pages/regularization.py", label="**Regularization lab**", icon=":material/tune:")
    st.markdown(
        "Twin networks trained side by side with no penalty, L1, L2 and dropout. See L1 push "
        "weights to exactly zero while L2 only shrinks them, and who generalizes better."
    )

with grad, st.container(border=True):
    st.page_link("pages/gradients.py", label="**Gradient flow**", icon=":material/layers:")
    st.markdown(
        "Per-layer gradient norms against depth: vanishing with saturating sigmoids, "
        "exploding with large weights, and the fixes (He init, residuals, clipping)."
    )
    st.page_link(
        "pages/gradients.py",
        label="W = 1.5·I explodes",
        help="A 50-layer linear net with W = 1.5·I: gradients grow as 1.5^L",
        icon=":material/arrow_forward:",
        query_params={"n": "1", "act1": "linear", "init1": "identity", "c1": "1.5", "depth1": "50"},
    )

st.caption(
    "Built for students and teachers of deep learning, and for practitioners who want "
    "intuition about an optimizer, an initialization or a regularizer before spending GPU "
    "hours."
)
