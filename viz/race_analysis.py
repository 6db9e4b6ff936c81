"""Figures for the race page's analysis views: fair (tuned) races, basin maps, sensitivity maps,
seed clouds. Pure functions ``(engine results, options) -> go.Figure`` (or plain data).

Colours: entry ``i`` is ``viz.common.color(i)`` everywhere, as on the race page; pass
``colors`` to override (e.g. when the page's entries are a subset).

Click-to-race on heatmaps (streamlit #8760: ``st.plotly_chart(on_select=...)`` reports no
points for heatmap traces). Every heatmap panel carries an invisible scatter grid (at most
:data:`SELECT_GRID` x :data:`SELECT_GRID` markers at cell centres, ``name="select"``) whose
``customdata`` is the cell's coordinates: ``(x0, y0)`` for basin maps (a start point),
``(lr, knob value)`` for sensitivity maps. A page uses it as::

    event = st.plotly_chart(fig, on_select="rerun", selection_mode=("points",), key="basins")
    points = event.selection.points if event else []
    if points:
        x0, y0 = points[0]["customdata"][:2]   # set the start widgets, then st.rerun()

Only the selection traces carry ``customdata``, so any point with it is a selection point.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from engine.basins import DIVERGED, NONE, BasinResult, SeedCloud
from engine.tuning import CRITERIA, SensitivityResult, TuneResult
from viz.common import MARKER_DIVERGED, MARKER_MIN, base_layout, color, empty_figure, fmt

TUNED_FROM = {"grid": "grid search", "default": "default (best)", "none": "all diverged"}

SELECT_GRID = 25
"""Markers per side of the invisible selection grid laid over a heatmap."""

MINIMA_COLORS = ("#F5C242", "#7FB3E0", "#6CC3A0", "#E59BC4", "#C9A27E", "#B9B9F0", "#F2A07B")
"""Categorical fills for "ended at minimum i" (light, so dark minimum markers stay visible)."""
NONE_COLOR = "#8C8C8C"
DIVERGED_COLOR = "#000000"
TRANSPARENT = "rgba(0,0,0,0)"


def _room_for_legend(fig: go.Figure, top: int = 110) -> go.Figure:
    """Title pinned to the top edge and a taller top margin so a one- or two-row horizontal
    legend above the plot never overlaps the title."""
    fig.update_layout(title_y=0.985, title_yanchor="top", margin_t=top)
    return fig


def _colors(n: int, colors: Sequence[str] | None) -> list[str]:
    return list(colors) if colors is not None else [color(i) for i in range(n)]


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _finite_or_none(values: np.ndarray) -> list:
    """Plotly-ready list: non-finite numbers become ``None`` (a gap), never reach the chart."""
    return [float(v) if np.isfinite(v) else None for v in np.asarray(values, float).ravel()]


def _log_ticks(lo: float, hi: float) -> tuple[list[float], list[str]]:
    """Tick positions (in log10 units) and labels ``1e-4 .. 10`` for a log10-valued axis."""
    exps = np.arange(np.floor(lo), np.ceil(hi) + 1)
    return [float(e) for e in exps], [fmt(10.0**e) for e in exps]


def _select_grid(
    xs: np.ndarray,
    ys: np.ndarray,
    text: np.ndarray | None,
    *,
    xref_values=None,
    yref_values=None,
    hover: str = "",
) -> go.Scatter:
    """Invisible markers at a subsample of cell centres, ``customdata = (x value, y value)``.

    ``xs``/``ys`` are plot coordinates; ``xref_values``/``yref_values`` the values reported in
    ``customdata`` (default: the coordinates). ``text``: ``(len(ys), len(xs))`` hover lines.
    """
    xv = xs if xref_values is None else xref_values
    yv = ys if yref_values is None else yref_values
    ii = np.unique(np.linspace(0, len(xs) - 1, min(len(xs), SELECT_GRID)).round().astype(int))
    jj = np.unique(np.linspace(0, len(ys) - 1, min(len(ys), SELECT_GRID)).round().astype(int))
    rows, cols = (a.ravel() for a in np.meshgrid(jj, ii, indexing="ij"))
    return go.Scatter(
        x=xs[cols],
        y=ys[rows],
        mode="markers",
        name="select",
        showlegend=False,
        marker={"size": 9, "color": TRANSPARENT},
        customdata=np.stack([xv[cols], yv[rows]], axis=-1),
        text=None if text is None else text[rows, cols],
        hovertemplate=hover + "<extra></extra>",
    )


# --------------------------------------------------------------------------- fair race


def score_curves(results: Sequence[TuneResult], colors: Sequence[str] | None = None) -> go.Figure:
    """Score vs learning rate (log x), one line per entry; best lr starred, default lr circled,
    diverged candidates as crosses along the top edge."""
    if not results:
        return empty_figure("Add a race entry to tune its learning rate.", "Learning-rate search")
    colors = _colors(len(results), colors)
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
        text = [
            f"{r.label}<br>lr {fmt(lr)}<br>{crit.label}: "
            + (fmt(s) if np.isfinite(s) else "diverged")
            for lr, s in zip(r.grid, r.scores, strict=True)
        ]
        fig.add_trace(
            go.Scatter(
                x=r.grid,
                y=_finite_or_none(y),
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
                        f"{r.label}: best lr {fmt(r.best_lr)}<br>{crit.label}: {fmt(r.best_score)}"
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
    return _room_for_legend(fig)


def tuning_table(results: Sequence[TuneResult]) -> dict[str, list]:
    """Default vs tuned learning rate per entry, as columns for ``pd.DataFrame``.

    "tuned from" says whether the grid's winner or the entry's own rate (which scored strictly
    better than every grid point) was kept. Scores are ``None`` where the run diverged;
    "gain" = default score - tuned score (how much lower the tuned score is, in the criterion's
    units; ``None`` if either diverged).
    """
    out: dict[str, list] = {
        "entry": [],
        "optimizer": [],
        "default lr": [],
        "tuned lr": [],
        "tuned from": [],
        "default score": [],
        "tuned score": [],
        "gain": [],
    }
    for r in results:
        d = r.default_score if np.isfinite(r.default_score) else None
        t = r.best_score if np.isfinite(r.best_score) else None
        out["entry"].append(r.label)
        out["optimizer"].append(r.entry.optimizer)
        out["default lr"].append(float(r.default_lr))
        out["tuned lr"].append(float(r.best_lr) if r.source != "none" else None)
        out["tuned from"].append(TUNED_FROM[r.source])
        out["default score"].append(d)
        out["tuned score"].append(t)
        out["gain"].append(None if d is None or t is None else d - t)
    return out


# --------------------------------------------------------------------------- basins


def _basin_names(n_minima: int) -> dict[int, str]:
    """Short per-cell hover names (kept short: one string per cell goes into the JSON)."""
    names = {i: f"min {i + 1}" for i in range(n_minima)}
    names[NONE] = "none"
    names[DIVERGED] = "diverged"
    return names


def _grid_layout(n: int) -> tuple[int, int]:
    cols = min(n, 3)
    return (n + cols - 1) // cols, cols


def basin_maps_figure(
    result: BasinResult,
    *,
    mode: str = "basin",
    colors: Sequence[str] | None = None,
) -> go.Figure:
    """Small multiples, one heatmap per entry over the grid of starts.

    ``mode="basin"``: categorical colour per minimum reached, grey = none within tol, black =
    diverged. ``mode="steps"``: steps until the run settled within tol (log colour), grey/black
    where it never did/diverged. Minima are starred; each panel has the invisible selection
    grid (``customdata = (x0, y0)``).
    """
    if mode not in ("basin", "steps"):
        raise ValueError(f"Unknown basin map mode {mode!r}; choose 'basin' or 'steps'")
    if not result.maps:
        return empty_figure("Add a race entry to map its basins.", "Basins of attraction")
    colors = _colors(len(result.maps), colors)
    M = len(result.minima)
    names = _basin_names(M)
    long_names = dict(names)
    for i, (mx, my) in enumerate(result.minima):
        long_names[i] = f"min {i + 1} ({fmt(mx)}, {fmt(my)})"
    rows, cols = _grid_layout(len(result.maps))
    titles = [
        f"<span style='color:{c}'>■</span> {m.entry.label}"
        for m, c in zip(result.maps, colors, strict=False)
    ]
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=titles,
        horizontal_spacing=0.06,
        vertical_spacing=0.1,
        shared_xaxes="all",
        shared_yaxes="all",
    )
    cats = [DIVERGED, NONE, *range(M)]
    fills = [DIVERGED_COLOR, NONE_COLOR, *(MINIMA_COLORS[i % len(MINIMA_COLORS)] for i in range(M))]
    K = len(cats)
    cat_scale = []
    for i, f in enumerate(fills):
        cat_scale += [[i / K, f], [(i + 1) / K, f]]
    max_steps = max([int(m.steps.max()) for m in result.maps] + [10])
    steps_scale, tv, tt = _steps_scale(max_steps)
    for idx, (bmap, _c) in enumerate(zip(result.maps, colors, strict=False)):
        r, c = divmod(idx, cols)
        r, c = r + 1, c + 1
        label = bmap.label
        words = np.vectorize(names.get, otypes=[object])(label)
        steps_cd = bmap.steps.astype(np.int16 if max_steps < 32000 else np.int32)
        if mode == "basin":
            fig.add_trace(
                go.Heatmap(
                    x=result.xs,
                    y=result.ys,
                    z=(label + 2).astype(np.int8),
                    zmin=-0.5,
                    zmax=K - 0.5,
                    colorscale=cat_scale,
                    showscale=False,
                    text=words,
                    customdata=steps_cd,
                    name=bmap.entry.label,
                    hovertemplate="start (%{x:.3~g}, %{y:.3~g})<br>→ %{text}<br>"
                    "settled at step %{customdata}<extra></extra>",
                ),
                row=r,
                col=c,
            )
        else:
            fig.add_trace(
                go.Heatmap(
                    x=result.xs,
                    y=result.ys,
                    z=_steps_codes(bmap, max_steps),
                    zmin=0,
                    zmax=255,
                    colorscale=steps_scale,
                    showscale=idx == 0,
                    text=words,
                    customdata=steps_cd,
                    name=bmap.entry.label,
                    colorbar={
                        "title": {"text": "steps to settle<br>(log scale)"},
                        "tickvals": tv,
                        "ticktext": tt,
                        "len": 0.6,
                    },
                    hovertemplate="start (%{x:.3~g}, %{y:.3~g})<br>→ %{text}<br>"
                    "settled at step %{customdata}<extra></extra>",
                ),
                row=r,
                col=c,
            )
        if M:
            fig.add_trace(
                go.Scatter(
                    x=result.minima[:, 0],
                    y=result.minima[:, 1],
                    mode="markers",
                    showlegend=False,
                    marker={
                        "symbol": MARKER_MIN,
                        "size": 12,
                        "color": "white",
                        "line": {"color": "black", "width": 1},
                    },
                    text=[long_names[i] for i in range(M)],
                    hovertemplate="%{text}<extra></extra>",
                ),
                row=r,
                col=c,
            )
        sel_text = np.array(
            [
                [
                    f"start ({fmt(x)}, {fmt(y)}) → {long_names[int(lab)]}"
                    for x, lab in zip(result.xs, row, strict=True)
                ]
                for y, row in zip(result.ys, label, strict=True)
            ],
            dtype=object,
        )
        fig.add_trace(
            _select_grid(
                result.xs, result.ys, sel_text, hover="%{text}<br>click to race from here"
            ),
            row=r,
            col=c,
        )
    legend = "  ".join(
        f"<span style='color:{f}'>■</span> {long_names[k]}"
        for k, f in zip(cats, fills, strict=True)
    )
    what = "where each start ends" if mode == "basin" else "steps to settle within tol"
    fig.update_layout(
        **base_layout(
            f"Basins of attraction: {what} ({result.steps} steps, tol {fmt(result.tol)})",
            height=330 * rows + 90,
            margin={"l": 50, "r": 20, "t": 110, "b": 40},
        )
    )
    fig.add_annotation(
        text=legend,
        showarrow=False,
        xref="paper",
        yref="paper",
        x=0,
        y=1.0,
        yshift=58,
        xanchor="left",
        align="left",
    )
    fig.update_xaxes(
        title_text="x₀ (start)",
        range=[result.xs[0] - _half(result.xs), result.xs[-1] + _half(result.xs)],
    )
    fig.update_yaxes(
        title_text="y₀ (start)",
        range=[result.ys[0] - _half(result.ys), result.ys[-1] + _half(result.ys)],
    )
    return fig


_DIV_CODE, _NONE_CODE, _FIRST_STEPS_CODE = 0, 1, 2


def _steps_codes(bmap, max_steps: int) -> np.ndarray:
    """One ``uint8`` image per panel (compact JSON): 0 = diverged, 1 = none, 2..255 =
    ``log10(steps)`` quantized over ``[0, log10(max_steps)]`` (exact steps go in the hover)."""
    q = np.log10(np.maximum(bmap.steps, 1)) / np.log10(max_steps)
    codes = _FIRST_STEPS_CODE + np.rint(q * (255 - _FIRST_STEPS_CODE))
    codes = np.where(bmap.label >= 0, codes, _NONE_CODE)
    return np.where(bmap.label == DIVERGED, _DIV_CODE, codes).astype(np.uint8)


def _steps_scale(max_steps: int):
    """Colour scale over codes 0..255 (black, grey, then Viridis on a log-steps axis) and the
    colour bar's tick positions/labels (powers of ten, in code units)."""
    from plotly.colors import sample_colorscale

    edge0, edge1 = 0.5 / 255, 1.5 / 255
    scale = [
        [0.0, DIVERGED_COLOR],
        [edge0, DIVERGED_COLOR],
        [edge0, NONE_COLOR],
        [edge1, NONE_COLOR],
    ]
    stops = np.linspace(0.0, 1.0, 9)
    for u, col in zip(stops, sample_colorscale("Viridis", list(stops)), strict=True):
        scale.append([edge1 + u * (1 - edge1), col])
    top = np.log10(max_steps)
    exps = np.arange(0, np.floor(top) + 1)
    tv = [float(_FIRST_STEPS_CODE + e / top * (255 - _FIRST_STEPS_CODE)) for e in exps]
    return scale, tv, [fmt(10.0**e) for e in exps]


