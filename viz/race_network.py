"""Figures and tables for the race page's network view: pure ``(engine results) -> output``.

* :func:`landscape_figure`: the hero. The loss over the plane (a PCA plane of the
  trajectories, or two filter-normalized random directions) as a banded grey image (a layout
  image: Plotly wipes contour traces while frames play, see viz.raster), an invisible marker
  grid over it that carries the colour bar and the exact grid values on hover, every racer's
  projected path drawn once, and light animation frames that move only each racer's head
  marker and a short tail. The explained variance of the two directions is printed on the
  figure, with a warning sentence when it is low.
* :func:`curves_figure`: train (solid) and validation (dashed) loss per racer, per epoch,
  against the optimizer step (live while training).
* :func:`path_loss_figure`: along each racer's path, the TRUE loss at θ_t (solid) beside
  the loss at its projected point on the plane (dotted, what the contour shows there).
* :func:`slices_figure`: each racer's 1D filter-normalized slice through its end point.
* :func:`leaderboard_table`, :func:`curves_table`, :func:`paths_table`: pandas tables for
  ``st.dataframe`` and the CSV downloads.

Racer ``i`` is drawn in ``viz.common.color(i)``: the same colour as on the 2D race map.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from viz.common import (
    HOVER_NUM,
    MARKER_DIVERGED,
    AnimatedFigure,
    base_layout,
    color,
    compact_floats,
    fmt,
)
from viz.raster import band_greys, contour_png

MAX_FRAMES = 60
TAIL = 6  # points of the moving tail behind each head
IMAGE_PIXELS = 240  # the background image is the grid upsampled (bilinear) to this size
LOW_EXPLAINED = 0.5  # below this, the plane hides most of the motion: say so
LEVELS = 24


def explained_text(explained: tuple[float, float] | None) -> tuple[str, str | None]:
    """``(caption, warning)``: the two directions' share of the trajectories' variance, and a
    sentence when together they explain less than :data:`LOW_EXPLAINED`."""
    if explained is None:
        return "Random filter-normalized directions (no explained variance: not fitted).", None
    a, b = explained
    text = f"PC1 explains {a:.1%}, PC2 {b:.1%} of the motion ({a + b:.1%} together)"
    if a + b < LOW_EXPLAINED:
        return text, (
            f"Only {a + b:.0%} of the trajectories' variance lies in this plane: the picture "
            "hides most of the motion, so paths that look close may be far apart."
        )
    return text, None


def _upsample(z: np.ndarray, n: int) -> np.ndarray:
    """Bilinear resampling of ``z`` ``(ny, nx)`` to ``(n, n)`` (display only)."""
    ny, nx = z.shape
    yi, xi = np.linspace(0, ny - 1, n), np.linspace(0, nx - 1, n)
    y0, x0 = np.floor(yi).astype(int), np.floor(xi).astype(int)
    y1, x1 = np.minimum(y0 + 1, ny - 1), np.minimum(x0 + 1, nx - 1)
    wy, wx = (yi - y0)[:, None], (xi - x0)[None, :]
    top = z[y0][:, x0] * (1 - wx) + z[y0][:, x1] * wx
    bottom = z[y1][:, x0] * (1 - wx) + z[y1][:, x1] * wx
    return top * (1 - wy) + bottom * wy


def colour_values(loss: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, float, float, str]:
    """``log10(loss)`` clipped to ``[min, 98th percentile]`` of ``ref``: ``(values, lo, hi,
    colour-bar title)``; the clip is stated in the title when it bites."""
    finite = ref[np.isfinite(ref) & (ref > 0)]
    lo = float(np.log10(finite.min())) if finite.size else 0.0
    hi = float(np.log10(np.percentile(finite, 98))) if finite.size else 1.0
    hi = max(hi, lo + 1e-6)
    with np.errstate(all="ignore"):
        v = np.log10(np.where(np.isfinite(loss) & (loss > 0), loss, np.nan))
    clipped = bool(finite.size and np.log10(finite.max()) > hi + 1e-12)
    title = "loss (log colour scale" + (f", clipped at {fmt(10**hi)})" if clipped else ")")
    return np.clip(v, lo, hi), lo, hi, title


def frame_indices(n_points: int, max_frames: int = MAX_FRAMES) -> np.ndarray:
    """Indices into a recorded path shown as frames: at most ``max_frames``, ends included."""
    return np.unique(np.linspace(0, n_points - 1, min(max_frames, n_points)).round().astype(int))


def _label(result, i: int) -> str:
    r = result.runs[i]
    return f"{r.label} ✗ diverged" if r.history.diverged_at is not None else r.label


def _true_at_coords(land, i: int) -> np.ndarray:
    """The true loss aligned with racer i's plotted points (all of them, or its end)."""
    n = len(land.coords[i])
    return land.true_loss[i][len(land.true_loss[i]) - n :]


