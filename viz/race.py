"""Figures and tables for the Optimizer race: pure ``(surface, RaceResult, options) -> output``.

* :func:`contour_figure`: the hero. The surface as a filled-contour image (log-spaced when
  ``surface.log_contours``), minima and start marked, every racer's path, animated with Plotly
  frames (play/pause and a step slider that moves all racers together). The animation is
  light: frames carry only what moves (each racer's head and a short bold tail, over its full
  path drawn once and faded while it plays), at most ``max_frames`` of them; the default map is
  ~0.2 MB of JSON. An invisible grid of scatter points over the map makes it clickable:
  Streamlit reports selections on scatter points but not on contour traces (streamlit #8760),
  so the page reads a selected grid point as the new start. :func:`surface_layer` (image,
  click grid, colour bar) depends on the surface only, so pages cache it by surface.
* :func:`loss_figure`: f(θ_t) - f* per step on a log axis.
* :func:`surface3d_figure`: the surface in 3D with the paths on it (not animated: Streamlit
  resets 3D cameras on animation, streamlit #4653).
* :func:`leaderboard`, :func:`trajectories`: pandas tables for ``st.dataframe`` and CSV.

Racer ``i`` is drawn in ``viz.common.color(i)`` in every one of them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from engine.race import RANK_RULE, ranking
from viz.common import (
    CLICK_MARKER,
    HOVER_NUM,
    MARKER_DIVERGED,
    MARKER_MIN,
    MARKER_START,
    AnimatedFigure,
    base_layout,
    color,
    compact_floats,
    fmt,
)
from viz.raster import band_greys, contour_png

MAX_FRAMES = 100
STATIC_POINTS = 600  # points per path in the static (hoverable) path traces
LOSS_POINTS = 2000  # points per curve of the loss chart
CLICK_GRID = 40  # clickable points per axis (~1/40 of the domain apart)
CONTOUR_GRID = 400  # pixels per side of the background image
CONTOUR_LEVELS = 24
TAIL = 6  # frame points in a racer's bold tail while the animation plays (6% of the race)
FAINT = 0.3  # opacity of the full paths while the animation plays (or before the cursor)
CLICK_TRACE_NAME = "click-grid"


def _grid(surface, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``xs (n,)``, ``ys (n,)`` spanning the domain and ``f`` on the mesh, shape ``(n, n)``."""
    (x0, x1), (y0, y1) = surface.domain
    xs, ys = np.linspace(x0, x1, n), np.linspace(y0, y1, n)
    mesh = np.stack(np.meshgrid(xs, ys), axis=-1)
    with np.errstate(all="ignore"):
        z = np.asarray(surface.f(mesh), dtype=np.float64)
    return xs, ys, z


def _floor(surface, z: np.ndarray) -> float:
    """f* for the log transform: the known minimum, else the smallest value on the grid."""
    if surface.min_value is not None:
        return float(surface.min_value)
    return float(np.nanmin(z))


def contour_values(surface, z: np.ndarray, ref: np.ndarray | None = None) -> tuple[np.ndarray, str]:
    """What the contour colours: ``log10(f - f* + ε)`` for log surfaces, else f (clipped at
    the 99th percentile of ``ref`` so a few huge corners do not wash out the valley). ``ref``
    (default ``z``) is the grid that fixes ε and the clip, so paths use the map's transform.
    Returns ``(values, colorbar title)``."""
    ref = z if ref is None else ref
    if surface.log_contours:
        floor = _floor(surface, ref)
        eps = max(float(np.nanmax(ref - floor)) * 1e-9, 1e-12)
        return np.log10(np.maximum(z - floor, 0.0) + eps), "log₁₀(f − f*)"
    hi = float(np.nanpercentile(ref, 99))
    return np.minimum(z, hi), "f(x, y)"


def frame_steps(steps: int, max_frames: int = MAX_FRAMES) -> np.ndarray:
    """The steps shown as animation frames: at most ``max_frames``, first and last included."""
    return np.unique(np.linspace(0, steps, min(max_frames, steps + 1)).round().astype(int))


def _subsample(steps: int, limit: int) -> np.ndarray:
    return np.unique(np.linspace(0, steps, min(limit, steps + 1)).round().astype(int))


def _short(a: np.ndarray, decimals: int) -> list[float]:
    """A short JSON list: values rounded to ``decimals`` (frames: ~1/10,000 of the domain,
    far below a pixel; shorter than base64 for the few points a frame carries)."""
    return np.round(np.asarray(a, dtype=np.float64), decimals).tolist()


