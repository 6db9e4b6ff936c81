"""The URL as the page's state: sanitize query parameters, build bound widgets, share links.

Every page declares its knobs once, as a tuple of :class:`engine.knobs.Knob`, then

1. calls :func:`sanitize` BEFORE creating any widget: each knob's query parameter (untrusted
   text) is coerced against the declared range; a bad value gets one ``st.warning`` naming it
   and what was used instead, and the safe value is written back to the URL;
2. creates each control with :func:`widget`, which picks the widget for the knob's kind, takes
   its bounds/options from the knob and binds it to the URL (``bind="query-params"``), so the
   URL always holds the page's current settings;
3. calls :func:`share_link` to show the page's full current URL as a link to copy.

Each page owns its keys. A bound widget's session-state key IS its URL key (Streamlit 1.67:
``query_param_key = key``), and pages reuse short names (``n``, ``data``, ``seed``, ``lr``):
on the first run after a page switch the previous page's widget values are still in session
state (Streamlit drops them at the end of that run), so a page reading ``n`` would read the
other page's ``n``. Hence every knob value this module reads or writes is scoped to the page
that created its widget (:func:`_enter_page`, run by :func:`peek`, :func:`sanitize` and
:func:`widget`): a value another page left behind is dropped before anything reads it, and
each page keeps its own settings under ``st.session_state["_urlstate_page.<page>"]`` (the
per-page prefix): coming back to a page puts them back into the URL, so its widgets, its
computation and its share link are what they were when the visitor left.

Why the rewrite-and-rerun in :func:`sanitize` (verified with Streamlit 1.67): a bound widget
seeds itself from a snapshot of the URL taken when the run started, not from
``st.query_params``. For an int ``st.number_input`` that snapshot value ``-inf`` raises
``OverflowError`` inside the widget call, ``12.5`` is silently truncated to ``12``, and an
out-of-range value silently falls back to the default. Assigning ``st.session_state[key]``
does not stop the snapshot from being parsed. Writing the safe value to ``st.query_params``
updates the URL the next run starts from, so :func:`sanitize` does that and calls
``st.rerun()`` once; the warnings are kept in session state and shown on that clean rerun.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

import streamlit as st
from streamlit.errors import StreamlitAPIException
from streamlit.runtime.scriptrunner import get_script_run_ctx

from engine.knobs import Knob
from pages.common.ui import ensure_router

_NOTES = "_urlstate_notes"  # session-state key: warnings waiting for the clean rerun
_SHOWN = "_urlstate_shown"  # session-state key: the warnings sanitize() showed on its last run
_STICKY = "_urlstate_sticky"  # session-state key: {page key: (warnings, signature)}
_OWNER = "_urlstate_owner"  # session-state key: {knob key: page that created its widget}
_PAGE_PREFIX = "_urlstate_page."  # + page: that page's {knob key: URL text} (non-defaults)


def page_id() -> str:
    """The running page's identity (its script hash; the same on every run of that page)."""
    ctx = get_script_run_ctx()
    return ctx.page_script_hash if ctx is not None else ""


def page_memory(page: str | None = None) -> dict[str, str]:
    """The page's remembered settings ``{URL key: text}`` (non-default values only)."""
    return st.session_state.setdefault(_PAGE_PREFIX + (page or page_id()), {})


def _enter_page() -> None:
    """Scope session state to the running page (see the module docstring); idempotent.

    1. Drop every knob value that another page's widget left in session state.
    2. Just arrived (none of this page's remembered values is in the URL or in session
       state): write them back to the URL and rerun, so the bound widgets seed from it.
    """
    page = page_id()
    owners = st.session_state.setdefault(_OWNER, {})
    for key, owner in list(owners.items()):
        if owner != page and key in st.session_state:
            del st.session_state[key]
            del owners[key]
    memory = page_memory(page)
    if not memory:
        return
    if any(k in st.query_params or k in st.session_state for k in memory):
        return
    ctx = get_script_run_ctx()
    if ctx is None:
        return
    # st.query_params refuses a key bound to a widget, and the page just left may still hold
    # a binding for a key of the same name (its ``n``): write through the binding registry's
    # own correction call, which also updates the URL the rerun starts from.
    with ctx.session_state.query_params() as qp:
        for key, text in memory.items():
            qp.set_corrected_value(key, text, "string_value")
    st.rerun()


