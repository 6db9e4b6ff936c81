"""Budgets on the page: nothing over budget starts without a click, nothing over a hard cap at all.

One implementation for every page (engine.budget does the arithmetic):

* :func:`decide` estimates with this server's limits (knob defaults, ``BUDGET_*`` overrides).
* Inline computations (the Gradient-flow at-init profile): :func:`consent` returns True when
  the work may run now: within budget at once; over budget only after the visitor pressed the
  start button it shows beside the estimate ("about 3 min, 1.2 GB"), remembered for the same
  settings; above a hard cap never (a clear error instead).
* Background jobs: :func:`may_autostart` says whether a link may start the job by itself;
  :func:`job_notice` shows the estimate/refusal above the job controls, and
  :func:`start_disabled` whether the Start button is off (refused, or this session already runs
  :attr:`engine.budget.Limits.session_jobs` jobs). Pressing Start is the explicit consent.
* :func:`track` puts a started job's estimate on the job (``engine.jobs.Job.estimate``);
  :func:`queue_wait` is a queued visitor's place and an honest wait
  (``engine.jobs.JobManager.queue_wait``), which the job's status line
  (:func:`pages.common.jobs.live_job`) tells.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from engine import budget
from engine.budget import Decision, Verdict

_CONSENT = "_budget_consent"  # session-state key: {gate key: signature consented to}
_JOBS = "_budget_jobs"  # session-state key: job slot keys this session started through a gate


def decide(estimate: budget.Estimate) -> Decision:
    """``engine.budget.decide`` under this server's limits."""
    return budget.decide(estimate, budget.limits())


def consent(key: str, decision: Decision, signature: Any, *, action: str = "Run it") -> bool:
    """Whether an inline computation may run now (see the module docstring).

    ``signature`` stands for the settings: a consent holds for them only, so changing a knob
    to something else over budget asks again.
    """
    if decision.verdict is Verdict.RUN:
        return True
    if decision.verdict is Verdict.REFUSE:
        st.error(decision.message, icon=":material/block:")
        return False
    given = st.session_state.setdefault(_CONSENT, {})
    if given.get(key) == signature:
        return True
    st.warning(decision.message, icon=":material/hourglass_top:")
    if st.button(
        f"{action} ({decision.estimate.text})",
        key=f"{key}_consent",
        type="primary",
        icon=":material/play_arrow:",
    ):
        given[key] = signature
        # Rerun at once: the click's own run drew the question, and a page whose work then
        # polls in a fragment would keep "it waits for you" and the button on screen for the
        # whole run. The rerun finds the consent and draws the page without them.
        st.rerun()
    return False


def may_autostart(decision: Decision) -> bool:
    """Whether a link may start this job by itself (within budget, room in this session)."""
    return decision.may_autostart and _session_room()


def job_notice(decision: Decision, container: Any = None) -> None:
    """The estimate above a job's controls: a warning when it needs a click, an error when
    refused, a caption otherwise; and a note when this session runs its limit of jobs."""
    box = st if container is None else container
    if decision.verdict is Verdict.REFUSE:
        box.error(decision.message, icon=":material/block:")
    elif decision.verdict is Verdict.ASK:
        box.warning(
            decision.message + " Press **Start** to run it anyway.",
            icon=":material/hourglass_top:",
        )
    else:
        box.caption(f"Estimated cost: {decision.estimate.text}.")
    if not _session_room():
        n = budget.limits().session_jobs
        box.info(
            f"This session already runs {n} background job(s), the most one visitor may run "
            "at once: stop or finish one to start another.",
            icon=":material/block:",
        )


def start_disabled(decision: Decision, key: str) -> bool:
    """Whether the Start button of job slot ``key`` is off: refused, or the session is full
    (its own running job does not count: restarting replaces it)."""
    return not decision.allowed or not _session_room(exclude=key)


def start_label(decision: Decision, label: str = "Start") -> str:
    """``"Start (about 3 min, 1.2 GB)"`` when the job needs a click, else ``label``."""
    return f"{label} ({decision.estimate.text})" if decision.verdict is Verdict.ASK else label


def track(key: str, job: Any, decision: Decision) -> None:
    """Put ``job``'s estimate on it (for other visitors' queue ETAs; the first session's
    stays) and count it against this session's job limit. Call after the job controls, on
    every run: cheap and idempotent."""
    st.session_state.setdefault(_JOBS, set()).add(key)
    job = None if job is None else _job_of(job)
    if job is not None and job.estimate is None:
        job.estimate = decision.estimate


def _job_of(view: Any) -> Any:
    """The (possibly shared) job behind a session's view of it (engine.jobs.JobView.job)."""
    return getattr(view, "job", view)


def _session_room(exclude: str | None = None) -> bool:
    from pages.common import jobs as pj

    group = pj.session_jobs()
    active = 0
    for key in st.session_state.get(_JOBS, ()):
        job = group.get(key)
        if key != exclude and job is not None and _status_value(job) in ("queued", "running"):
            active += 1
    return active < budget.limits().session_jobs


def _status_value(job: Any) -> str:
    status = getattr(job, "status", None)
    return getattr(status, "value", str(status))


def queue_wait(job: Any) -> tuple[int, float] | None:
    """``(position, seconds until it starts)`` for a queued ``job`` (a job or a session's
    view of one), else None; a job ahead without an estimate counts as the per-request
    budget (what a link may start)."""
    if _status_value(job) != "queued":
        return None
    job = _job_of(job)
    manager = getattr(job, "_manager", None)
    if manager is None:
        return None
    return manager.queue_wait(job, budget.limits().soft_s)


def queue_text(position: int, seconds: float) -> str:
    """``"Queued: position 3 in this server's queue; starts in about 40 s (from the jobs
    ahead: their progress and estimates)."`` (``"in under a second"``: no "about" there)."""
    when = budget.fmt_duration(seconds)
    when = when if when.startswith("under") else f"about {when}"
    return (
        f"Queued: position {position} in this server's queue; starts in {when} "
        "(from the jobs ahead: their progress and estimates)."
    )
