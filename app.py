"""Router: page config and navigation. Adding a page is one line in ``PAGES``.

Run with ``streamlit run serve.py`` (this app, warmed before its first visitor) or
``streamlit run app.py``. Each page is a thin script under ``pages/``; the engine
(``engine/``) is pure NumPy and the figures (``viz/``) are pure Plotly builders.
"""

# pandas first, on every script run. Plotly asks whether pandas is loaded with
# sys.modules.get("pandas"), which returns it while another thread is still importing it:
# "partially initialized module 'pandas' has no attribute 'Series'" broke a figure when a
# page imported pandas lazily while another session drew (tests/browser/test_classroom.py).
# An import statement instead waits for the other thread's import to finish.
import pandas  # noqa: F401
import streamlit as st

from pages.common import idle, warmup

# Process-wide settings and the compute backend (once), then: the server is in use.
warmup.prepare()
idle.mark_activity()

# (script, title, Material icon, url_path, one-sentence help shown as the nav tooltip)
PAGES = [
    ("pages/home.py", "Home", ":material/home:", "home", "What this app shows and where to start."),
    (
        "pages/race.py",
        "Optimizer race",
        ":material/sports_score:",
        "race",
        "Race SGD, Momentum, RMSProp, Adagrad, Adam and friends on classic 2D loss surfaces.",
    ),
    ("pages/regularization.py", "Regularization", ":material/tune:", "regularization", "L1 vs L2"),
    ("pages/gradients.py", "Gradient flow", ":material/layers:", "gradients", "Depth vs gradient"),
]

# The favicon: the 📉 emoji drawn by the browser in an inline SVG, exactly what Streamlit draws
# for page_icon="📉". Given as a data URL spelled in ASCII, because any non-ASCII page icon
# makes Streamlit load its emoji table first (0.07-0.16 s on the first visit of a fresh
# server). A ":material/...:" page icon would be fetched from fonts.gstatic.com (blocked
# offline); the sidebar's Material icons come with Streamlit's own font.
FAVICON = (
    "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 100 100'%3E"
    "%3Ctext y='.9em' font-size='90'%3E%F0%9F%93%89%3C/text%3E%3C/svg%3E"
)
st.set_page_config(page_title="Training dynamics, visualized", page_icon=FAVICON, layout="wide")

# Number boxes are `required` so a bad entry keeps the last value (pages/common/urlstate.py);
# every box always has a value, so the "(required)" label suffix would only be noise.
st.html("<style>[data-testid='stWidgetLabelRequired'] {display: none}</style>")

page = st.navigation(
    [
        st.Page(script, title=title, icon=icon, url_path=path, help=help_, default=i == 0)
        for i, (script, title, icon, path, help_) in enumerate(PAGES)
    ]
)
page.run()