def surface_layer(surface) -> dict:
    """What the map draws of the surface alone, independent of the racers: the background
    image (filled contours as a PNG, :mod:`viz.raster`), the clickable grid and the colour bar
    trace. Pages cache it by surface, so a changed racer never rebuilds it."""
    xs, ys, z = _grid(surface, CONTOUR_GRID)
    values, ztitle = contour_values(surface, z)
    gx, gy, gz = _grid(surface, CLICK_GRID)
    mx, my = np.meshgrid(gx, gy)
    (x0, x1), (y0, y1) = surface.domain
    greys = band_greys(CONTOUR_LEVELS)
    scale = [
        [k / (CONTOUR_LEVELS - 1), f"rgb({g:.0f},{g:.0f},{g:.0f})"] for k, g in enumerate(greys)
    ]
    cmin, cmax = float(np.nanmin(values)), float(np.nanmax(values))
    with np.errstate(all="ignore"):
        gf = np.where(np.isfinite(gz), gz, np.nan)
    click = go.Scatter(
        x=compact_floats(mx.ravel()),
        y=compact_floats(my.ravel()),
        mode="markers",
        marker=CLICK_MARKER,
        customdata=compact_floats(gf.ravel()),
        name=CLICK_TRACE_NAME,
        showlegend=False,
        hovertemplate=(
            f"x = %{{x:{HOVER_NUM}}}, y = %{{y:{HOVER_NUM}}}<br>"
            f"f = %{{customdata:{HOVER_NUM}}}<br>click to start here<extra></extra>"
        ),
    ).to_plotly_json()
    colorbar = go.Scatter(
        x=[x0, x0],
        y=[y0, y0],
        mode="markers",
        marker={
            "size": 0.1,
            "opacity": 0,
            "color": [cmin, cmax],
            "cmin": cmin,
            "cmax": cmax,
            "colorscale": scale,
            "showscale": True,
            "colorbar": {"title": {"text": ztitle, "side": "right"}, "thickness": 12},
        },
        name="colour scale",
        showlegend=False,
        hoverinfo="skip",
    ).to_plotly_json()
    image = {
        "source": contour_png(values, CONTOUR_LEVELS),
        "xref": "x",
        "yref": "y",
        "x": x0,
        "y": y1,
        "sizex": x1 - x0,
        "sizey": y1 - y0,
        "sizing": "stretch",
        "layer": "below",
        "opacity": 0.85,
    }
    return {"image": image, "traces": [click, colorbar]}


def _path(e, i: int, idx: np.ndarray, faint: bool) -> dict:
    """Racer ``i``'s whole path (static; the legend entry and the hover with step and f).

    When every step is drawn the step is the point's index (``%{pointNumber}``), so only f
    travels as ``customdata``."""
    every = len(idx) == len(e.loss)
    step = "%{pointNumber}" if every else "%{customdata[0]}"
    loss = "%{customdata" + ("" if every else "[1]") + f":{HOVER_NUM}}}"
    return {
        "type": "scatter",
        "x": compact_floats(e.path[idx, 0]),
        "y": compact_floats(e.path[idx, 1]),
        "mode": "lines",
        "line": {"color": color(i), "width": 2.5},
        "opacity": FAINT if faint else 1.0,
        "name": _legend_name(e),
        "legendgroup": f"r{i}",
        "customdata": compact_floats(
            e.loss[idx] if every else np.stack([idx, e.loss[idx]], axis=-1)
        ),
        "hovertemplate": (
            f"<b>{e.label}</b><br>step {step}<br>x = %{{x:{HOVER_NUM}}}, "
            f"y = %{{y:{HOVER_NUM}}}<br>f = {loss}<extra></extra>"
        ),
    }


def _trail(e, i: int, idx: np.ndarray, decimals: int) -> dict:
    """Racer ``i``'s bold path through the steps ``idx`` (the part drawn over the faint path:
    up to the cursor when the map opens mid-race, the tail while it plays)."""
    return {
        "type": "scatter",
        "x": _short(e.path[idx, 0], decimals),
        "y": _short(e.path[idx, 1], decimals),
        "mode": "lines",
        "line": {"color": color(i), "width": 3},
        "name": e.label,
        "legendgroup": f"r{i}",
        "showlegend": False,
        "hoverinfo": "skip",
    }