def _half(v: np.ndarray) -> float:
    return float(v[1] - v[0]) / 2 if len(v) > 1 else 0.5


# --------------------------------------------------------------------------- sensitivity


def sensitivity_figure(result: SensitivityResult) -> go.Figure:
    """Heatmap of the score over learning rate (log x) x the second knob; best cell starred,
    diverged cells black; invisible selection grid with ``customdata = (lr, knob value)``."""
    crit = CRITERIA[result.criterion]
    s = result.scores
    log_z = crit.key in ("gap", "dist")
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.log10(np.maximum(s, 1e-300)) if log_z else s.astype(float)
    z = np.where(np.isfinite(s), z, np.nan)
    lx = np.log10(result.lrs)
    words = np.array(
        [[("diverged" if not np.isfinite(v) else fmt(v)) for v in row] for row in s], dtype=object
    )
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
            colorscale="Viridis",
            text=words,
            customdata=cd.tolist(),
            colorbar={"title": {"text": ("log10 " if log_z else "") + crit.label.split(" (")[0]}},
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
                    f"<br>{crit.label}: {fmt(s[j, i])}"
                ],
                hovertemplate="%{text}<extra></extra>",
                name="best",
            )
        )
    fig.add_trace(
        _select_grid(
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
            " (★ best, black = diverged)"
        )
    )
    fig.update_xaxes(
        title="learning rate (log scale)",
        tickvals=tv,
        ticktext=tt,
        range=[lx[0] - _half(lx), lx[-1] + _half(lx)],
    )
    fig.update_yaxes(title=knob.label + (" (log scale)" if knob.log else ""))
    return fig


