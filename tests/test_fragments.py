"""Every fragment is child 0 of a container the full run owns (pages/common/fragments.py).

A fragment run clears that fragment's unsent deltas, including a busy server's pending full
run's; a fragment placed at index > 0 of a shared block then writes past the block's end in
the browser, which blanks the page ("Bad delta path index 1 (should be between [0, 0])",
seen with 5 concurrent visitors on a loaded machine). The messages a page sends are what the
browser gets, so the check is on them: every delta the page enqueues is recorded, and each
fragment's root block must be at index 0 under a block that carries no fragment id.
"""

from __future__ import annotations

import pytest
from streamlit.runtime import forward_msg_queue

from engine.jobs import default_manager
from tests.test_budget_pages import _Slow  # a task that holds a slot until stopped

REG = "pages/regularization.py"
GRAD = "pages/gradients.py"
RACE = "pages/race.py"


def _forget_session_jobs() -> None:
    from pages.common.jobs import session_jobs

    session_jobs.clear()


@pytest.fixture(autouse=True)
def _fresh(monkeypatch):
    """No jobs carried over between tests (AppTests share one session id); the router guard
    off so a Start click lands (see tests/test_budget_pages.py)."""
    from streamlit.testing.v1 import AppTest

    from pages.common import urlstate

    monkeypatch.setattr(urlstate, "ensure_router", lambda: None)
    AppTest.from_function(_forget_session_jobs).run()
    yield
    default_manager().stop_all(timeout=5)
    AppTest.from_function(_forget_session_jobs).run()


@pytest.fixture
def deltas(monkeypatch):
    """``(delta path, fragment id)`` of every delta enqueued from now on ('' outside one)."""
    sent: list[tuple[tuple[int, ...], str]] = []
    enqueue = forward_msg_queue.ForwardMsgQueue.enqueue

    def recording(queue, msg):
        if msg.WhichOneof("type") == "delta":
            sent.append((tuple(msg.metadata.delta_path), msg.delta.fragment_id))
        return enqueue(queue, msg)

    monkeypatch.setattr(forward_msg_queue.ForwardMsgQueue, "enqueue", recording)
    return sent


def _fragment_roots(sent) -> dict[str, tuple[int, ...]]:
    """Each fragment's outermost block: the shortest delta path tagged with its id."""
    roots: dict[str, tuple[int, ...]] = {}
    for path, fragment in sent:
        if fragment and (fragment not in roots or len(path) < len(roots[fragment])):
            roots[fragment] = path
    return roots


def _assert_mounted(sent, expected: int) -> None:
    roots = _fragment_roots(sent)
    assert len(roots) == expected, roots
    owned_by_full_run = {path for path, fragment in sent if not fragment}
    for path in roots.values():
        assert path[-1] == 0, f"fragment at {path}: not the first child of its container"
        assert path[:-1] in owned_by_full_run, f"fragment at {path}: parent not a page block"


def test_race_map_and_tabs_fragments_are_mounted(open_page, deltas):
    at = open_page(RACE)
    assert not at.exception
    _assert_mounted(deltas, expected=2)  # the map with its step cursor, the tabs


def test_lab_status_and_chart_fragments_are_mounted(open_page, deltas):
    at = open_page(REG)  # the default link starts its run by itself
    assert not at.exception
    _assert_mounted(deltas, expected=2)  # the progress line, the live charts


def test_gradient_training_fragments_are_mounted(open_page, deltas):
    at = open_page(GRAD, tab="Training (live)")
    next(b for b in at.button if b.key == "gradflow_start").click().run()
    assert not at.exception and default_manager().jobs()
    _assert_mounted(deltas, expected=2)


def test_a_queued_run_tells_its_place_on_its_status_line(open_page, deltas):
    manager = default_manager()
    for i in range(manager.max_running):  # every slot taken: the lab's run must wait
        manager.submit(_Slow(), name=f"blocker {i}")
    at = open_page(REG, seed="7")  # a seed no other test ran: no cached result
    assert not at.exception
    told = [e.value for e in at.info if "Queued: position" in str(e.value)]
    assert len(told) == 1 and "; starts in " in told[0], told  # said once, with the wait
    _assert_mounted(deltas, expected=2)  # the progress/status line (which tells it), the charts