def _head_marker(result, step: int) -> dict:
    es = result.entries
    diverged = [0 <= int(e.diverged_at) <= step for e in es]
    return {
        "color": [color(i) for i in range(len(es))],
        "size": [18 if d else 12 for d in diverged],
        "symbol": [MARKER_DIVERGED if d else "circle" for d in diverged],
        "line": {
            "width": [3 if d else 1.5 for d in diverged],
            "color": [color(i) if d else "white" for i, d in enumerate(diverged)],
        },
    }


def _heads(result, step: int) -> dict:
    """Every racer's current position as one marker trace; a diverged racer shows ✗."""
    es = result.entries
    diverged = [0 <= int(e.diverged_at) <= step for e in es]
    return {
        "type": "scatter",
        "x": compact_floats([e.path[step, 0] for e in es]),
        "y": compact_floats([e.path[step, 1] for e in es]),
        "mode": "markers",
        "marker": _head_marker(result, step),
        "showlegend": False,
        "name": "racers",
        "text": [
            f"<b>{e.label}</b>{' (diverged)' if d else ''}<br>step {step}<br>"
            f"f = {fmt(e.loss[step])}"
            for e, d in zip(es, diverged, strict=True)
        ],
        "hovertemplate": "%{text}<extra></extra>",
        "hoverinfo": "all",
    }


def _legend_name(e) -> str:
    return f"{e.label} ✗ diverged" if int(e.diverged_at) >= 0 else e.label