# --------------------------------------------------------------------------- seed clouds


def seed_loss_figure(
    clouds: Sequence[SeedCloud], colors: Sequence[str] | None = None, min_value: float | None = None
) -> go.Figure:
    """Mean loss per step with the percentile band over seeds, one colour per entry (log y of
    ``f - f*`` when ``min_value`` is given and the gap stays positive)."""
    if not clouds:
        return empty_figure(
            "Set gradient noise σ > 0 to see the spread over seeds.", "Loss over seeds"
        )
    colors = _colors(len(clouds), colors)
    off = 0.0 if min_value is None else float(min_value)
    log_y = all(np.all(cl.loss_lo - off > 0) and np.all(cl.loss_mean - off > 0) for cl in clouds)
    fig = go.Figure()
    for cl, c in zip(clouds, colors, strict=False):
        t = np.arange(len(cl.loss_mean))
        lo, hi = cl.band
        name = cl.entry.label
        fig.add_trace(
            go.Scatter(
                x=t,
                y=cl.loss_hi - off,
                mode="lines",
                line={"width": 0},
                legendgroup=name,
                showlegend=False,
                hoverinfo="skip",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=t,
                y=cl.loss_lo - off,
                mode="lines",
                line={"width": 0},
                fill="tonexty",
                fillcolor=_rgba(c, 0.2),
                legendgroup=name,
                showlegend=False,
                hoverinfo="skip",
            )
        )
        kept = int((~cl.diverged).sum()) or cl.n_seeds
        fig.add_trace(
            go.Scatter(
                x=t,
                y=cl.loss_mean - off,
                mode="lines",
                line={"color": c},
                legendgroup=name,
                name=f"{name} (mean of {kept}/{cl.n_seeds} runs)",
                customdata=np.stack([cl.loss_lo - off, cl.loss_hi - off], -1),
                hovertemplate=(
                    f"{name}<br>step %{{x}}<br>mean %{{y:.3~g}}<br>{lo:g}–{hi:g}th "
                    "percentile: %{customdata[0]:.3~g} – %{customdata[1]:.3~g}"
                    "<extra></extra>"
                ),
            )
        )
    what = "f − f*" if min_value is not None else "f"
    first = clouds[0]
    fig.update_layout(
        **base_layout(
            f"Loss over {first.n_seeds} noisy runs (σ = {fmt(first.noise_std)}): mean and "
            f"{first.band[0]:g}–{first.band[1]:g}th percentile band"
        )
    )
    fig.update_xaxes(title="step")
    fig.update_yaxes(
        type="log" if log_y else "linear",
        title=what + (" (log scale)" if log_y else ""),
        exponentformat="power",
    )
    return _room_for_legend(fig)