def serialize(knob: Knob, value: Any) -> str:
    """The text Streamlit itself writes to the URL for ``value`` (``true``/``false`` for bools)."""
    if knob.kind == "bool":
        return "true" if value else "false"
    if knob.kind == "int":
        return str(int(value))
    return str(value)


def _raw_from_url(key: str) -> tuple[str | None, bool]:
    """The URL text for ``key`` (last one if repeated) and whether it was repeated."""
    if key not in st.query_params:
        return None, False
    values = st.query_params.get_all(key)
    return values[-1], len(values) > 1


def peek(knob: Knob) -> Any:
    """The knob's current valid value without side effects (widget state, else URL, else default).

    Use it to read a knob that other knobs' ranges depend on (e.g. the surface decides the
    start point's bounds) before calling :func:`sanitize` on all of them.
    """
    _enter_page()
    if knob.key in st.session_state:
        return knob.coerce(st.session_state[knob.key])[0]
    raw, _ = _raw_from_url(knob.key)
    return knob.default if raw is None else knob.coerce(raw)[0]


def sanitize(knobs: Sequence[Knob]) -> dict[str, Any]:
    """Validate every knob's value before any widget reads it; return ``{key: value}``.

    Source of each value: the widget's session state if the widget already exists (values the
    user set), else the URL query parameter, else the knob's default. A bad URL value (unknown
    name, NaN/inf, not a number, out of range, repeated) is replaced in the URL by the safe value
    and the script reruns once so the bound widgets seed from a clean URL; on that rerun one
    ``st.warning`` per bad value says what was wrong and what is used instead. A bad value held
    in session state (e.g. set by code) is replaced there, with a warning, without a rerun.
    Also makes sure the page runs under the app's router (:func:`pages.common.ui.ensure_router`).
    """
    ensure_router()
    _enter_page()
    notes = st.session_state.get(_NOTES, [])
    values: dict[str, Any] = {}
    url_fixes: dict[str, tuple[str, Any]] = {}
    for knob in knobs:
        if knob.key in st.session_state:
            value, problem = knob.coerce(st.session_state[knob.key])
            if problem:
                st.session_state[knob.key] = value
                notes.append(problem)
            values[knob.key] = value
            continue
        raw, repeated = _raw_from_url(knob.key)
        if raw is None:
            values[knob.key] = knob.default
            continue
        value, problem = knob.coerce(raw)
        if problem is None and repeated:
            problem = f"{knob.label} ({knob.key}) was given more than once; using the last, {raw}."
        if problem:
            notes.append(problem)
        if problem or raw != serialize(knob, value):
            url_fixes[knob.key] = (serialize(knob, value), value)
        values[knob.key] = value
    if url_fixes and _write_url(url_fixes):
        st.session_state[_NOTES] = notes
        st.rerun()
    st.session_state.pop(_NOTES, None)
    declared = {knob.key for knob in knobs}
    memory = page_memory()
    for key in [k for k in memory if k not in declared]:
        del memory[key]  # e.g. a variant slot no longer shown: not part of the page now
    shown = list(dict.fromkeys(notes))  # de-duplicated, in order
    st.session_state[_SHOWN] = shown
    for note in shown:
        st.warning(note, icon=":material/warning:")
    return values


def notes() -> list[str]:
    """The repair warnings the last :func:`sanitize` call showed (de-duplicated, in order).

    Empty when every value was valid. Call it after :func:`sanitize` in the same run.
    """
    return list(st.session_state.get(_SHOWN, []))