def contour_figure(
    surface,
    result,
    *,
    max_frames: int = MAX_FRAMES,
    frame_ms: int = 60,
    height: int = 500,
    show_step: int | None = None,
    overlays: tuple = (),
    layer: dict | None = None,
) -> go.Figure:
    """The animated race map (single start: each ``EntryResult.path`` is ``(steps+1, 2)``).

    ``show_step``: the step the map opens on (default: the finished race); it is always one of
    the frames, so the slider starts there. ``overlays``: extra static traces drawn under the
    racers (e.g. a noisy race's seed clouds from :func:`viz.race_seeds.seed_cloud_traces`).
    ``layer``: :func:`surface_layer` of ``surface`` (built here when not given; pages pass
    their cached one).

    Light animation (the whole figure is re-sent on every rerun that changes it): the surface
    is a layout image, untouched by frames (Plotly wipes contour traces while it plays frames);
    each racer's full path is a static trace drawn once, bold when the map shows the finished
    race and faint while it plays. Frames carry only what moves: each racer's bold tail (the
    last :data:`TAIL` frame points), the heads, and the paths' opacity (a few bytes); the last
    frame restores the finished picture. Frames are plain dicts (validating ~1,000 frame traces
    would take seconds).

    Trace order: 0 click grid, 1 colour bar, 2 minima, 3 start, overlays, then the ``n``
    racers' paths, their ``n`` bold trails, and last all racers' heads (the moving traces
    are the last ``2n + 1``). The figure opens on ``show_step``; Play replays from step 0,
    or resumes after Pause.
    """
    layer = surface_layer(surface) if layer is None else layer
    minima = np.asarray(surface.minima, dtype=np.float64).reshape(-1, 2)
    start = np.asarray(result.starts, dtype=np.float64).reshape(2)
    steps = int(result.steps)
    full = _subsample(steps, STATIC_POINTS)
    decimals = int(3 - np.floor(np.log10(surface.width)))  # 1/1000 of the width: < 1 px
    static = [
        go.Scatter(
            x=minima[:, 0],
            y=minima[:, 1],
            mode="markers",
            marker={"symbol": MARKER_MIN, "size": 15, "color": "#F0E442", "line": {"width": 1}},
            name="global minimum",
            showlegend=False,  # the page's caption names ★ and ○; one legend row for racers
            hovertemplate=f"minimum (%{{x:{HOVER_NUM}}}, %{{y:{HOVER_NUM}}})<extra></extra>",
        ),
        go.Scatter(
            x=[start[0]],
            y=[start[1]],
            mode="markers",
            marker={
                "symbol": MARKER_START,
                "size": 16,
                "color": "white",
                "line": {"width": 2.5, "color": "#333333"},
            },
            name="start",
            showlegend=False,
            hovertemplate=f"start (%{{x:{HOVER_NUM}}}, %{{y:{HOVER_NUM}}})<extra></extra>",
        ),
    ]
    static = [*layer["traces"], *(t.to_plotly_json() for t in (*static, *overlays))]
    shown = frame_steps(steps, max_frames)
    at = steps if show_step is None else int(min(max(show_step, 0), steps))
    shown = np.union1d(shown, [at])
    opening = int(np.searchsorted(shown, at))
    es = result.entries
    n = len(es)
    finished = at == steps
    before = np.union1d(full[full <= at], [at])
    data = static + [_path(e, i, full, not finished) for i, e in enumerate(es)]
    data += [_trail(e, i, before[: 0 if finished else None], decimals) for i, e in enumerate(es)]
    data.append(_heads(result, at))

    paths = list(range(len(static), len(static) + n))
    moving = list(range(len(static) + n, len(data)))  # trails and heads
    any_diverged = any(int(e.diverged_at) >= 0 for e in es)
    frames = []
    for k, step in enumerate(shown):
        step = int(step)
        if k == len(shown) - 1:  # the finished race, as the map opens by default
            trails = [{"x": [], "y": []}] * n
            heads = _heads(result, step)
            heads = {key: heads[key] for key in ("x", "y", "marker", "text", "hoverinfo")}
        else:
            tail = shown[max(k - TAIL, 0) : k + 1]
            trails = [
                {"x": _short(e.path[tail, 0], decimals), "y": _short(e.path[tail, 1], decimals)}
                for e in es
            ]
            heads = {
                "x": _short([e.path[step, 0] for e in es], decimals),
                "y": _short([e.path[step, 1] for e in es], decimals),
                "hoverinfo": "skip",  # the paths' hover tells step and f while it plays
            }
            if any_diverged:
                heads["marker"] = _head_marker(result, step)
        frame = {"name": str(step), "data": [*trails, heads], "traces": moving}
        if k == 0 or k == len(shown) - 1:  # Play fades the full paths; the end restores them
            opacity = [{"opacity": FAINT if k == 0 else 1.0}] * n
            frame.update(data=[*opacity, *trails, heads], traces=paths + moving)
        frames.append(frame)

    anim = {"mode": "immediate", "transition": {"duration": 0}}
    still = {**anim, "frame": {"duration": 0, "redraw": False}}
    play = {**anim, "fromcurrent": True, "frame": {"duration": frame_ms, "redraw": False}}
    (x0, x1), (y0, y1) = surface.domain
    layout = base_layout(f"{surface.title}: {n} optimizers, {steps:,} steps")
    names = [t.get("name") for t in data if t.get("showlegend", True) is not False]
    top = legend_top_margin([name for name in names if name and name != CLICK_TRACE_NAME], 70)
    layout.update(
        height=height + top - 70,  # the plot area keeps its size whatever the legend needs
        margin={"l": 50, "r": 10, "t": top, "b": 96},
        xaxis={"title": {"text": "x", "standoff": 4}, "range": [x0, x1], "constrain": "domain"},
        yaxis={"title": {"text": "y", "standoff": 4}, "range": [y0, y1]},
        images=[layer["image"]],
        template={"layout": {}},  # Streamlit's theme styles it; Plotly's default is ~7 KB
        dragmode="pan",
        clickmode="event+select",
        updatemenus=[
            {
                "type": "buttons",
                "direction": "left",
                "x": 0.0,
                "y": -0.08,
                "xanchor": "left",
                "yanchor": "top",
                "pad": {"r": 10, "t": 10},
                "showactive": False,
                "buttons": [
                    {"label": "▶ Play", "method": "animate", "args": [None, play]},
                    {"label": "❚❚ Pause", "method": "animate", "args": [[None], still]},
                ],
            }
        ],
        sliders=[
            {
                "active": opening,
                "x": 0.2,
                "len": 0.8,
                "y": -0.02,
                "yanchor": "top",
                "pad": {"t": 10},
                "currentvalue": {"prefix": "step ", "visible": True, "xanchor": "left"},
                "steps": [
                    {"label": str(s), "method": "animate", "args": [[str(s)], still]} for s in shown
                ],
            }
        ],
    )
    return AnimatedFigure(data, layout, frames)


LEGEND_WIDTH_PX = 720
"""Width a horizontal legend wraps at, for the row estimate (the map's width on a ~1280 px
laptop window, minus margins; a wider window needs fewer rows)."""


