"""The floor of bench.browser: the smallest Streamlit page with what the race page's
interactions need (one number input, one Plotly chart). Its figures are what Streamlit and
Plotly cost on this machine before any of this app's work: ``python -m bench.browser
--pages floor``."""

import plotly.graph_objects as go
import streamlit as st

rate = st.number_input("Learning rate", value=0.01, step=0.01, format="%.3f")
steps = range(50)
st.plotly_chart(go.Figure(go.Scatter(x=list(steps), y=[rate * s * s for s in steps])), key="c")
