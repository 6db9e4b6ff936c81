"""A quiet server drops its shared caches (pages/common/idle.py); what a class leaves in memory
is measured by ``python -m bench.memory`` (README)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import streamlit as st

from engine.result_cache import result_cache
from pages.common import idle


@pytest.fixture
def calls():
    counts = {"shared": 0, "kept": 0, "data": 0}

    @idle.releasable
    @st.cache_resource(show_spinner=False)
    def shared_figure(x: int) -> int:
        counts["shared"] += 1
        return x

    @st.cache_resource(show_spinner=False)
    def backend_like(x: int) -> int:
        counts["kept"] += 1
        return x

    @st.cache_data(show_spinner=False)
    def data(x: int) -> int:
        counts["data"] += 1
        return x

    yield counts, (shared_figure, backend_like, data)
    shared_figure.clear()
    backend_like.clear()
    idle._CLEARS.pop(next(k for k in idle._CLEARS if k.endswith("shared_figure")))


def test_release_drops_the_shared_caches_only(calls):
    counts, fns = calls
    for fn in fns:
        fn(1)
    result_cache().put("idle-test", np.zeros(125))
    dropped = idle.release()
    assert dropped["entries"] >= 1 and dropped["bytes"] >= 1000
    assert "idle-test" not in result_cache()
    for fn in fns:
        fn(1)
    assert counts == {"shared": 2, "kept": 1, "data": 2}  # rebuilt, kept (not registered), rebuilt


def test_due_once_per_quiet_spell_and_never_while_a_job_runs(monkeypatch):
    monkeypatch.setattr(idle, "busy", lambda: False)
    idle.mark_activity()
    assert not idle._due(0.05)
    time.sleep(0.06)
    assert idle._due(0.05)
    assert not idle._due(0.05)  # released already: not again until someone comes
    idle.mark_activity()
    time.sleep(0.06)
    monkeypatch.setattr(idle, "busy", lambda: True)
    assert not idle._due(0.05)
    monkeypatch.setattr(idle, "busy", lambda: False)
    assert idle._due(0.05)


def test_the_watcher_releases_after_the_quiet_time(monkeypatch):
    monkeypatch.setattr(idle, "busy", lambda: False)
    stop = threading.Event()
    result_cache().put("idle-watch", b"y" * 10)
    idle.mark_activity()
    watcher = threading.Thread(target=idle._watch, args=(0.2, stop), daemon=True)
    watcher.start()
    try:
        time.sleep(0.1)
        assert "idle-watch" in result_cache()  # not yet quiet for 0.2 s
        deadline = time.monotonic() + 5
        while "idle-watch" in result_cache() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert "idle-watch" not in result_cache()
    finally:
        stop.set()
        watcher.join(2)
    assert not watcher.is_alive()


def test_zero_turns_releasing_off():
    assert idle.start_watcher(0) is False


def test_busy_counts_running_and_queued_jobs(monkeypatch):
    class Manager:
        n_running, n_queued = 0, 0

    manager = Manager()
    monkeypatch.setattr(idle, "default_manager", lambda: manager)
    assert not idle.busy()
    manager.n_queued = 1
    assert idle.busy()
    manager.n_queued, manager.n_running = 0, 1
    assert idle.busy()


def test_after_a_release_the_refills_run_on_the_emptied_caches(calls, monkeypatch):
    counts, (shared_figure, _, _) = calls
    shared_figure(1)
    seen = []
    monkeypatch.setitem(idle._AFTER, "refill", lambda: seen.append(shared_figure(1)))
    idle.release()
    assert seen == [1] and counts["shared"] == 2  # dropped, then rebuilt by the refill
    shared_figure(1)
    assert counts["shared"] == 2  # the next visitor reads the refilled entry