def _moving(land, result, j: int, full: bool) -> list[dict]:
    """The traces frames carry at recorded point ``j``: one tail per racer (its last
    :data:`TAIL` points) and one marker trace holding every racer's head. A racer with a
    shorter path (one that diverged) stays at its last point, shown as ✗. ``full`` adds the
    styling (the figure's own data); frames carry coordinates and symbols only."""
    tails, hx, hy, symbols = [], [], [], []
    for i, c in enumerate(land.coords):
        n = len(c)
        k = min(j, n - 1)
        lo = max(0, k - TAIL)
        tail = (
            {"x": compact_floats(c[lo : k + 1, 0]), "y": compact_floats(c[lo : k + 1, 1])}
            if n
            else {"x": [], "y": []}
        )
        if full:
            tail |= {
                "type": "scatter",
                "mode": "lines",
                "line": {"color": color(i), "width": 3.5},
                "showlegend": False,
                "legendgroup": f"r{i}",
                "hoverinfo": "skip",
            }
        tails.append(tail)
        diverged = n > 0 and k == n - 1 and result.runs[i].history.diverged_at is not None
        hx.append(float(c[k, 0]) if n else None)
        hy.append(float(c[k, 1]) if n else None)
        symbols.append(MARKER_DIVERGED if diverged else "circle")
    heads = {"x": compact_floats(hx), "y": compact_floats(hy), "marker": {"symbol": symbols}}
    if full:
        heads = {
            "type": "scatter",
            "mode": "markers",
            "x": heads["x"],
            "y": heads["y"],
            "marker": {
                "symbol": symbols,
                "color": [color(i) for i in range(len(land.coords))],
                "size": 13,
                "line": {"width": 1.5, "color": "white"},
            },
            "showlegend": False,
            "hoverinfo": "skip",
            "name": "racers",
        }
    return [*tails, heads]


