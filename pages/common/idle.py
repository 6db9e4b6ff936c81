"""A quiet server gives its memory back: the shared caches are dropped after a while unused.

Results and figures are cached process-wide so that a class asking for the same link gets them
at once (engine.result_cache, ``st.cache_data``, the figure caches below). After the class has
gone they would stay until evicted by newer entries: ~50 MB per 10 lab students on seeds of
their own, plus what the allocator keeps (README, "What a class leaves behind"). When no
script or fragment has run, and no job has been running or queued, for
``engine.knobs.IDLE_RELEASE_SECONDS`` (``NNVIZ_IDLE_RELEASE_S``, default 10 min; 0 = never),
a watcher thread drops them all and asks the C allocator to give free memory back
(:func:`engine.memory.trim`). The next visitor
recomputes what they open: deterministic, so the same numbers.

What this cannot drop: a closed tab's session, which Streamlit keeps for a reconnect
(``server.disconnectedSessionTTL``, 120 s) and releases when its session store is next used
(a visitor connecting or leaving), not on a timer; its job views hold their results until then.

Registered here: every ``st.cache_resource`` of shared figures (:func:`releasable`);
``st.cache_data`` is cleared as a whole. Never the compute backend or a session's own jobs.
"""

from __future__ import annotations

import functools
import gc
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import streamlit as st

from engine import knobs, memory
from engine.jobs import default_manager
from engine.result_cache import result_cache

_LOCK = threading.Lock()
_last_activity = time.monotonic()
_released = True  # nothing to release before the first activity
_CLEARS: dict[str, Callable[[], None]] = {}
_AFTER: dict[str, Callable[[], None]] = {}


def releasable(cached: Any) -> Any:
    """Register a shared ``st.cache_resource`` function: its entries go on :func:`release`.
    Keyed by file and name, because a page script defines its functions again on every run."""
    _CLEARS[f"{cached.__wrapped__.__code__.co_filename}:{cached.__qualname__}"] = cached.clear
    return cached


def after_release(name: str, refill: Callable[[], None]) -> None:
    """Run ``refill`` after each release (``serve.py``'s warm-up of the default race: the
    server goes back to the state it started in, not to colder than that)."""
    _AFTER[name] = refill


def mark_activity() -> None:
    """A script or fragment run: the server is not idle."""
    global _last_activity, _released
    with _LOCK:
        _last_activity = time.monotonic()
        _released = False


def busy() -> bool:
    """A job is running or queued: its page polls, or will (a job nobody polls pauses after
    ``engine.knobs.IDLE_PAUSE_SECONDS`` and no longer counts)."""
    manager = default_manager()
    return manager.n_running + manager.n_queued > 0


def release() -> dict[str, int]:
    """Drop every shared cache, collect garbage, trim the heap, then run the
    :func:`after_release` refills; what the results cache held."""
    dropped = result_cache().stats()
    result_cache().clear()
    st.cache_data.clear()
    for clear in list(_CLEARS.values()):
        clear()
    gc.collect()
    memory.trim()
    for refill in list(_AFTER.values()):
        refill()
    return {"entries": dropped["entries"], "bytes": dropped["used"]}


def _due(after: float) -> bool:
    """No job alive, idle for ``after`` seconds and not yet released (then marks it done)."""
    global _released
    if busy():
        return False
    with _LOCK:
        if _released or time.monotonic() - _last_activity < after:
            return False
        _released = True
        return True


def _watch(after: float, stop: threading.Event) -> None:
    """Check every ``after / 4`` s (at most 30 s) until ``stop`` is set; release when due."""
    log = logging.getLogger(__name__)
    while not stop.wait(min(after / 4, 30.0)):
        if not _due(after):
            continue
        try:
            dropped = release()
        except Exception:  # noqa: BLE001 - a failed release must not end the watcher
            log.exception("idle release failed")
            continue
        log.info(
            "idle %.0f s: released the shared caches (%d results, %.0f MB)",
            after,
            dropped["entries"],
            dropped["bytes"] / 2**20,
        )


_FOREVER = threading.Event()  # the server's watcher is never stopped


@functools.cache
def start_watcher(after: float = knobs.IDLE_RELEASE_SECONDS) -> bool:
    """Start the watcher thread, once per process; False if releasing is off (``after`` <= 0)."""
    if after <= 0:
        return False
    thread = threading.Thread(
        target=_watch, args=(after, _FOREVER), name="idle-release", daemon=True
    )
    thread.start()
    return True
