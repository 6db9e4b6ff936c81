"""Declared ranges for every user-settable knob, and their validation.

Each page declares its knobs once, as data (a tuple of :class:`Knob`). The same table feeds

* the sanitizing of URL query parameters (untrusted text) before any widget reads them,
* the widgets' ``min_value`` / ``max_value`` / ``options``,
* the README's table of caps (``python -m engine.knobs`` prints it).

This follows scikit-learn's ``_parameter_constraints``: limits are data, not scattered ``if``s.
Nothing here imports Streamlit; ``pages/common/urlstate.py`` does the Streamlit side.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

KINDS = ("float", "int", "bool", "choice", "text")


@dataclass(frozen=True)
class Knob:
    """One user-settable value with its type, default and admissible range.

    Attributes:
        key: the query-parameter / widget key (short, URL-friendly).
        label: what the widget shows.
        kind: one of ``KINDS``.
        default: the value used when the input is missing or bad.
        lo, hi: inclusive bounds for numbers (``None`` = unbounded on that side).
        choices: admissible values for ``kind == "choice"``.
        log: whether the knob is naturally log-scaled (learning rates, lambdas).
        max_len: maximum length for ``kind == "text"``.
        help: one sentence for the widget's tooltip.
        cap: whether the bound protects the server (listed among the README's caps).
    """

    key: str
    label: str
    kind: str
    default: Any
    lo: float | None = None
    hi: float | None = None
    choices: tuple = ()
    log: bool = False
    max_len: int = 300
    help: str = ""
    cap: bool = False
    step: float | None = None
    fmt: str | None = None
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"Knob {self.key!r}: unknown kind {self.kind!r}")
        if self.kind == "choice" and self.default not in self.choices:
            raise ValueError(f"Knob {self.key!r}: default {self.default!r} not among choices")
        value, problem = self.coerce(self.default)
        if problem is not None:
            raise ValueError(f"Knob {self.key!r}: default is invalid: {problem}")

    def describe_range(self) -> str:
        """Human-readable admissible range, e.g. ``1 ≤ steps ≤ 5000``."""
        if self.kind == "choice":
            return "one of " + ", ".join(str(c) for c in self.choices)
        if self.kind == "bool":
            return "true or false"
        if self.kind == "text":
            return f"at most {self.max_len} characters"
        lo = "-inf" if self.lo is None else _fmt(self.lo)
        hi = "inf" if self.hi is None else _fmt(self.hi)
        return f"{lo} ≤ {self.key} ≤ {hi}"

    def coerce(self, raw: Any) -> tuple[Any, str | None]:
        """Turn ``raw`` (a URL string or a Python value) into a valid value.

        Returns ``(value, problem)``. ``problem`` is ``None`` when ``raw`` was valid; otherwise
        it is a sentence naming the bad value and what was used instead, and ``value`` is the
        safe fallback: the nearest bound for a finite out-of-range number, else the default.
        """
        shown = _show(raw)
        if self.kind == "bool":
            if isinstance(raw, bool):
                return raw, None
            text = str(raw).strip().lower()
            if text in ("true", "1", "yes", "on"):
                return True, None
            if text in ("false", "0", "no", "off"):
                return False, None
            return self.default, self._problem(shown, self.default, "is not true/false")
        if self.kind == "choice":
            if raw in self.choices:
                return raw, None
            for choice in self.choices:
                if str(choice) == str(raw).strip():
                    return choice, None
            return self.default, self._problem(shown, self.default, "is not a known option")
        if self.kind == "text":
            text = str(raw)
            if len(text) > self.max_len:
                return self.default, self._problem(
                    shown, self.default, f"is longer than {self.max_len} characters"
                )
            return text, None
        try:
            number = float(raw)
        except (TypeError, ValueError):
            return self.default, self._problem(shown, self.default, "is not a number")
        if not math.isfinite(number):
            return self.default, self._problem(shown, self.default, "is not finite")
        if self.kind == "int":
            if number != int(number):
                return self.default, self._problem(shown, self.default, "is not a whole number")
            number = int(number)
        if self.lo is not None and number < self.lo:
            fallback = self._cast(self.lo)
            return fallback, self._problem(shown, fallback, f"is below the minimum {_fmt(self.lo)}")
        if self.hi is not None and number > self.hi:
            fallback = self._cast(self.hi)
            return fallback, self._problem(shown, fallback, f"is above the maximum {_fmt(self.hi)}")
        return number, None

    def _cast(self, value: float) -> Any:
        return int(value) if self.kind == "int" else float(value)

    def _problem(self, shown: str, used: Any, why: str) -> str:
        return f"{self.label} ({self.key}={shown}) {why}; using {_show(used)} instead."


def _fmt(x: float) -> str:
    """Format a number for people: integers plainly, others with 3 significant digits."""
    if float(x).is_integer() and abs(x) < 1e15:
        return f"{int(x):,}"
    return f"{x:.3g}"


def _show(raw: Any) -> str:
    text = str(raw)
    return text if len(text) <= 40 else text[:37] + "..."


def find(knobs: Iterable[Knob], key: str) -> Knob:
    """The knob named ``key`` (KeyError if there is none)."""
    for knob in knobs:
        if knob.key == key:
            return knob
    raise KeyError(key)


def validate_all(knobs: Sequence[Knob], raw: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Coerce every knob from ``raw`` (missing keys take the default).

    Returns ``(values, problems)`` with one problem sentence per bad input.
    """
    values, problems = {}, []
    for knob in knobs:
        if knob.key in raw:
            value, problem = knob.coerce(raw[knob.key])
            if problem:
                problems.append(problem)
        else:
            value = knob.default
        values[knob.key] = value
    return values, problems


def caps_table(groups: dict[str, Sequence[Knob]]) -> str:
    """A Markdown table of every knob marked ``cap=True`` with its default, for the README."""
    lines = ["| page | knob | range | default |", "|---|---|---|---|"]
    for page, knobs in groups.items():
        for knob in knobs:
            if knob.cap:
                number = knob.kind in ("int", "float")
                default = _fmt(knob.default) if number else f"`{knob.default}`"
                lines.append(
                    f"| {page} | {knob.label} (`{knob.key}`) | {knob.describe_range()} "
                    f"| {default} |"
                )
    return "\n".join(lines)


# ------------------------------------------------------------------ server knobs (not in URLs)
# Process-wide settings of the job engine (engine.jobs, engine.result_cache); stated in the
# README. The environment may override the cache budget: NNVIZ_CACHE_MB=512.
RESULT_CACHE_BYTES = int(float(os.environ.get("NNVIZ_CACHE_MB", 256)) * 2**20)
"""Budget of the finished-results cache shared by all sessions (LRU, bytes of arrays)."""
CHUNK_SECONDS = 0.5
"""Target duration of one job chunk (steps run between two publications / control checks).
Each chunk carries the task's state both ways (2.1 MB for the Gradient-flow page's three
default nets: ~40-80 ms of pickling per chunk), so shorter chunks cost a larger share."""
IDLE_PAUSE_SECONDS = 30.0
"""A job nobody polls for this long pauses (no next chunk) and resumes when polled again.
Generous: a visible page polls every 0.5 s, but a loaded server may take seconds per poll."""
IDLE_RELEASE_SECONDS = float(os.environ.get("NNVIZ_IDLE_RELEASE_S", 600))
"""After this long with no script or fragment run and no job running or queued, the server
drops its shared caches (results, figures) and trims its heap (pages/common/idle.py): a
class's memory goes back when it has gone. 0 = never."""


# Server budget (engine.budget): not URL knobs (a visitor cannot raise them); a server operator
# overrides the defaults with environment variables BUDGET_<KEY>, e.g. BUDGET_SOFT_MB=1024.
BUDGET_KNOBS = (
    Knob(
        "soft_mb",
        "Peak memory a link may start by itself (MB)",
        "int",
        512,
        lo=16,
        hi=65536,
        cap=True,
        help="Above it the page shows the estimate and waits for an explicit start.",
    ),
    Knob(
        "soft_s",
        "Compute a link may start by itself (s)",
        "float",
        30.0,
        lo=1.0,
        hi=86400.0,
        cap=True,
        help="Estimated seconds at this machine's measured rate.",
    ),
    Knob(
        "hard_mb", "Hard cap: peak memory per request (MB)", "int", 2048, lo=16, hi=262144, cap=True
    ),
    Knob(
        "hard_s",
        "Hard cap: compute per request (s)",
        "float",
        3600.0,
        lo=1.0,
        hi=1e7,
        cap=True,
    ),
    Knob(
        "step_s",
        "Hard cap: one job step (s), so Stop acts within 1 s",
        "float",
        0.5,
        lo=0.01,
        hi=60.0,
        cap=True,
    ),
    Knob("session_jobs", "Background jobs running per session", "int", 2, lo=1, hi=64, cap=True),
)
