"""Figures for the race page's basin-of-attraction maps, and the helpers the other analysis
figures share (selection grid, colours, legend room). Pure functions
``(engine results, options) -> go.Figure``.

Colours: entry ``i`` is ``viz.common.color(i)`` everywhere, as on the race page; pass
``colors`` to override (e.g. when the page's entries are a subset).

Click-to-race on heatmaps (streamlit #8760: ``st.plotly_chart(on_select=...)`` reports no
points for heatmap traces). Every heatmap panel carries an invisible scatter grid (at most
:data:`SELECT_GRID` x :data:`SELECT_GRID` markers at cell centres, ``name="select"``) whose
``customdata`` is the cell's coordinates: ``(x0, y0)`` for basin maps (a start point),
``(lr, knob value)`` for sensitivity maps (:mod:`viz.race_tuning`). A page uses it as::

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

from engine.basins import DIVERGED, NONE, BasinResult
from viz.common import CLICK_MARKER, MARKER_MIN, base_layout, color, empty_figure, fmt

SELECT_GRID = 25
"""Markers per side of the invisible selection grid laid over a heatmap."""

MINIMA_COLORS = ("#F5C242", "#7FB3E0", "#6CC3A0", "#E59BC4", "#C9A27E", "#B9B9F0", "#F2A07B")
"""Categorical fills for "ended at minimum i" (light, so dark minimum markers stay visible)."""
NONE_COLOR = "#8C8C8C"
DIVERGED_COLOR = "#000000"


def room_for_legend(fig: go.Figure, top: int = 110) -> go.Figure:
    """Title pinned to the top edge and a taller top margin so a one- or two-row horizontal
    legend above the plot never overlaps the title."""
    fig.update_layout(title_y=0.985, title_yanchor="top", margin_t=top)
    return fig


def colors_for(n: int, colors: Sequence[str] | None) -> list[str]:
    return list(colors) if colors is not None else [color(i) for i in range(n)]


def rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def finite_or_none(values: np.ndarray) -> list:
    """Plotly-ready list: non-finite numbers become ``None`` (a gap), never reach the chart."""
    return [float(v) if np.isfinite(v) else None for v in np.asarray(values, float).ravel()]


def select_grid(
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
        marker=CLICK_MARKER,
        customdata=np.stack([xv[cols], yv[rows]], axis=-1),
        text=None if text is None else text[rows, cols],
        hovertemplate=hover + "<extra></extra>",
    )


def half_cell(v: np.ndarray) -> float:
    return float(v[1] - v[0]) / 2 if len(v) > 1 else 0.5


# --------------------------------------------------------------------------- basins


def _basin_names(n_minima: int) -> dict[int, str]:
    """Short per-cell hover names (kept short: one string per cell goes into the JSON)."""
    names = {i: f"min {i + 1}" for i in range(n_minima)}
    names[NONE] = "none"
    names[DIVERGED] = "diverged"
    return names


def _cell_hover(label: np.ndarray, steps: np.ndarray, names: dict[int, str]) -> np.ndarray:
    """Each cell's hover line: ``"min 2, settled by step 37"`` where the run settled, the bare
    name (``"none"``, ``"diverged"``) where it did not: ``steps`` is -1 there, no step to state.
    Plain text (Plotly's JSON escapes ``<`` and ``/``, six characters each)."""
    codes = sorted(names)  # DIVERGED (-2), NONE (-1), then the minima 0, 1, ...
    words = np.array([names[c] for c in codes], dtype=object)[label - codes[0]]
    settled = label >= 0
    words[settled] = words[settled] + np.char.add(", settled by step ", steps[settled].astype(str))
    return words


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
    grid (``customdata = (x0, y0)``), which also carries the hover (:func:`_cell_hover`): with
    ``hoverdistance=-1`` the nearest marker answers anywhere over a panel, whatever the grid
    and the window's width, so the heatmaps skip their own hover and send no per-cell text
    (at Plotly's default 20 px a marker nearer than that always won over the heatmap anyway).
    """
    if mode not in ("basin", "steps"):
        raise ValueError(f"Unknown basin map mode {mode!r}; choose 'basin' or 'steps'")
    if not result.maps:
        return empty_figure("Add a race entry to map its basins.", "Basins of attraction")
    colors = colors_for(len(result.maps), colors)
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
        ends = _cell_hover(label, bmap.steps, names)
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
                    name=bmap.entry.label,
                    hoverinfo="skip",
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
                    name=bmap.entry.label,
                    hoverinfo="skip",
                    colorbar={
                        "title": {"text": "steps to settle<br>(log scale)"},
                        "tickvals": tv,
                        "ticktext": tt,
                        "len": 0.6,
                    },
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
        fig.add_trace(
            select_grid(
                result.xs,
                result.ys,
                ends,
                hover="start (%{x:.3~g}, %{y:.3~g}) → %{text}<br>click to race from here",
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
            clickmode="event+select",
            hoverdistance=-1,  # the nearest click-grid marker answers anywhere over a panel
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
        range=[result.xs[0] - half_cell(result.xs), result.xs[-1] + half_cell(result.xs)],
    )
    fig.update_yaxes(
        title_text="y₀ (start)",
        range=[result.ys[0] - half_cell(result.ys), result.ys[-1] + half_cell(result.ys)],
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
