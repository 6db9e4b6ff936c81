"""A development aid: log every script run of a Streamlit server, and every event it drops.

``PYTHONPATH=bench/runlog python -m bench.classroom`` (any command whose Streamlit server
inherits ``PYTHONPATH``) appends one line per run start and finish, per session, to
``artifacts/runs.log``: ``<unix time> <session> start FULL|fragment <ids>``, the finish
event, and ``DROPPED <event>`` for the events ``AppSession`` ignores because a newer script
runner replaced the one that sent them (Streamlit 1.67 ``AppSession.request_rerun``; see
README, "Background jobs and scaling out"). Count them with e.g.
``awk '{print $3, $4}' artifacts/runs.log | sort | uniq -c``.

Python imports this module at start-up (site.py), before Streamlit; the wrapper is installed
once ``streamlit.runtime.app_session`` has been imported.
"""

import sys
import threading
import time
from pathlib import Path

LOG = Path(__file__).resolve().parents[2] / "artifacts" / "runs.log"
FINISHES = {
    "SCRIPT_STOPPED_WITH_SUCCESS",
    "FRAGMENT_STOPPED_WITH_SUCCESS",
    "SCRIPT_STOPPED_FOR_RERUN",
}


def _line(session, current: bool, event: str, fragment_ids) -> str | None:
    if not current:
        return f"{session} DROPPED {event}"
    if event == "SCRIPT_STARTED":
        return f"{session} start " + (
            "fragment " + ",".join(f[:6] for f in fragment_ids) if fragment_ids else "FULL"
        )
    return f"{session} {event}" if event in FINISHES else None


def _install() -> None:
    from streamlit.runtime import app_session

    handle = app_session.AppSession._handle_scriptrunner_event_on_event_loop

    def logged(self, sender, event, *args, **kwargs):
        # positional, as AppSession._on_scriptrunner_event passes them: forward_msg,
        # exception, client_state, page_script_hash, fragment_ids_this_run, ...
        fragment_ids = kwargs.get("fragment_ids_this_run", args[4] if len(args) > 4 else None)
        current = sender is None or sender is self._scriptrunner
        line = _line(self.id[:8], current, str(event).rsplit(".", 1)[-1], fragment_ids)
        if line:
            LOG.parent.mkdir(exist_ok=True)
            with LOG.open("a") as out:
                out.write(f"{time.time():.3f} {line}\n")
        return handle(self, sender, event, *args, **kwargs)

    app_session.AppSession._handle_scriptrunner_event_on_event_loop = logged


def _wait_for_streamlit() -> None:
    for _ in range(3000):
        if "streamlit.runtime.app_session" in sys.modules:
            _install()
            return
        time.sleep(0.02)


threading.Thread(target=_wait_for_streamlit, daemon=True).start()
