"""The server's entry point: ``streamlit run serve.py`` (the same app as ``app.py``, warmed).

An ``st.App`` around ``app.py`` whose lifespan hook runs :func:`pages.common.warmup.warm`
when the server starts, before it accepts a visitor: the first student of a freshly deployed
link no longer waits for imports and for the default race to be computed. ``streamlit run
app.py`` still works (the warm-up then happens inside the first visitor's page load).
"""

import sys
from contextlib import asynccontextmanager

import anyio
import streamlit as st


@asynccontextmanager
async def lifespan(app):
    # Imported here, after Streamlit's runtime has started (its caches are then the real ones).
    from pages.common import warmup

    seconds = await anyio.to_thread.run_sync(warmup.warm)
    print(f"  Warmed up in {seconds:.1f} s (pages/common/warmup.py).", file=sys.stderr, flush=True)
    yield


app = st.App("app.py", lifespan=lifespan)