def seed_cloud_traces(
    clouds: Sequence[SeedCloud], colors: Sequence[str] | None = None
) -> list[go.Scatter]:
    """Traces to lay over a contour map: each entry's mean path (dashed) and end-point cloud
    (diverged runs as crosses at their last finite point)."""
    colors = _colors(len(clouds), colors)
    traces = []
    for cl, c in zip(clouds, colors, strict=False):
        name = cl.entry.label
        traces.append(
            go.Scatter(
                x=cl.mean_path[:, 0],
                y=cl.mean_path[:, 1],
                mode="lines",
                legendgroup=name,
                line={"color": c, "dash": "dash", "width": 2},
                name=f"{name}: mean path",
                hovertemplate=f"{name} mean path<br>(%{{x:.3~g}}, %{{y:.3~g}})<extra></extra>",
            )
        )
        ok = ~cl.diverged
        for mask, symbol, what in ((ok, "circle", "end"), (~ok, MARKER_DIVERGED, "diverged")):
            if not mask.any():
                continue
            traces.append(
                go.Scatter(
                    x=cl.ends[mask, 0],
                    y=cl.ends[mask, 1],
                    mode="markers",
                    legendgroup=name,
                    name=f"{name}: {what} points ({int(mask.sum())})",
                    marker={
                        "color": _rgba(c, 0.7),
                        "size": 6,
                        "symbol": symbol,
                        "line": {"color": c, "width": 1},
                    },
                    customdata=cl.end_loss[mask],
                    hovertemplate=(
                        f"{name} {what}<br>(%{{x:.3~g}}, %{{y:.3~g}})<br>"
                        "f = %{customdata:.3~g}<extra></extra>"
                    ),
                )
            )
    return traces


