"""Small Streamlit helpers shared by every page."""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from viz.common import color


def ensure_router() -> None:
    """Make sure the page runs under ``app.py``'s ``st.navigation``, even on a deep link.

    Streamlit 1.67 sees the ``pages/`` folder at start-up and assumes the legacy multipage
    mode until ``st.navigation`` is first called. If the first request a fresh server gets
    is a deep link (``/race?surface=beale``), the page script would run WITHOUT ``app.py``
    (no page config, legacy navigation). Switching the mode off and rerunning hands the same
    request to ``app.py``, which routes to the same page (page identity is the url_path).
    Costs nothing after the first request of the process.
    """
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def coloured(text: str, i: int, bold: bool = True) -> str:
    """Markdown that shows ``text`` in entry ``i``'s colour (``viz.common.color``), for labels
    of ``st.metric``, expanders and the like (Streamlit's ``:color[...]{foreground=...}``)."""
    safe = text.replace("[", "(").replace("]", ")")
    body = f"**{safe}**" if bold else safe
    return f':color[{body}]{{foreground="{color(i)}"}}'