def legend_rows(names: list[str], width: int = LEGEND_WIDTH_PX) -> int:
    """Rows a horizontal Plotly legend needs for ``names`` (greedy packing; each item is its
    symbol, ~40 px, plus ~6.5 px per character of its name)."""
    rows, used = 1, 0.0
    for name in names:
        item = 40 + 6.5 * len(name)
        if used and used + item > width:
            rows, used = rows + 1, 0.0
        used += item
    return rows


def legend_top_margin(names: list[str], floor: int = 110) -> int:
    """Top margin with room for the title (~50 px) and every legend row (~24 px each), at
    least ``floor`` px: the legend sits between them and never covers the title."""
    return max(floor, 56 + 24 * legend_rows(names))


def loss_figure(surface, result, height: int = 420) -> go.Figure:
    """f(θ_t) − f* against the step, log y (linear f when the surface has no minimum)."""
    log = surface.min_value is not None
    fig = go.Figure()
    for i, e in enumerate(result.entries):
        idx = _subsample(int(result.steps), LOSS_POINTS)
        y = e.loss[idx] - surface.min_value if log else e.loss[idx]
        if log:
            y = np.maximum(y, 1e-16)
        fig.add_trace(
            go.Scatter(
                x=idx,
                y=y,
                mode="lines",
                name=_legend_name(e),
                line={"color": color(i), "width": 2},
                hovertemplate=(
                    f"<b>{e.label}</b><br>step %{{x}}<br>"
                    f"{'f − f*' if log else 'f'} = %{{y:{HOVER_NUM}}}<extra></extra>"
                ),
            )
        )
        if int(e.diverged_at) >= 0:
            k = int(e.diverged_at)
            fig.add_trace(
                go.Scatter(
                    x=[k],
                    y=[y[np.searchsorted(idx, min(k, idx[-1]))]],
                    mode="markers",
                    marker={"symbol": MARKER_DIVERGED, "size": 14, "color": color(i)},
                    showlegend=False,
                    hovertemplate=f"<b>{e.label}</b><br>diverged at step {k}<extra></extra>",
                )
            )
    ytitle = "f(θ) − f*  (log scale)" if log else "f(θ)"
    fig.update_layout(
        **base_layout("Loss gap to the global minimum per step" if log else "Loss per step"),
        height=height,
        xaxis={"title": {"text": "step"}},
        yaxis={
            "title": {"text": ytitle},
            "type": "log" if log else "linear",
            "exponentformat": "power",
        },
    )
    return fig


SURFACE3D_CONFIG = {"plotGlPixelRatio": 1, "displaylogo": False}
"""Plotly config for :func:`surface3d_figure`: one WebGL pixel per CSS pixel. Plotly's default
(2) draws four times the pixels on every screen; without a GPU (software WebGL, as in a VM or
a headless browser) that made opening the 3D view ~0.4 s slower at this size (README,
Benchmarks: the race A/B after run 7), and at ratio 2 its automatic tick spacing crowded the
axis labels. The cost: on a high-DPI screen the 3D view is as sharp as on a standard one,
not sharper."""


def surface3d_figure(surface, result, height: int = 500) -> go.Figure:
    """The surface (log-scaled height for log surfaces) with each racer's path on it.

    Shown with :data:`SURFACE3D_CONFIG`. The scene has its own axes, so the figure keeps only
    the top margin (title and legend): a 410 px tall scene in a 500 px figure (it was 560 px
    with 140 px of margins)."""
    xs, ys, z = _grid(surface, 80)
    values, ztitle = contour_values(surface, z)
    fig = go.Figure(
        go.Surface(
            x=xs,
            y=ys,
            z=compact_floats(values),
            colorscale="Greys",
            reversescale=True,
            opacity=0.85,
            showscale=False,
            hovertemplate=f"x = %{{x:{HOVER_NUM}}}<br>y = %{{y:{HOVER_NUM}}}<extra></extra>",
        )
    )
    idx = _subsample(int(result.steps), 600)
    lift = 0.01 * float(np.nanmax(values) - np.nanmin(values))
    for i, e in enumerate(result.entries):
        p = e.path[idx]
        with np.errstate(all="ignore"):
            zz, _ = contour_values(surface, np.asarray(surface.f(p)), ref=z)
        fig.add_trace(
            go.Scatter3d(
                x=compact_floats(p[:, 0]),
                y=compact_floats(p[:, 1]),
                z=compact_floats(zz + lift),
                mode="lines",
                line={"color": color(i), "width": 6},
                name=_legend_name(e),
                customdata=compact_floats(np.stack([idx, e.loss[idx]], axis=-1)),
                hovertemplate=(
                    f"<b>{e.label}</b><br>step %{{customdata[0]}}<br>"
                    f"f = %{{customdata[1]:{HOVER_NUM}}}<extra></extra>"
                ),
            )
        )
    (x0, x1), (y0, y1) = surface.domain
    fig.update_layout(
        **base_layout(
            f"{surface.title} in 3D (drag to rotate)", margin={"l": 0, "r": 0, "t": 90, "b": 0}
        ),
        height=height,
        scene={
            "xaxis": {"title": {"text": "x"}, "range": [x0, x1], "nticks": 6},
            "yaxis": {"title": {"text": "y"}, "range": [y0, y1], "nticks": 6},
            "zaxis": {"title": {"text": ztitle}},
            "camera": {"eye": {"x": 1.6, "y": 1.6, "z": 1.3}},  # the tick labels stay in view
        },
    )
    return fig