def sticky_notes(signature: Any, key: str) -> list[str]:
    """Keep :func:`sanitize`'s repair warnings on screen while the repaired settings stay.

    :func:`sanitize` shows a warning on one run only (the clean rerun after the URL repair).
    A page whose background job triggers more full reruns (e.g. when the job finishes) would
    lose it at once. Call this after :func:`sanitize` with ``signature``, any comparable value
    standing for the settings (e.g. the page's config), and ``key``, the page's name: the
    warnings of the run that repaired the URL are shown again on every later run while
    ``signature`` is unchanged, and forgotten as soon as it changes. Returns the warnings
    shown again (empty on the repairing run itself: :func:`sanitize` showed them).
    """
    sticky = st.session_state.setdefault(_STICKY, {})
    fresh = notes()
    if fresh:
        sticky[key] = (fresh, signature)
        return []
    if key not in sticky:
        return []
    kept, repaired = sticky[key]
    if repaired != signature:
        del sticky[key]
        return []
    for note in kept:
        st.warning(note, icon=":material/warning:")
    return list(kept)


def set_values(values: dict[Knob, Any]) -> None:
    """Set knobs' values from code (a callback: a preset, a suggested fix) and in the URL.

    Assigning ``st.session_state[key]`` sets the widget, but Streamlit 1.67 writes a
    programmatic value to the URL only for a widget that existed on the previous run: a
    configuration slot that appears because of this change would be missing from the share
    link. So the URL text is written here too (a default value is removed, as the widget does).
    """
    ctx = get_script_run_ctx()
    for knob, value in values.items():
        st.session_state[knob.key] = value
    if ctx is None:
        return
    with ctx.session_state.query_params() as qp:
        for knob, value in values.items():
            if value == knob.default:
                qp.remove_param(knob.key)
            else:
                qp.set_corrected_value(knob.key, serialize(knob, value), "string_value")


def _write_url(fixes: dict[str, tuple[str, Any]]) -> bool:
    """Write ``{key: (text, value)}`` into ``st.query_params``; False if that is refused.

    A parameter already bound to a widget cannot be set through ``st.query_params``; that
    happens only when a bad value reaches an existing session (e.g. browser history). Then the
    safe value goes to session state instead, which the widget uses on this run.
    """
    try:
        st.query_params.update({key: text for key, (text, _) in fixes.items()})
    except StreamlitAPIException:
        for key, (_, value) in fixes.items():
            st.session_state[key] = value
        return False
    return True


def widget(knob: Knob, container: Any = None, **kw: Any) -> Any:
    """Create the widget for ``knob``, keyed by ``knob.key`` and bound to the URL.

    ``float``/``int`` -> ``st.number_input`` (``st.slider`` when ``knob.extra["slider"]``),
    ``choice`` -> ``st.selectbox``, ``bool`` -> ``st.toggle``, ``text`` -> ``st.text_input``.
    Bounds, options, default and help come from the knob; ``kw`` overrides or adds arguments
    (``on_change``, ``format_func``, ``label_visibility``, ...). ``container`` defaults to the
    sidebar. The widget's default is ``knob.default`` so a value equal to the default is left
    out of the URL (Streamlit drops it), keeping links short.
    """
    _enter_page()
    value = _make_widget(knob, container, **kw)
    if knob.kind == "int" and value is not None:
        value = int(round(value))
    page = page_id()
    st.session_state.setdefault(_OWNER, {})[knob.key] = page
    memory = page_memory(page)
    if value == knob.default:
        memory.pop(knob.key, None)
    else:
        memory[knob.key] = serialize(knob, value)
    return value


def _make_widget(knob: Knob, container: Any = None, **kw: Any) -> Any:
    box = st.sidebar if container is None else container
    label = kw.pop("label", knob.label)
    common: dict[str, Any] = {
        "key": knob.key,
        "help": knob.help or None,
        "bind": "query-params",
    }
    if knob.kind in ("float", "int"):
        cast = int if knob.kind == "int" else float
        bounds = {
            "min_value": None if knob.lo is None else cast(knob.lo),
            "max_value": None if knob.hi is None else cast(knob.hi),
        }
        if knob.extra.get("slider"):
            args = {**bounds, "value": cast(knob.default)}
            if knob.step is not None:
                args["step"] = cast(knob.step)
            if knob.fmt:
                args["format"] = knob.fmt
            return box.slider(label, **args, **{**common, **kw})
        return _number_input(knob, box, label, {**common, **kw})
    if knob.kind == "choice":
        options = list(knob.choices)
        return box.selectbox(label, options, index=options.index(knob.default), **{**common, **kw})
    if knob.kind == "bool":
        return box.toggle(label, value=bool(knob.default), **{**common, **kw})
    return box.text_input(
        label, value=str(knob.default), max_chars=knob.max_len, **{**common, **kw}
    )