def landscape_figure(land, result, *, height: int = 560, frame_ms: int = 80) -> go.Figure:
    """The animated landscape (see the module docstring). Trace order: 0 hover grid (and
    colour bar), 1 the reference end point, ``2 + i`` racer i's full projected path (with the
    hover values), then one tail per racer and one trace of all heads (the only traces frames
    carry, coordinates only). A plane of random directions shows one point (the reference's
    end): no frames, no Play button, no step slider."""
    a, b, Z = land.alphas, land.betas, land.loss
    every = np.concatenate([Z.ravel(), *land.projected_loss])
    values, lo, hi, ztitle = colour_values(Z, every)
    image = np.nan_to_num(_upsample(values, IMAGE_PIXELS), nan=hi)
    ga, gb = np.meshgrid(a, b)
    greys = band_greys(LEVELS)
    static: list[dict] = [
        {
            "type": "scatter",
            "x": compact_floats(ga.ravel()),
            "y": compact_floats(gb.ravel()),
            "mode": "markers",
            "marker": {
                "size": 8,
                "opacity": 0,
                "color": compact_floats(values.ravel()),
                "cmin": lo,
                "cmax": hi,
                "colorscale": [
                    [k / (LEVELS - 1), f"rgb({g:.0f},{g:.0f},{g:.0f})"] for k, g in enumerate(greys)
                ],
                "showscale": True,
                "colorbar": {
                    "title": {"text": ztitle, "side": "right"},
                    "thickness": 12,
                    "tickvals": list(np.linspace(lo, hi, 5)),
                    "ticktext": [fmt(10**v) for v in np.linspace(lo, hi, 5)],
                },
            },
            "customdata": compact_floats(Z.ravel()),
            "name": "grid",
            "showlegend": False,
            "hovertemplate": (
                f"α = %{{x:{HOVER_NUM}}}, β = %{{y:{HOVER_NUM}}}<br>"
                f"loss = %{{customdata:{HOVER_NUM}}}<extra></extra>"
            ),
        },
        {
            "type": "scatter",
            "x": [0.0],
            "y": [0.0],
            "mode": "markers",
            "marker": {"symbol": "star", "size": 16, "color": "#F0E442", "line": {"width": 1}},
            "name": f"origin: {result.runs[land.reference].label}'s end",
            "hovertemplate": f"origin: {result.runs[land.reference].label}'s final weights"
            "<extra></extra>",
        },
    ]
    for i, c in enumerate(land.coords):
        static.append(
            {
                "type": "scatter",
                "x": compact_floats(c[:, 0]),
                "y": compact_floats(c[:, 1]),
                "mode": "lines",
                "line": {"color": color(i), "width": 2},
                "opacity": 0.7,
                "name": _label(result, i),
                "legendgroup": f"r{i}",
                "customdata": np.stack(
                    [
                        land.path_steps[i],
                        compact_floats(land.projected_loss[i]),
                        compact_floats(_true_at_coords(land, i)),
                    ],
                    axis=-1,
                )
                if len(c)
                else None,
                "hovertemplate": (
                    f"<b>{result.runs[i].label}</b><br>step %{{customdata[0]:,}}<br>"
                    f"loss at the projected point %{{customdata[1]:{HOVER_NUM}}}<br>"
                    f"true loss at θ %{{customdata[2]:{HOVER_NUM}}}<extra></extra>"
                ),
            }
        )
    longest = max(range(len(land.coords)), key=lambda i: len(land.coords[i]))
    ref_steps = land.path_steps[longest]
    shown = frame_indices(max(len(ref_steps), 1))
    data = static + _moving(land, result, int(shown[-1]), True)
    moving = list(range(len(static), len(data)))
    frames = [
        {"name": str(k), "data": _moving(land, result, int(j), False), "traces": moving}
        for k, j in enumerate(shown)
    ]
    anim = {"mode": "immediate", "transition": {"duration": 0}}
    still = {**anim, "frame": {"duration": 0, "redraw": False}}
    play = {**anim, "fromcurrent": False, "frame": {"duration": frame_ms, "redraw": False}}
    caption, warning = explained_text(land.explained)
    axis = "PC" if land.mode == "pca" else "random direction "
    title = (
        "Loss landscape of the network: PCA plane of the trajectories"
        if land.mode == "pca"
        else f"Loss landscape around {result.runs[land.reference].label}'s end: "
        "filter-normalized random directions"
    )
    subtitle = caption + (f"<br><b>⚠ {warning}</b>" if warning else "")
    layout = base_layout(f"{title}<br><span style='font-size:12px'>{subtitle}</span>")
    layout.update(
        height=height,
        margin={"l": 60, "r": 20, "t": 130 if warning else 110, "b": 120},
        xaxis={"title": {"text": f"α ({axis}1)"}, "range": [float(a[0]), float(a[-1])]},
        yaxis={"title": {"text": f"β ({axis}2)"}, "range": [float(b[0]), float(b[-1])]},
        images=[
            {
                "source": contour_png(image, LEVELS),
                "xref": "x",
                "yref": "y",
                "x": float(a[0]),
                "y": float(b[-1]),
                "sizex": float(a[-1] - a[0]),
                "sizey": float(b[-1] - b[0]),
                "sizing": "stretch",
                "layer": "below",
                "opacity": 0.85,
            }
        ],
        updatemenus=[
            {
                "type": "buttons",
                "direction": "left",
                "x": 0.0,
                "y": -0.12,
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
                "active": len(shown) - 1,
                "x": 0.2,
                "len": 0.8,
                "y": -0.06,
                "yanchor": "top",
                "pad": {"t": 10},
                "currentvalue": {"prefix": "step ", "visible": True, "xanchor": "left"},
                "steps": [
                    {
                        "label": f"{int(ref_steps[j]) if len(ref_steps) else 0}",
                        "method": "animate",
                        "args": [[str(k)], still],
                    }
                    for k, j in enumerate(shown)
                ],
            }
        ],
    )
    if len(shown) < 2:  # random plane: one point (the reference's end), nothing to play
        layout.pop("updatemenus")
        layout.pop("sliders")
        frames = []
        layout["margin"]["b"] = 60
    return AnimatedFigure(data, layout, frames)


def curves_figure(result, *, height: int = 380) -> go.Figure:
    """Train (solid) and validation (dashed) loss per racer against the step (log y)."""
    fig = go.Figure()
    for i, r in enumerate(result.runs):
        h = r.history
        x = np.asarray(h.epochs) * r.steps_per_epoch
        for kind, y, dash in (("train", h.train_loss, None), ("validation", h.val_loss, "dash")):
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=compact_floats(y),
                    mode="lines",
                    line={"color": color(i), "width": 2, "dash": dash},
                    name=_label(result, i),
                    legendgroup=f"r{i}",
                    showlegend=kind == "train",
                    hovertemplate=(
                        f"<b>{r.label}</b> {kind}<br>step %{{x:,}}<br>"
                        f"loss %{{y:{HOVER_NUM}}}<extra></extra>"
                    ),
                )
            )
    fig.update_layout(
        **base_layout("Loss per racer: training (solid) and validation (dashed), full data"),
        height=height,
        xaxis={"title": {"text": "optimizer step"}},
        yaxis={"title": {"text": "cross-entropy (log scale)"}, "type": "log"},
    )
    return fig


