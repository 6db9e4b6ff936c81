"""Home: what the app shows, in a few lines, with a link to every working page."""

import streamlit as st

from pages.common.ui import ensure_router

ensure_router()

st.title("Training dynamics, visualized")
st.markdown(
    "See how neural-network training actually moves: optimizers racing downhill on classic "
    "2D loss surfaces, with every step computed by a small pure-NumPy engine whose update "
    "rules match `torch.optim`. Every setting lives in the URL, so a copied link reproduces "
    "exactly what you see."
)

st.subheader("Pages")
st.page_link(
    "pages/race.py",
    label="Optimizer race: SGD, Momentum, RMSProp, Adagrad and Adam on the Rosenbrock valley",
    icon=":material/sports_score:",
)
st.caption("Try a classic: ")
st.page_link(
    "pages/race.py",
    label="Beale's function: flat plateaus and a narrow valley",
    icon=":material/arrow_forward:",
    query_params={"surface": "beale"},
)
st.page_link(
    "pages/race.py",
    label="An ill-conditioned bowl: why momentum and adaptive steps help",
    icon=":material/arrow_forward:",
    query_params={"surface": "ill_conditioned"},
)