def _number_input(knob: Knob, box: Any, label: str, common: dict[str, Any]) -> float:
    """A typed number box whose bad entries never change the value behind it.

    Streamlit 1.67's box (browser side) commits an empty entry as the widget's default (and
    Chromium turns ``abc`` in a number field into an empty entry), and reads an int field with
    ``parseInt``, so ``1e9`` becomes ``1``. Hence every box is a float box (``1e9`` parses as
    1e9, which the box itself refuses as out of range) shown with ``%.0f`` for ints (the page
    gets an int from :func:`widget`), and has no default (``value=None``) but is
    ``required``: an empty entry is not committed at all, the field says it needs a number,
    and the page keeps the last value. The box is seeded through session state with the
    knob's current value (session state, else the sanitized URL, else the default).
    """
    lo = None if knob.lo is None else float(knob.lo)
    hi = None if knob.hi is None else float(knob.hi)
    if knob.step is not None:
        step = float(knob.step)
    else:
        step = 1.0 if knob.kind == "int" else _auto_step(knob)
    if st.session_state.get(knob.key) is None:
        st.session_state[knob.key] = float(peek(knob))
    return box.number_input(
        label,
        min_value=lo,
        max_value=hi,
        value=None,
        step=step,
        format=knob.fmt or _auto_format(knob),
        required=True,
        **common,
    )


def _auto_format(knob: Knob) -> str:
    """``%.0f`` for ints, ``%g`` for floats (shows 0.001, 1e-05, -1.5 as people write them)."""
    return "%.0f" if knob.kind == "int" else "%g"


def _auto_step(knob: Knob) -> float:
    """A step for the +/- buttons: ~1% of the range, or 10% of the default for log knobs."""
    if knob.log:
        return float(max(abs(knob.default) * 0.1, 1e-12))
    if knob.lo is not None and knob.hi is not None and knob.hi > knob.lo:
        span = knob.hi - knob.lo
        return float(10 ** math.floor(math.log10(span / 100)))
    return 0.1


def with_default(knob: Knob, default: Any, **changes: Any) -> Knob:
    """A copy of ``knob`` with another default (and other fields), e.g. per-surface defaults."""
    return dataclasses.replace(knob, default=default, **changes)


def current_url() -> str:
    """The page's full current URL: ``st.context.url`` plus the current query parameters."""
    base = (st.context.url or "").split("?")[0]
    params = {k: st.query_params.get_all(k) for k in st.query_params}
    query = urlencode(params, doseq=True)
    return f"{base}?{query}" if query else base


SHARE_LABEL = "Link to this exact view"


def share_link(container: Any = None, label: str = SHARE_LABEL) -> str:
    """Show the page's current full URL as a link (copy it, or open it in a new tab) and
    return it.

    A markdown link, not ``st.code``: the code box's syntax highlighter cost every visitor
    ~0.4 s of browser CPU on first draw (a CDP profile of a new visitor on ``/race``), for a
    URL that needs no highlighting. Call it after all widgets are created so the URL includes
    this run's changes.
    """
    box = st if container is None else container
    url = current_url()
    box.markdown(f"{label}: [`{url}`]({url})")
    return url


def share_row(*widths: float) -> list:
    """The "Share and export" section every page ends with: its heading, the share link
    (:func:`share_link`) in a column of width 2, then one column per width in ``widths`` for
    the page's download buttons, which are returned. A button column of 1 (a third of the row
    at 2:1) keeps "Download trajectories (CSV)" on one line at 1280 px."""
    st.subheader("Share and export")
    link, *buttons = st.columns([2, *widths])
    share_link(container=link)
    return buttons


def shared_url(markdown: str) -> str | None:
    """The URL in a :func:`share_link` text, ``None`` for any other markdown (tests read the
    link back with it)."""
    prefix = f"{SHARE_LABEL}: [`"
    if not markdown.startswith(prefix):
        return None
    return markdown[len(prefix) :].split("`](", 1)[0]
