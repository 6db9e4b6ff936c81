"""Figures for noisy races: the mean loss with a percentile band over seeds, and the cloud of
end points (with each entry's mean path) on the map. Pure functions
``(engine results, options) -> go.Figure`` (or traces to lay over another map).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from engine.basins import SeedCloud
from viz.common import MARKER_DIVERGED, MARKER_MIN, base_layout, empty_figure, fmt
from viz.race_maps import colors_for, rgba, room_for_legend

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
    colors = colors_for(len(clouds), colors)
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
                fillcolor=rgba(c, 0.2),
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
    return room_for_legend(fig)


def seed_cloud_traces(
    clouds: Sequence[SeedCloud], colors: Sequence[str] | None = None, *, legend: bool = True
) -> list[go.Scatter]:
    """Traces to lay over a contour map: each entry's mean path (dashed) and end-point cloud
    (diverged runs as crosses at their last finite point).

    ``legend=False`` (the race map): no legend entries of their own; racer ``i``'s traces join
    its legend group ``r{i}`` (clicking the racer hides its cloud too), so six noisy racers
    add nothing to the legend (the page's caption explains dashes and dots)."""
    colors = colors_for(len(clouds), colors)
    traces = []
    for i, (cl, c) in enumerate(zip(clouds, colors, strict=False)):
        name = cl.entry.label
        group = name if legend else f"r{i}"
        traces.append(
            go.Scatter(
                x=cl.mean_path[:, 0],
                y=cl.mean_path[:, 1],
                mode="lines",
                legendgroup=group,
                showlegend=legend,
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
                    legendgroup=group,
                    showlegend=legend,
                    name=f"{name}: {what} points ({int(mask.sum())})",
                    marker={
                        "color": rgba(c, 0.7),
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
    return room_for_legend(fig)