def path_loss_figure(land, result, *, height: int = 360) -> go.Figure:
    """Along each path: the true loss at θ_t (solid) and at its projection (dotted)."""
    fig = go.Figure()
    for i, r in enumerate(result.runs):
        steps = land.path_steps[i] if land.mode == "pca" else r.path_steps
        true = land.true_loss[i]
        fig.add_trace(
            go.Scatter(
                x=r.path_steps,
                y=compact_floats(true),
                mode="lines",
                line={"color": color(i), "width": 2},
                name=_label(result, i),
                legendgroup=f"r{i}",
                hovertemplate=f"<b>{r.label}</b><br>step %{{x:,}}<br>true loss %{{y:{HOVER_NUM}}}"
                "<extra></extra>",
            )
        )
        if land.mode == "pca" and len(steps):
            fig.add_trace(
                go.Scatter(
                    x=steps,
                    y=compact_floats(land.projected_loss[i]),
                    mode="lines",
                    line={"color": color(i), "width": 2, "dash": "dot"},
                    name=f"{r.label}: loss at the projected point",
                    legendgroup=f"r{i}",
                    showlegend=False,
                    hovertemplate=f"<b>{r.label}</b><br>step %{{x:,}}<br>loss at the projected "
                    f"point %{{y:{HOVER_NUM}}}<extra></extra>",
                )
            )
    fig.update_layout(
        **base_layout(
            "Along each path: the true loss at θ<sub>t</sub> (solid) and the loss at its "
            "projected point on the plane (dotted)"
        ),
        height=height,
        xaxis={"title": {"text": "optimizer step"}},
        yaxis={"title": {"text": "training loss (log scale)"}, "type": "log"},
    )
    return fig


def slices_figure(land, result, *, height: int = 360) -> go.Figure:
    """Each racer's 1D slice through its end point along a filter-normalized direction."""
    fig = go.Figure()
    for i, r in enumerate(result.runs):
        fig.add_trace(
            go.Scatter(
                x=compact_floats(land.slice_ts),
                y=compact_floats(land.slices[i]),
                mode="lines",
                line={"color": color(i), "width": 2},
                name=f"{_label(result, i)} (rise within ±0.25: {fmt(land.sharpness[i])})",
                hovertemplate=f"<b>{r.label}</b><br>t = %{{x:{HOVER_NUM}}}<br>"
                f"loss %{{y:{HOVER_NUM}}}<extra></extra>",
            )
        )
    fig.update_layout(
        **base_layout("Sharpness: loss along one filter-normalized direction through each end"),
        height=height,
        xaxis={"title": {"text": "t (1 = each neuron's own weight norm)"}},
        yaxis={"title": {"text": "training loss (log scale)"}, "type": "log"},
    )
    return fig


def leaderboard_table(rows) -> pd.DataFrame:
    """The leaderboard rows (engine.netrace_report.Row) as a table for people."""
    return pd.DataFrame(
        {
            "rank": [r.rank for r in rows],
            "racer": [r.label for r in rows],
            "train loss": [fmt(r.train_loss) for r in rows],
            "val loss": [fmt(r.val_loss) for r in rows],
            "train acc": [
                f"{r.train_acc:.1%}" if r.train_acc == r.train_acc else "—" for r in rows
            ],
            "val acc": [f"{r.val_acc:.1%}" if r.val_acc == r.val_acc else "—" for r in rows],
            "status": [r.status for r in rows],
        }
    )


def curves_table(result) -> pd.DataFrame:
    """Long table of every racer's evaluated losses and accuracies (CSV download)."""
    parts = []
    for r in result.runs:
        h = r.history
        parts.append(
            pd.DataFrame(
                {
                    "racer": r.label,
                    "epoch": h.epochs,
                    "step": np.asarray(h.epochs) * r.steps_per_epoch,
                    "train_loss": h.train_loss,
                    "val_loss": h.val_loss,
                    "train_acc": h.train_acc,
                    "val_acc": h.val_acc,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def paths_table(land, result) -> pd.DataFrame:
    """Every racer's projected path: step, α, β, loss at the projected point, true loss."""
    parts = []
    for i, r in enumerate(result.runs):
        c = land.coords[i]
        parts.append(
            pd.DataFrame(
                {
                    "racer": r.label,
                    "step": land.path_steps[i],
                    "alpha": c[:, 0],
                    "beta": c[:, 1],
                    "loss_at_projected_point": land.projected_loss[i],
                    "true_loss": land.true_loss[i][-len(c) :] if len(c) else [],
                }
            )
        )
    return pd.concat(parts, ignore_index=True)