def seed_cloud_figure(
    surface, clouds: Sequence[SeedCloud], colors: Sequence[str] | None = None, n: int = 120
) -> go.Figure:
    """Standalone map: the surface's contours, minima, and :func:`seed_cloud_traces`."""
    (x0, x1), (y0, y1) = surface.domain
    xs, ys = np.linspace(x0, x1, n), np.linspace(y0, y1, n)
    gx, gy = np.meshgrid(xs, ys)
    with np.errstate(all="ignore"):
        f = surface.f(np.stack([gx, gy], axis=-1))
        if surface.log_contours:
            f = np.log10(np.maximum(f - (surface.min_value or 0.0), 0.0) + 1e-12)
    fig = go.Figure(
        go.Contour(
            x=xs,
            y=ys,
            z=np.where(np.isfinite(f), f, np.nan),
            colorscale="Greys",
            showscale=False,
            contours={"coloring": "lines"},
            ncontours=25,
            hoverinfo="skip",
            name="f",
        )
    )
    for tr in seed_cloud_traces(clouds, colors):
        fig.add_trace(tr)
    if surface.minima:
        mins = np.asarray(surface.minima)
        fig.add_trace(
            go.Scatter(
                x=mins[:, 0],
                y=mins[:, 1],
                mode="markers",
                name="global minimum",
                marker={
                    "symbol": MARKER_MIN,
                    "size": 13,
                    "color": "white",
                    "line": {"color": "black", "width": 1},
                },
                hovertemplate="minimum (%{x:.3~g}, %{y:.3~g})<extra></extra>",
            )
        )
    sigma = fmt(clouds[0].noise_std) if clouds else "0"
    fig.update_layout(
        **base_layout(
            f"Where {clouds[0].n_seeds if clouds else 0} noisy runs "
            f"end (σ = {sigma}) on {surface.title}"
        )
    )
    fig.update_xaxes(title="x", range=[x0, x1])
    fig.update_yaxes(title="y", range=[y0, y1], scaleanchor="x", scaleratio=1)
    return _room_for_legend(fig)
