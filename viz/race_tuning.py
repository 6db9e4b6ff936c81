"""Figures for the race page's fair-race views: learning-rate score curves, the tuned-vs-default
table and the sensitivity heatmap (learning rate x a second knob). Pure functions
``(engine results, options) -> go.Figure`` (or plain data).

The sensitivity heatmap carries the same invisible selection grid as the basin maps
(:func:`viz.race_maps.select_grid`), with ``customdata = (lr, knob value)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from engine.tuning import CRITERIA, SensitivityResult, TuneResult
from viz.common import MARKER_DIVERGED, MARKER_MIN, base_layout, empty_figure, fmt
from viz.race_maps import (
    DIVERGED_COLOR,
    colors_for,
    finite_or_none,
    half_cell,
    room_for_legend,
    select_grid,
)

TUNED_FROM = {"grid": "grid search", "default": "default (best)", "none": "all diverged"}


def _log_ticks(lo: float, hi: float) -> tuple[list[float], list[str]]:
    """Tick positions (in log10 units) and labels ``1e-4 .. 10`` for a log10-valued axis."""
    exps = np.arange(np.floor(lo), np.ceil(hi) + 1)
    return [float(e) for e in exps], [fmt(10.0**e) for e in exps]


# --------------------------------------------------------------------------- fair race


def score_curves(results: Sequence[TuneResult], colors: Sequence[str] | None = None) -> go.Figure:
    """Score vs learning rate (log x), one line per entry; best lr starred, default lr circled,
    diverged candidates as crosses along the top edge."""
    if not results:
        return empty_figure("Add a race entry to tune its learning rate.", "Learning-rate search")
    colors = colors_for(len(results), colors)
    crit = CRITERIA[results[0].criterion]
    finite = np.concatenate([r.scores[np.isfinite(r.scores)] for r in results] + [np.zeros(0)])
    log_y = crit.key in ("gap", "dist")
    if log_y:
        finite = finite[finite > 0]
    top = float(finite.max()) if finite.size else 1.0
    top_y = top * 3 if log_y else top + 0.05 * (abs(top) + 1)
    fig = go.Figure()
    for r, c in zip(results, colors, strict=False):
        y = np.where(np.isfinite(r.scores), r.scores, np.nan)
        if log_y:
            y = np.where(y > 0, y, np.nan)
        steps = r.steps if r.steps is not None else np.full(len(r.grid), np.nan)
        text = [
            f"{r.label}<br>lr {fmt(lr)}<br>{crit.label}: {shown_score(s, r.tol, log_y)}"
            + (f"<br>settled at step {st:,.0f}" if st == st and st <= r.budget else "")
            for lr, s, st in zip(r.grid, r.scores, steps, strict=True)
        ]
        fig.add_trace(
            go.Scatter(
                x=r.grid,
                y=finite_or_none(y),
                mode="lines+markers",
                name=r.label,
                line={"color": c},
                marker={"size": 5},
                text=text,
                legendgroup=r.label,
                hovertemplate="%{text}<extra></extra>",
                connectgaps=False,
            )
        )
        bad = ~np.isfinite(r.scores)
        if bad.any():
            fig.add_trace(
                go.Scatter(
                    x=r.grid[bad],
                    y=[top_y] * int(bad.sum()),
                    mode="markers",
                    showlegend=False,
                    legendgroup=r.label,
                    marker={
                        "symbol": MARKER_DIVERGED,
                        "size": 8,
                        "color": c,
                        "line": {"color": c, "width": 2},
                    },
                    text=[f"{r.label}<br>lr {fmt(lr)}: diverged" for lr in r.grid[bad]],
                    hovertemplate="%{text}<extra></extra>",
                )
            )
        if r.source != "none" and (not log_y or r.best_score > 0):
            fig.add_trace(
                go.Scatter(
                    x=[r.best_lr],
                    y=[r.best_score],
                    mode="markers",
                    showlegend=False,
                    legendgroup=r.label,
                    marker={
                        "symbol": MARKER_MIN,
                        "size": 15,
                        "color": c,
                        "line": {"color": "black", "width": 1},
                    },
                    text=[
                        f"{r.label}: best lr {fmt(r.best_lr)}<br>{crit.label}: "
                        f"{shown_score(r.best_score, r.tol, log_y)}"
                        + (f"<br>⚠ {edge_note(r)}" if r.at_edge else "")
                    ],
                    hovertemplate="%{text}<extra></extra>",
                )
            )
        if np.isfinite(r.default_score) and (not log_y or r.default_score > 0):
            fig.add_trace(
                go.Scatter(
                    x=[r.default_lr],
                    y=[r.default_score],
                    mode="markers",
                    showlegend=False,
                    legendgroup=r.label,
                    marker={"symbol": "circle-open", "size": 12, "color": c, "line": {"width": 2}},
                    text=[
                        f"{r.label}: default lr {fmt(r.default_lr)}<br>{crit.label}: "
                        f"{fmt(r.default_score)}"
                    ],
                    hovertemplate="%{text}<extra></extra>",
                )
            )
    if log_y:
        floor = results[0].tol
        fig.add_hline(y=floor, line={"color": "#888888", "width": 1, "dash": "dash"})
        fig.add_annotation(  # on a log axis an annotation's y is log10 of the value
            text=f"tolerance {fmt(floor)}: scores below it are drawn on it and tie",
            x=1.0,
            xref="paper",
            xanchor="right",
            y=float(np.log10(floor)),
            yref="y",
            yanchor="top",
            showarrow=False,
            font={"size": 11, "color": "#666666"},
        )
    fig.update_layout(
        **base_layout(
            f"Learning-rate search: {crit.label} after the same step budget "
            "(★ best, ○ default, × diverged)"
        )
    )
    fig.update_xaxes(type="log", title="learning rate (log scale)", exponentformat="power")
    fig.update_yaxes(
        type="log" if log_y else "linear",
        title=crit.unit,
        exponentformat="power" if log_y else "none",
    )
    return room_for_legend(fig)


def shown_score(value: float, floor: float, log_scale: bool) -> str:
    """A score for people: ``≤ 0.001`` for a floored score (every run below the tolerance
    ties), "diverged" for ``+inf``, else 3 significant digits."""
    if not np.isfinite(value):
        return "diverged"
    if log_scale and value <= floor:
        return f"≤ {fmt(floor)}"
    return fmt(value)


def tuning_table(results: Sequence[TuneResult]) -> dict[str, list]:
    """Default vs tuned learning rate per entry, as text columns for ``st.table``.

    "tuned from" says whether the grid's winner or the entry's own rate (which scored strictly
    better than every grid point) was kept. Scores below the tolerance are shown as ``≤ tol``
    (they tie); "steps to settle" is the tie-break (``—`` = did not settle); "note" flags a
    winner on the edge of the search grid, where the best rate may lie beyond it.
    """
    out: dict[str, list] = {
        "entry": [],
        "default lr": [],
        "tuned lr": [],
        "tuned from": [],
        "default score": [],
        "tuned score": [],
        "steps to settle (default → tuned)": [],
        "note": [],
    }
    for r in results:
        log_scale = r.criterion in ("gap", "dist")
        tuned_steps = float(r.steps[r.best_index]) if r.source == "grid" else r.default_steps
        out["entry"].append(r.label)
        out["default lr"].append(fmt(r.default_lr))
        out["tuned lr"].append(fmt(r.best_lr) if r.source != "none" else "—")
        out["tuned from"].append(TUNED_FROM[r.source])
        out["default score"].append(shown_score(r.default_score, r.tol, log_scale))
        out["tuned score"].append(shown_score(r.best_score, r.tol, log_scale))
        out["steps to settle (default → tuned)"].append(
            f"{_steps(r.default_steps, r.budget)} → {_steps(tuned_steps, r.budget)}"
        )
        out["note"].append(edge_note(r) if r.at_edge else "")
    return out


def edge_note(r: TuneResult) -> str:
    """The warning for a winner on the first or last rate of the search grid."""
    side = "smallest" if r.best_index == 0 else "largest"
    return (
        f"best rate is the grid's {side} ({fmt(r.grid[0])}..{fmt(r.grid[-1])}): "
        "the optimum may lie beyond it"
    )


def _steps(value: float, budget: int) -> str:
    """Steps to settle as text: ``—`` for "did not settle" (scored as the budget + 1)."""
    return "—" if value != value or value > budget else f"{value:,.0f}"


# --------------------------------------------------------------------------- sensitivity

LOG_DECADES = 6
"""A log colour scale spans at most this many decades (readable; the clip is stated)."""


def clipped_colour(scores: np.ndarray, floor: float, log_scale: bool):
    """Heatmap values and colour range for ``scores`` (``+inf`` = diverged -> NaN).

    Log scores: ``log10(max(score, floor))`` with the colour range ``[log10 floor, top]``
    where ``top`` is the largest finite value but at most :data:`LOG_DECADES` decades above
    the floor; values above are drawn in the top colour. Returns ``(z, (zmin, zmax), note)``
    with ``note`` the colour bar's statement of the clip (empty when nothing is clipped)."""
    finite = np.isfinite(scores)
    if not log_scale:
        z = np.where(finite, scores, np.nan).astype(float)
        vals = z[finite]
        lo, hi = (float(vals.min()), float(vals.max())) if vals.size else (0.0, 1.0)
        return z, (lo, hi if hi > lo else lo + 1.0), ""
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.log10(np.maximum(np.where(finite, scores, 1.0), floor))
    z = np.where(finite, z, np.nan)
    lo = float(np.log10(floor))
    top = float(np.nanmax(z)) if finite.any() else lo + 1.0
    hi = min(max(top, lo + 1.0), lo + LOG_DECADES)
    note = f"<br>(≤ {fmt(floor)} drawn as {fmt(floor)}"
    note += f"; ≥ {fmt(10.0**hi)} as {fmt(10.0**hi)})" if top > hi else ")"
    return z, (lo, hi), note


