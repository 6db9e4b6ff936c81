"""Mount every ``st.fragment`` in a container of its own, owned by the full run.

Why (a blank page, found with 5 concurrent visitors on a loaded machine, 1 run in 4): a
fragment's elements are a block at the delta path where the fragment is called, e.g. the
status fragment at ``[0, 3, 0]`` and the charts fragment at ``[0, 3, 1]``. Streamlit 1.67
starts every fragment run by clearing that fragment's deltas from the session's unsent
message queue (``ForwardMsgQueue.clear(fragment_ids_this_run=...)``), including those a full
run queued moments before, when the server is too busy to have flushed them. The browser then
gets the full run's "finished" without the fragment blocks, prunes the old ones as stale, and
the next run of the *second* fragment writes at index 1 of a block that has none:
``Bad delta path index 1 (should be between [0, 0])``, and the page goes blank for good
(recorded on the websocket of the stalled page; see tests/test_fragments.py).

A container created by the full run carries no fragment id, so no fragment run clears it.
Inside it the fragment's block is always child 0, and a fragment run re-creates it even
after the browser has pruned it. Every fragment in the app is declared with :func:`fragment`
(``st.fragment`` plus that container), so no call site can forget it. Its every run also
tells :mod:`pages.common.idle` that the server is in use (a page that only reruns its
fragments is a visitor too).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import streamlit as st

from pages.common import idle


def fragment(**options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``@fragment(run_every=..., key=...)``: ``st.fragment(**options)`` whose every call
    draws it as the only child of a new container of the calling run."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            idle.mark_activity()
            return func(*args, **kwargs)

        inner = st.fragment(run, **options)

        @functools.wraps(func)
        def mounted(*args: Any, **kwargs: Any) -> Any:
            with st.container():
                return inner(*args, **kwargs)

        return mounted

    return decorate
