"""Five students open the same /regularization link at once: every page reaches a finished run.

(The class-sized figures, 20 sessions with CPU and latency, are ``python -m bench.classroom``.)
"""

from __future__ import annotations

from bench.classroom import TIMELINE_JS

STUDENTS = 5
# Generous: the five sessions share the machine's cores with the server and its workers (and,
# on a shared CI machine, with whatever else runs); this checks that they all finish, not how
# fast (that is bench.classroom's job).
FINISH_WITHIN_MS = 600_000


def test_five_concurrent_sessions_on_one_link_all_finish(browser, app_url):
    contexts, pages = [], []
    try:
        for _ in range(STUDENTS):
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            page = context.new_page()
            page.add_init_script(TIMELINE_JS)
            page.goto(f"{app_url}/regularization", wait_until="commit", timeout=120_000)
            contexts.append(context)
            pages.append(page)
        for i, page in enumerate(pages):
            page.wait_for_function("() => 'finished' in window.__t", timeout=FINISH_WITHIN_MS)
            marks = page.evaluate("window.__t")
            assert "finished" in marks, f"session {i + 1} did not finish"
    finally:
        for context in contexts:
            context.close()