def sensitivity_figure(result: SensitivityResult) -> go.Figure:
    """Heatmap of the score over learning rate (log x) x the second knob; best cell starred,
    diverged cells black; invisible selection grid with ``customdata = (lr, knob value)``."""
    crit = CRITERIA[result.criterion]
    s = result.scores
    log_z = crit.key in ("gap", "dist")
    z, (zmin, zmax), clip_note = clipped_colour(s, result.tol, log_z)
    lx = np.log10(result.lrs)
    words = np.array([[shown_score(v, result.tol, log_z) for v in row] for row in s], dtype=object)
    knob = result.knob
    hover = (
        f"lr %{{customdata[0]:.3~g}}<br>{knob.label} %{{customdata[1]:.3~g}}<br>"
        f"{crit.label}: %{{text}}"
    )
    fig = go.Figure()
    div = np.where(np.isfinite(s), np.nan, 1.0)
    if np.isfinite(div).any():
        fig.add_trace(
            go.Heatmap(
                x=lx,
                y=result.knob_values,
                z=div,
                showscale=False,
                colorscale=[[0, DIVERGED_COLOR], [1, DIVERGED_COLOR]],
                hoverinfo="skip",
                name="diverged",
            )
        )
    cd = np.stack(np.broadcast_arrays(result.lrs[None, :], result.knob_values[:, None]), -1)
    fig.add_trace(
        go.Heatmap(
            x=lx,
            y=result.knob_values,
            z=z,
            zmin=zmin,
            zmax=zmax,
            colorscale="Viridis",
            text=words,
            customdata=cd.tolist(),
            colorbar={
                "title": {
                    "text": ("log10 " if log_z else "") + crit.label.split(" (")[0] + clip_note
                }
            },
            hovertemplate=hover + "<extra></extra>",
            name="score",
        )
    )
    if result.best:
        j, i = result.best
        fig.add_trace(
            go.Scatter(
                x=[lx[i]],
                y=[result.knob_values[j]],
                mode="markers",
                showlegend=False,
                marker={
                    "symbol": MARKER_MIN,
                    "size": 16,
                    "color": "white",
                    "line": {"color": "black", "width": 1.5},
                },
                text=[
                    f"best: lr {fmt(result.best_lr)}, {knob.label} {fmt(result.best_knob)}"
                    f"<br>{crit.label}: {shown_score(s[j, i], result.tol, log_z)}"
                    + ("<br>⚠ on the edge of the learning-rate grid" if result.at_edge else "")
                ],
                hovertemplate="%{text}<extra></extra>",
                name="best",
            )
        )
    fig.add_trace(
        select_grid(
            lx,
            result.knob_values,
            np.array(
                [
                    [
                        f"lr {fmt(lr)}, {knob.label} {fmt(k)}: {w}"
                        for lr, w in zip(result.lrs, row, strict=True)
                    ]
                    for k, row in zip(result.knob_values, words, strict=True)
                ],
                dtype=object,
            ),
            xref_values=result.lrs,
            hover="%{text}<br>click to race with these settings",
        )
    )
    tv, tt = _log_ticks(lx.min(), lx.max())
    fig.update_layout(
        **base_layout(
            f"Sensitivity of {result.entry.label}: {crit.label} over learning rate × {knob.label}"
            " (★ best, black = diverged)",
            clickmode="event+select",
        )
    )
    fig.update_xaxes(
        title="learning rate (log scale)",
        tickvals=tv,
        ticktext=tt,
        range=[lx[0] - half_cell(lx), lx[-1] + half_cell(lx)],
    )
    fig.update_yaxes(title=knob.label + (" (log scale)" if knob.log else ""))
    return fig