def leaderboard(surface, result) -> pd.DataFrame:
    """One row per racer in :func:`engine.race.ranking` order (:data:`engine.race.RANK_RULE`):
    status sentence, steps to settle within tolerance (``None`` = did not settle), final loss,
    distance to the nearest minimum. The index is the rank."""
    rows = []
    for i in ranking(result, surface.min_value):
        e = result.entries[i]
        settled = -1 if e.settled_at is None else int(e.settled_at)
        rows.append(
            {
                "racer": e.label,
                "status": str(e.status),
                "settled at step": settled if settled >= 0 else None,
                "final loss": float(e.final_loss),
                "distance to minimum": float(e.dist_to_min) if surface.minima else None,
                "_colour": color(i),
            }
        )
    df = pd.DataFrame(rows)
    df.index = df.index + 1
    df.index.name = "rank"
    return df


def leaderboard_table(surface, result):
    """:func:`leaderboard` formatted for people (3 significant digits, "—" where a number does
    not apply), the racer's name in its race colour; a pandas Styler for ``st.table``."""
    df = leaderboard(surface, result)
    colours = list(df.pop("_colour"))
    shown = pd.DataFrame(
        {
            "Racer": df["racer"],
            "Status": df["status"],
            f"Settled (within {fmt(result.tol)}) at step": [
                "—" if v is None or v != v else f"{int(v):,}" for v in df["settled at step"]
            ],
            "Final loss f(θ)": [fmt(v) for v in df["final loss"]],
            "Distance to nearest minimum": [
                "—" if v is None or v != v else fmt(v) for v in df["distance to minimum"]
            ],
        },
        index=df.index,
    )

    def paint(column):
        return [f"color: {c}; font-weight: 600" for c in colours]

    return shown.style.apply(paint, subset=["Racer"])


def leaderboard_rule(surface, result) -> str:
    """The caption under the leaderboard: the tolerance and the ranking rule."""
    if not surface.minima:
        return (
            "This surface has no known minimum: nobody can settle, so racers are ranked by "
            "final loss (smallest first); racers stopped by divergence last."
        )
    return (
        f"Settled at step k: from step k to the end the racer stays within {fmt(result.tol)} "
        f"(Euclidean distance) of a global minimum. {RANK_RULE}"
    )


def stop_message(e) -> str:
    """The banner for a racer the race stopped: which of the two reasons, true to the run."""
    if e.nonfinite_stop is not None and bool(np.asarray(e.nonfinite_stop).reshape(-1)[0]):
        k = int(e.diverged_at)
        x, y = (float(v) for v in e.path[-1])  # frozen at the last good point
        return (
            f"**{e.label}** stopped at step {k}: it stepped into a region where f or its "
            f"gradient is not finite (last good point ({fmt(x)}, {fmt(y)}); its path ends "
            "with ✗). The region is blank on the map."
        )
    return (
        f"**{e.label}** {e.status}: its steps grew without bound (its path ends with ✗). "
        "Try a smaller learning rate."
    )


def trajectories(result) -> pd.DataFrame:
    """Every racer's full path, long format: step, racer, x, y, loss, grad_norm."""
    parts = []
    for e in result.entries:
        steps = np.arange(e.path.shape[0])
        parts.append(
            pd.DataFrame(
                {
                    "step": steps,
                    "racer": e.label,
                    "x": e.path[:, 0],
                    "y": e.path[:, 1],
                    "loss": e.loss,
                    "grad_norm": e.grad_norm,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)
